"""Multipart (concatenated) SMS reassembly: the decisions, no I/O.

Parts are persisted one by one by the supervisor (table ``multipart_part``); these functions say what a
new part means for the message it belongs to, and when an incomplete message has waited long enough to
be delivered with what arrived.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["MessageKey", "Outcome", "add_part", "assemble", "is_expired"]


@dataclass(frozen=True)
class MessageKey:
    """What identifies one concatenated message on one phone (3GPP TS 23.040 §9.2.3.24.1)."""

    id_phone: int
    origin: str
    ref: int
    total: int


class Outcome(enum.Enum):
    DUPLICATE = "duplicate"  # this seq is already stored (the network or modem delivered it twice)
    STORED = "stored"  # kept; parts still missing
    COMPLETE = "complete"  # every part is in: deliver the whole text now


def add_part(existing: Mapping[int, str], seq: int, total: int) -> Outcome:
    """What adding part ``seq`` (1-based) of ``total`` to the already stored ``existing`` parts means."""
    if seq in existing:
        return Outcome.DUPLICATE
    have = {s for s in existing if 1 <= s <= total} | {seq}
    return Outcome.COMPLETE if len(have) >= total else Outcome.STORED


def assemble(parts: Mapping[int, str]) -> str:
    """The message text: parts in sequence order (missing parts, after a timeout, are simply absent)."""
    return "".join(parts[s] for s in sorted(parts))


def is_expired(first_received_at: float, now: float, timeout: float) -> bool:
    """An incomplete message is delivered with what arrived once its first part is ``timeout`` old."""
    return now - first_received_at >= timeout
