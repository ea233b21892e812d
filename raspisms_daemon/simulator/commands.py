"""The simulated modem's firmware: its settings and storage, and a handler per AT command.

:class:`AtCommands` is the command set the :class:`~raspisms_daemon.simulator.engine.Simulator` engine
inherits: the engine owns the pty, the line discipline, URCs and timers; this module decides what each
command answers (3GPP TS 27.007 / 27.005, worded by the personality's :class:`Profile`). A handler
takes ``(op, args)`` -- ``op`` is ``""``, ``"="``, ``"?"`` or ``"=?"`` -- and returns a :class:`Reply`;
it never writes to the pty itself.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..gsm.at_protocol import split_args
from .personality import Personality, Profile

__all__ = ["AtCommands", "Call", "Reply", "Settings", "Slot", "number_type", "split_commands", "tpdu_length"]

log = logging.getLogger("raspisms_daemon.simulator")

# +CME ERROR texts for AT+CMEE=2 (27.007 §9.2); codes not listed are given as numbers.
_CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    16: "incorrect password",
    21: "invalid index",
    100: "unknown",
}


@dataclass
class Settings:
    """What ATZ / AT+CFUN=1,1 put back to defaults."""

    echo: bool = True
    cmee: int = 0
    cnmi: tuple[int, int, int, int, int] = (1, 1, 0, 0, 0)
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


@dataclass
class Reply:
    records: list[list[str]] = field(default_factory=list)
    final: str = "OK"
    prompt: int | None = None  # AT+CMGS=<length>: enter the "> " prompt expecting this TPDU length
    after: Callable[[], None] | None = None  # runs once the final result code is written


def split_commands(body: str) -> list[str]:
    """Split what follows ``AT`` into single commands: ``E0V1+CMGF=0;+CNMI?`` -> 4 commands."""
    cmds: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        ch = body[i]
        if ch in " ;":
            i += 1
        elif ch in "+^":
            j = i + 1
            quoted = False
            while j < n and (quoted or body[j] != ";"):
                if body[j] == '"':
                    quoted = not quoted
                j += 1
            cmds.append(body[i:j])
            i = j
        elif ch == "&":
            j = i + 2
            while j < n and body[j].isdigit():
                j += 1
            cmds.append(body[i:j].upper())
            i = j
        elif ch.upper() == "S" and i + 1 < n and body[i + 1].isdigit():
            j = i + 1
            while j < n and body[j] not in ";+^&":
                j += 1
            cmds.append(body[i:j].upper())
            i = j
        elif ch.upper() == "D":  # dial takes the rest of the line
            cmds.append(body[i:])
            i = n
        elif ch.isalpha():
            j = i + 1
            while j < n and body[j].isdigit():
                j += 1
            cmds.append(body[i:j].upper())
            i = j
        else:
            raise ValueError(f"unexpected {ch!r} in command line")
    return cmds


def _read_or_test(op: str, read: str, test: str) -> Reply | None:
    """The ``AT+X?`` and ``AT+X=?`` answers of a plain setting; None for the other forms."""
    if op == "?":
        return Reply([[read]])
    if op == "=?":
        return Reply([[test]])
    return None


def tpdu_length(pdu_hex: str) -> int:
    raw = bytes.fromhex(pdu_hex)
    return len(raw) - 1 - raw[0]


def number_type(number: str) -> int:
    return 145 if number.startswith("+") else 129


class AtCommands:
    """What the firmware answers. Mixed into ``Simulator``, which provides the state declared here."""

    # State the engine creates in its __init__ (declared here for the type checker).
    profile: Profile
    personality: Personality
    pin: str | None
    imei: str
    imsi: str
    iccid: str
    operator: str
    capacity: int
    smsc: str
    rssi: int
    _settings: Settings
    _sim_state: str
    _pin_attempts: int
    _slots: dict[int, Slot]
    _deleted: collections.deque[dict[str, Any]]
    on_delete: Callable[[dict[str, Any]], None] | None
    _call: Call | None

    # Engine services the handlers use.
    def _urc(self, *lines: str) -> None:
        raise NotImplementedError

    def _loop_call_soon(self, fn: Callable[[], None]) -> None:
        raise NotImplementedError

    def _start_reboot(self) -> None:
        raise NotImplementedError

    def _hangup_by_client(self) -> None:
        raise NotImplementedError

    def _apply_defaults(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ errors

    def _cme(self, code: int) -> str:
        if self._settings.cmee == 0:
            return "ERROR"
        if self._settings.cmee == 2 and code in _CME_TEXT:
            return f"+CME ERROR: {_CME_TEXT[code]}"
        return f"+CME ERROR: {code}"

    def _cms(self, code: int) -> str:
        return "ERROR" if self._settings.cmee == 0 else f"+CMS ERROR: {code}"

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, command: str) -> Reply:
        if command[0] in "+^":
            name_end = len(command)
            for i, ch in enumerate(command):
                if ch in "=?":
                    name_end = i
                    break
            name = command[:name_end].upper()
            rest = command[name_end:]
            if rest.startswith("=?"):
                op, args = "=?", ""
            elif rest.startswith("="):
                op, args = "=", rest[1:]
            elif rest.startswith("?"):
                op, args = "?", ""
            else:
                op, args = "", ""
            handler = self._EXTENDED.get(name)
            if handler is None:
                log.debug("unknown command AT%s", command)
                return Reply(final="ERROR")
            try:
                return handler(self, op, args)
            except (ValueError, IndexError):
                return Reply(final=self._cme(3))
        return self._basic(command)

    def _basic(self, command: str) -> Reply:
        letter = command[0].upper()
        arg = command[1:]
        if command.startswith("&") or letter in "QVX" or (letter == "S" and arg[:1].isdigit()):
            return Reply()  # &F &W &C &D Q V X S<n>=: accepted, nothing to simulate
        if letter == "E":
            self._settings.echo = arg not in ("", "0")  # V.250: a missing value means 0
            return Reply()
        if letter == "Z":
            self._apply_defaults()
            return Reply()
        if letter == "I":
            return Reply([[self._fmt(line) for line in self.profile.ati]])
        if letter == "H":
            self._hangup_by_client()
            return Reply()
        if letter == "A":
            if self._call is None:
                return Reply(final="NO CARRIER")
            self._call.state = "active"
            return Reply()
        if letter == "D":
            return Reply(final="NO CARRIER")
        return Reply(final="ERROR")

    def _fmt(self, template: str) -> str:
        return template.format(
            manufacturer=self.profile.manufacturer,
            model=self.profile.model,
            revision=self.profile.revision,
            imei=self.imei,
            cpin=self._sim_state,
        )

    def _sim_ready(self) -> bool:
        return self._sim_state == "READY"

    def _registered(self) -> bool:
        return self._sim_ready() and self._settings.cfun == 1

    def _sim_locked_reply(self, sms: bool) -> Reply:
        if self._sim_state == "READY":
            raise AssertionError("SIM is not locked")
        code = 12 if self._sim_state == "SIM PUK" else 11
        return Reply(final=self._cms(311 if code == 11 else 316) if sms else self._cme(code))

    # identification --------------------------------------------------

    def _h_cgmi(self, op: str, args: str) -> Reply:
        return Reply() if op == "=?" else Reply([[self.profile.manufacturer]])

    def _h_cgmm(self, op: str, args: str) -> Reply:
        return Reply() if op == "=?" else Reply([[self.profile.model]])

    def _h_cgmr(self, op: str, args: str) -> Reply:
        return Reply() if op == "=?" else Reply([[self.profile.revision]])

    def _h_cgsn(self, op: str, args: str) -> Reply:
        return Reply() if op == "=?" else Reply([[self.imei]])

    def _h_cimi(self, op: str, args: str) -> Reply:
        if op == "=?":
            return Reply()
        if not self._sim_ready():
            return self._sim_locked_reply(sms=False)
        return Reply([[self.imsi]])

    def _h_iccid(self, op: str, args: str) -> Reply:
        if not self._sim_ready():
            return self._sim_locked_reply(sms=False)
        return Reply([[f"{self.profile.iccid_prefix}{self.iccid}"]])

    def _h_ccid(self, op: str, args: str) -> Reply:
        if self.profile.iccid_command != "+CCID" or op == "=":
            return Reply(final="ERROR")
        return Reply() if op == "=?" else self._h_iccid(op, args)

    def _h_qccid(self, op: str, args: str) -> Reply:
        if self.profile.iccid_command != "+QCCID" or op not in ("", "=?"):
            return Reply(final="ERROR")
        return Reply() if op == "=?" else self._h_iccid(op, args)

    def _h_hw_iccid(self, op: str, args: str) -> Reply:
        if self.profile.iccid_command != "^ICCID?" or op not in ("?", "=?"):
            return Reply(final="ERROR")
        return Reply() if op == "=?" else self._h_iccid(op, args)

    def _h_gcap(self, op: str, args: str) -> Reply:
        return Reply([["+GCAP: +CGSM,+DS,+ES"]])

    # settings --------------------------------------------------------

    def _set_int(self, name: str, args: str, allowed: range) -> Reply:
        """``AT+X=<n>`` for a numeric setting of :class:`Settings` (a missing value means 0)."""
        value = int(args or "0")
        if value not in allowed:
            return Reply(final=self._cme(3))
        setattr(self._settings, name, value)
        return Reply()

    def _set_flag(self, name: str, args: str) -> Reply:
        """``AT+X=<0|1>`` for an on/off setting of :class:`Settings` (anything but 1 means off)."""
        setattr(self._settings, name, (args or "0") == "1")
        return Reply()

    def _h_cmee(self, op: str, args: str) -> Reply:
        shown = _read_or_test(op, f"+CMEE: {self._settings.cmee}", "+CMEE: (0-2)")
        return shown or self._set_int("cmee", args, range(3))

    def _h_cpin(self, op: str, args: str) -> Reply:
        if op == "?":
            return Reply([[f"+CPIN: {self._sim_state}"]])
        if op == "=?":
            return Reply()
        given = split_args(args)
        if self._sim_state == "READY":
            return Reply(final=self._cme(3))
        if self._sim_state == "SIM PUK":
            return Reply(final=self._cme(12))
        if given[0] == self.pin:
            self._sim_state = "READY"
            self._pin_attempts = 3
            log.info("SIM unlocked")
            # Registration follows the unlock: announced to clients that asked for it.
            for command, n in (("+CREG", self._settings.creg), ("+CGREG", self._settings.cgreg)):
                if n:
                    line = self._reg_line(command, n, urc=True)
                    self._loop_call_soon(functools.partial(self._urc, line))
            return Reply()
        self._pin_attempts -= 1
        if self._pin_attempts <= 0:
            self._sim_state = "SIM PUK"
        log.info("wrong PIN (%d attempt(s) left)", self._pin_attempts)
        return Reply(final=self._cme(16))

    def _h_cmgf(self, op: str, args: str) -> Reply:
        shown = _read_or_test(op, "+CMGF: 0", "+CMGF: (0)")
        if shown:
            return shown
        if (args or "0") != "0":
            return Reply(final=self._cms(303))  # text mode is not simulated: PDU only
        return Reply()

    def _h_cscs(self, op: str, args: str) -> Reply:
        shown = _read_or_test(op, f'+CSCS: "{self._settings.cscs}"', '+CSCS: ("IRA","GSM","UCS2")')
        if shown:
            return shown
        value = split_args(args)[0].upper()
        if value not in ("IRA", "GSM", "UCS2"):
            return Reply(final=self._cme(4))
        self._settings.cscs = value
        return Reply()

    def _h_csdh(self, op: str, args: str) -> Reply:
        return _read_or_test(op, "+CSDH: 0", "+CSDH: (0,1)") or Reply()

    def _h_csms(self, op: str, args: str) -> Reply:
        shown = _read_or_test(op, "+CSMS: 0,1,1,1", "+CSMS: (0,1)")
        if shown:
            return shown
        if (args or "0") not in ("0", "1"):
            return Reply(final=self._cms(303))
        return Reply([["+CSMS: 1,1,1"]])

    def _h_csca(self, op: str, args: str) -> Reply:
        if op == "=?":
            return Reply()
        if not self._sim_ready():
            return self._sim_locked_reply(sms=True)
        if op == "?":
            return Reply([[f'+CSCA: "{self.smsc}",{number_type(self.smsc)}']])
        number = split_args(args)[0]
        if not number:
            return Reply(final=self._cms(304))
        self.smsc = number
        return Reply()

    def _h_cpms(self, op: str, args: str) -> Reply:
        names = ",".join(f'"{s}"' for s in self.profile.storages)
        if op == "=?":
            return Reply([[f"+CPMS: ({names}),({names}),({names})"]])
        if not self._sim_ready():
            return self._sim_locked_reply(sms=True)
        cap = self.capacity
        if op == "?":
            m = self._settings.mems
            u = [self._used(mem) for mem in m]
            return Reply([[f'+CPMS: "{m[0]}",{u[0]},{cap},"{m[1]}",{u[1]},{cap},"{m[2]}",{u[2]},{cap}']])
        wanted = [a.upper() for a in split_args(args) if a]
        if not wanted or len(wanted) > 3 or any(w not in self.profile.storages for w in wanted):
            return Reply(final=self._cms(302))
        mems = list(self._settings.mems)
        mems[: len(wanted)] = wanted
        self._settings.mems = (mems[0], mems[1], mems[2])
        u = [self._used(mem) for mem in mems]
        return Reply([[f"+CPMS: {u[0]},{cap},{u[1]},{cap},{u[2]},{cap}"]])

    def _set_cnmi(self, values: tuple[int, ...]) -> bool:
        """Apply ``<mode>,<mt>,<bm>,<ds>,<bfr>`` if this modem accepts them."""
        if len(values) != 5:
            return False
        mode, mt, bm, ds, bfr = values
        if mode not in (0, 1, 2, 3) or mt not in (0, 1, 2, 3) or bm not in (0, 2) or bfr not in (0, 1):
            return False
        if ds not in self.profile.cnmi_ds:
            log.debug("CNMI ds=%d refused by the %s personality", ds, self.personality.value)
            return False
        self._settings.cnmi = (mode, mt, bm, ds, bfr)
        return True

    def _h_cnmi(self, op: str, args: str) -> Reply:
        current = ",".join(str(v) for v in self._settings.cnmi)
        shown = _read_or_test(op, f"+CNMI: {current}", self.profile.cnmi_test)
        if shown:
            return shown
        values = [int(v) if v else 0 for v in split_args(args)]
        values += [0] * (5 - len(values))
        return Reply() if self._set_cnmi(tuple(values)) else Reply(final=self._cms(303))

    def _h_cnma(self, op: str, args: str) -> Reply:
        return Reply()  # acknowledgements of +CMT/+CDS: nothing to retransmit in a simulation

    def _h_csq(self, op: str, args: str) -> Reply:
        if op == "=?":
            return Reply([["+CSQ: (0-31,99),(0-7,99)"]])
        rssi = self.rssi if self._settings.cfun == 1 else 99
        return Reply([[f"+CSQ: {rssi},99"]])

    def _reg_line(self, command: str, n: int, urc: bool = False) -> str:
        """``+CREG``/``+CGREG``: ``<n>,<stat>[,<lac>,<ci>]`` (the URC form has no ``<n>``).
        Registered on the home network (stat 1) whenever the SIM is ready and the radio on."""
        stat = 1 if self._registered() else 0
        loc = ',"1A2B","C3D4"' if n == 2 and stat == 1 else ""
        return f"{command}: {stat}{loc}" if urc else f"{command}: {n},{stat}{loc}"

    def _h_creg(self, op: str, args: str) -> Reply:
        shown = _read_or_test(op, self._reg_line("+CREG", self._settings.creg), "+CREG: (0-2)")
        return shown or self._set_int("creg", args, range(3))

    def _h_cgreg(self, op: str, args: str) -> Reply:
        # GPRS registration (27.007 §10.1.20): the simulated network attaches packet service too.
        shown = _read_or_test(op, self._reg_line("+CGREG", self._settings.cgreg), "+CGREG: (0-2)")
        return shown or self._set_int("cgreg", args, range(3))

    def _h_cgatt(self, op: str, args: str) -> Reply:
        attached = int(self._registered() and self._settings.cgatt == 1)
        shown = _read_or_test(op, f"+CGATT: {attached}", "+CGATT: (0,1)")
        return shown or self._set_int("cgatt", args, range(2))

    def _operator_name(self, fmt: int) -> str:
        if fmt == 2:
            return self.imsi[:5]  # MCC + MNC, as the SIM's home network
        return self.operator[:8] if fmt == 1 else self.operator

    def _h_cops(self, op: str, args: str) -> Reply:
        if op == "?":
            if not self._registered():
                return Reply([["+COPS: 0"]])
            fmt = self._settings.cops_format
            return Reply([[f'+COPS: 0,{fmt},"{self._operator_name(fmt)}"{self.profile.cops_suffix}']])
        if op == "=?":
            names = ",".join(f'"{self._operator_name(f)}"' for f in range(3))
            return Reply([[f"+COPS: (2,{names},2),,(0-4),(0-2)"]])
        values = split_args(args)
        # <mode> (automatic, manual, deregister, format only) is accepted: there is one network.
        if int(values[0] or "0") not in range(5):
            return Reply(final=self._cme(3))
        if len(values) > 1 and values[1]:
            fmt = int(values[1])
            if fmt not in range(3):
                return Reply(final=self._cme(3))
            self._settings.cops_format = fmt
        return Reply()

    def _h_ccwa(self, op: str, args: str) -> Reply:
        # Call waiting (27.007 §7.12): <n> only enables the +CCWA URC; <mode>=2 queries the network.
        shown = _read_or_test(op, f"+CCWA: {self._settings.ccwa}", "+CCWA: (0,1)")
        if shown:
            return shown
        values = split_args(args)
        reply = self._set_int("ccwa", values[0], range(2))
        if reply.final == "OK" and len(values) > 1 and values[1]:
            mode = int(values[1])
            if mode not in range(3):
                return Reply(final=self._cme(3))
            if mode == 2:
                return Reply([["+CCWA: 0,1"]])  # not active for voice
        return reply

    def _h_cfun(self, op: str, args: str) -> Reply:
        shown = _read_or_test(op, f"+CFUN: {self._settings.cfun}", "+CFUN: (0,1,4),(0,1)")
        if shown:
            return shown
        values = split_args(args)
        fun = int(values[0] or "1")
        if fun not in (0, 1, 4):
            return Reply(final=self._cme(3))
        if len(values) > 1 and values[1] == "1":
            return Reply(after=self._start_reboot)
        self._settings.cfun = fun
        return Reply()

    def _h_clip(self, op: str, args: str) -> Reply:
        # <m> = 1: the network provides the caller's number (always, in this simulation).
        shown = _read_or_test(op, f"+CLIP: {int(self._settings.clip)},1", "+CLIP: (0,1)")
        return shown or self._set_flag("clip", args)

    def _h_crc(self, op: str, args: str) -> Reply:
        shown = _read_or_test(op, f"+CRC: {int(self._settings.crc)}", "+CRC: (0,1)")
        return shown or self._set_flag("crc", args)

    def _h_clcc(self, op: str, args: str) -> Reply:
        call = self._call
        if op == "=?" or call is None:
            return Reply()
        stat = 4 if call.state == "ringing" else 0
        return Reply([[f'+CLCC: 1,1,{stat},0,0,"{call.number}",{number_type(call.number)}']])

    def _h_chup(self, op: str, args: str) -> Reply:
        self._hangup_by_client()
        return Reply()

    def _h_curc(self, op: str, args: str) -> Reply:
        if self.personality is not Personality.HUAWEI:
            return Reply(final="ERROR")
        shown = _read_or_test(op, f"^CURC: {self._settings.curc}", "^CURC: (0-1)")
        if shown:
            return shown
        self._settings.curc = int(args or "0")
        return Reply()

    def _h_portsel(self, op: str, args: str) -> Reply:
        # Huawei: which port carries URCs (libgammu sends ^PORTSEL=1 to any Huawei).
        if self.personality is not Personality.HUAWEI:
            return Reply(final="ERROR")
        return Reply([["^PORTSEL: 0"]]) if op == "?" else Reply()

    def _h_cpbs(self, op: str, args: str) -> Reply:
        return _read_or_test(op, '+CPBS: "SM",0,250', '+CPBS: ("SM","FD","ON")') or Reply()

    def _h_cpbr(self, op: str, args: str) -> Reply:
        if op == "=?":
            return Reply([["+CPBR: (1-250),40,18"]])
        return Reply()

    # messages --------------------------------------------------------

    def _holds(self, mem: str) -> bool:
        """Messages live in the personality's storage ("MT" is SM+ME); the other storages are empty,
        so a client that lists every storage (libgammu does) sees each message once."""
        return mem.removesuffix("_P") in (self.profile.storage, "MT")

    def _used(self, mem: str) -> int:
        return len(self._slots) if self._holds(mem) else 0

    def _read_slots(self) -> dict[int, Slot]:
        """The slots of the storage AT+CPMS chose for reading and deleting."""
        return self._slots if self._holds(self._settings.mems[0]) else {}

    def _free_indexes(self) -> list[int]:
        first = self.profile.first_index
        return [i for i in range(first, first + self.capacity) if i not in self._slots]

    def _shown_pdu(self, slot: Slot) -> str:
        pad = self.profile.pad_pdu_to
        if pad is None:
            return slot.pdu
        octets = len(slot.pdu) // 2
        return slot.pdu + "FF" * max(0, pad - octets)

    def _index_arg(self, text: str) -> int | None:
        index = int(text)
        first = self.profile.first_index
        return index if first <= index < first + self.capacity else None

    def _h_cmgr(self, op: str, args: str) -> Reply:
        if op == "=?":
            return Reply()
        if not self._sim_ready():
            return self._sim_locked_reply(sms=True)
        index = self._index_arg(split_args(args)[0])
        if index is None:
            return Reply(final=self._cms(321))
        slot = self._read_slots().get(index)
        if slot is None:
            if self.personality is Personality.SIM800:
                return Reply()  # SIM800 answers a bare OK for an empty slot
            return Reply(final=self._cms(321))
        stat = int(slot.read)
        slot.read = True
        return Reply([[f"+CMGR: {stat},,{tpdu_length(slot.pdu)}", self._shown_pdu(slot)]])

    def _h_cmgl(self, op: str, args: str) -> Reply:
        if op == "=?":
            return Reply([["+CMGL: (0-4)"]])
        if not self._sim_ready():
            return self._sim_locked_reply(sms=True)
        wanted = int(args or "0")
        if wanted not in (0, 1, 2, 3, 4):
            return Reply(final=self._cms(302))
        records: list[list[str]] = []
        for slot in sorted(self._read_slots().values(), key=lambda s: s.index):
            stat = int(slot.read)
            if wanted != 4 and stat != wanted:
                continue
            slot.read = True
            records.append([f"+CMGL: {slot.index},{stat},,{tpdu_length(slot.pdu)}", self._shown_pdu(slot)])
        return Reply(records)

    def _h_cmgd(self, op: str, args: str) -> Reply:
        if op == "=?":
            used = ",".join(str(i) for i in sorted(self._read_slots()))
            return Reply([[f"+CMGD: ({used}),(0-4)"]])
        if not self._sim_ready():
            return self._sim_locked_reply(sms=True)
        values = split_args(args)
        flag = int(values[1]) if len(values) > 1 and values[1] else 0
        if flag not in (0, 1, 2, 3, 4):
            return Reply(final=self._cms(302))
        slots = self._read_slots()
        if flag == 0:
            index = self._index_arg(values[0])
            if index is None:
                return Reply(final=self._cms(321))
            doomed = [index] if index in slots else []
        else:
            # Only received messages here; 2..4 would also take sent/unsent ones, which we never store.
            doomed = [i for i, s in slots.items() if flag == 4 or s.read]
        for i in doomed:
            self._record_deletion(slots.pop(i))
        log.debug("deleted; %d message(s) left", len(self._slots))
        return Reply()

    def _record_deletion(self, slot: Slot) -> None:
        entry = {
            "at": time.monotonic(),
            "storage": self.profile.storage,
            "index": slot.index,
            "kind": slot.kind,
            "pdu": slot.pdu,
        }
        self._deleted.append(entry)
        if self.on_delete is not None:
            self.on_delete(dict(entry))

    def _h_cmgs(self, op: str, args: str) -> Reply:
        if op == "=?":
            return Reply()
        if not self._sim_ready():
            return self._sim_locked_reply(sms=True)
        length = int(split_args(args)[0])
        if not 7 <= length <= 164:
            return Reply(final=self._cms(304))
        return Reply(prompt=length)

    # Extended commands by name, dispatched by _dispatch.
    _EXTENDED: ClassVar[dict[str, Callable[[AtCommands, str, str], Reply]]] = {
        "+CGMI": _h_cgmi,
        "+GMI": _h_cgmi,
        "+CGMM": _h_cgmm,
        "+GMM": _h_cgmm,
        "+CGMR": _h_cgmr,
        "+GMR": _h_cgmr,
        "+CGSN": _h_cgsn,
        "+GSN": _h_cgsn,
        "+CIMI": _h_cimi,
        "+CCID": _h_ccid,
        "+QCCID": _h_qccid,
        "^ICCID": _h_hw_iccid,
        "+GCAP": _h_gcap,
        "+CMEE": _h_cmee,
        "+CPIN": _h_cpin,
        "+CMGF": _h_cmgf,
        "+CSCS": _h_cscs,
        "+CSDH": _h_csdh,
        "+CSMS": _h_csms,
        "+CSCA": _h_csca,
        "+CPMS": _h_cpms,
        "+CNMI": _h_cnmi,
        "+CNMA": _h_cnma,
        "+CSQ": _h_csq,
        "+CREG": _h_creg,
        "+CGREG": _h_cgreg,
        "+CGATT": _h_cgatt,
        "+CCWA": _h_ccwa,
        "+COPS": _h_cops,
        "+CFUN": _h_cfun,
        "+CLIP": _h_clip,
        "+CRC": _h_crc,
        "+CLCC": _h_clcc,
        "+CHUP": _h_chup,
        "^CURC": _h_curc,
        "^PORTSEL": _h_portsel,
        "+CPBS": _h_cpbs,
        "+CPBR": _h_cpbr,
        "+CMGR": _h_cmgr,
        "+CMGL": _h_cmgl,
        "+CMGD": _h_cmgd,
        "+CMGS": _h_cmgs,
    }
