"""The injectable clock and the one wait helper built on it."""

from __future__ import annotations

import asyncio
import time

from raspisms_daemon.clock import ManualClock, SystemClock, sleep_or_until


async def test_manual_clock_sleep_advances_time_instead_of_waiting() -> None:
    clock = ManualClock(start=100.0)
    started = time.monotonic()
    await clock.sleep(3600)
    assert clock.time() == 3700.0 and clock.monotonic() == 3600.0
    assert time.monotonic() - started < 0.5


async def test_sleep_or_until_returns_at_once_when_the_event_is_already_set() -> None:
    event = asyncio.Event()
    event.set()
    started = time.monotonic()
    assert await sleep_or_until(SystemClock(), 10.0, event) is True
    assert time.monotonic() - started < 0.1


async def test_sleep_or_until_wakes_early_when_the_event_is_set_meanwhile() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, event.set)
    started = time.monotonic()
    assert await sleep_or_until(SystemClock(), 10.0, event) is True
    assert 0.04 < time.monotonic() - started < 1.0


async def test_sleep_or_until_sleeps_on_the_given_clock() -> None:
    clock = ManualClock()
    assert await sleep_or_until(clock, 60.0, asyncio.Event()) is True
    assert clock.monotonic() == 60.0  # the manual clock moved; nothing waited for real


async def test_sleep_or_until_says_false_when_only_the_real_timeout_ran_out() -> None:
    started = time.monotonic()
    assert await sleep_or_until(SystemClock(), None, asyncio.Event(), real_seconds=0.05) is False
    assert time.monotonic() - started < 1.0
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]  # waiters cleaned up
