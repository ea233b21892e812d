"""Webhook dispatch throughput and backlog drain, with durable state, to a loopback receiver.

    python -m bench.bench_dispatch [--events 10000] [--smoke]

1. throughput: N events queued, receiver up; deliveries per second until every row is committed
   ``delivered`` (target ≥ 1 500/s for N = 10 000);
2. drain: N events queued while the receiver is down (every first attempt fails), then the receiver
   comes back on the same port; seconds from its return until the outbox is empty (target ≤ 15 s).

The receiver runs in its own process (``--serve PORT``) so it does not steal the dispatcher's loop; it
checks the RaspiSMS signature of every request (cheap) and answers 200.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from raspisms_daemon.clock import SystemClock
from raspisms_daemon.config import DeliveryConfig
from raspisms_daemon.store import webhooks as webhook_store
from raspisms_daemon.store.db import Database, open_database
from raspisms_daemon.store.outbox import backlog_count
from raspisms_daemon.webhooks import events
from raspisms_daemon.webhooks.dispatcher import Dispatcher
from raspisms_daemon.webhooks.emit import EventSink

API_KEY = "bench-api-key-0123456789"


# -- receiver process -------------------------------------------------------------------------------


def serve(port: int) -> None:
    key = API_KEY.encode()

    async def handle(request: web.Request) -> web.Response:
        fields = dict(parse_qsl((await request.read()).decode()))
        good = hmac.new(key, fields["webhook_random_id"].encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(good, fields["webhook_signature"]):
            return web.Response(status=401)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/", handle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, reuse_address=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_receiver(port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_dispatch", "--serve", str(port)
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return proc
        await asyncio.sleep(0.05)
    proc.kill()
    await proc.wait()
    raise RuntimeError("bench receiver did not start")


async def stop_receiver(proc: asyncio.subprocess.Process) -> None:
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 5)
    except TimeoutError:
        proc.kill()
        await proc.wait()


# -- dispatcher side --------------------------------------------------------------------------------


async def prepare(path: Path, url: str, n: int) -> Database:
    """Open the database, add the webhook (when ``url``), queue ``n`` events."""
    db = await open_database(path)
    if url:
        async with db.transaction() as conn:
            await webhook_store.add_webhook(conn, "bench", url, types=["receive_sms"], now=0.0)
    chunk = 1000
    sink = EventSink(API_KEY, SystemClock())
    for start in range(0, n, chunk):
        async with db.transaction() as conn:
            for i in range(start, min(n, start + chunk)):
                body = events.receive_sms(
                    id=i,
                    at="2026-01-01 00:00:00",
                    origin="+33600000000",
                    destination=1,
                    text=f"bench message {i}",
                )
                await sink.emit(conn, "receive_sms", body)
    return db


async def wait_empty(db: Database, limit: float) -> None:
    deadline = time.monotonic() + limit
    while pending := await backlog_count(db.conn):
        if time.monotonic() > deadline:
            raise TimeoutError(f"outbox not empty after {limit} s ({pending} pending)")
        await asyncio.sleep(0.02)


PER_WEBHOOK = DeliveryConfig().per_webhook_concurrency  # the shipped defaults (8 of 32)
SETTINGS = {"per_webhook": PER_WEBHOOK}  # set from the command line


def delivery_config() -> DeliveryConfig:
    # The default schedule (0, 5 s, 5 min …) and jitter: the drain figure must hold with it.
    per = SETTINGS["per_webhook"]
    return DeliveryConfig(concurrency=max(DeliveryConfig().concurrency, per), per_webhook_concurrency=per)


async def add_history(db: Database, rows: int) -> None:
    """``rows`` old delivered rows (with one attempt each), as a daemon that ran for months has."""
    hook = await db.fetchone("SELECT id FROM webhook")
    assert hook is not None
    chunk = 50_000
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        async with db.transaction() as conn:
            await conn.execute(
                "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?) "
                "INSERT INTO outbox (webhook_id, type, body, timestamp, random_id, signature, state, "
                "attempts, next_attempt_at, created_at, delivered_at) "
                "SELECT ?, 'receive_sms', '{}', 1, 'old-' || (? + i), 'sig', 'delivered', 1, 0, 0, ? "
                "FROM seq",
                # delivered "just now", so the retention pruning leaves them in place
                (n, hook[0], start, time.time()),
            )
            await conn.execute(
                "INSERT INTO delivery_attempt (outbox_id, at, status, duration_ms) "
                "SELECT id, 1, 200, 1 FROM outbox WHERE id > (SELECT COALESCE(MAX(outbox_id), 0) "
                "FROM delivery_attempt)"
            )


async def run_dispatcher(
    db: Database, session: aiohttp.ClientSession
) -> tuple[Dispatcher, asyncio.Task[None]]:
    dispatcher = Dispatcher(db, session, delivery_config(), api_key=API_KEY)
    return dispatcher, asyncio.create_task(dispatcher.run())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def bench_throughput(tmp: Path, n: int, history: int = 0) -> float:
    port = free_port()
    db = await prepare(tmp / "throughput.sqlite3", f"http://127.0.0.1:{port}/", 0)
    if history:
        await add_history(db, history)
    await db.close()
    db = await prepare(tmp / "throughput.sqlite3", "", n)
    receiver = await start_receiver(port)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            start = time.monotonic()  # dispatcher start-up included: it is part of the cost
            _, task = await run_dispatcher(db, session)
            try:
                await wait_empty(db, limit=max(60.0, n / 100))
                elapsed = time.monotonic() - start
            finally:
                await stop(task)
        row = await db.fetchone("SELECT COUNT(*) FROM outbox WHERE state = 'delivered'")
        assert row is not None and row[0] == n + history, f"{row and row[0]} delivered of {n} + {history}"
    finally:
        await stop_receiver(receiver)
        await db.close()
    return n / elapsed


class Drain(NamedTuple):
    seconds: float  # from the receiver's return until the outbox is empty
    failed_attempts: int  # attempts recorded while it was down (at least one per event)


async def bench_drain(tmp: Path, n: int) -> Drain:
    port = free_port()
    db = await prepare(tmp / "drain.sqlite3", f"http://127.0.0.1:{port}/", n)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            _, task = await run_dispatcher(db, session)
            # Receiver down: wait until every row has failed its first attempt and sits in backoff.
            deadline = time.monotonic() + 60
            while True:
                row = await db.fetchone("SELECT COUNT(*) FROM outbox WHERE attempts = 0")
                if row is not None and row[0] == 0:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("first attempts did not all fail in 60 s")
                await asyncio.sleep(0.05)
            receiver = await start_receiver(port)
            try:
                start = time.monotonic()
                await wait_empty(db, limit=120)
                elapsed = time.monotonic() - start
            finally:
                await stop(task)
                await stop_receiver(receiver)
        failed = await db.fetchone("SELECT COUNT(*) FROM delivery_attempt WHERE status IS NULL")
    finally:
        await db.close()
    return Drain(elapsed, failed[0] if failed else 0)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--smoke", action="store_true", help="a few hundred events, seconds (CI)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument(
        "--per-webhook-concurrency",
        type=int,
        default=PER_WEBHOOK,
        help=f"per-webhook (and at least global) concurrency (default {PER_WEBHOOK})",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="ROWS",
        help="also measure throughput with ROWS old delivered rows in the table (e.g. 1000000)",
    )
    args = parser.parse_args(argv)
    SETTINGS["per_webhook"] = args.per_webhook_concurrency
    n = 300 if args.smoke else args.events
    figures: dict[str, float] = {"events": n}
    print(f"concurrency {delivery_config().concurrency}, per webhook {SETTINGS['per_webhook']}")
    with tempfile.TemporaryDirectory(prefix="bench-dispatch-") as d:
        for sub in ("empty", "history"):
            (Path(d) / sub).mkdir()
        rate = await bench_throughput(Path(d) / "empty", n)
        figures["deliveries_per_s"] = round(rate, 1)
        print(f"throughput: {rate:.0f} deliveries/s ({n} events, durable, loopback receiver)")
        if args.history:
            rate_h = await bench_throughput(Path(d) / "history", n, args.history)
            figures["deliveries_per_s_with_history"] = round(rate_h, 1)
            print(
                f"throughput with {args.history} historical rows: {rate_h:.0f} deliveries/s "
                f"({rate_h / rate:.2f} × empty)"
            )
        drain = await bench_drain(Path(d), n)
        figures["drain_s"] = round(drain.seconds, 3)
        figures["drain_failed_attempts"] = drain.failed_attempts
        print(
            f"drain: {drain.seconds:.2f} s to deliver {n} events queued while the receiver was down "
            f"({drain.failed_attempts} failed attempts recorded during the outage)"
        )
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
        sys.exit(0)
    logging.basicConfig(level=logging.ERROR)
    sys.exit(asyncio.run(main(sys.argv[1:])))
