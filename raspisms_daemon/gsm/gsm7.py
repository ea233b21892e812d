"""The GSM 03.38 / 3GPP TS 23.038 7-bit default alphabet, its extension table, and septet packing.

Pure code: no I/O. Encoding is exact (a text either round-trips through GSM-7 or is refused), so the
PDU codec can choose UCS-2 whenever GSM-7 would alter a single character.
"""

from __future__ import annotations

from ..errors import PduError

__all__ = [
    "ESCAPE",
    "char_septets",
    "decode_septets",
    "encode_septets",
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

_ENCODE: dict[str, tuple[int, ...]] = {ch: (i,) for i, ch in enumerate(_BASIC) if i != ESCAPE}
_ENCODE.update({ch: (ESCAPE, code) for code, ch in _EXTENSION.items()})


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` has an exact GSM-7 encoding."""
    return all(ch in _ENCODE for ch in text)


def septet_length(text: str) -> int:
    """Number of septets ``text`` takes in GSM-7 (escaped characters count two). PduError if not GSM-7."""
    return sum(char_septets(ch) for ch in text)


def _septets_of(ch: str) -> tuple[int, ...]:
    try:
        return _ENCODE[ch]
    except KeyError:
        raise PduError(f"character {ch!r} has no GSM-7 encoding") from None


def char_septets(ch: str) -> int:
    """Septets one character takes: 1, or 2 for the extension table. PduError if not GSM-7."""
    return len(_septets_of(ch))


def encode_septets(text: str) -> list[int]:
    """Text to septet values (escape pairs included). PduError if a character is not in GSM-7."""
    out: list[int] = []
    for ch in text:
        out.extend(_septets_of(ch))
    return out


def decode_septets(septets: list[int] | bytes) -> str:
    """Septet values to text.

    An escape followed by a code the extension table lacks shows the basic character for that code,
    as TS 23.038 asks; a lone escape at the very end (or an escape before another escape, reserved
    for a future table) shows a space.
    """
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
            if nxt == ESCAPE:
                out.append(" ")
            else:
                out.append(_EXTENSION.get(nxt, _BASIC[nxt]))
            i += 2
            continue
        out.append(_BASIC[s])
        i += 1
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
