"""The AT dialogue as a pure state machine: bytes in, typed events out (sans-I/O, like h11).

The caller tells the parser which command it wrote (:meth:`AtParser.start_command`), feeds every byte
read from the modem (:meth:`AtParser.receive_data`) and pulls events (:meth:`AtParser.next_event`, which
returns ``None`` when it needs more data). Events:

* :class:`Response` — the command in flight finished: its info lines and its final :class:`Result`
  (``OK``, ``ERROR``, ``+CME ERROR: n``, ``+CMS ERROR: n``, Motorola's ``MODEM ERROR: n``, and
  ``NO CARRIER``/``BUSY``/``NO ANSWER``/``NO DIALTONE`` when they end a dial). Old Wavecom firmware
  ends its ``AT+CPIN?`` answer on the ``+CPIN:`` line without a result code: for the commands
  :func:`ends_on_info_line` names, the caller may end the response there once the modem has been
  silent long enough (:meth:`AtParser.end_on_info_line`);
* :class:`Prompt` — the ``> `` prompt of ``AT+CMGS``/``AT+CMGW`` (no CRLF after it: its own token);
* :class:`Urc` — an unsolicited result code (``+CMTI``, ``RING``, ``^RSSI`` …), with the PDU line for
  the two-line ones (``+CMT``, ``+CDS``); a URC in the middle of a response does not end or corrupt it;
* :class:`Garbage` — bytes that match nothing (never silently dropped; the transport logs them).

Events are produced lazily in :meth:`next_event`, so a state change made by the caller between two
events (``pdu_sent`` after a :class:`Prompt`) applies to the bytes that follow.

The module also holds the small pure parsers for the info lines the backend reads (``+CMGL``, ``+CSQ``,
``+CREG`` …), in every form the captures of real modems show (tests/data/corpus), and the storage
choice :func:`choose_storage` makes from ``AT+CPMS=?``. It imports no I/O.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

from ..errors import AtProtocolError

__all__ = [
    "MAX_LINE",
    "AtParser",
    "Event",
    "Garbage",
    "ParserState",
    "Prompt",
    "Response",
    "Result",
    "ResultKind",
    "StorageChoice",
    "StoredPdu",
    "Trigger",
    "Urc",
    "choose_storage",
    "command_prefix",
    "ends_on_info_line",
    "is_hex",
    "parse_clip",
    "parse_cmgl",
    "parse_cmgr",
    "parse_cmgs",
    "parse_cpin",
    "parse_cpms_test",
    "parse_creg",
    "parse_csq",
    "parse_storage_index",
    "redact",
    "redact_bytes",
    "split_args",
]

MAX_LINE = 2048  # a +CMGL PDU line is < 400 chars; anything this long without CRLF is noise


class ResultKind(enum.Enum):
    OK = "OK"
    ERROR = "ERROR"
    CME_ERROR = "+CME ERROR"
    CMS_ERROR = "+CMS ERROR"
    NO_CARRIER = "NO CARRIER"
    BUSY = "BUSY"
    NO_ANSWER = "NO ANSWER"
    NO_DIALTONE = "NO DIALTONE"
    MODEM_ERROR = "MODEM ERROR"  # Motorola
    INFO_LINE = "info line"  # no final result code: the answer ended on its info line


@dataclass(frozen=True)
class Result:
    """A final result code. ``code`` for ``+CME``/``+CMS``/``MODEM ERROR`` (``None`` when the modem
    gave text)."""

    kind: ResultKind
    code: int | None = None
    text: str = ""

    @property
    def ok(self) -> bool:
        """The command succeeded: OK, or an answer that ended on its info line."""
        return self.kind in (ResultKind.OK, ResultKind.INFO_LINE)


@dataclass(frozen=True)
class Response:
    command: str
    lines: tuple[str, ...]
    result: Result


@dataclass(frozen=True)
class Prompt:
    """The modem waits for the PDU (``> ``)."""


@dataclass(frozen=True)
class Urc:
    """An unsolicited line. ``name`` is the prefix (``+CMTI``, ``^RSSI``) or the whole line (``RING``)."""

    name: str
    args: str
    line: str
    pdu: str | None = None  # the second line of +CMT/+CDS


@dataclass(frozen=True)
class Garbage:
    data: bytes
    reason: str


Event = Response | Prompt | Urc | Garbage


class ParserState(enum.Enum):
    IDLE = "idle"  # no command in flight
    COMMAND = "command"  # a command was written; collecting its response
    PROMPT = "prompt"  # the modem showed "> " and waits for the PDU


class Trigger(enum.Enum):
    START = "start_command"
    PROMPT_SEEN = "prompt"
    PDU_SENT = "pdu_sent"
    FINAL = "final_result"
    CANCEL = "cancel_command"


# The whole state machine; anything not listed is illegal and leaves the state unchanged.
TRANSITIONS: dict[tuple[ParserState, Trigger], ParserState] = {
    (ParserState.IDLE, Trigger.START): ParserState.COMMAND,
    (ParserState.COMMAND, Trigger.PROMPT_SEEN): ParserState.PROMPT,
    (ParserState.PROMPT, Trigger.PDU_SENT): ParserState.COMMAND,
    (ParserState.COMMAND, Trigger.FINAL): ParserState.IDLE,
    (ParserState.PROMPT, Trigger.FINAL): ParserState.IDLE,  # e.g. the modem gave up waiting for the PDU
    (ParserState.COMMAND, Trigger.CANCEL): ParserState.IDLE,
    (ParserState.PROMPT, Trigger.CANCEL): ParserState.IDLE,
}

# Prefixes that a modem sends on its own. During a command, a line with the command's own prefix is
# an info line even when listed here (``+CREG: 2,1`` answering ``AT+CREG?``).
URC_PREFIXES = frozenset(
    {
        "+CMTI", "+CDSI", "+CMT", "+CDS", "+CBM", "+CLIP", "+CRING", "+CCWA", "+CREG", "+CGREG",
        "+CEREG", "+CUSD", "+CPIN", "+CFUN", "+CSQ", "+CLCC", "+CIEV", "+QIND", "+QUSIM", "+CTZV",
        "^RSSI", "^HCSQ", "^CEND", "^BOOT", "^MODE", "^SRVST", "^SIMST", "^DSFLOWRPT", "^ORIG",
        "^CONF", "^CONN", "^STIN", "^SYSSTART", "^NDISSTAT", "^CSNR", "^RFSWITCH", "*PSUTTZ", "DST",
    }
)  # fmt: skip
URC_LINES = frozenset(
    {"RING", "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE", "SMS READY", "CALL READY", "RDY",
     "^SYSSTART", "NORMAL POWER DOWN", "PB DONE"}
)  # fmt: skip
TWO_LINE_URCS = frozenset({"+CMT", "+CDS", "+CBM"})  # header line, then the PDU line

_FINAL_PLAIN = {
    "OK": ResultKind.OK,
    "ERROR": ResultKind.ERROR,
    "COMMAND NOT SUPPORT": ResultKind.ERROR,  # Huawei/ZTE wording for ERROR
    "TOO MANY PARAMETERS": ResultKind.ERROR,
}
_FINAL_DIAL = {
    "NO CARRIER": ResultKind.NO_CARRIER,
    "BUSY": ResultKind.BUSY,
    "NO ANSWER": ResultKind.NO_ANSWER,
    "NO DIALTONE": ResultKind.NO_DIALTONE,
}
_ERR_RE = re.compile(r"^\+(CME|CMS) ERROR:\s*(.*)$", re.IGNORECASE)
# Motorola's final error, as ModemManager reads it: only with a number ("MODEM ERROR: apple" is text).
_MODEM_ERROR_RE = re.compile(r"^MODEM ERROR:\s*(\d+)$", re.IGNORECASE)
# Commands whose answer some firmware ends on its info line, without a result code (Wavecom's +CPIN?).
_ENDS_ON_INFO_LINE = frozenset({"AT+CPIN?"})
_PREFIX_RE = re.compile(r"^([+^*][A-Z][A-Z0-9]*|DST):\s?(.*)$", re.IGNORECASE)
_CMD_PREFIX_RE = re.compile(r"^AT([+^*$%#][A-Z][A-Z0-9]*)", re.IGNORECASE)
_HEX_RE = re.compile(r"[0-9A-Fa-f]+")
_PROMPT_COMMANDS = ("AT+CMGS=", "AT+CMGW", "AT+CMGC=")


def command_prefix(command: str) -> str | None:
    """``AT+CMGL=4`` → ``+CMGL``; ``AT^ICCID?`` → ``^ICCID``; ``ATE0`` → ``None``."""
    m = _CMD_PREFIX_RE.match(command.strip())
    return m.group(1).upper() if m else None


def is_hex(text: str) -> bool:
    return bool(_HEX_RE.fullmatch(text)) and len(text) % 2 == 0


def ends_on_info_line(command: str) -> bool:
    """Whether some modem ends its answer to ``command`` on the info line, with no result code."""
    return command.strip().upper() in _ENDS_ON_INFO_LINE


def _parse_final(text: str, dial: bool) -> Result | None:
    upper = text.upper()
    if upper in _FINAL_PLAIN:
        return Result(_FINAL_PLAIN[upper])
    if dial and upper in _FINAL_DIAL:
        return Result(_FINAL_DIAL[upper])
    m = _MODEM_ERROR_RE.match(text)
    if m:
        return Result(ResultKind.MODEM_ERROR, int(m.group(1)))
    m = _ERR_RE.match(text)
    if m:
        kind = ResultKind.CME_ERROR if m.group(1).upper() == "CME" else ResultKind.CMS_ERROR
        detail = m.group(2).strip()
        code = _int(detail)
        return Result(kind, code, "") if code is not None else Result(kind, None, detail)
    return None


def _as_urc(text: str) -> Urc | None:
    if text.upper() in URC_LINES:
        return Urc(text.upper(), "", text)
    m = _PREFIX_RE.match(text)
    if m:
        return Urc(m.group(1).upper(), m.group(2).strip(), text)
    return None


class AtParser:
    """Incremental parser for one serial line. Not thread-safe; one per modem."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._events: deque[Event] = deque()
        self._state = ParserState.IDLE
        self._command: str | None = None
        self._prefix: str | None = None
        self._dial = False
        self._expects_prompt = False
        self._echo_pending = False
        self._pdu_echo: str | None = None
        self._lines: list[str] = []
        self._pending_header: Urc | None = None
        self._pending_raw = b""
        self._overflow = False

    # -- caller side ---------------------------------------------------------------------------------
    @property
    def state(self) -> ParserState:
        return self._state

    @property
    def command(self) -> str | None:
        return self._command

    def _transition(self, trigger: Trigger) -> None:
        new = TRANSITIONS.get((self._state, trigger))
        if new is None:
            raise AtProtocolError(f"illegal transition: {trigger.value} in state {self._state.value}")
        self._state = new

    def start_command(self, command: str) -> None:
        """Declare the command line just written (without the trailing CR)."""
        self._transition(Trigger.START)
        self._command = command.strip()
        self._prefix = command_prefix(self._command)
        upper = self._command.upper()
        self._dial = upper.startswith(("ATD", "ATA"))
        self._expects_prompt = upper.startswith(_PROMPT_COMMANDS)
        self._echo_pending = True
        self._pdu_echo = None
        self._lines = []

    def pdu_sent(self, pdu_hex: str = "") -> None:
        """The caller answered the prompt with the PDU (and Ctrl-Z); skip its echo if the modem echoes."""
        self._transition(Trigger.PDU_SENT)
        self._pdu_echo = pdu_hex.upper() or None

    def cancel_command(self) -> None:
        """Give up on the command in flight (timeout); late result codes then come out as Garbage."""
        self._transition(Trigger.CANCEL)
        self._reset_command()

    @property
    def has_info_line(self) -> bool:
        """The command in flight is one :func:`ends_on_info_line` names, and its info line is in."""
        return (
            self._state is ParserState.COMMAND
            and self._command is not None
            and ends_on_info_line(self._command)
            and self._prefix is not None
            and any(line.upper().startswith(self._prefix) for line in self._lines)
        )

    def end_on_info_line(self) -> Response | None:
        """End the command in flight on its info line: the caller saw the modem fall silent after it
        (no result code is coming). Its :class:`Response` (result ``INFO_LINE``), or None when
        :attr:`has_info_line` is false and nothing changes."""
        if not self.has_info_line:
            return None
        assert self._command is not None
        response = Response(self._command, tuple(self._lines), Result(ResultKind.INFO_LINE))
        self._transition(Trigger.FINAL)
        self._reset_command()
        return response

    def _reset_command(self) -> None:
        self._command = None
        self._prefix = None
        self._dial = False
        self._expects_prompt = False
        self._echo_pending = False
        self._pdu_echo = None
        self._lines = []

    def receive_data(self, data: bytes) -> None:
        self._buf += data

    def next_event(self) -> Event | None:
        """The next event, or ``None`` when more bytes are needed."""
        while not self._events:
            if not self._step():
                return None
        return self._events.popleft()

    def events(self) -> list[Event]:
        """Every event available now."""
        out: list[Event] = []
        while (ev := self.next_event()) is not None:
            out.append(ev)
        return out

    def reset(self) -> None:
        """Forget everything (the port was reopened)."""
        self.__init__()  # type: ignore[misc]

    # -- byte side -----------------------------------------------------------------------------------
    def _step(self) -> bool:
        """Consume one token from the buffer; False when it needs more data."""
        buf = self._buf
        if self._overflow:
            end = _find_terminator(buf, MAX_LINE)
            if end is None:
                if len(buf) < MAX_LINE:
                    return False
                end = MAX_LINE
            if end:
                self._events.append(Garbage(bytes(buf[:end]), "over-long line (continued)"))
            del buf[:end]
            if buf[:1] and buf[:1] in b"\r\n":
                self._overflow = False
            return True
        # Line terminators and NULs (some modems print NULs on reset) between lines carry nothing.
        skip = 0
        while skip < len(buf) and buf[skip] in b"\r\n\x00":
            skip += 1
        if skip:
            del buf[:skip]
        if not buf:
            return False
        if self._state is ParserState.COMMAND and self._expects_prompt and buf[0:1] == b">":
            if len(buf) < 2:
                return False  # "> " may still be arriving
            if buf[1:2] == b" ":
                del buf[:2]
                self._transition(Trigger.PROMPT_SEEN)
                self._events.append(Prompt())
                return True
        end = _find_terminator(buf, MAX_LINE)
        if end is None:
            if len(buf) < MAX_LINE:
                return False
            self._events.append(Garbage(bytes(buf[:MAX_LINE]), "over-long line without CRLF"))
            del buf[:MAX_LINE]
            self._overflow = True
            return True
        raw = bytes(buf[:end])
        del buf[:end]
        self._handle_line(raw)
        return True

    def _handle_line(self, raw: bytes) -> None:
        text = raw.replace(b"\x00", b"").decode("utf-8", "replace").strip()
        if not text:
            return
        if self._pending_header is not None:
            header, header_raw = self._pending_header, self._pending_raw
            self._pending_header, self._pending_raw = None, b""
            if is_hex(text):
                self._events.append(Urc(header.name, header.args, header.line, pdu=text.upper()))
                return
            self._events.append(Garbage(header_raw, f"{header.name} without its PDU line"))
        if self._state is not ParserState.IDLE and self._echo_pending:
            assert self._command is not None
            # The echo may carry the ESC or Ctrl-Z typed before the command.
            if text.lstrip("\x1b\x1a").strip().upper() == self._command.upper():
                self._echo_pending = False
                return
        if _unprintable(raw):
            # Modems print ASCII (and UTF-8 names); control bytes or broken UTF-8 are line noise, even
            # in the middle of a response, where they would otherwise pass for an info line.
            self._events.append(Garbage(raw, "unprintable line"))
            return
        if self._state is ParserState.IDLE:
            self._handle_idle_line(text, raw)
        else:
            self._handle_command_line(text, raw)

    def _handle_idle_line(self, text: str, raw: bytes) -> None:
        if _parse_final(text, dial=False) is not None:
            self._events.append(Garbage(raw, "result code with no command in flight"))
            return
        urc = _as_urc(text)
        if urc is None:
            self._events.append(Garbage(raw, "unexpected line"))
        elif urc.name in TWO_LINE_URCS:
            self._pending_header, self._pending_raw = urc, raw
        else:
            self._events.append(urc)

    def _handle_command_line(self, text: str, raw: bytes) -> None:
        assert self._command is not None
        if self._pdu_echo is not None and text.rstrip("\x1a").upper() == self._pdu_echo:
            self._pdu_echo = None
            return
        final = _parse_final(text, dial=self._dial)
        if final is not None:
            self._events.append(Response(self._command, tuple(self._lines), final))
            self._transition(Trigger.FINAL)
            self._reset_command()
            return
        urc = _as_urc(text)
        if urc is not None and self._is_unsolicited(urc):
            if urc.name in TWO_LINE_URCS:
                self._pending_header, self._pending_raw = urc, raw
            else:
                self._events.append(urc)
            return
        self._lines.append(text)

    def _is_unsolicited(self, urc: Urc) -> bool:
        if urc.name == self._prefix:
            # "+CREG: 2,1" answers AT+CREG?; a second +CREG line, or one with a single field, is the URC.
            if urc.name in ("+CREG", "+CGREG", "+CEREG") and (
                any(line.upper().startswith(urc.name) for line in self._lines) or "," not in urc.args
            ):
                return True
            return False
        # An unknown "+XYZ:" during a command is most likely part of its answer.
        return urc.name in URC_PREFIXES or urc.name in URC_LINES


def _unprintable(raw: bytes) -> bool:
    body = raw.replace(b"\x00", b"")
    if any(b < 0x20 and b != 0x09 and b != 0x1A for b in body):  # Ctrl-Z: an echoed PDU's end
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


_SECRET_RE = re.compile(r"(\+CPIN=|\+CPWD=|\+CLCK=)[^\r\n]*", re.IGNORECASE)
_SECRET_RE_B = re.compile(rb"(\+CPIN=|\+CPWD=|\+CLCK=)[^\r\n]*", re.IGNORECASE)


def redact(text: str) -> str:
    """Hide PINs (everything after ``+CPIN=``) before a command line goes into a log or an error."""
    return _SECRET_RE.sub(r"\1****", text)


def redact_bytes(data: bytes) -> bytes:
    return _SECRET_RE_B.sub(rb"\1****", data)


def _find_terminator(buf: bytearray, limit: int) -> int | None:
    """Index of the first CR or LF within ``limit`` bytes (two C-level scans: this runs per line)."""
    ends = [i for i in (buf.find(b"\r", 0, limit), buf.find(b"\n", 0, limit)) if i >= 0]
    return min(ends) if ends else None


# -- info-line parsers (pure) ----------------------------------------------------------------------------


def split_args(args: str, *, keep_quotes: bool = False) -> list[str]:
    """Split ``"SM",3,,"a,b"`` into ``['SM', '3', '', 'a,b']`` (quotes removed unless ``keep_quotes``)."""
    out: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in args:
        if ch == '"':
            quoted = not quoted
            if keep_quotes:
                cur.append(ch)
        elif ch == "," and not quoted:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return out


def _int(value: str) -> int | None:
    value = value.strip()
    # isdigit() alone takes "²" (line noise), which int() refuses.
    return int(value) if value.isascii() and value.isdigit() else None


def parse_storage_index(args: str) -> tuple[str, int] | None:
    """``+CMTI: "SM",3`` / ``+CDSI: "SR",1`` → ``("SM", 3)``."""
    parts = split_args(args)
    if len(parts) < 2 or _int(parts[1]) is None:
        return None
    return parts[0].upper(), int(parts[1])


class StoredPdu(NamedTuple):
    """One message of a ``+CMGL`` listing or a ``+CMGR`` answer, as far as it can be read.

    ``index`` (``+CMGL`` only) and ``stat`` come from the header line, ``None`` where it has none.
    ``pdu`` is the hex PDU for the codec, ``""`` when the lines hold none; then ``problem`` says why.
    ``lines`` are the lines after the header as the modem printed them: what to keep of a message
    whose PDU cannot be read, and what to compare ``pdu`` with (a stray quote or junk around it).
    """

    index: int | None  # type: ignore[assignment]  # shadows tuple.index, which nothing here calls
    stat: int | None
    header: str
    pdu: str
    lines: tuple[str, ...]
    problem: str | None = None

    @property
    def raw(self) -> str:
        """The lines after the header, as printed (one per line)."""
        return "\n".join(self.lines)


# A PDU line some firmware ends with junk ("0791…07\"", gammu's capture at-sms/04): an even run of hex
# digits this long at the start of the line is taken as the PDU.
_MIN_PDU_DIGITS = 20
_HEX_RUN = re.compile(r"[0-9A-Fa-f]*")


def _header_fields(line: str) -> tuple[list[str], str | None]:
    """The fields of a ``+CMGL:``/``+CMGR:`` line, and the PDU when the modem put it on the same line
    after a space (``+CMGR: 1,,147 0791…``, as ModemManager's tests show)."""
    fields = split_args(line.split(":", 1)[1])
    head, _, tail = fields[-1].rpartition(" ")
    if head and is_hex(tail) and len(tail) >= _MIN_PDU_DIGITS:
        fields[-1] = head.strip()
        return fields, tail.upper()
    return fields, None


def _pdu_in(lines: list[str]) -> tuple[str, str | None]:
    """(pdu, problem) from the lines after a header: a line of hex, else a long even run of hex at the
    start of a line (junk after it ignored), else no PDU and why."""
    texts = [line.strip() for line in lines if line.strip()]
    for text in texts:
        if is_hex(text):
            return text.upper(), None
    for text in texts:
        run = _HEX_RUN.match(text.lstrip('"')).group()  # type: ignore[union-attr]  # matches any text
        if len(run) >= _MIN_PDU_DIGITS and len(run) % 2 == 0:
            return run.upper(), None
    if not texts:
        return "", "no PDU line"
    odd = next((t for t in texts if _HEX_RE.fullmatch(t)), None)
    if odd is not None:
        return "", f"the PDU line has an odd number of hex digits ({len(odd)})"
    return "", f"no hex PDU in {texts[0][:40]!r}"


def _stored(header: str, body: list[str], *, listing: bool) -> StoredPdu:
    fields, inline = _header_fields(header)
    index = _int(fields[0]) if listing else None
    stat_field = fields[1] if listing and len(fields) > 1 else fields[0] if len(fields) > 1 else ""
    pdu, problem = (inline, None) if inline else _pdu_in(body)
    lines = (inline,) if inline else tuple(body)
    return StoredPdu(index, _int(stat_field), header, pdu, lines, problem)


def parse_cmgl(lines: tuple[str, ...] | list[str]) -> list[StoredPdu]:
    """Every ``+CMGL: <index>,<stat>,[<alpha>],<length>`` entry with the lines up to the next one,
    malformed entries included (``problem`` set): each is a message on the SIM to account for."""
    out: list[StoredPdu] = []
    header: str | None = None
    body: list[str] = []
    for line in lines:
        if line.upper().startswith("+CMGL:"):
            if header is not None:
                out.append(_stored(header, body, listing=True))
            header, body = line, []
        elif header is not None:
            body.append(line)
    if header is not None:
        out.append(_stored(header, body, listing=True))
    return out


def parse_cmgr(lines: tuple[str, ...] | list[str]) -> StoredPdu | None:
    """The message of a ``+CMGR`` answer, malformed or not; ``None`` when the slot is empty (no
    ``+CMGR:`` header, as SIM800 answers a bare OK)."""
    for i, line in enumerate(lines):
        if line.upper().startswith("+CMGR:"):
            return _stored(line, list(lines[i + 1 :]), listing=False)
    return None


def parse_cmgs(lines: tuple[str, ...] | list[str]) -> int | None:
    for line in lines:
        if line.upper().startswith("+CMGS:"):
            return _int(split_args(line.split(":", 1)[1])[0])
    return None


def parse_cpin(lines: tuple[str, ...] | list[str]) -> str | None:
    """The SIM state an ``AT+CPIN?`` answer names: ``+CPIN: "SIM PIN"`` → ``SIM PIN`` (quotes removed;
    a line without the prefix counts too, as ModemManager reads it)."""
    for line in lines:
        text = line.strip()
        if text.upper().startswith("+CPIN:"):
            text = text[len("+CPIN:") :]
        text = text.strip().strip('"').strip()
        if text:
            return text
    return None


def parse_csq(args: str) -> int | None:
    """``+CSQ: 21,99`` / ``^RSSI: 21`` → 21; 99 (unknown) → None."""
    rssi = _int(split_args(args)[0])
    return None if rssi is None or rssi > 31 else rssi


# 27.007 <stat>: 6/7 are "registered for SMS only", 9/10 "CSFB not preferred": SMS flows either way.
_REG_STAT = {
    0: "unregistered", 1: "home", 2: "searching", 3: "denied", 4: "unknown", 5: "roaming",
    6: "home", 7: "roaming", 9: "home", 10: "roaming",
}  # fmt: skip
_HEX_LETTER = re.compile(r"[A-Fa-f]")


def _reg_fields(args: str) -> list[tuple[str, bool]]:
    """The fields of a registration line, each with whether it was quoted (quotes removed)."""
    out: list[tuple[str, bool]] = []
    for text in split_args(args, keep_quotes=True):
        out.append((text.strip('"').strip(), text.startswith('"')))
    return out


def parse_creg(args: str) -> str | None:
    """``+CREG``/``+CGREG``/``+CEREG`` → ``"home"``, ``"roaming"`` …, the query answer and the URC alike.

    The answer to ``AT+CREG?`` starts with ``<n>``, the URC does not, yet some firmware puts ``<n>``
    in URCs too (``+CREG: 2,5,"0502",…``): as ModemManager does, the form is told by the fields, not
    by who asked. ``<stat>`` is the field before the first location field (quoted, holding a hex
    letter, or empty); without one, a second field of four digits or more is a location (the URC
    ``<stat>,<lac>,<ci>``) and otherwise the second field is ``<stat>`` (``<n>,<stat>``)."""
    fields = _reg_fields(args)
    at = None
    for i, (text, quoted) in enumerate(fields[1:], 1):
        if quoted or not text or _HEX_LETTER.search(text):
            at = i - 1
            break
    if at is None:
        if len(fields) == 1:
            at = 0
        else:
            second = fields[1][0].replace(" ", "")
            at = 0 if len(fields) > 2 and second.isdigit() and len(second) >= 4 else 1
    stat = _int(fields[at][0])
    return _REG_STAT.get(stat, "unknown") if stat is not None else None


def parse_clip(args: str) -> str | None:
    """``+CLIP: "+33612345678",145,,,,0`` → ``"+33612345678"`` (``None`` when withheld)."""
    parts = split_args(args)
    number = parts[0]
    if not number:
        return None
    if len(parts) > 1 and parts[1] == "145" and not number.startswith("+"):
        number = "+" + number
    return number


def _storage_names(item: str) -> list[str]:
    """The storage names in one field of ``AT+CPMS=?`` (a group or a bare name), quotes and broken
    quotes ignored: names are letters, digits and ``_``."""
    names = (re.sub(r"[^A-Za-z0-9_]", "", name).upper() for name in item.split(","))
    return [name for name in names if name]


def _top_fields(body: str) -> list[str]:
    """Split at the commas outside parentheses (quotes are not trusted: some firmware breaks them)."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in body:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def parse_cpms_test(lines: tuple[str, ...] | list[str]) -> list[list[str]]:
    """The storages ``AT+CPMS=?`` offers for mem1, mem2, mem3, in every form modems print:
    groups ``("SM","ME"),("SM","ME"),("SM")``; flat ``"ME","MT","SM"`` (one storage per parameter);
    mixed ``("ME","MT"),"ME",("SM")``; nested ``(("SM","BM","SR"),("SM"))`` (Wavecom, two parameters);
    empty groups; broken quotes. ``[]`` when the line lists nothing."""
    for line in lines:
        if line.upper().startswith("+CPMS:"):
            body = line.split(":", 1)[1].strip()
            if not body:
                return []
            fields = [f.strip() for f in _top_fields(body)]
            if len(fields) == 1 and fields[0].startswith("(") and "(" in fields[0][1:]:
                fields = [f.strip() for f in _top_fields(fields[0][1:].rstrip().removesuffix(")"))]
            return [_storage_names(f.replace("(", "").replace(")", "")) for f in fields]
    return []


class StorageChoice(NamedTuple):
    """What ``AT+CPMS`` is set to: ``mems`` (mem1 read/delete, mem2 write, mem3 incoming; two when the
    modem offers only two), and the storages worth sweeping."""

    mems: tuple[str, ...]
    sweep: frozenset[str]

    @property
    def primary(self) -> str:
        return self.mems[0]

    @property
    def incoming(self) -> str:
        return self.mems[2] if len(self.mems) > 2 else self.mems[0]


_PREFERRED = ("SM", "ME", "MT")  # the SIM first: where an SMS-only modem keeps its messages


def _pick(offered: list[str], wanted: str | None = None) -> str:
    if not offered or (wanted is not None and wanted in offered):
        return wanted or "SM"
    return next((name for name in _PREFERRED if name in offered), offered[0])


def choose_storage(offered: list[list[str]]) -> StorageChoice:
    """The storages to use, from what ``AT+CPMS=?`` offered (:func:`parse_cpms_test`): a storage
    each parameter offers (the SIM first, then ME, MT; an empty or missing list offers anything),
    the same one wherever allowed; as many parameters as the modem lists, two to three."""
    mem1 = _pick(offered[0] if offered else [])
    mems = [mem1, _pick(offered[1] if len(offered) > 1 else [], mem1)]
    if len(offered) != 2:
        mems.append(_pick(offered[2] if len(offered) > 2 else offered[0] if offered else [], mem1))
    # Every real storage mem1 offers may hold what arrived before we started.
    sweep = {s for s in (offered[0] if offered else []) if s in ("SM", "ME")} | {mem1, mems[-1]}
    return StorageChoice(tuple(mems), frozenset(sweep))
