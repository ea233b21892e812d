"""The GSM 03.38 / 3GPP TS 23.038 7-bit alphabets and septet packing.

The default alphabet and its extension table, and the national language tables (:mod:`.gsm7_tables`):
``locking`` names the table that replaces the default alphabet, ``single`` the one that replaces the
extension table behind the escape (National Language Identifiers, 0 = default; an identifier without
a table reads as the default). Pure code: no I/O. Encoding is exact (a text either round-trips through
the chosen tables or is refused), so the PDU codec can choose UCS-2 whenever GSM-7 would alter a
single character.
"""

from __future__ import annotations

from functools import lru_cache

from ..errors import PduError
from .gsm7_tables import LOCKING, SINGLE, UNDEFINED

__all__ = [
    "ESCAPE",
    "char_septets",
    "decode_septets",
    "encode_septets",
    "has_tables",
    "is_gsm7",
    "pack_septets",
    "septet_length",
    "unpack_septets",
]

ESCAPE = 0x1B

# The default alphabet, indexed by septet value (TS 23.038 §6.2.1). 0x1B is the escape to the
# extension table; it is decoded separately and never produced from this table.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(_BASIC) == 128

# The extension table (TS 23.038 §6.2.1.1), reached through 0x1B.
_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}


def has_tables(locking: int, single: int) -> bool:
    """Whether both identifiers name a table this codec holds (0 is the default alphabet)."""
    return (locking == 0 or locking in LOCKING) and (single == 0 or single in SINGLE)


def _tables(locking: int, single: int) -> tuple[str, dict[int, str]]:
    return LOCKING.get(locking, _BASIC), SINGLE.get(single, _EXTENSION)


@lru_cache(maxsize=32)
def _encoder(locking: int, single: int) -> dict[str, tuple[int, ...]]:
    """Character → septets for one pair of tables: the locking table first (one septet), then the
    single shift table (escape + code); the lowest code wins where a table holds a character twice."""
    table, shifted = _tables(locking, single)
    out: dict[str, tuple[int, ...]] = {}
    for code in sorted(shifted, reverse=True):
        out[shifted[code]] = (ESCAPE, code)
    for code in range(127, -1, -1):
        ch = table[code]
        if code != ESCAPE and ch != UNDEFINED:
            out[ch] = (code,)
    return out


def is_gsm7(text: str, locking: int = 0, single: int = 0) -> bool:
    """True when every character of ``text`` has an exact encoding in these tables."""
    encoder = _encoder(locking, single)
    return all(ch in encoder for ch in text)


def septet_length(text: str, locking: int = 0, single: int = 0) -> int:
    """Number of septets ``text`` takes (escaped characters count two). PduError if not encodable."""
    return sum(char_septets(ch, locking, single) for ch in text)


def _septets_of(ch: str, locking: int, single: int) -> tuple[int, ...]:
    try:
        return _encoder(locking, single)[ch]
    except KeyError:
        raise PduError(f"character {ch!r} has no GSM-7 encoding") from None


def char_septets(ch: str, locking: int = 0, single: int = 0) -> int:
    """Septets one character takes: 1, or 2 behind the escape. PduError if not encodable."""
    return len(_septets_of(ch, locking, single))


def encode_septets(text: str, locking: int = 0, single: int = 0) -> list[int]:
    """Text to septet values (escape pairs included). PduError if a character is not encodable."""
    out: list[int] = []
    for ch in text:
        out.extend(_septets_of(ch, locking, single))
    return out


def decode_septets(septets: list[int] | bytes, locking: int = 0, single: int = 0) -> str:
    """Septet values to text, with the given tables.

    An escape followed by a code the single shift table lacks shows the locking table's character for
    that code, as TS 23.038 asks; a lone escape at the very end (or an escape before another escape,
    reserved for a future table) shows a space, and so does a position the locking table leaves
    undefined (as oFono, Android and Mozilla show it).
    """
    table, shifted = _tables(locking, single)
    out: list[str] = []
    i = 0
    n = len(septets)
    while i < n:
        s = septets[i] & 0x7F
        if s == ESCAPE:
            if i + 1 >= n:
                out.append(" ")
                break
            nxt = septets[i + 1] & 0x7F
            ch = " " if nxt == ESCAPE else shifted.get(nxt, table[nxt])
            i += 2
        else:
            ch = table[s]
            i += 1
        out.append(" " if ch == UNDEFINED else ch)
    return "".join(out)


def pack_septets(septets: list[int], start: int = 0) -> bytes:
    """Pack septets LSB-first into octets, the first one at septet position ``start``.

    ``start`` leaves room for a user data header: the header octets are written over the first
    ``ceil(8*H/7)`` septet slots by the caller, so the text starts on a septet boundary (fill bits).
    """
    acc = 0
    for i, s in enumerate(septets):
        acc |= (s & 0x7F) << (7 * (start + i))
    total_septets = start + len(septets)
    return acc.to_bytes((total_septets * 7 + 7) // 8, "little")


def unpack_septets(data: bytes, count: int, start: int = 0) -> list[int]:
    """Read septets ``start`` .. ``count - 1`` from packed ``data``. PduError if data is too short."""
    needed = (count * 7 + 7) // 8
    if needed > len(data):
        raise PduError(f"user data holds {len(data)} octets, {count} septets need {needed}")
    acc = int.from_bytes(data[:needed], "little")
    return [(acc >> (7 * i)) & 0x7F for i in range(start, count)]
