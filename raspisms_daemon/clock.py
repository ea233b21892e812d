"""The one source of time, injectable so that schedules and windows are tested without sleeping.

Decisions read the clock (a retry time, a window, a timeout, when the next SMS is due); the cadence of
a housekeeping loop (how often to look) is real time, so that a :class:`ManualClock` never spins one.

The clock also owns the time zone: webhook dates and the API's dates are the daemon's local time, and
which zone that is comes from here (the host's for :class:`SystemClock`), never from a hidden call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, tzinfo
from typing import Protocol, TypeVar

__all__ = ["Clock", "ManualClock", "SystemClock", "sleep_or_until", "within"]

T = TypeVar("T")


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock unix seconds (what goes into webhook timestamps and the database)."""
        ...

    def monotonic(self) -> float:
        """Seconds for measuring intervals; never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def local(self, ts: float) -> datetime:
        """Unix seconds as an aware datetime in the daemon's time zone."""
        ...

    def from_local(self, wall: datetime) -> float:
        """A naive wall-clock time in the daemon's time zone as unix seconds."""
        ...


class SystemClock:
    """Real time in the host's time zone (``TZ``, else ``/etc/localtime``), daylight saving included."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts).astimezone()

    def from_local(self, wall: datetime) -> float:
        return wall.timestamp()


class ManualClock:
    """A clock that only moves when a test says so; ``sleep`` advances it instead of waiting.

    Its zone is fixed (UTC unless given), so what a test asserts does not depend on the host."""

    def __init__(self, start: float = 1_700_000_000.0, *, tz: tzinfo = UTC) -> None:
        self._now = start
        self._mono = 0.0
        self.tz = tz

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._mono += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)

    def local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self.tz)

    def from_local(self, wall: datetime) -> float:
        return wall.replace(tzinfo=self.tz).timestamp()


async def sleep_or_until(
    clock: Clock, seconds: float | None, event: asyncio.Event, *, real_seconds: float | None = None
) -> bool:
    """Wait until ``event`` is set or ``seconds`` have passed on ``clock`` (``None``: no limit), but no
    longer than ``real_seconds`` (wall time, whatever the clock). True unless only that ran out.

    The backoffs that an attach cuts short and the dispatcher's wait for new rows are all this.
    """
    if event.is_set():
        return True
    waiters: set[asyncio.Future[object]] = {asyncio.ensure_future(event.wait())}
    if seconds is not None:
        waiters.add(asyncio.ensure_future(clock.sleep(seconds)))
    try:
        done, _ = await asyncio.wait(waiters, timeout=real_seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    return bool(done)


async def within(awaitable: Awaitable[T], seconds: float | None) -> T:
    """``await awaitable``, raising :class:`TimeoutError` after ``seconds`` of real time (``None``: no
    limit); what the daemon uses instead of ``asyncio.wait_for``.

    On Python 3.11 ``asyncio.wait_for`` returns the result and drops the cancellation when its task is
    cancelled just as the awaited finishes (python/cpython#86296): a phone task cancelled at shutdown
    while a SIM delete answered went back to waiting for modem events, and the daemon never stopped.
    ``asyncio.timeout`` awaits in the caller's own task, where a cancellation cannot be lost.
    """
    async with asyncio.timeout(seconds):
        return await awaitable
