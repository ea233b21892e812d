"""Unsolicited result codes: what the modem says on its own, and when it may say it.

An indication must not cut into a command line the client is typing, a PDU it is entering, or an
answer being written (V.250; 3GPP TS 27.005 CNMI mode 2 buffers them while the link is reserved):
:class:`UrcGate` holds them back and sends them once the link is free. The wording of new-message
indications (``+CMTI``/``+CMT``, ``+CDSI``/``+CDS``) follows AT+CNMI; rings follow AT+CRC and AT+CLIP;
Huawei adds its own chatter (:class:`Noise`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from .line import LineDiscipline
from .modem import Call, Cnmi, ModemState, Settings, number_type, tpdu_length

__all__ = [
    "Noise",
    "UrcGate",
    "direct_delivery",
    "ring_lines",
    "routes_directly",
    "stored_indication",
]

class UrcGate:
    """Sends URCs through ``write``, or holds them while ``line`` has the client typing or while an
    answer is being prepared (:meth:`holding`), until :meth:`release`."""

    def __init__(self, line: LineDiscipline, write: Callable[[bytes], None]) -> None:
        self._line = line
        self._write = write
        self._held: list[bytes] = []
        self._holding = 0

    def send(self, *lines: str) -> None:
        data = ("\r\n" + "\r\n".join(lines) + "\r\n").encode()
        if self._holding or self._line.typing:
            self._held.append(data)
        else:
            self._write(data)

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Hold URCs back while an answer takes time (the SMSC's round trip after a PDU)."""
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1

    def release(self) -> None:
        """The answer is out: send what was held, in order."""
        pending, self._held = self._held, []
        for data in pending:
            self._write(data)

    def clear(self) -> None:
        """Drop what was held (nobody is left to read it)."""
        self._held.clear()


def routes_directly(kind: str, cnmi: Cnmi) -> bool:
    """AT+CNMI asks for this message (``deliver`` or ``status_report``) to be handed over as
    ``+CMT``/``+CDS`` rather than stored."""
    mode, mt, _bm, ds, _bfr = cnmi
    if mode == 0:  # indications kept in the modem (we drop them): the client must poll +CMGL
        return False
    return mt == 2 if kind == "deliver" else ds == 1


def direct_delivery(kind: str, pdu: str) -> tuple[str, str]:
    """The ``+CMT``/``+CDS`` URC handing a message over: its header line, then the PDU."""
    header = f"+CMT: ,{tpdu_length(pdu)}" if kind == "deliver" else f"+CDS: {tpdu_length(pdu)}"
    return header, pdu


def stored_indication(kind: str, index: int, storage: str, cnmi: Cnmi) -> str | None:
    """The ``+CMTI``/``+CDSI`` that announces a message stored at ``index``, if AT+CNMI asks for one."""
    mode, mt, _bm, ds, _bfr = cnmi
    if mode == 0:  # indications kept in the modem (we drop them): the client must poll +CMGL
        return None
    if kind == "deliver" and mt in (1, 3):
        return f'+CMTI: "{storage}",{index}'
    if kind == "status_report" and ds == 2:
        return f'+CDSI: "{storage}",{index}'
    return None


def ring_lines(call: Call, settings: Settings) -> list[str]:
    """One ring: ``RING`` (``+CRING: VOICE`` with AT+CRC=1), then the caller with AT+CLIP=1."""
    lines = ["+CRING: VOICE" if settings.crc else "RING"]
    if settings.clip:
        lines.append(f'+CLIP: "{call.number}",{number_type(call.number)},,,,0')
    return lines


class Noise:
    """Huawei's unsolicited chatter (``^RSSI``, now and then ``^BOOT``), on by default on a Huawei
    until AT^CURC=0; ``forced`` (True/False) overrides both the personality and AT^CURC."""

    def __init__(self, modem: ModemState, forced: bool | None) -> None:
        self._modem = modem
        self._forced = forced
        self._count = 0

    @property
    def possible(self) -> bool:
        """Whether this modem ever chatters (else nothing needs to run for it)."""
        return self._forced is True or (self._forced is None and self._modem.profile.noise_default)

    def on(self) -> bool:
        if self._forced is not None:
            return self._forced
        return self._modem.profile.noise_default and self._modem.settings.curc != 0

    def next_line(self) -> str:
        self._count += 1
        if self._count % 3 == 0:
            return "^BOOT:20952812,0,0,0,72"
        return f"^RSSI:{self._modem.rssi}"
