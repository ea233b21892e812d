"""The one source of time, injectable so that schedules and windows are tested without sleeping."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock", "sleep_or_until"]


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock unix seconds (what goes into webhook timestamps and the database)."""
        ...

    def monotonic(self) -> float:
        """Seconds for measuring intervals; never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """A clock that only moves when a test says so; ``sleep`` advances it instead of waiting."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._mono = 0.0

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
