"""The modem's line discipline: the bytes a client types become command lines and PDUs.

V.250: a command line ends with CR, backspace takes back the last character, LF and NUL are ignored,
and while echo is on (``ATE1``) the modem sends back every byte it receives. After ``AT+CMGS=<n>`` the
modem shows ``> `` and takes a hex PDU up to Ctrl-Z (send) or ESC (cancel) (3GPP TS 27.005 §3.5.1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["MAX_LINE", "CommandLine", "Input", "LineDiscipline", "PduCancelled", "PduEntered"]

MAX_LINE = 4096  # longer input is cut: a client flooding the line must not grow the buffer without end
_CR = 0x0D
_LF = 0x0A
_BS = 0x08
_NUL = 0x00
_CTRL_Z = 0x1A
_ESC = 0x1B


@dataclass(frozen=True)
class CommandLine:
    """A line ended by CR, as typed (``AT`` prefix and spaces included)."""

    text: str


@dataclass(frozen=True)
class PduEntered:
    """The PDU typed at the ``> `` prompt, sent with Ctrl-Z; ``expected`` is AT+CMGS's length."""

    text: str
    expected: int


@dataclass(frozen=True)
class PduCancelled:
    """ESC at the ``> `` prompt: nothing is sent."""


Input = CommandLine | PduEntered | PduCancelled


class LineDiscipline:
    """Input assembly and echo. ``echo`` says whether the modem echoes now (ATE); ``deaf`` whether it
    drops what arrives (a rebooting firmware hears nothing). Both are asked for each byte, as a
    command handled in the middle of a write changes them for the bytes after it."""

    def __init__(self, *, echo: Callable[[], bool], deaf: Callable[[], bool]) -> None:
        self._echo = echo
        self._deaf = deaf
        self._line = bytearray()
        self._pdu = bytearray()
        self._expected: int | None = None

    @property
    def at_prompt(self) -> bool:
        """The ``> `` prompt is up: bytes go into a PDU until Ctrl-Z or ESC."""
        return self._expected is not None

    @property
    def typing(self) -> bool:
        """The client is in the middle of a command line or a PDU."""
        return bool(self._line) or self._expected is not None

    def prompt(self, expected: int) -> None:
        """Take a PDU next (AT+CMGS answered with ``> ``), of ``expected`` TPDU octets."""
        self._expected = expected
        self._pdu.clear()

    def reset(self) -> None:
        """Forget a half-typed line or PDU (the client went away, the modem rebooted)."""
        self._line.clear()
        self._expected = None
        self._pdu.clear()

    def feed(self, data: bytes) -> Iterator[bytes | Input]:
        """What ``data`` makes of the input, in order: echo (bytes to send back) and complete inputs.
        The caller handles each input before this goes on with the bytes after it."""
        echo = bytearray()
        for byte in data:
            if self._deaf():
                continue
            if self._expected is not None:
                if byte in (_CTRL_Z, _ESC):
                    if echo:
                        yield bytes(echo)
                        echo.clear()
                    yield self._take_pdu() if byte == _CTRL_Z else self._cancel_pdu()
                elif byte not in (_CR, _LF):
                    if len(self._pdu) < MAX_LINE:
                        self._pdu.append(byte)
                    if self._echo():
                        echo.append(byte)
                continue
            if self._echo():
                echo.append(byte)
            if byte == _CR:
                text = self._line.decode("latin-1")
                self._line.clear()
                if echo:
                    yield bytes(echo)
                    echo.clear()
                yield CommandLine(text)
            elif byte == _BS:
                if self._line:
                    self._line.pop()
            elif byte in (_LF, _NUL, _CTRL_Z, _ESC):
                continue
            elif len(self._line) < MAX_LINE:
                self._line.append(byte)
        if echo:
            yield bytes(echo)

    def _take_pdu(self) -> PduEntered:
        entered = PduEntered(self._pdu.decode("latin-1").strip(), self._expected or 0)
        self._expected = None
        self._pdu.clear()
        return entered

    def _cancel_pdu(self) -> PduCancelled:
        self._expected = None
        self._pdu.clear()
        return PduCancelled()
