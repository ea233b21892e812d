"""What one delivery attempt leads to: the decision, without I/O (the dispatcher records it).

2xx                      → delivered
410 Gone                 → gone: the webhook is disabled, the row stays pending and due
any other answer, or none → retry after the schedule's next delay (``Retry-After`` on 429/503),
                           or dead when the schedule has no attempt left
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass

from .schedule import retry_delay

__all__ = ["AttemptResult", "Decision", "decide", "is_success"]


class AttemptResult(enum.Enum):
    """What a recorded delivery attempt led to (also the ``result`` label of ``deliveries_total``)."""

    DELIVERED = "delivered"  # 2xx
    RETRY = "retry"  # failed, another attempt is scheduled
    DEAD = "dead"  # failed, no attempt left
    GONE = "gone"  # 410: the webhook was disabled, the row kept pending


@dataclass(frozen=True)
class Decision:
    result: AttemptResult
    next_attempt_at: float | None = None  # RETRY and GONE: when the row is due again
    error: str | None = None  # what the row's last_error says (None once delivered)


def is_success(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def decide(
    *,
    status: int | None,
    error: str | None,
    attempts_done: int,
    now: float,
    schedule: Sequence[float],
    jitter: float,
    rng: random.Random,
    retry_after: str | None = None,
) -> Decision:
    """The outcome of attempt number ``attempts_done + 1``: ``status`` is the HTTP status (None when
    there was no answer, ``error`` then says why)."""
    if is_success(status):
        return Decision(AttemptResult.DELIVERED)
    what = error if status is None else f"HTTP {status}" + (f": {error}" if error else "")
    if status == 410:
        # Kept pending and due: it goes out as soon as someone enables the webhook again.
        return Decision(AttemptResult.GONE, now, what)
    delay = retry_delay(
        schedule, attempts_done + 1, jitter=jitter, rng=rng, status=status, retry_after=retry_after, now=now
    )
    if delay is None:
        return Decision(AttemptResult.DEAD, None, what)
    return Decision(AttemptResult.RETRY, now + delay, what)
