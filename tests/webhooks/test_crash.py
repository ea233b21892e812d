"""Crash: a dispatcher process SIGKILLed again and again still gets every event through, at least once."""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from collections import defaultdict
from pathlib import Path

from raspisms_daemon.store import webhooks as wh
from raspisms_daemon.store.db import open_database
from tests.helpers.dispatch_process import seed_events, wait_until
from tests.helpers.receiver import FaultyReceiver, Reply

API_KEY = "crash-test-key"
ROOT = Path(__file__).resolve().parents[2]
EVENTS = 1000
KILLS = 5


async def start_dispatcher(db_path: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.helpers.dispatch_process",
        str(db_path),
        API_KEY,
        "--lease",
        "1",
        "--timeout",
        "2",
        "--per-webhook-concurrency",
        "4",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 20)
    assert line == b"ready\n", line
    return proc


async def test_sigkilled_dispatcher_restarted_delivers_every_event_with_stable_random_ids(
    tmp_path: Path,
) -> None:
    rng = random.Random(20261126)
    rx = FaultyReceiver(API_KEY, default=Reply(200, delay=0.01))  # slow enough that kills land mid-flight
    await rx.start()
    db_path = tmp_path / "crash.sqlite3"
    db = await open_database(db_path)
    try:
        async with db.transaction() as conn:
            await wh.add_webhook(conn, "rx", rx.url, now=0.0)
        await seed_events(db, API_KEY, EVENTS)
        delivered_at_kill = []
        for _ in range(KILLS):
            proc = await start_dispatcher(db_path)
            await asyncio.sleep(rng.uniform(0.05, 0.4))
            proc.send_signal(signal.SIGKILL)
            assert await proc.wait() == -signal.SIGKILL
            row = await db.fetchone("SELECT COUNT(*) FROM outbox WHERE state = 'delivered'")
            delivered_at_kill.append(row[0] if row else 0)
        assert delivered_at_kill[-1] < EVENTS, "the kills came too late to test anything"

        proc = await start_dispatcher(db_path)
        try:
            await wait_until(db, "SELECT COUNT(*) FROM outbox WHERE state = 'delivered'", EVENTS, within=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 10)

        row = await db.fetchone("PRAGMA integrity_check")
        assert row is not None and row[0] == "ok"
        stored = {
            r[0]: r[1] for r in await db.fetchall("SELECT json_extract(body, '$.id'), random_id FROM outbox")
        }
        assert len(stored) == EVENTS
        # every event reached the receiver (verified, acknowledged) at least once ...
        assert rx.acknowledged_ids() == set(stored.values())
        # ... and every copy of an event carries the same random id, the one stored with it
        by_event: dict[int, set[str]] = defaultdict(set)
        for req in rx.requests:
            assert req.ours is not None, req.ours_reason
            by_event[req.ours.body["id"]].add(req.ours.random_id)
        assert all(ids == {stored[event]} for event, ids in by_event.items())
        duplicates = len(rx.requests) - EVENTS
        print(f"delivered after each kill: {delivered_at_kill}; duplicate deliveries: {duplicates}")
    finally:
        await db.close()
        await rx.stop()
