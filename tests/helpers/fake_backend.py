"""A scripted modem backend for the phone parts' unit tests (no pty, no daemon), and the context
they run in: a real SQLite file, a webhook taking every event type, the ManualClock.

The fake keeps the backend contract the supervisor relies on: one event stream that ends after
``stop``, ``send`` answering one TP-MR per part, ``delete`` only when asked. Hooks let a test look at
the database at the very moment the phone part calls the modem.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from raspisms_daemon.clock import ManualClock
from raspisms_daemon.gsm.modem import Identity, ModemEvent
from raspisms_daemon.gsm.pdu import SubmitPart
from raspisms_daemon.phones.context import PhoneContext
from raspisms_daemon.store import phones, webhooks
from raspisms_daemon.store.db import Database
from raspisms_daemon.webhooks.emit import EventSink
from raspisms_daemon.webhooks.events import WEBHOOK_TYPES

__all__ = ["API_KEY", "FakeBackend", "phone_context"]

API_KEY = "unit-test-key-0123456789abcdef"


class FakeBackend:
    """A modem that does what the test scripted.

    ``send_results``: what each part's ``AT+CMGS`` gives, in order: a TP-MR, or an exception to raise
    (default: TP-MRs counting up). ``delete_errors``: exceptions for the next deletes.
    ``on_send(part)`` / ``on_delete(index, storage)``: awaited before the modem acts.
    """

    def __init__(self, identity: Identity | None = None) -> None:
        self.identity_value = identity or Identity(manufacturer="Fake", imei="356938035643809", signal=20)
        self.start_errors: list[BaseException] = []
        self.send_results: list[int | BaseException] = []
        self.delete_errors: list[BaseException] = []
        self.on_send: Callable[[SubmitPart], Awaitable[None]] | None = None
        self.on_delete: Callable[[int, str], Awaitable[None]] | None = None
        self.sent: list[SubmitPart] = []
        self.deleted: list[tuple[str, int]] = []
        self.hangups = 0
        self.starts = 0
        self.stopped = False
        self._events: asyncio.Queue[ModemEvent | None] = asyncio.Queue()
        self._mr = itertools.count(1)

    def push(self, *events: ModemEvent) -> None:
        for event in events:
            self._events.put_nowait(event)

    async def start(self) -> None:
        self.starts += 1
        if self.start_errors:
            raise self.start_errors.pop(0)

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self._events.put_nowait(None)

    async def events(self) -> AsyncIterator[ModemEvent]:
        while (event := await self._events.get()) is not None:
            yield event
        self._events.put_nowait(None)

    async def send(self, parts: Sequence[SubmitPart]) -> list[int]:
        refs = []
        for part in parts:
            if self.on_send is not None:
                await self.on_send(part)
            result = self.send_results.pop(0) if self.send_results else next(self._mr)
            if isinstance(result, BaseException):
                raise result
            self.sent.append(part)
            refs.append(result)
        return refs

    async def delete(self, index: int, storage: str) -> None:
        if self.on_delete is not None:
            await self.on_delete(index, storage)
        if self.delete_errors:
            raise self.delete_errors.pop(0)
        self.deleted.append((storage, index))

    async def hangup(self) -> None:
        self.hangups += 1

    async def identity(self) -> Identity:
        return self.identity_value


async def phone_context(db: Database, clock: ManualClock, *, phone_ids: Sequence[int] = (1,)) -> PhoneContext:
    """The context the phone parts share, on ``db``: its phones and a webhook taking every event."""
    async with db.transaction() as conn:
        await webhooks.add_webhook(
            conn, "all", "http://127.0.0.1:9/hook", types=WEBHOOK_TYPES, now=clock.time()
        )
        for phone_id in phone_ids:
            await phones.upsert(
                conn, id=phone_id, name=f"phone{phone_id}", backend="at", device="/dev/x", enabled=True
            )
    return PhoneContext(db=db, sink=EventSink(API_KEY, clock), clock=clock)
