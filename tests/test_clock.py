"""The injectable clock and the wait helpers built on it."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

import pytest

from raspisms_daemon.clock import ManualClock, SystemClock, sleep_or_until, within


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


async def test_within_gives_the_result_of_what_finished_in_time() -> None:
    assert await within(asyncio.sleep(0.01, result="done"), 5.0) == "done"


async def test_within_raises_timeout_and_cancels_what_did_not_finish() -> None:
    started = time.monotonic()
    inner = asyncio.ensure_future(asyncio.sleep(10))
    with pytest.raises(TimeoutError):
        await within(inner, 0.05)
    assert inner.cancelled()
    assert time.monotonic() - started < 1.0


async def _cancelled_as_it_finishes(wait: Callable[[Awaitable[None], float], Awaitable[None]]) -> bool:
    """Cancel a task waiting through ``wait`` in the very loop step where what it waits for finishes
    (a SIM delete answering as the daemon stops); True when the task ended cancelled."""
    answer = asyncio.get_running_loop().create_future()

    async def modem_call() -> None:
        await answer

    async def caller() -> None:
        await wait(modem_call(), 5.0)
        await asyncio.sleep(3600)  # where a lost cancellation leaves the task: waiting for more work

    task = asyncio.create_task(caller())
    await asyncio.sleep(0.01)
    answer.set_result(None)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1.0)
    if not done:
        task.cancel()  # the lost cancellation, repeated so that the test cleans up
        await asyncio.gather(task, return_exceptions=True)
        return False
    return task.cancelled()


async def test_within_never_loses_a_cancellation_that_lands_as_the_awaited_finishes() -> None:
    assert await _cancelled_as_it_finishes(within) is True


async def test_asyncio_wait_for_loses_that_cancellation_on_this_python() -> None:
    """Why the daemon uses ``within``: python/cpython#86296, fixed only from Python 3.12 on."""
    lost = not await _cancelled_as_it_finishes(asyncio.wait_for)
    assert lost is (sys.version_info < (3, 12))
