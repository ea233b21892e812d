"""SMS PDU codec (3GPP TS 23.040 / 23.038): SMS-DELIVER, SMS-STATUS-REPORT and SMS-SUBMIT.

Pure code, no I/O. ``decode`` turns the hex a modem prints (or raw bytes) into an immutable record;
``encode_submit`` turns a number and a text into the parts to hand to ``AT+CMGS``; ``encode_deliver``
and ``encode_status_report`` build what a network would send (for the simulator and tests).

Conventions:

- Numbers: international (type of number 1) as ``"+<digits>"``, any other type as plain digits (with
  ``*``/``#``/``a``-``c`` for the semi-octets 0xA-0xE), alphanumeric senders (type 5) as their text.
- Timestamps are aware datetimes in the zone the PDU states (quarter hours); years are 2000-2099.
- ``udh`` is the whole user data header including its length octet (as python-gammu reports it).
- ``encoding`` is ``"gsm7"``, ``"ucs2"`` or ``"8bit"``; GSM-7 under national language tables (UDH IE
  0x25 locking shift, 0x24 single shift, TS 23.040 §9.2.3.24.15-16) is ``"gsm7;locking=1;single=1"``
  (an identifier 0 is left out), so that the label alone says how to read ``data``.
- ``data`` is the user data after the header: the septet values one per octet for GSM-7, the UTF-16-BE
  octets for UCS-2, the raw octets for 8-bit. Multipart reassembly should join the parts' ``data`` and
  call :func:`decode_user_data` once, which heals an escape or surrogate pair that a sender split
  across two parts.
- ``text`` is ``""`` for 8-bit (binary) messages and for compressed ones: there is no text to show.
  UCS-2 that is not valid UTF-16 (odd length, lone surrogate) decodes with U+FFFD in place of the bad
  code units rather than failing, so the rest of the message is not lost.
- Octets after the user data are ignored (SIM800 pads ``+CMGR`` PDUs with FF).
- What a message can be read without is not worth losing it over: a timestamp that is no date
  (all zeros, a non-decimal digit) decodes as :data:`UNKNOWN_TIME`, a time zone octet that is not BCD
  as UTC, a UDHI bit with no user data as no header, a national language without a table as the
  default alphabet. Each such repair is named in ``problems``, for the log.
- Anything else malformed raises :class:`~raspisms_daemon.errors.PduError`, and nothing else: a message
  whose user data is cut short is refused whole, since its text would look complete without its end.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple

from ..errors import PduError
from . import gsm7

__all__ = [
    "UNKNOWN_TIME",
    "Concat",
    "DeliverPdu",
    "StatusReportPdu",
    "SubmitPart",
    "SubmitPdu",
    "decode",
    "decode_user_data",
    "encode_deliver",
    "encode_status_report",
    "encode_submit",
    "parse_udh",
    "split_text",
    "status_outcome",
]

# Part sizes (TS 23.040 §9.2.3.24): 140 octets of user data, a user data header included; GSM-7 text
# starts on the septet after the header. A concatenation header takes 6 octets (8-bit reference) or
# 7 (16-bit), which leaves 153/152 septets or 67/66 UCS-2 code units; each national shift element 3 more.
GSM7_SINGLE = 160
MAX_UD_OCTETS = 140
MAX_PARTS = 255

_IEI_CONCAT_8 = 0x00
_IEI_CONCAT_16 = 0x08
_IEI_SINGLE_SHIFT = 0x24
_IEI_LOCKING_SHIFT = 0x25

# What an unreadable timestamp decodes as: the first instant the format can hold (years 2000-2099).
UNKNOWN_TIME = datetime(2000, 1, 1, tzinfo=UTC)


class Concat(NamedTuple):
    """Concatenation information element: reference, part count, 1-based sequence number."""

    ref: int
    total: int
    seq: int


class DeliverPdu(NamedTuple):
    """An SMS-DELIVER (a message received from the network)."""

    smsc: str | None
    number: str
    text: str
    scts: datetime
    concat: Concat | None
    first_octet: int
    pid: int
    dcs: int
    encoding: str  # "gsm7" | "ucs2" | "8bit", or "gsm7;locking=<id>;single=<id>"
    udh: bytes | None
    data: bytes
    flash: bool
    problems: tuple[str, ...] = ()  # what was repaired to decode it (see the module docstring)


class StatusReportPdu(NamedTuple):
    """An SMS-STATUS-REPORT (the fate of a message we sent, matched by its TP-MR)."""

    smsc: str | None
    first_octet: int
    mr: int
    number: str
    scts: datetime
    discharge: datetime
    status: int
    outcome: str  # "delivered" | "pending" | "failed"
    problems: tuple[str, ...] = ()  # what was repaired to decode it (see the module docstring)


class SubmitPdu(NamedTuple):
    """An SMS-SUBMIT, decoded (for tools, tests and the simulator)."""

    smsc: str | None
    first_octet: int
    mr: int
    number: str
    text: str
    concat: Concat | None
    encoding: str
    udh: bytes | None
    status_report_request: bool
    cmgs_length: int
    pid: int = 0
    dcs: int = 0
    data: bytes = b""
    flash: bool = False
    validity: bytes | None = None  # raw TP-VP octets, None when absent
    problems: tuple[str, ...] = ()  # what was repaired to decode it (see the module docstring)


class SubmitPart(NamedTuple):
    """One SMS-SUBMIT part ready for ``AT+CMGS=<tpdu_length>``."""

    hex: str
    tpdu_length: int
    number: str
    text: str
    concat: Concat | None
    encoding: str
    udh: bytes | None
    status_report_request: bool
    flash: bool


# --------------------------------------------------------------------------------------------------
# reading


class _Reader:
    """A cursor over the PDU octets; running off the end is a PduError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def u8(self, what: str) -> int:
        if self.pos >= len(self.data):
            raise PduError(f"PDU ends before {what} (octet {self.pos})")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise PduError(f"PDU ends inside {what} (needs {n} octets at {self.pos}, has {len(self.data)})")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


_SEMI_OCTETS = "0123456789*#abc"


def _bcd_digits(raw: bytes) -> str:
    """Swapped semi-octets to digits; 0xF is filler and skipped."""
    return "".join(_bcd_nibbles(raw))


def _read_address(r: _Reader, what: str) -> str:
    """TP-OA / TP-DA / TP-RA: length in semi-octets, type of address, value."""
    length = r.u8(f"{what} length")
    toa = r.u8(f"{what} type")
    if length > 20 + 2:  # 20 digits at most; an alphanumeric value of 11 characters takes 20 semi-octets
        raise PduError(f"{what} length {length} semi-octets is too long")
    raw = r.take((length + 1) // 2, what)
    ton = (toa >> 4) & 0x07
    if ton == 5:
        return gsm7.decode_septets(gsm7.unpack_septets(raw, length * 4 // 7))
    # Only the first `length` semi-octets are the number; filler (F) is dropped either way.
    digits = "".join(ch for ch in _bcd_nibbles(raw)[:length] if ch)
    return "+" + digits if ton == 1 else digits


def _bcd_nibbles(raw: bytes) -> list[str]:
    out: list[str] = []
    for b in raw:
        for nibble in (b & 0x0F, b >> 4):
            out.append("" if nibble == 0x0F else _SEMI_OCTETS[nibble])
    return out


def _read_smsc(r: _Reader) -> str | None:
    """The SMSC part that leads +CMGR/+CMGL/+CMT/+CDS PDUs: length in octets (type included)."""
    length = r.u8("SMSC length")
    if length == 0:
        return None
    if length > 12:
        raise PduError(f"SMSC length {length} octets is too long (12 at most)")
    toa = r.u8("SMSC type")
    digits = _bcd_digits(r.take(length - 1, "SMSC number"))
    if not digits:
        return None
    return "+" + digits if (toa >> 4) & 0x07 == 1 else digits


def _read_timestamp(r: _Reader, what: str, problems: list[str]) -> datetime:
    """TP-SCTS / TP-DT. The time is the least part of a message: one that is no date decodes as
    UNKNOWN_TIME, a time zone that is no BCD number as UTC (the wall clock kept), and ``problems``
    says so; the octets must still be there."""
    raw = r.take(7, what)
    values: list[int] = []
    for b in raw[:6]:
        lo, hi = b & 0x0F, b >> 4
        if lo > 9 or hi > 9:
            problems.append(f"{what} {raw.hex().upper()} has a non-decimal digit: time unknown")
            return UNKNOWN_TIME
        values.append(lo * 10 + hi)
    tz = raw[6]
    tens, units = tz & 0x07, tz >> 4
    if units > 9:
        problems.append(f"{what} time zone octet {tz:02X} is not BCD: read as UTC")
        offset = timedelta(0)
    else:
        offset = timedelta(minutes=15 * (tens * 10 + units))
        if tz & 0x08:
            offset = -offset
    year, month, day, hour, minute, second = values
    try:
        return datetime(2000 + year, month, day, hour, minute, second, tzinfo=timezone(offset))
    except ValueError:
        problems.append(f"{what} {raw.hex().upper()} is not a date: time unknown")
        return UNKNOWN_TIME


def _dcs_info(dcs: int) -> tuple[str, bool]:
    """(encoding, flash) from TP-DCS (TS 23.038 §4). Reserved codings read as GSM-7, as §4 asks."""
    group = dcs >> 4
    if group <= 0x7:  # general data coding (00xx) and automatic deletion (01xx)
        if dcs & 0x20:  # compressed: no text we can show; keep the octets
            return "8bit", bool(dcs & 0x10) and dcs & 0x03 == 0
        alphabet = (dcs >> 2) & 0x03
        encoding = {0: "gsm7", 1: "8bit", 2: "ucs2", 3: "gsm7"}[alphabet]
        return encoding, bool(dcs & 0x10) and dcs & 0x03 == 0
    if group == 0xE:  # message waiting indication, UCS-2
        return "ucs2", False
    if group == 0xF:  # data coding / message class
        return ("8bit" if dcs & 0x04 else "gsm7"), dcs & 0x03 == 0
    return "gsm7", False  # 1000-1011 reserved, 1100/1101 message waiting (GSM-7)


def _gsm7_label(locking: int, single: int) -> str:
    """The ``encoding`` of GSM-7 under these tables: ``"gsm7"``, or ``"gsm7;locking=1;single=1"``."""
    shifts = [f"{name}={value}" for name, value in (("locking", locking), ("single", single)) if value]
    return ";".join(["gsm7", *shifts])


def _gsm7_tables_of(encoding: str) -> tuple[int, int] | None:
    """(locking, single) of a GSM-7 ``encoding`` label; None for any other label."""
    kind, *shifts = encoding.split(";")
    if kind != "gsm7":
        return None
    tables = {"locking": 0, "single": 0}
    for shift in shifts:
        name, _, value = shift.partition("=")
        if name not in tables or not (value.isascii() and value.isdigit()):
            return None
        tables[name] = int(value)
    return tables["locking"], tables["single"]


def decode_user_data(encoding: str, data: bytes) -> str:
    """Text of user data in the ``data`` form of the records (see the module docstring)."""
    if encoding == "ucs2":
        # "replace" turns an odd trailing octet or a lone surrogate into U+FFFD instead of failing.
        return data.decode("utf-16-be", errors="replace")
    tables = _gsm7_tables_of(encoding)
    if tables is not None:
        return gsm7.decode_septets(data, *tables)
    return ""


class _Header(NamedTuple):
    """What a UDH says that the decoder uses (TS 23.040 §9.2.3.24): the last of a repeated element counts."""

    concat: Concat | None = None
    locking: int = 0
    single: int = 0


def _read_udh(udh: bytes) -> _Header:
    """Walk the information elements of a UDH (length octet included)."""
    concat: Concat | None = None
    locking = single = 0
    i = 1
    while i < len(udh):
        if i + 1 >= len(udh):
            raise PduError("user data header ends inside an information element")
        iei, iedl = udh[i], udh[i + 1]
        value = udh[i + 2 : i + 2 + iedl]
        if len(value) != iedl:
            raise PduError(f"information element {iei:02X} runs past the user data header")
        i += 2 + iedl
        if iei == _IEI_LOCKING_SHIFT and iedl == 1:
            locking = value[0]
        elif iei == _IEI_SINGLE_SHIFT and iedl == 1:
            single = value[0]
        elif iei in (_IEI_CONCAT_8, _IEI_CONCAT_16) and iedl == (3 if iei == _IEI_CONCAT_8 else 4):
            ref = value[0] if iei == _IEI_CONCAT_8 else (value[0] << 8) | value[1]
            total, seq = value[-2], value[-1]
            # TS 23.040 §9.2.3.24.1: an element with seq 0 or beyond total is to be ignored.
            if total >= 1 and 1 <= seq <= total:
                concat = Concat(ref=ref, total=total, seq=seq)
    return _Header(concat, locking, single)


def parse_udh(udh: bytes) -> Concat | None:
    """Walk the information elements of a UDH (length octet included); return the concat IE if any."""
    return _read_udh(udh).concat


def _read_user_data(
    r: _Reader, encoding: str, udhi: bool, problems: list[str]
) -> tuple[str, str, bytes | None, bytes, Concat | None]:
    """TP-UDL and TP-UD: (text, encoding, udh, data, concat); ``encoding`` names the national tables."""
    udl = r.u8("user data length")
    if udhi and udl == 0:
        # A header needs at least its length octet: the bit is wrong, and the message simply empty.
        problems.append("the UDHI bit is set but there is no user data")
        udhi = False
    if encoding == "gsm7":
        if udl > GSM7_SINGLE:
            raise PduError(f"user data length {udl} septets exceeds {GSM7_SINGLE}")
        raw = r.take((udl * 7 + 7) // 8, "user data")
        start = 0
        udh: bytes | None = None
        if udhi:
            header_len = raw[0] + 1
            if header_len * 8 > udl * 7:
                raise PduError("user data header is longer than the user data")
            udh = bytes(raw[:header_len])
            start = (header_len * 8 + 6) // 7  # the text starts on the next septet boundary
        data = bytes(gsm7.unpack_septets(raw, udl, start))
    else:
        if udl > MAX_UD_OCTETS:
            raise PduError(f"user data length {udl} octets exceeds {MAX_UD_OCTETS}")
        raw = r.take(udl, "user data")
        udh = None
        data = bytes(raw)
        if udhi:
            header_len = raw[0] + 1
            if header_len > udl:
                raise PduError("user data header is longer than the user data")
            udh = bytes(raw[:header_len])
            data = bytes(raw[header_len:])
    header = _read_udh(udh) if udh is not None else _Header()
    if encoding == "gsm7" and (header.locking or header.single):
        if not gsm7.has_tables(header.locking, header.single):
            problems.append(
                f"no GSM-7 table for national language locking={header.locking} single={header.single}:"
                " the default alphabet stands in"
            )
        encoding = _gsm7_label(header.locking, header.single)
    return decode_user_data(encoding, data), encoding, udh, data, header.concat


def status_outcome(status: int) -> str:
    """TP-ST (TS 23.040 §9.2.3.15) to "delivered" / "pending" / "failed".

    0x00-0x1F: transaction completed (delivered, forwarded or replaced) → delivered.
    0x20-0x3F: temporary error, the SC is still trying → pending.
    0x40-0x5F: permanent error; 0x60-0x7F: temporary error the SC gave up on → failed.
    Bit 7 set is reserved → failed: a report we cannot read is no proof of delivery.
    """
    if status < 0x20:
        return "delivered"
    if status < 0x40:
        return "pending"
    return "failed"


def _to_bytes(pdu: str | bytes) -> bytes:
    if isinstance(pdu, (bytes, bytearray, memoryview)):
        return bytes(pdu)
    if isinstance(pdu, str):
        text = "".join(pdu.split())
        if len(text) % 2:
            raise PduError(f"PDU hex has an odd number of digits ({len(text)})")
        try:
            return bytes.fromhex(text)
        except ValueError as exc:
            raise PduError(f"PDU is not hexadecimal: {exc}") from exc
    raise PduError(f"PDU must be hex text or bytes, not {type(pdu).__name__}")


def decode(pdu: str | bytes, *, smsc: bool = True) -> DeliverPdu | StatusReportPdu | SubmitPdu:
    """Decode a PDU. ``smsc=True`` when the SMSC part leads (as in +CMGR/+CMGL/+CMT/+CDS).

    MTI 0 gives a DeliverPdu, 1 a SubmitPdu, 2 a StatusReportPdu. Malformed input raises PduError.
    """
    raw = _to_bytes(pdu)
    try:
        return _decode(raw, smsc)
    except PduError:
        raise
    except (IndexError, ValueError, KeyError, OverflowError, UnicodeError) as exc:
        # Defence in depth: the parsers check bounds themselves, but no low-level error may escape.
        raise PduError(f"malformed PDU: {exc}") from exc


def _decode(raw: bytes, with_smsc: bool) -> DeliverPdu | StatusReportPdu | SubmitPdu:
    r = _Reader(raw)
    problems: list[str] = []
    smsc = _read_smsc(r) if with_smsc else None
    tpdu_start = r.pos
    fo = r.u8("first octet")
    mti = fo & 0x03
    if mti == 0:
        number = _read_address(r, "originating address")
        pid = r.u8("protocol identifier")
        dcs = r.u8("data coding scheme")
        scts = _read_timestamp(r, "service centre timestamp", problems)
        encoding, flash = _dcs_info(dcs)
        text, encoding, udh, data, concat = _read_user_data(r, encoding, bool(fo & 0x40), problems)
        return DeliverPdu(
            smsc=smsc,
            number=number,
            text=text,
            scts=scts,
            concat=concat,
            first_octet=fo,
            pid=pid,
            dcs=dcs,
            encoding=encoding,
            udh=udh,
            data=data,
            flash=flash,
            problems=tuple(problems),
        )
    if mti == 1:
        mr = r.u8("message reference")
        number = _read_address(r, "destination address")
        pid = r.u8("protocol identifier")
        dcs = r.u8("data coding scheme")
        vpf = (fo >> 3) & 0x03
        validity = r.take({0: 0, 1: 7, 2: 1, 3: 7}[vpf], "validity period") if vpf else None
        encoding, flash = _dcs_info(dcs)
        text, encoding, udh, data, concat = _read_user_data(r, encoding, bool(fo & 0x40), problems)
        return SubmitPdu(
            smsc=smsc,
            first_octet=fo,
            mr=mr,
            number=number,
            text=text,
            concat=concat,
            encoding=encoding,
            udh=udh,
            status_report_request=bool(fo & 0x20),
            cmgs_length=r.pos - tpdu_start,
            pid=pid,
            dcs=dcs,
            data=data,
            flash=flash,
            validity=validity,
            problems=tuple(problems),
        )
    if mti == 2:
        mr = r.u8("message reference")
        number = _read_address(r, "recipient address")
        scts = _read_timestamp(r, "service centre timestamp", problems)
        discharge = _read_timestamp(r, "discharge time", problems)
        status = r.u8("status")
        # Optional parameter indicator, PID, DCS and user data may follow; nothing we use.
        return StatusReportPdu(
            smsc=smsc,
            first_octet=fo,
            mr=mr,
            number=number,
            scts=scts,
            discharge=discharge,
            status=status,
            outcome=status_outcome(status),
            problems=tuple(problems),
        )
    raise PduError(f"reserved message type indicator 3 (first octet {fo:02X})")


# --------------------------------------------------------------------------------------------------
# writing

_NUMBER = re.compile(r"\+?[0-9*#]{1,20}")


def _encode_bcd(digits: str) -> bytes:
    nibbles = [_SEMI_OCTETS.index(ch) for ch in digits]
    if len(nibbles) % 2:
        nibbles.append(0x0F)
    return bytes(nibbles[i] | (nibbles[i + 1] << 4) for i in range(0, len(nibbles), 2))


def _encode_address(number: str, *, alphanumeric_ok: bool) -> bytes:
    """TP-DA / TP-OA / TP-RA: "+digits" international (0x91), digits unknown (0x81), text 0xD0."""
    if _NUMBER.fullmatch(number):
        international = number.startswith("+")
        digits = number.lstrip("+")
        return bytes([len(digits), 0x91 if international else 0x81]) + _encode_bcd(digits)
    if not alphanumeric_ok:
        raise PduError(f"destination {number!r} is not a phone number (+ and up to 20 digits)")
    if not number:
        raise PduError("empty address")
    septets = gsm7.encode_septets(number)
    if len(septets) > 11:
        raise PduError(f"alphanumeric address {number!r} is longer than 11 septets")
    packed = gsm7.pack_septets(septets)
    return bytes([(len(septets) * 7 + 3) // 4, 0xD0]) + packed


def _encode_smsc(smsc: str | None) -> bytes:
    if smsc is None or smsc == "":
        return b"\x00"
    if not _NUMBER.fullmatch(smsc):
        raise PduError(f"SMSC {smsc!r} is not a phone number")
    digits = smsc.lstrip("+")
    body = bytes([0x91 if smsc.startswith("+") else 0x81]) + _encode_bcd(digits)
    if len(body) > 12:
        raise PduError(f"SMSC {smsc!r} is too long")
    return bytes([len(body)]) + body


def _encode_timestamp(when: datetime) -> bytes:
    offset = when.utcoffset()
    if offset is None:
        raise PduError("timestamps must be timezone-aware")
    minutes, rest = divmod(offset.total_seconds(), 60)
    quarters, qrest = divmod(abs(int(minutes)), 15)
    if rest or qrest or quarters > 79:
        raise PduError(f"time zone offset {offset} is not a whole number of quarter hours (±19:45 max)")
    if not 2000 <= when.year <= 2099:
        raise PduError(f"year {when.year} cannot be encoded (2000-2099)")

    def swap(value: int) -> int:
        return (value % 10) << 4 | (value // 10)

    tz = swap(quarters) | (0x08 if offset < timedelta(0) else 0)
    return bytes(
        [
            swap(when.year % 100),
            swap(when.month),
            swap(when.day),
            swap(when.hour),
            swap(when.minute),
            swap(when.second),
            tz,
        ]
    )


def _utf16_units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _user_data_header(concat: Concat | None, wide: bool, locking: int, single: int) -> bytes:
    """The UDH (length octet first) for these elements; b"" when there is none to send."""
    elements = b""
    if concat is not None:
        if wide:
            ref = [concat.ref >> 8, concat.ref & 0xFF]
            elements += bytes([_IEI_CONCAT_16, 4, *ref, concat.total, concat.seq])
        else:
            elements += bytes([_IEI_CONCAT_8, 3, concat.ref, concat.total, concat.seq])
    if locking:
        elements += bytes([_IEI_LOCKING_SHIFT, 1, locking])
    if single:
        elements += bytes([_IEI_SINGLE_SHIFT, 1, single])
    return bytes([len(elements)]) + elements if elements else b""


def _capacity(encoding: str, header: bytes) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) a part holds after ``header``."""
    if encoding == "ucs2":
        return (MAX_UD_OCTETS - len(header)) // 2
    return GSM7_SINGLE - (len(header) * 8 + 6) // 7


def split_text(
    text: str, *, wide_ref: bool = False, locking: int = 0, single: int = 0
) -> tuple[str, list[str]]:
    """Choose the encoding and cut ``text`` into parts: (``encoding`` label, chunks).

    GSM-7 whenever every character has an exact GSM-7 encoding (160 septets single, 153 per part),
    otherwise UCS-2 (70 code units single, 67 per part); with ``wide_ref`` (16-bit concat reference)
    a part holds 152/66. ``locking``/``single`` ask for national language tables (TS 23.038 Annex A):
    they are used when they encode the whole text, the default alphabet otherwise, and their shift
    elements take room in every part. Escape pairs and surrogate pairs are never cut: a part ends
    early instead. Greedy cutting is minimal here, since every character weighs 1 or 2 and the order
    is fixed.
    """
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise PduError("text contains a lone surrogate code point")
    if not gsm7.has_tables(locking, single):
        raise PduError(f"no GSM-7 table for national language locking={locking} single={single}")
    weigh: Callable[[str], int] = _utf16_units
    encoding, tables = "ucs2", (0, 0)
    for candidate in dict.fromkeys([(locking, single), (0, 0)]):
        if gsm7.is_gsm7(text, *candidate):
            encoding, tables = _gsm7_label(*candidate), candidate
            weigh = functools.partial(gsm7.char_septets, locking=candidate[0], single=candidate[1])
            break
    alone = _capacity(encoding, _user_data_header(None, False, *tables))
    part = _capacity(encoding, _user_data_header(Concat(0, 1, 1), wide_ref, *tables))
    if sum(weigh(ch) for ch in text) <= alone:
        return encoding, [text]
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        w = weigh(ch)
        if used + w > part:
            chunks.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += w
    if current:
        chunks.append("".join(current))
    if len(chunks) > MAX_PARTS:
        raise PduError(f"text needs {len(chunks)} parts; an SMS has {MAX_PARTS} at most")
    return encoding, chunks


def _concat_reference(concat_ref: int) -> tuple[bool, int]:
    """(wide, ref): a reference above 255 needs the 16-bit element; either is taken modulo its size."""
    if concat_ref < 0:
        raise PduError(f"concat_ref {concat_ref} is negative")
    wide = concat_ref > 255
    return wide, concat_ref % (65536 if wide else 256)


def _encode_user_data(encoding: str, text: str, udh: bytes | None) -> tuple[int, bytes]:
    """(TP-UDL, TP-UD) for a chunk, the UDH (length octet included) first."""
    header = udh or b""
    tables = _gsm7_tables_of(encoding)
    if tables is not None:
        start = (len(header) * 8 + 6) // 7  # fill bits bring the text to a septet boundary
        septets = gsm7.encode_septets(text, *tables)
        packed = bytearray(gsm7.pack_septets(septets, start))
        packed[: len(header)] = header
        udl = start + len(septets)
        if udl > GSM7_SINGLE:
            raise PduError(f"part needs {udl} septets, more than {GSM7_SINGLE}")
        return udl, bytes(packed)
    body = header + text.encode("utf-16-be")
    if len(body) > MAX_UD_OCTETS:
        raise PduError(f"part needs {len(body)} octets, more than {MAX_UD_OCTETS}")
    return len(body), body


def _validity_octet(minutes: int) -> int:
    """Relative TP-VP (TS 23.040 §9.2.3.12.1): the smallest value lasting at least ``minutes``."""
    if minutes < 0:
        raise PduError(f"validity of {minutes} minutes is negative")
    for v in range(256):
        if v <= 143:
            length = (v + 1) * 5
        elif v <= 167:
            length = 12 * 60 + (v - 143) * 30
        elif v <= 196:
            length = (v - 166) * 24 * 60
        else:
            length = (v - 192) * 7 * 24 * 60
        if length >= minutes:
            return v
    return 255


def encode_submit(
    number: str,
    text: str,
    *,
    smsc: str | None = None,
    status_report: bool = True,
    concat_ref: int = 0,
    flash: bool = False,
    validity_minutes: int | None = None,
    locking: int = 0,
    single: int = 0,
) -> list[SubmitPart]:
    """SMS-SUBMIT parts for ``text`` to ``number``, each ready for ``AT+CMGS=<tpdu_length>``.

    A text that fits one SMS gives one part without a UDH. Longer texts get a concatenation UDH with
    reference ``concat_ref % 256`` (8-bit element), or ``concat_ref % 65536`` in a 16-bit element when
    ``concat_ref > 255``. ``smsc=None`` writes "00" (the SIM's SMSC). TP-MR is 00: the modem sets it.
    ``locking``/``single`` ask for national language tables, as :func:`split_text` says.
    """
    wide, ref = _concat_reference(concat_ref)
    address = _encode_address(number, alphanumeric_ok=False)
    smsc_octets = _encode_smsc(smsc)
    encoding, chunks = split_text(text, wide_ref=wide, locking=locking, single=single)
    tables = _gsm7_tables_of(encoding) or (0, 0)
    dcs = (0x08 if encoding == "ucs2" else 0x00) | (0x10 if flash else 0x00)
    vp = b"" if validity_minutes is None else bytes([_validity_octet(validity_minutes)])
    total = len(chunks)
    parts: list[SubmitPart] = []
    for seq, chunk in enumerate(chunks, 1):
        concat = Concat(ref=ref, total=total, seq=seq) if total > 1 else None
        udh = _user_data_header(concat, wide, *tables) or None
        udl, ud = _encode_user_data(encoding, chunk, udh)
        fo = 0x01 | (0x20 if status_report else 0) | (0x40 if udh else 0) | (0x10 if vp else 0)
        tpdu = bytes([fo, 0x00]) + address + bytes([0x00, dcs]) + vp + bytes([udl]) + ud
        parts.append(
            SubmitPart(
                hex=(smsc_octets + tpdu).hex().upper(),
                tpdu_length=len(tpdu),
                number=number,
                text=chunk,
                concat=concat,
                encoding=encoding,
                udh=udh,
                status_report_request=status_report,
                flash=flash,
            )
        )
    return parts


def encode_deliver(
    number: str,
    text: str,
    *,
    scts: datetime,
    smsc: str | None = "+33612000000",
    concat_ref: int = 0,
    locking: int = 0,
    single: int = 0,
) -> list[str]:
    """SMS-DELIVER PDUs (hex, SMSC part first) as a network would send ``text`` from ``number``.

    ``number`` may be alphanumeric (e.g. "MyBank"): it is then sent with type 0xD0 in packed GSM-7.
    Splitting, concatenation and national language tables follow :func:`encode_submit`.
    """
    wide, ref = _concat_reference(concat_ref)
    address = _encode_address(number, alphanumeric_ok=True)
    smsc_octets = _encode_smsc(smsc)
    stamp = _encode_timestamp(scts)
    encoding, chunks = split_text(text, wide_ref=wide, locking=locking, single=single)
    tables = _gsm7_tables_of(encoding) or (0, 0)
    dcs = 0x08 if encoding == "ucs2" else 0x00
    total = len(chunks)
    out: list[str] = []
    for seq, chunk in enumerate(chunks, 1):
        concat = Concat(ref=ref, total=total, seq=seq) if total > 1 else None
        udh = _user_data_header(concat, wide, *tables) or None
        udl, ud = _encode_user_data(encoding, chunk, udh)
        fo = 0x04 | (0x40 if udh else 0)  # 0x04: TP-MMS, no more messages waiting
        tpdu = bytes([fo]) + address + bytes([0x00, dcs]) + stamp + bytes([udl]) + ud
        out.append((smsc_octets + tpdu).hex().upper())
    return out


def encode_status_report(
    mr: int,
    number: str,
    *,
    status: int,
    scts: datetime,
    discharge: datetime,
    smsc: str | None = "+33612000000",
) -> str:
    """An SMS-STATUS-REPORT PDU (hex, SMSC part first) for message reference ``mr``."""
    if not 0 <= mr <= 255:
        raise PduError(f"message reference {mr} is not an octet")
    if not 0 <= status <= 255:
        raise PduError(f"status {status} is not an octet")
    tpdu = (
        bytes([0x06, mr])  # MTI 2, TP-MMS set
        + _encode_address(number, alphanumeric_ok=True)
        + _encode_timestamp(scts)
        + _encode_timestamp(discharge)
        + bytes([status])
    )
    return (_encode_smsc(smsc) + tpdu).hex().upper()
