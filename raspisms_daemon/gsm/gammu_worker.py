"""One thread per phone that runs every blocking libgammu call, awaited from asyncio with a timeout.

libgammu blocks (reading a serial port, waiting for a modem that may never answer), so no call to it
may run on the event loop. Each :class:`GammuWorker` owns one plain thread and one job queue: the loop
submits a callable, the thread runs it and hands the outcome back with ``loop.call_soon_threadsafe``.
The result is set only on a future that is not done yet, so a caller that timed out or was cancelled
never crashes the worker (unlike ``gammu.asyncworker``, which also flattens every error into a plain
``GSMError``). ``gammu.GSMError`` is translated into our exception tree here, in the thread, so that
callers always see subclasses of :class:`~raspisms_daemon.errors.ModemError` or ``LinkError``.

Timeouts are real time, not the backend's injected clock: libgammu blocks the thread in real time.

The module imports ``gammu`` lazily: an AT-only install without python-gammu must still import it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

from ..clock import within
from ..errors import ModemError, ModemGone, ModemTimeout

__all__ = ["GammuWorker", "NoMoreEntries", "import_gammu", "translate_gammu_error"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Error names (python-gammu exposes one exception class per libgammu error code, named after it).
_TIMEOUT = frozenset({"ERR_TIMEOUT"})
_GONE = frozenset(
    {
        "ERR_DEVICENOTEXIST",
        "ERR_DEVICEOPENERROR",
        "ERR_NOTCONNECTED",
        "ERR_DEVICEREADERROR",
        "ERR_DEVICEWRITEERROR",
        "ERR_DEVICENOPERMISSION",
        "ERR_DEVICELOCKED",
        "ERR_DEVICEBUSY",
    }
)
_EMPTY = frozenset({"ERR_EMPTY", "ERR_INVALIDLOCATION"})


class NoMoreEntries(ModemError):
    """``ERR_EMPTY``/``ERR_INVALIDLOCATION``: the end of a GetNext* walk, or nothing at that location.

    Not a failure: the backend turns it into "no more messages". It subclasses ModemError only so that
    every exception leaving a gammu call is one of ours.
    """


def import_gammu() -> ModuleType:
    """Import python-gammu, or explain what to install (it is the optional ``gammu`` extra)."""
    try:
        import gammu
    except ImportError as exc:
        raise ModemError(
            "backend = gammu needs python-gammu: install raspisms-daemon[gammu] (pip) or python3-gammu (apt)"
        ) from exc
    module: ModuleType = gammu  # python-gammu ships no type hints
    return module


def translate_gammu_error(exc: BaseException, where: str) -> BaseException:
    """Map a ``gammu.GSMError`` to our tree (other exceptions are returned unchanged)."""
    name = type(exc).__name__
    info: dict[str, Any] = {}
    if exc.args and isinstance(exc.args[0], dict):
        info = exc.args[0]
    if not name.startswith("ERR_") and "Code" not in info:
        return exc  # not a GSMError (a bug of ours, or a TypeError from python-gammu): keep it
    text = f"{where}: {info.get('Text', name)} ({name}, code {info.get('Code', '?')})"
    if name in _TIMEOUT:
        return ModemTimeout(text)
    if name in _GONE:
        return ModemGone(text)
    if name in _EMPTY:
        return NoMoreEntries(text)
    return ModemError(text)


class GammuWorker:
    """A dedicated thread with a job queue. Create and use it from inside a running event loop."""

    def __init__(self, name: str, *, phone_id: int | None = None) -> None:
        self._name = name
        self._log = logging.LoggerAdapter(log, {"phone_id": phone_id})  # the journal's PHONE_ID
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any], str] | None] = (
            queue.SimpleQueue()
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._exited: asyncio.Future[None] | None = None
        self._closing = False
        # What the thread is running now (for logs and for deciding whether an abort is worth it).
        self.busy_with: str | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("worker already started")
        self._loop = asyncio.get_running_loop()
        self._exited = self._loop.create_future()
        # daemon: a thread stuck in libgammu (a modem that never answers) must not hold up exit.
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    async def call(self, fn: Callable[[], T], *, timeout: float, what: str) -> T:  # noqa: ASYNC109
        """Run ``fn()`` in the worker thread; raise ModemTimeout if it has not returned in ``timeout`` s.

        On timeout the blocked libgammu call keeps running in the thread (nothing can interrupt C code
        except ``StateMachine.Abort``, which the backend calls); its late result is dropped.
        """
        if self._loop is None or self._closing or not self.alive:
            raise ModemGone(f"{what}: the gammu worker is stopped")
        fut: asyncio.Future[T] = self._loop.create_future()
        self._jobs.put((fn, fut, what))
        try:
            # asyncio.timeout, not wait_for: wait_for on 3.11 can swallow a cancellation that
            # arrives just as the result does, and the owner's task would then never stop.
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError as exc:
            raise ModemTimeout(f"{what}: no answer from libgammu within {timeout:g}s") from exc

    async def close(
        self,
        final: Callable[[], Any] | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> bool:
        """Fail queued jobs with ModemGone, run ``final`` (e.g. Terminate) last, and end the thread.

        Returns True when the thread has exited (and was joined) within ``timeout``.
        """
        if self._thread is None or self._loop is None or self._exited is None:
            return True
        if not self._closing:
            self._closing = True
            # Jobs nobody ran yet are refused now rather than run against a closing connection.
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    _settle(job[1], None, ModemGone(f"{job[2]}: the gammu worker is stopping"))
            if final is not None:
                done: asyncio.Future[Any] = self._loop.create_future()
                # Nobody awaits this one: retrieve its outcome so a failing Terminate is only logged.
                done.add_done_callback(self._log_close_outcome)
                self._jobs.put((final, done, "close"))
            self._jobs.put(None)
        try:
            await within(asyncio.shield(self._exited), timeout)
        except TimeoutError:
            self._log.warning(
                "gammu worker %s still blocked in %s after %.1fs", self._name, self.busy_with, timeout
            )
            return False
        self._thread.join()  # it has signalled its exit: this returns at once
        return True

    # -- the thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                fn, fut, what = job
                if fut.done():  # the caller gave up before we got to it (benign racy read)
                    continue
                self.busy_with = what
                try:
                    result = fn()
                except BaseException as exc:
                    self._hand_back(fut, None, translate_gammu_error(exc, what), exc)
                else:
                    self._hand_back(fut, result, None, None)
                finally:
                    self.busy_with = None
        finally:
            self._call_soon(_settle, self._exited, None, None)

    def _hand_back(
        self, fut: asyncio.Future[Any], result: Any, exc: BaseException | None, cause: BaseException | None
    ) -> None:
        if exc is not None and cause is not None and exc is not cause:
            exc.__cause__ = cause  # the same chain `raise ... from` would give
        self._call_soon(_settle, fut, result, exc)

    def _log_close_outcome(self, fut: asyncio.Future[Any]) -> None:
        if not fut.cancelled() and fut.exception() is not None:
            self._log.debug("closing the gammu connection failed: %s", fut.exception())

    def _call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more


def _settle(fut: asyncio.Future[Any] | None, result: Any, exc: BaseException | None) -> None:
    """Runs on the loop: complete ``fut`` unless it is already done (timed out, cancelled)."""
    if fut is None or fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)
