"""A recorder of a modem backend's event stream, shared by the AT and the gammu backend tests.

    events = ModemEvents(backend)
    mark = events.mark()
    (sms,) = await events.wait_for(SmsReceived, since=mark)
    await events.wait_until(lambda evs: any(isinstance(e, CallEnded) for e in evs))
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from raspisms_daemon.gsm.modem import ModemBackend, ModemEvent

__all__ = ["ModemEvents"]


class ModemEvents:
    """Collects a backend's events in a task so tests can wait for the ones they expect."""

    def __init__(self, backend: ModemBackend) -> None:
        self.events: list[ModemEvent] = []
        self._changed = asyncio.Event()
        self.task = asyncio.create_task(self._pump(backend.events()))

    async def _pump(self, stream: AsyncIterator[ModemEvent]) -> None:
        async for event in stream:
            self.events.append(event)
            self._changed.set()

    def mark(self) -> int:
        """A position in the stream: ``of``/``wait_for`` with ``since=mark`` ignore what came before."""
        return len(self.events)

    def of(self, kind: type, since: int = 0) -> list[Any]:
        return [e for e in self.events[since:] if isinstance(e, kind)]

    async def wait_until(self, predicate: Callable[[list[ModemEvent]], Any], limit: float = 8.0) -> Any:
        """The first truthy ``predicate(events)``; TimeoutError after ``limit`` seconds."""
        async with asyncio.timeout(limit):
            while True:
                result = predicate(self.events)
                if result:
                    return result
                self._changed.clear()
                await self._changed.wait()

    async def wait_for(
        self,
        kind: type,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
        since: int = 0,
    ) -> list[Any]:
        """At least ``count`` events of ``kind`` after ``since``; all of them."""
        await self.wait_until(lambda _evs: len(self.of(kind, since)) >= count, timeout)
        return self.of(kind, since)

    async def ended(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """The stream ended (the backend stopped)."""
        async with asyncio.timeout(timeout):
            await self.task
