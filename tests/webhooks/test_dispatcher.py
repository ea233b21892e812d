"""Dispatcher behaviour beyond single faults: leases, isolation, recovery, death, replay, pruning, stop."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator

import pytest

from raspisms_daemon.clock import ManualClock
from raspisms_daemon.config import DEFAULT_SCHEDULE
from raspisms_daemon.store import outbox
from raspisms_daemon.store import webhooks as wh
from raspisms_daemon.store.db import Database
from raspisms_daemon.webhooks.results import AttemptResult
from tests.helpers.dispatch_process import fast_delivery, running_dispatcher, seed_events, wait_until
from tests.helpers.receiver import FaultyReceiver, Reply, Stall

API_KEY = "dispatcher-test-key"
DELIVERED = "SELECT COUNT(*) FROM outbox WHERE state = 'delivered'"


@pytest.fixture
async def rx() -> AsyncIterator[FaultyReceiver]:
    receiver = FaultyReceiver(API_KEY, tolerance=None)  # ManualClock timestamps are in 2023
    await receiver.start()
    yield receiver
    await receiver.stop()


async def add_hook(db: Database, name: str, url: str) -> None:
    async with db.transaction() as conn:
        await wh.add_webhook(conn, name, url, now=0.0)


async def test_a_row_claimed_by_a_dead_process_comes_back_after_its_lease(
    db: Database, rx: FaultyReceiver
) -> None:
    await add_hook(db, "rx", rx.url)
    [oid] = await seed_events(db, API_KEY, 1)
    lease_end = time.time() + 1.0
    async with db.transaction() as conn:  # what a claim by a process that then died leaves behind
        await conn.execute(
            "UPDATE outbox SET next_attempt_at = ?, lease_until = ? WHERE id = ?", (lease_end, lease_end, oid)
        )
    async with running_dispatcher(db, fast_delivery(), API_KEY, poll_interval=0.2):
        await asyncio.sleep(0.5)
        assert rx.requests == []  # still leased by the dead process
        await wait_until(db, DELIVERED, 1, within=5)
    assert rx.requests[0].at >= lease_end - 0.05
    assert rx.acknowledged_ids() == {(await outbox.get_delivery(db.conn, oid)).random_id}


async def test_a_stalled_endpoint_only_uses_its_own_slots(db: Database, rx: FaultyReceiver) -> None:
    stalled = FaultyReceiver(API_KEY, default=Stall(30))
    await stalled.start()
    try:
        await add_hook(db, "stalled", stalled.url)
        await add_hook(db, "healthy", rx.url)
        await seed_events(db, API_KEY, 40)  # 40 rows for each webhook
        delivery = fast_delivery(timeout=20.0, concurrency=6, per_webhook_concurrency=3)
        start = time.monotonic()
        async with running_dispatcher(db, delivery, API_KEY):
            await wait_until(db, DELIVERED, 40, within=10)
            assert time.monotonic() - start < 5  # not held up behind 20 s timeouts
            assert len(stalled.requests) == 3  # exactly its per-webhook slots, no more
        names = {
            r[0]
            for r in await db.fetchall(
                "SELECT w.name FROM outbox o JOIN webhook w ON w.id = o.webhook_id "
                "WHERE o.state = 'delivered'"
            )
        }
        assert names == {"healthy"}
        # cancelled mid-request: the stalled rows are handed back, due now, nothing lost
        row = await db.fetchone("SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND lease_until IS NULL")
        assert row is not None and row[0] == 40
    finally:
        await stalled.stop()


async def test_when_a_failing_endpoint_answers_again_its_backlog_is_due_at_once(
    db: Database, rx: FaultyReceiver
) -> None:
    await add_hook(db, "rx", rx.url)
    rx.default = Reply(500)
    await seed_events(db, API_KEY, 10)
    delivery = fast_delivery(schedule=(0.0, 0.05, 60.0, 60.0), jitter=0.0)
    async with running_dispatcher(db, delivery, API_KEY) as dispatcher:
        await wait_until(db, "SELECT MIN(attempts) FROM outbox", 2)  # now parked for 60 s
        rx.default = Reply(200)
        await seed_events(db, API_KEY, 1, start_id=100)  # a fresh event goes out at once and succeeds
        dispatcher.wake()
        start = time.monotonic()
        await wait_until(db, DELIVERED, 11, within=5)
        assert time.monotonic() - start < 5  # not 60 s
    assert len(rx.acknowledged_ids()) == 11


async def test_exhausted_schedule_makes_the_row_dead_and_replay_delivers_it_with_the_same_random_id(
    db: Database, rx: FaultyReceiver
) -> None:
    await add_hook(db, "rx", rx.url)
    rx.default = Reply(500)
    clock = ManualClock(start=1_700_000_000)
    [oid] = await seed_events(db, API_KEY, 1, now=clock.time())
    delivery = fast_delivery(schedule=DEFAULT_SCHEDULE, jitter=0.2)  # the real 10-step, ~3-day schedule
    async with running_dispatcher(db, delivery, API_KEY, clock=clock) as dispatcher:
        await wait_until(db, "SELECT state FROM outbox", "dead")
        assert len(rx.requests) == len(DEFAULT_SCHEDULE)
        # the clock (which the dispatcher's sleeps advance) spanned the whole schedule
        assert clock.time() - 1_700_000_000 >= sum(DEFAULT_SCHEDULE) * 0.8
        rx.default = Reply(200)
        async with db.transaction() as conn:
            await outbox.replay_delivery(conn, oid, now=clock.time())
        dispatcher.wake()
        await wait_until(db, "SELECT state FROM outbox", "delivered")
    assert {r.random_id for r in rx.requests} == {(await outbox.get_delivery(db.conn, oid)).random_id}
    assert len(await outbox.list_attempts(db.conn, oid)) == len(DEFAULT_SCHEDULE) + 1


async def test_retry_times_follow_the_schedule_with_jitter_on_the_injected_clock(
    db: Database, rx: FaultyReceiver
) -> None:
    await add_hook(db, "rx", rx.url)
    rx.default = Reply(500)
    clock = ManualClock(start=1_700_000_000)
    [oid] = await seed_events(db, API_KEY, 1, now=clock.time())
    schedule = (0.0, 5.0, 300.0, 1800.0)
    async with running_dispatcher(db, fast_delivery(schedule=schedule, jitter=0.2), API_KEY, clock=clock):
        await wait_until(db, "SELECT state FROM outbox", "dead")
    times = [a.at for a in await outbox.list_attempts(db.conn, oid)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for gap, base in zip(gaps, schedule[1:], strict=True):
        assert base * 0.8 - 0.01 <= gap <= base * 1.2 + 0.01, (gaps, schedule)


async def test_prune_removes_delivered_rows_past_retention_and_keeps_the_rest(
    db: Database, rx: FaultyReceiver
) -> None:
    await add_hook(db, "rx", rx.url)
    clock = ManualClock(start=1_700_000_000)
    await seed_events(db, API_KEY, 30, now=clock.time())
    delivery = fast_delivery(retention=3600.0)
    async with running_dispatcher(db, delivery, API_KEY, clock=clock, prune_batch=7) as dispatcher:
        await wait_until(db, DELIVERED, 30)
        assert await dispatcher.prune_once() == 0  # too recent
        async with db.transaction() as conn:  # one dead and one pending row, both old: never pruned
            await conn.execute("UPDATE outbox SET state = 'dead' WHERE id = 1")
            await conn.execute("UPDATE outbox SET state = 'pending', next_attempt_at = 1e12 WHERE id = 2")
        clock.advance(3601)
        assert await dispatcher.prune_once() == 28
    assert [r[0] for r in await db.fetchall("SELECT id FROM outbox ORDER BY id")] == [1, 2]
    left = {r[0] for r in await db.fetchall("SELECT DISTINCT outbox_id FROM delivery_attempt")}
    assert left == {1, 2}


async def test_cancelling_mid_flight_hands_claimed_rows_back_due_now(
    db: Database, rx: FaultyReceiver
) -> None:
    await add_hook(db, "rx", rx.url)
    rx.default = Stall(30)
    await seed_events(db, API_KEY, 12)
    async with running_dispatcher(db, fast_delivery(timeout=20.0), API_KEY):
        await rx.wait_for_requests(4)
    before = time.time()
    rows = await db.fetchall("SELECT state, lease_until, next_attempt_at FROM outbox")
    assert all(
        r["state"] == "pending" and r["lease_until"] is None and r["next_attempt_at"] <= before for r in rows
    )
    rx.default = Reply(200)
    async with running_dispatcher(db, fast_delivery(), API_KEY):  # the next run delivers them at once
        await wait_until(db, DELIVERED, 12, within=5)


async def test_backlog_counts_pending_rows(db: Database, rx: FaultyReceiver) -> None:
    await add_hook(db, "rx", rx.url)
    await add_hook(db, "off", rx.url)
    async with db.transaction() as conn:
        await wh.disable_webhook(conn, "off", "test")
    await seed_events(db, API_KEY, 3)
    async with db.transaction() as conn:
        await wh.enable_webhook(conn, "off", now=time.time())
    await seed_events(db, API_KEY, 2, start_id=10)
    async with db.transaction() as conn:
        await wh.disable_webhook(conn, "off", "test")
    async with running_dispatcher(db, fast_delivery(), API_KEY) as dispatcher:
        await wait_until(db, DELIVERED, 5)
        await asyncio.sleep(1.1)  # the cached count refreshes about once a second
        assert dispatcher.backlog() == 2  # the disabled webhook's rows are kept, and counted


async def test_attempts_total_counts_each_recorded_attempt_by_result(
    db: Database, rx: FaultyReceiver
) -> None:
    failing = FaultyReceiver(API_KEY, tolerance=None, default=Reply(500))
    gone = FaultyReceiver(API_KEY, tolerance=None, default=Reply(410))
    await failing.start()
    await gone.start()
    try:
        await add_hook(db, "fails-once", rx.url)
        await add_hook(db, "always-fails", failing.url)
        await add_hook(db, "gone", gone.url)
        rx.plan(Reply(500))
        await seed_events(db, API_KEY, 1)  # one row per webhook
        # Two attempts in all: the first failure is retried, the second is the last.
        delivery = fast_delivery(schedule=(0.0, 0.05))
        async with running_dispatcher(db, delivery, API_KEY) as dispatcher:
            assert dispatcher.attempts_total() == dict.fromkeys(AttemptResult, 0)
            expected = {AttemptResult.DELIVERED: 1, AttemptResult.RETRY: 2, AttemptResult.DEAD: 1}
            expected[AttemptResult.GONE] = 1
            expected[AttemptResult.LOCAL] = 0  # every failure here is the receivers'
            async with asyncio.timeout(10):
                while dispatcher.attempts_total() != expected:  # noqa: ASYNC110 - counted by its tasks
                    await asyncio.sleep(0.01)
            snapshot = dispatcher.attempts_total()
            snapshot[AttemptResult.DELIVERED] = 99  # a copy: the counters cannot be reset from outside
            assert dispatcher.attempts_total() == expected
        recorded = await db.fetchone("SELECT COUNT(*) FROM delivery_attempt")
        assert recorded is not None and recorded[0] == sum(expected.values())
    finally:
        await failing.stop()
        await gone.stop()


async def test_new_rows_go_out_at_once_after_wake(db: Database, rx: FaultyReceiver) -> None:
    await add_hook(db, "rx", rx.url)
    async with running_dispatcher(db, fast_delivery(), API_KEY, poll_interval=60) as dispatcher:
        await asyncio.sleep(0.1)  # idle, waiting
        await seed_events(db, API_KEY, 1)
        start = time.monotonic()
        dispatcher.wake()
        await wait_until(db, DELIVERED, 1, within=2)
        assert time.monotonic() - start < 1


async def test_every_attempt_is_logged_with_context_and_never_the_api_key(
    db: Database, rx: FaultyReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    await add_hook(db, "inbox", rx.url)
    rx.plan(Reply(500))
    [oid] = await seed_events(db, API_KEY, 1)
    with caplog.at_level(logging.INFO, logger="raspisms_daemon.dispatcher"):
        async with running_dispatcher(db, fast_delivery(), API_KEY):
            await wait_until(db, DELIVERED, 1)
    records = [r for r in caplog.records if r.name == "raspisms_daemon.dispatcher"]
    about = [
        r for r in records if (getattr(r, "webhook", None), getattr(r, "delivery_id", None)) == ("inbox", oid)
    ]
    assert len(about) == 2  # journal fields WEBHOOK=inbox DELIVERY_ID=<id>
    lines = [r.getMessage() for r in about]
    assert any("HTTP 500" in line for line in lines) and any("HTTP 200" in line for line in lines)
    assert not any(API_KEY in r.getMessage() for r in caplog.records)


async def test_run_twice_is_refused(db: Database) -> None:
    async with running_dispatcher(db, fast_delivery(), API_KEY) as dispatcher:
        await asyncio.sleep(0.05)
        with pytest.raises(RuntimeError, match="runs once"):
            await dispatcher.run()


async def test_no_dispatcher_query_scans_the_whole_outbox(db: Database, rx: FaultyReceiver) -> None:
    """Claiming, rescheduling, recovery and pruning stay index lookups, however many delivered rows exist."""
    await add_hook(db, "rx", rx.url)
    async with db.transaction() as conn:  # history: delivered rows, some past the retention
        await conn.execute(
            "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 3000) "
            "INSERT INTO outbox (webhook_id, type, body, timestamp, random_id, signature, state, attempts, "
            "next_attempt_at, created_at, delivered_at) "
            "SELECT 1, 'receive_sms', '{}', 1, 'old-' || i, 's', 'delivered', 1, 0, 0, i FROM seq"
        )
    statements: list[str] = []
    await db.conn.set_trace_callback(statements.append)
    rx.plan(Reply(500))
    await seed_events(db, API_KEY, 20)
    async with running_dispatcher(db, fast_delivery(), API_KEY) as dispatcher:
        await wait_until(db, "SELECT COUNT(*) FROM outbox WHERE state = 'pending'", 0)
        await dispatcher.prune_once()
    await db.conn.set_trace_callback(None)  # type: ignore[arg-type]  # aiosqlite's hint omits None (remove)
    touched = {s for s in statements if "outbox" in s and s.split()[0] in ("SELECT", "UPDATE", "DELETE")}
    assert any("next_attempt_at <=" in s for s in touched)  # the claim was traced
    for sql in touched:
        plan = " | ".join(r["detail"] for r in await db.fetchall("EXPLAIN QUERY PLAN " + sql))
        scans = [
            p
            for p in plan.split(" | ")
            if (p.startswith("SCAN") and "outbox" in p) or p.startswith("SCAN o ")
        ]
        assert not scans, f"{sql}\n  → {plan}"
        assert "TEMP B-TREE" not in plan, f"{sql}\n  → {plan}"
