"""When to try a failed delivery again: the retry schedule with ±jitter, and ``Retry-After``.

Pure: no I/O; randomness comes from a ``random.Random`` the caller passes (seeded in tests).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from email.utils import parsedate_to_datetime

__all__ = ["RETRY_AFTER_MIN_CAP", "RETRY_AFTER_STATUSES", "next_delay", "parse_retry_after", "retry_delay"]

RETRY_AFTER_STATUSES = frozenset({429, 503})
RETRY_AFTER_MIN_CAP = 60.0


def next_delay(
    schedule: Sequence[float], attempts_done: int, *, jitter: float, rng: random.Random
) -> float | None:
    """Seconds to wait before the next attempt after ``attempts_done`` attempts, or None when exhausted.

    ``schedule[n]`` is the delay before attempt ``n`` (``schedule[0]`` is the first, normally 0), so a
    schedule of N entries allows N attempts in all.
    """
    if attempts_done < 0:
        raise ValueError("attempts_done must be >= 0")
    if attempts_done >= len(schedule):
        return None
    base = max(0.0, float(schedule[attempts_done]))
    j = min(max(jitter, 0.0), 1.0)
    return base * (1.0 + rng.uniform(-j, j)) if j else base


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date; None when absent or invalid."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None  # RFC 9110 dates are GMT; a zoneless one is not an HTTP date
    return max(0.0, when.timestamp() - now)


def retry_delay(
    schedule: Sequence[float],
    attempts_done: int,
    *,
    jitter: float,
    rng: random.Random,
    status: int | None = None,
    retry_after: str | None = None,
    now: float = 0.0,
) -> float | None:
    """Delay before the next attempt after a failure, or None when the delivery is dead.

    A valid ``Retry-After`` on 429/503 replaces the scheduled delay (the receiver knows when it will be
    back), capped at the schedule's longest delay (at least a minute) so a bogus header cannot park a
    delivery for a year.
    It does not grant attempts beyond the schedule.
    """
    scheduled = next_delay(schedule, attempts_done, jitter=jitter, rng=rng)
    if scheduled is None:
        return None
    if status in RETRY_AFTER_STATUSES:
        asked = parse_retry_after(retry_after, now=now)
        if asked is not None:
            cap = max(max((float(s) for s in schedule), default=0.0), RETRY_AFTER_MIN_CAP)
            return min(asked, cap)
    return scheduled
