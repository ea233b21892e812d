"""The gammu worker thread: calls run off the loop, errors come back typed, give-ups never break it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from raspisms_daemon.errors import LinkError, ModemError, ModemGone, ModemTimeout
from raspisms_daemon.gsm.gammu_worker import GammuWorker, NoMoreEntries, translate_gammu_error
from tests.helpers.machine import import_or_skip

gammu = import_or_skip("gammu", "python-gammu", "python3-gammu")

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def loop_errors() -> list[dict[str, Any]]:
    """What reaches the loop's exception handler (e.g. InvalidStateError from a late set_result)."""
    seen: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: seen.append(context))
    return seen


@pytest.fixture
async def worker() -> AsyncIterator[GammuWorker]:
    w = GammuWorker("gammu-test")
    w.start()
    try:
        yield w
    finally:
        assert await w.close(timeout=5.0)
        assert not w.alive


def _raise(exc: BaseException) -> Any:
    raise exc


async def test_a_call_runs_in_the_worker_thread_not_on_the_loop(worker: GammuWorker) -> None:
    name = await worker.call(lambda: threading.current_thread().name, timeout=1.0, what="t")
    assert name == "gammu-test"
    assert name != threading.current_thread().name


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("ERR_TIMEOUT", ModemTimeout),
        ("ERR_DEVICENOTEXIST", ModemGone),
        ("ERR_DEVICEOPENERROR", ModemGone),
        ("ERR_NOTCONNECTED", ModemGone),
        ("ERR_EMPTY", NoMoreEntries),
        ("ERR_INVALIDLOCATION", NoMoreEntries),
        ("ERR_UNKNOWN", ModemError),
        ("ERR_NOTSUPPORTED", ModemError),
    ],
)
async def test_gammu_errors_come_back_as_our_typed_errors(
    worker: GammuWorker, error: str, expected: type[Exception]
) -> None:
    original = getattr(gammu, error)({"Text": "libgammu says no", "Where": "GetSMS", "Code": 99})

    with pytest.raises((ModemError, LinkError)) as caught:
        await worker.call(lambda: _raise(original), timeout=1.0, what="GetSMS 1")

    assert type(caught.value) is expected
    assert caught.value.__cause__ is original
    assert "libgammu says no" in str(caught.value) and error in str(caught.value)
    assert "code 99" in str(caught.value)


def test_translation_leaves_other_exceptions_alone() -> None:
    bug = ValueError("not a gammu error")
    assert translate_gammu_error(bug, "x") is bug


async def test_a_timed_out_call_leaves_the_worker_usable(
    worker: GammuWorker, loop_errors: list[dict[str, Any]]
) -> None:
    release = threading.Event()

    with pytest.raises(ModemTimeout, match=r"within 0\.1s"):
        await worker.call(lambda: release.wait(5) and "late", timeout=0.1, what="slow")
    release.set()  # the late result arrives on a future nobody waits for any more

    assert await worker.call(lambda: "next", timeout=2.0, what="next") == "next"
    await asyncio.sleep(0.05)
    assert loop_errors == []


async def test_a_cancelled_await_does_not_crash_the_worker(
    worker: GammuWorker, loop_errors: list[dict[str, Any]]
) -> None:
    release = threading.Event()
    started = threading.Event()

    def blocking() -> str:
        started.set()
        release.wait(5)
        return "done"

    pending = asyncio.create_task(worker.call(blocking, timeout=10.0, what="blocking"))
    queued = asyncio.create_task(worker.call(lambda: "never run", timeout=10.0, what="queued"))
    await asyncio.to_thread(started.wait, 5)
    pending.cancel()
    queued.cancel()
    release.set()
    for task in (pending, queued):
        with pytest.raises(asyncio.CancelledError):
            await task

    assert await worker.call(lambda: 42, timeout=2.0, what="after") == 42
    await asyncio.sleep(0.05)
    assert loop_errors == []


async def test_close_refuses_queued_jobs_and_runs_the_final_one_last() -> None:
    w = GammuWorker("gammu-close")
    w.start()
    release = threading.Event()
    order: list[str] = []

    def first_job() -> None:
        if release.wait(5):
            order.append("first")

    first = asyncio.create_task(w.call(first_job, timeout=5, what="a"))
    second = asyncio.create_task(w.call(lambda: order.append("second"), timeout=5, what="b"))
    await asyncio.sleep(0.05)
    closing = asyncio.create_task(w.close(final=lambda: order.append("final"), timeout=5))
    await asyncio.sleep(0.05)
    release.set()

    assert await closing
    await first
    with pytest.raises(ModemGone):
        await second
    assert order == ["first", "final"]
    assert not w.alive
    with pytest.raises(ModemGone):
        await w.call(lambda: None, timeout=1, what="after close")


async def test_close_says_when_the_thread_is_still_blocked() -> None:
    w = GammuWorker("gammu-stuck")
    w.start()
    release = threading.Event()
    stuck = asyncio.create_task(w.call(lambda: release.wait(5), timeout=5, what="stuck"))
    await asyncio.sleep(0.05)

    assert not await w.close(timeout=0.1)
    assert w.alive and w.busy_with == "stuck"

    release.set()
    assert await w.close(timeout=5)
    assert not w.alive
    assert await stuck is True
