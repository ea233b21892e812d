"""The interface every modem backend implements (AT over serial, python-gammu), and its events.

A backend never touches the database or HTTP. It reports what the modem says as frozen events on one
async stream and carries out ``send``/``delete``/``hangup`` when asked. In particular it never deletes
a stored message on its own: the phone supervisor calls :meth:`ModemBackend.delete` only after the
message has been committed to the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from .pdu import DeliverPdu, StatusReportPdu, SubmitPart

__all__ = [
    "CallEnded",
    "CallRinging",
    "Disconnected",
    "Identity",
    "ModemBackend",
    "ModemEvent",
    "Reconnected",
    "ReportReceived",
    "SignalChanged",
    "SmsReceived",
    "UndecodableSms",
]


@dataclass(frozen=True)
class SmsReceived:
    """One received SMS (one part of a multipart message), decoded.

    ``index`` is its slot in ``storage`` (``None`` when the modem handed it over directly, ``+CMT``,
    and there is nothing to delete). ``pdu`` is the hex the modem printed (SMSC included), or ``""``
    for backends that never see PDUs.
    """

    index: int | None
    storage: str
    pdu: str
    message: DeliverPdu


@dataclass(frozen=True)
class UndecodableSms:
    """A stored message whose PDU the codec refused; kept raw so that nothing is lost."""

    index: int | None
    storage: str
    pdu: str
    error: str


@dataclass(frozen=True)
class ReportReceived:
    """An SMS-STATUS-REPORT (``+CDSI`` stored, or ``+CDS`` direct when ``index`` is ``None``)."""

    index: int | None
    storage: str
    pdu: str
    report: StatusReportPdu


@dataclass(frozen=True)
class CallRinging:
    """An incoming call rings; ``number`` from ``+CLIP`` when the network gives it."""

    number: str | None


@dataclass(frozen=True)
class CallEnded:
    """The current call ended (``NO CARRIER``, ``^CEND``, or it vanished from ``+CLCC``)."""


@dataclass(frozen=True)
class SignalChanged:
    """Signal quality as ``+CSQ`` reports it: ``rssi`` 0..31, ``None`` when unknown (99)."""

    rssi: int | None


@dataclass(frozen=True)
class Disconnected:
    """The backend lost its modem (unplugged, stalled past reset); it keeps trying to get it back."""

    reason: str


@dataclass(frozen=True)
class Reconnected:
    """The backend has its modem again after a :class:`Disconnected` (initialised and swept)."""


ModemEvent = (
    SmsReceived
    | UndecodableSms
    | ReportReceived
    | CallRinging
    | CallEnded
    | SignalChanged
    | Disconnected
    | Reconnected
)


class Identity(NamedTuple):
    manufacturer: str | None = None
    model: str | None = None
    imei: str | None = None
    imsi: str | None = None
    iccid: str | None = None
    operator: str | None = None
    signal: int | None = None  # rssi 0..31 as +CSQ gives it
    registration: str | None = None  # "home", "roaming", "searching", "denied", "unregistered", "unknown"


class ModemBackend(Protocol):
    async def start(self) -> None:
        """Open and initialise the modem; raises ModemError subclasses when it cannot."""
        ...

    async def stop(self) -> None:
        """Close the modem; pending commands fail with ModemGone. Safe to call twice."""
        ...

    def events(self) -> AsyncIterator[ModemEvent]:
        """The one stream of events; it ends after :meth:`stop`."""
        ...

    async def send(self, parts: Sequence[SubmitPart]) -> list[int]:
        """Send every part in order; return the TP-MR message reference of each part."""
        ...

    async def delete(self, index: int, storage: str) -> None:
        """Delete one stored message (only after its content is committed)."""
        ...

    async def hangup(self) -> None: ...

    async def identity(self) -> Identity: ...
