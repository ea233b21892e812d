"""The virtual modem's state: identity, settings, SIM, message storage, the call, what it sent.

Data and the rules that keep it consistent, without I/O or timers: the command handlers
(:mod:`.commands`) and the engine (:mod:`.engine`) read and change it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import RaspismsError
from ..gsm.pdu import SubmitPdu
from .personality import Profile

__all__ = [
    "REPORT_MODES",
    "Call",
    "Cnmi",
    "ModemState",
    "Settings",
    "SimulatorError",
    "Slot",
    "number_type",
    "tpdu_length",
]

log = logging.getLogger("raspisms_daemon.simulator")

# What the network answers for SMS sent: a delivery report saying so, or no report at all.
REPORT_MODES = ("delivered", "failed", "none")
_DELETED_KEPT = 10_000


# AT+CNMI's <mode>,<mt>,<bm>,<ds>,<bfr>: how new messages and reports are indicated (27.005 §3.4.1).
Cnmi = tuple[int, int, int, int, int]


class SimulatorError(RaspismsError):
    """A request the simulator cannot carry out (storage full, unknown fault, not started)."""


@dataclass
class Settings:
    """What ATZ / AT+CFUN=1,1 put back to defaults."""

    echo: bool = True
    cmee: int = 0
    cnmi: Cnmi = (1, 1, 0, 0, 0)
    clip: bool = False
    crc: bool = False
    creg: int = 0
    cgreg: int = 0
    cgatt: int = 1  # packet service attached (it follows registration)
    cops_format: int = 0  # 0 long name, 1 short name, 2 numeric (MCC MNC)
    ccwa: int = 0
    curc: int = 1
    cfun: int = 1
    cscs: str = "IRA"
    mems: tuple[str, str, str] = ("SM", "SM", "SM")


@dataclass
class Slot:
    index: int
    kind: str  # "deliver" | "status_report"
    pdu: str
    read: bool = False


@dataclass
class Call:
    number: str
    state: str = "ringing"  # "ringing" | "active"
    ended: asyncio.Event = field(default_factory=asyncio.Event)


def tpdu_length(pdu_hex: str) -> int:
    """The length ``AT+CMGS``/``+CMGR`` give for a PDU that starts with its SMSC: the TPDU's octets."""
    raw = bytes.fromhex(pdu_hex)
    return len(raw) - 1 - raw[0]


def number_type(number: str) -> int:
    """The type of address of ``number`` (27.007 <type>): international or unknown."""
    return 145 if number.startswith("+") else 129


class ModemState:
    """Everything the virtual modem remembers. Storage survives resets and unplugging; settings do not
    survive a reset (:meth:`reset_settings`, :meth:`power_on`)."""

    def __init__(
        self,
        profile: Profile,
        *,
        cpms_form: str | None = None,
        pin: str | None,
        imei: str,
        imsi: str,
        iccid: str,
        operator: str,
        capacity: int,
        smsc: str,
        rssi: int,
        last_mr: int,
    ) -> None:
        self.profile = profile
        self.personality = profile.personality
        self.cpms_form = cpms_form or profile.cpms_form  # how AT+CPMS=? words the storages
        self.pin = pin
        self.imei = imei
        self.imsi = imsi
        self.iccid = iccid
        self.operator = operator
        self.capacity = capacity
        self.smsc = smsc
        self.rssi = rssi
        self.settings = self._default_settings()
        self.sim_state = "SIM PIN" if pin else "READY"
        self.pin_attempts = 3
        self.slots: dict[int, Slot] = {}
        # Bounded: a simulator serving a demo for weeks must not grow without end.
        self.deleted: collections.deque[dict[str, Any]] = collections.deque(maxlen=_DELETED_KEPT)
        # Called at the moment of each deletion (before AT+CMGD is answered) with its log entry.
        self.on_delete: Callable[[dict[str, Any]], None] | None = None
        self.sent: list[dict[str, Any]] = []
        self.mr = last_mr % 256  # the TP-MR of the last SMS sent; the next one gets the one after
        self.concat_ref = random.randrange(256)
        self.reports_mode = "delivered"
        self.reports_delay = 0.0
        self.call: Call | None = None

    # ------------------------------------------------------------------ settings

    def _default_settings(self) -> Settings:
        mem = self.profile.cpms_default
        return Settings(mems=(mem, mem, mem))

    def reset_settings(self) -> None:
        """ATZ: the power-on settings."""
        self.settings = self._default_settings()

    def power_on(self) -> None:
        """Back from a reboot: power-on settings, and a SIM that asks for its PIN again."""
        self.reset_settings()
        self.sim_state = "SIM PIN" if self.pin else "READY"
        self.pin_attempts = 3

    def set_cnmi(self, values: tuple[int, ...]) -> bool:
        """Apply ``<mode>,<mt>,<bm>,<ds>,<bfr>`` if this modem accepts them."""
        if len(values) != 5:
            return False
        mode, mt, bm, ds, bfr = values
        if mode not in (0, 1, 2, 3) or mt not in (0, 1, 2, 3) or bm not in (0, 2) or bfr not in (0, 1):
            return False
        if ds not in self.profile.cnmi_ds:
            log.debug("CNMI ds=%d refused by the %s personality", ds, self.personality.value)
            return False
        self.settings.cnmi = (mode, mt, bm, ds, bfr)
        return True

    def fmt(self, template: str) -> str:
        """A personality's text (``ATI``, boot URCs) with this modem's identity filled in."""
        return template.format(
            manufacturer=self.profile.manufacturer,
            model=self.profile.model,
            revision=self.profile.revision,
            imei=self.imei,
            cpin=self.sim_state,
        )

    # ------------------------------------------------------------------ SIM and network

    def sim_ready(self) -> bool:
        return self.sim_state == "READY"

    def registered(self) -> bool:
        """On the home network: whenever the SIM is unlocked and the radio on."""
        return self.sim_ready() and self.settings.cfun == 1

    # ------------------------------------------------------------------ storage

    def holds(self, mem: str) -> bool:
        """Messages live in the personality's storage ("MT" is SM+ME); the other storages are empty,
        so a client that lists every storage (libgammu does) sees each message once."""
        return mem.removesuffix("_P") in (self.profile.storage, "MT")

    def used(self, mem: str) -> int:
        return len(self.slots) if self.holds(mem) else 0

    def read_slots(self) -> dict[int, Slot]:
        """The slots of the storage AT+CPMS chose for reading and deleting."""
        return self.slots if self.holds(self.settings.mems[0]) else {}

    def free_indexes(self) -> list[int]:
        first = self.profile.first_index
        return [i for i in range(first, first + self.capacity) if i not in self.slots]

    def check_room(self, parts: int) -> None:
        """Raise unless ``parts`` messages fit in the free slots."""
        if len(self.free_indexes()) < parts:
            raise SimulatorError(f"storage full ({len(self.slots)}/{self.capacity} used)")

    def file(self, pdu: str, kind: str) -> int:
        """Store a message in the first free slot (there must be one); its index."""
        index = self.free_indexes()[0]
        self.slots[index] = Slot(index, kind, pdu)
        return index

    def index_arg(self, text: str) -> int | None:
        """An ``<index>`` argument, or None when it is outside the storage."""
        index = int(text)
        first = self.profile.first_index
        return index if first <= index < first + self.capacity else None

    def shown_pdu(self, slot: Slot) -> str:
        """The PDU as +CMGR/+CMGL show it (SIM800 pads it to the SIM record size)."""
        pad = self.profile.pad_pdu_to
        if pad is None:
            return slot.pdu
        octets = len(slot.pdu) // 2
        return slot.pdu + "FF" * max(0, pad - octets)

    def delete(self, index: int) -> None:
        """Remove a stored message, log the deletion and tell ``on_delete``."""
        slot = self.slots.pop(index)
        entry = {
            "at": time.monotonic(),
            "storage": self.profile.storage,
            "index": slot.index,
            "kind": slot.kind,
            "pdu": slot.pdu,
        }
        self.deleted.append(entry)
        if self.on_delete is not None:
            self.on_delete(dict(entry))

    # ------------------------------------------------------------------ the network side

    def next_concat_ref(self) -> int:
        """A new concatenation reference for a multipart SMS the network delivers."""
        self.concat_ref = (self.concat_ref + 1) % 256
        return self.concat_ref

    def record_sent(self, pdu_hex: str, submit: SubmitPdu) -> int:
        """The SMSC took an SMS: log it under the next TP-MR, which is returned."""
        self.mr = (self.mr + 1) % 256
        entry = {"pdu": pdu_hex.upper(), "mr": self.mr, "number": submit.number, "text": submit.text}
        self.sent.append(entry)
        return self.mr

    def set_reports(self, mode: str, delay: float) -> None:
        if mode not in REPORT_MODES:
            raise SimulatorError(f"unknown report mode {mode!r} ({', '.join(REPORT_MODES)})")
        if delay < 0:
            raise SimulatorError("report delay must be >= 0")
        self.reports_mode = mode
        self.reports_delay = float(delay)

    def end_call(self) -> Call | None:
        """Forget the call in progress (its ring loop sees ``ended``); that call, if there was one."""
        call = self.call
        if call is not None:
            self.call = None
            call.ended.set()
        return call
