"""Matching a delivery report to the part it reports on: number comparison and candidate choice. Pure.

A report carries the TP-MR the modem gave the part (0..255, so it wraps) and the recipient number, which
the network may write differently from how we sent it (``+33612345678`` vs ``0612345678``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["MATCH_WINDOW", "MIN_SUFFIX", "Candidate", "pick_candidate", "same_number"]

MATCH_WINDOW = 3 * 86400.0  # reports older than the part by more than this are not matched
MIN_SUFFIX = 8  # digits that must agree when one side is national and the other international


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())


def same_number(a: str, b: str) -> bool:
    """Whether two spellings designate the same subscriber.

    Equal digits match. Otherwise the national form (leading ``0`` trunk prefix dropped) must be a
    suffix of the other, with at least :data:`MIN_SUFFIX` digits so that short codes do not collide.
    """
    da, db = _digits(a), _digits(b)
    if not da or not db:
        return a.strip().lower() == b.strip().lower()  # alphanumeric: compare as text
    if da == db:
        return True
    na, nb = da.lstrip("0"), db.lstrip("0")
    short, long = (na, nb) if len(na) <= len(nb) else (nb, na)
    return len(short) >= MIN_SUFFIX and long.endswith(short)


class Candidate(NamedTuple):
    """A recorded part with this TP-MR on this phone."""

    part_id: int
    number: str
    sent_at: float
    status: str  # pending | delivered | failed


def pick_candidate(candidates: Sequence[Candidate], number: str, now: float) -> Candidate | None:
    """The part a report is about: same number, inside the window, most recent first, pending preferred.

    A part already final is returned only when no pending one matches (a repeated report is then a
    harmless no-op rather than a wrong update of an older SMS that reused the TP-MR).
    """
    fitting = [c for c in candidates if now - c.sent_at <= MATCH_WINDOW and same_number(c.number, number)]
    fitting.sort(key=lambda c: (c.sent_at, c.part_id), reverse=True)
    for c in fitting:
        if c.status == "pending":
            return c
    return fitting[0] if fitting else None
