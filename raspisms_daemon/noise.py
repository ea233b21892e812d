"""Rate-limiting a log line that a faulty peer can repeat without end (garbage from a modem): the
first few are logged one by one, then one summary per interval says how many were not. Pure: the
caller passes the time. Also the per-phone counters ``/metrics`` shows for modem garbage.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

__all__ = ["MODEM_GARBAGE", "LineLimiter", "Verdict"]


class Verdict(NamedTuple):
    log: bool  # log this line itself
    suppressed: int = 0  # lines not logged since the last line or summary: say so now (when > 0)


class LineLimiter:
    """``burst`` lines logged freely; after that, at most one line per ``interval`` seconds, which also
    reports how many were left out before it."""

    def __init__(self, burst: int = 5, interval: float = 60.0) -> None:
        self.burst = burst
        self.interval = interval
        self._free = burst
        self._next_at: float | None = None
        self._suppressed = 0

    def hit(self, now: float) -> Verdict:
        if self._free > 0:
            self._free -= 1
            if self._free == 0:
                self._next_at = now + self.interval
            return Verdict(True)
        assert self._next_at is not None
        if now >= self._next_at:
            suppressed, self._suppressed = self._suppressed, 0
            self._next_at = now + self.interval
            return Verdict(True, suppressed)
        self._suppressed += 1
        return Verdict(False)


# Garbage lines from each phone's modem since the process started (phone id → count), for /metrics.
# Per phone, not per serial transport: a transport is rebuilt on every reconnect.
MODEM_GARBAGE: Counter[int | None] = Counter()
