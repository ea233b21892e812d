"""What both backends need to hand events over: the one event stream, and the memory of the stored
messages already handed over (so that a sweep does not hand them over again before they are deleted).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from .modem import ModemEvent

__all__ = ["EmittedMessages", "EventStream", "MessageKey"]

# (storage, index, content): the content (the PDU, or a fingerprint of gammu's fields) tells a new
# message that reuses a freed slot from the one that was there.
MessageKey = tuple[str, int, str]


class _End:
    """Closes the stream; it stays in the queue so that every reader sees it."""


class EventStream:
    """A backend's events in order. After :meth:`close` every reader's iteration ends, and later
    events are dropped."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[ModemEvent | _End] = asyncio.Queue()
        self._closed = False

    def emit(self, event: ModemEvent) -> None:
        if not self._closed:
            self._queue.put_nowait(event)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(_End())

    async def events(self) -> AsyncIterator[ModemEvent]:
        while True:
            item = await self._queue.get()
            if isinstance(item, _End):
                self._queue.put_nowait(item)  # for the next reader
                return
            yield item


class EmittedMessages:
    """The stored messages handed over and not deleted yet: each is emitted once until it is deleted
    (and once more after a reconnect, when the backend clears this; the phone supervisor recognises
    what it already took in)."""

    def __init__(self) -> None:
        self._keys: set[MessageKey] = set()

    def seen(self, key: MessageKey, aliases: Iterable[str] = ()) -> bool:
        """Emitted already, under ``key``'s storage or one of ``aliases`` (the same index and content
        under another storage name is the same message: "MT", or a modem that ignores AT+CPMS)."""
        storage, index, content = key
        return any((name, index, content) in self._keys for name in {storage, *aliases})

    def add(self, key: MessageKey) -> None:
        self._keys.add(key)

    def forget(self, storage: str, index: int) -> None:
        """``storage``/``index`` was deleted, or its delete failed: forget it, and the same message seen
        at that index under another storage name, so that a sweep that still finds it shows it again."""
        gone = {content for name, i, content in self._keys if (name, i) == (storage, index)}
        self._keys = {k for k in self._keys if k[1] != index or (k[0] != storage and k[2] not in gone)}

    def keep_only(self, keys: Iterable[MessageKey]) -> None:
        """Forget what a complete listing no longer shows (deleted here or elsewhere)."""
        self._keys &= set(keys)

    def clear(self) -> None:
        self._keys.clear()
