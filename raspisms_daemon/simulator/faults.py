"""What goes wrong with real modems, injected on request.

- ``unplug`` / ``replug``: the USB device goes away (the client gets a hangup) and comes back; storage
  survives, a stall does not (unplugging powers the firmware down).
- ``stall`` / ``unstall``: the firmware stops answering; only ``AT+CFUN=1,1`` (a full reset) reaches it.
- ``garbage``: junk bytes on the line.
- ``error[:n]``: the next n command lines fail (``+CMS ERROR: 500``).
- ``sms_error``: the next SMS submission fails (``+CMS ERROR: 38``).
- ``drop_urcs[:n]``: the next n new-message indications (``+CMTI``/``+CDSI``) that a client would have
  received are lost, as real modems lose them; the messages stay stored for an ``AT+CMGL`` sweep to
  find. ``drop_urcs:0`` ends the fault.

:class:`Faults` remembers which are active; the engine does the I/O part (the pty, the junk).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .modem import SimulatorError

__all__ = ["FAULTS", "Faults", "fault_name", "garbage"]

FAULTS = ("unplug", "replug", "stall", "unstall", "garbage", "error", "sms_error", "drop_urcs")


def fault_name(kind: str) -> str:
    """The fault ``kind`` names (``error`` for ``error:3``); raises for an unknown one."""
    name = kind.partition(":")[0]
    if name not in FAULTS:
        raise SimulatorError(f"unknown fault {kind!r} (choose from {', '.join(FAULTS)})")
    return name


def _count(kind: str) -> int:
    """The ``n`` of ``error:n`` / ``drop_urcs:n`` (1 when absent)."""
    arg = kind.partition(":")[2]
    try:
        return max(0, int(arg)) if arg else 1
    except ValueError:
        raise SimulatorError(f"bad count in {kind!r}") from None


def garbage() -> bytes:
    """Junk as a confused modem writes it: NULs and bytes with the high bit set."""
    junk = bytes([0x00, 0xFF, 0x80]) + bytes(random.choice(range(0x80, 0x100)) for _ in range(24))
    return junk + b"\x00\xfe"


@dataclass
class Faults:
    unplugged: bool = False
    stalled: bool = False
    errors_pending: int = 0
    sms_error: bool = False
    drop_urcs: int = 0

    def apply(self, kind: str) -> None:
        """Record the fault ``kind`` (see the module's list)."""
        name = fault_name(kind)
        if name == "unplug":
            self.unplugged = True
        elif name == "replug":
            self.unplugged = False
            self.stalled = False
        elif name in ("stall", "unstall"):
            self.stalled = name == "stall"
        elif name == "error":
            self.errors_pending = _count(kind)
        elif name == "drop_urcs":
            self.drop_urcs = _count(kind)
        elif name == "sms_error":
            self.sms_error = True

    def active(self) -> list[str]:
        """The faults in effect, as the simulator's state lists them (``["stalled", "error:2"]``)."""
        faults: list[str] = []
        if self.unplugged:
            faults.append("unplugged")
        if self.stalled:
            faults.append("stalled")
        if self.errors_pending:
            faults.append(f"error:{self.errors_pending}")
        if self.sms_error:
            faults.append("sms_error")
        if self.drop_urcs:
            faults.append(f"drop_urcs:{self.drop_urcs}")
        return faults

    def take_error(self) -> bool:
        """Whether this command line fails (the ``error`` fault has some left: one is used up)."""
        if self.errors_pending <= 0:
            return False
        self.errors_pending -= 1
        return True

    def take_sms_error(self) -> bool:
        """Whether this SMS submission fails (``sms_error`` is set: it is used up)."""
        failed, self.sms_error = self.sms_error, False
        return failed

    def take_lost_urc(self) -> bool:
        """Whether this indication is lost (``drop_urcs`` has some left: one is used up)."""
        if self.drop_urcs <= 0:
            return False
        self.drop_urcs -= 1
        return True
