"""Run a dispatcher on a database until killed: the peer process of the crash test (and of the bench).

    python -m tests.helpers.dispatch_process DB API_KEY [--timeout S] [--lease S] [--schedule 0,0.1,...]

Prints ``ready`` on stdout once the dispatcher runs. Also holds the in-process helpers the dispatcher
tests share (:func:`running_dispatcher`, :func:`seed_events`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import aiosqlite

from raspisms_daemon.clock import Clock, ManualClock
from raspisms_daemon.config import DeliveryConfig
from raspisms_daemon.store.db import Database
from raspisms_daemon.webhooks import events
from raspisms_daemon.webhooks.dispatcher import Dispatcher
from raspisms_daemon.webhooks.emit import EventSink

__all__ = ["emit_event", "fast_delivery", "running_dispatcher", "seed_events", "wait_until"]


async def emit_event(
    conn: aiosqlite.Connection, api_key: str, type: str, body: dict[str, Any], *, at: float
) -> list[int]:
    """Queue one event as the daemon does, as if it happened at ``at`` (its webhook_timestamp)."""
    return await EventSink(api_key, ManualClock(at)).emit(conn, type, body)


def fast_delivery(**overrides: Any) -> DeliveryConfig:
    """A DeliveryConfig with a tiny schedule and timeouts, so tests need no long sleeps."""
    base: dict[str, Any] = {
        "timeout": 1.0,
        "connect_timeout": 0.5,
        "schedule": (0.0, 0.05, 0.1, 0.1, 0.1),
        "jitter": 0.0,
        "concurrency": 16,
        "per_webhook_concurrency": 4,
    }
    base.update(overrides)
    return DeliveryConfig(**base)


async def seed_events(
    db: Database, api_key: str, n: int, *, start_id: int = 1, now: float | None = None
) -> list[int]:
    """Enqueue ``n`` receive_sms events (ids start_id…) that happened at ``now`` (default: the real
    now), due at once; returns the outbox ids."""
    at = time.time() if now is None else now
    ids: list[int] = []
    async with db.transaction() as conn:
        for i in range(start_id, start_id + n):
            body = events.receive_sms(
                id=i, at="2026-01-02 03:04:05", origin="+33612345678", destination=1, text=f"message {i}"
            )
            ids += await emit_event(conn, api_key, "receive_sms", body, at=at)
    return ids


async def wait_until(
    db: Database, sql: str, expected: Any, *, within: float = 10.0, params: tuple[object, ...] = ()
) -> None:
    """Poll ``sql`` (its first column of its first row) until it equals ``expected``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    value = None
    while loop.time() < deadline:
        row = await db.fetchone(sql, params)
        value = row[0] if row is not None else None
        if value == expected:
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(f"{sql!r} is {value!r}, expected {expected!r} within {within} s")


@contextlib.asynccontextmanager
async def running_dispatcher(
    db: Database, delivery: DeliveryConfig, api_key: str, *, clock: Clock | None = None, **kwargs: Any
) -> AsyncIterator[Dispatcher]:
    """A dispatcher running in a task for the duration of the block, cancelled and awaited after it."""
    async with aiohttp.ClientSession() as session:
        dispatcher = Dispatcher(db, session, delivery, clock=clock, api_key=api_key, **kwargs)
        task = asyncio.create_task(dispatcher.run())
        try:
            yield dispatcher
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _main(argv: list[str]) -> int:
    from raspisms_daemon.store.db import open_database

    parser = argparse.ArgumentParser()
    parser.add_argument("database", type=Path)
    parser.add_argument("api_key")
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--lease", type=float, default=None)
    parser.add_argument("--schedule", default="0,0.05,0.1,0.2,0.2,0.2,0.2,0.2,0.2,0.2")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--per-webhook-concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    delivery = DeliveryConfig(
        timeout=args.timeout,
        connect_timeout=min(args.timeout, 1.0),
        schedule=tuple(float(x) for x in args.schedule.split(",")),
        jitter=0.1,
        concurrency=args.concurrency,
        per_webhook_concurrency=args.per_webhook_concurrency,
    )
    db = await open_database(args.database)
    try:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            dispatcher = Dispatcher(db, session, delivery, api_key=args.api_key, lease=args.lease)
            print("ready", flush=True)
            with contextlib.suppress(asyncio.CancelledError):
                await dispatcher.run()
    finally:
        await db.close()
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    sys.exit(asyncio.run(_main(sys.argv[1:])))
