"""Multipart (concatenated) SMS reassembly: the decisions, no I/O.

Parts are persisted one by one by the intake (table ``multipart_part``, keyed by phone, sender,
reference and part count as 3GPP TS 23.040 §9.2.3.24.1 identifies a message); these functions say what
a new part means for the message it belongs to, and what the message says once it is whole (or has
waited long enough to be delivered with what arrived).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import NamedTuple

from ..gsm.pdu import decode_user_data

__all__ = ["Outcome", "Part", "add_part", "assemble"]


class Outcome(enum.Enum):
    DUPLICATE = "duplicate"  # this seq is already stored (the network or modem delivered it twice)
    CLASH = "clash"  # this seq is stored with another text: a new message reuses the reference
    STORED = "stored"  # kept; parts still missing
    COMPLETE = "complete"  # every part is in: deliver the whole text now


class Part(NamedTuple):
    """One stored part: its own text, and its user data when the backend saw it (the AT backend does)."""

    text: str
    encoding: str | None = None  # gsm7 | ucs2 | 8bit
    data: bytes | None = None


def add_part(existing: Mapping[int, str], seq: int, total: int, text: str) -> Outcome:
    """What adding part ``seq`` (1-based) of ``total`` with ``text`` to the already stored ``existing``
    parts of the same (phone, sender, reference, total) means."""
    if seq in existing:
        # The reference is 8 or 16 bits and a sender's modem reuses it: the same slot with another text
        # is a new message while an older one still waits for a part, never a repeat to drop.
        return Outcome.DUPLICATE if existing[seq] == text else Outcome.CLASH
    have = {s for s in (*existing, seq) if 1 <= s <= total}  # TS 23.040: an out-of-range seq is no part
    return Outcome.COMPLETE if len(have) >= total else Outcome.STORED


def assemble(parts: Mapping[int, Part]) -> str:
    """The message text, parts in sequence order (missing parts, after a timeout, are simply absent).

    Consecutive parts with the same encoding are joined as user data and decoded once: a sender may
    split a character between two parts (a UCS-2 surrogate pair such as an emoji, a GSM-7 escape), and
    decoding each part alone would turn it into two replacement characters.
    """
    out: list[str] = []
    run: list[bytes] = []
    run_encoding: str | None = None
    previous: int | None = None

    def flush() -> None:
        if run and run_encoding is not None:
            out.append(decode_user_data(run_encoding, b"".join(run)))
        run.clear()

    for seq in sorted(parts):
        part = parts[seq]
        joinable = part.data is not None and part.encoding in ("gsm7", "ucs2")
        if not joinable or part.encoding != run_encoding or previous is None or seq != previous + 1:
            flush()
        if joinable:
            assert part.data is not None
            run_encoding = part.encoding
            run.append(part.data)
        else:
            run_encoding = None
            out.append(part.text)
        previous = seq
    flush()
    return "".join(out)
