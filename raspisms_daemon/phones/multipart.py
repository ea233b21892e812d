"""Multipart (concatenated) SMS reassembly: the decisions, no I/O.

Parts are persisted one by one by the supervisor (table ``multipart_part``, keyed by phone, sender,
reference and part count as 3GPP TS 23.040 §9.2.3.24.1 identifies a message); these functions say what
a new part means for the message it belongs to, and when an incomplete message has waited long enough
to be delivered with what arrived.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

__all__ = ["Outcome", "add_part", "assemble", "is_expired"]


class Outcome(enum.Enum):
    DUPLICATE = "duplicate"  # this seq is already stored (the network or modem delivered it twice)
    CLASH = "clash"  # this seq is stored with another text: a new message reuses the reference
    STORED = "stored"  # kept; parts still missing
    COMPLETE = "complete"  # every part is in: deliver the whole text now


def add_part(existing: Mapping[int, str], seq: int, total: int, text: str) -> Outcome:
    """What adding part ``seq`` (1-based) of ``total`` with ``text`` to the already stored ``existing``
    parts of the same (phone, sender, reference, total) means."""
    if seq in existing:
        # The reference is 8 or 16 bits and a sender's modem reuses it: the same slot with another text
        # is a new message while an older one still waits for a part, never a repeat to drop.
        return Outcome.DUPLICATE if existing[seq] == text else Outcome.CLASH
    have = {s for s in (*existing, seq) if 1 <= s <= total}  # TS 23.040: an out-of-range seq is no part
    return Outcome.COMPLETE if len(have) >= total else Outcome.STORED


def assemble(parts: Mapping[int, str]) -> str:
    """The message text: parts in sequence order (missing parts, after a timeout, are simply absent)."""
    return "".join(parts[s] for s in sorted(parts))


def is_expired(first_received_at: float, now: float, timeout: float) -> bool:
    """An incomplete message is delivered with what arrived once its first part is ``timeout`` old."""
    return now - first_received_at >= timeout
