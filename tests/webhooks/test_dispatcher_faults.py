"""The receiver fault matrix (docs/design.md §3): each misbehaviour against a real receiver on 127.0.0.1.

In every case nothing is lost (the event ends delivered, or kept pending/dead, never gone) and every
attempt at one event carries the same ``webhook_random_id``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from raspisms_daemon.store import webhooks as wh
from raspisms_daemon.store.db import Database
from tests.helpers.dispatch_process import fast_delivery, running_dispatcher, seed_events, wait_until
from tests.helpers.receiver import FaultyReceiver, Reply, Reset, Stall

API_KEY = "fault-matrix-key"
DELIVERED = "SELECT COUNT(*) FROM outbox WHERE state = 'delivered'"


@pytest.fixture
async def rx() -> AsyncIterator[FaultyReceiver]:
    receiver = FaultyReceiver(API_KEY)
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def db(db: Database, rx: FaultyReceiver) -> Database:
    async with db.transaction() as conn:
        await wh.add_webhook(conn, "rx", rx.url, now=0.0)
    return db


async def attempts(db: Database, outbox_id: int) -> list[tuple[int | None, str | None]]:
    rows = await db.fetchall(
        "SELECT status, error FROM delivery_attempt WHERE outbox_id = ? ORDER BY id", (outbox_id,)
    )
    return [(r[0], r[1]) for r in rows]


def same_random_id(rx: FaultyReceiver) -> str:
    ids = {r.random_id for r in rx.requests}
    assert len(ids) == 1 and None not in ids, ids
    rid = ids.pop()
    assert rid is not None
    return rid


async def stored_random_id(db: Database, outbox_id: int) -> str:
    row = await db.fetchone("SELECT random_id FROM outbox WHERE id = ?", (outbox_id,))
    assert row is not None
    return str(row[0])


async def test_500_is_retried_per_schedule_until_2xx_with_the_same_random_id(
    db: Database, rx: FaultyReceiver
) -> None:
    [oid] = await seed_events(db, API_KEY, 1)
    rx.plan(Reply(500), Reply(500))
    async with running_dispatcher(db, fast_delivery(), API_KEY):
        await wait_until(db, DELIVERED, 1)
    assert [r.behaviour for r in rx.requests] == [Reply(500), Reply(500), Reply(200)]
    assert same_random_id(rx) == await stored_random_id(db, oid)
    # A failure's error quotes the start of its body (FaultyReceiver answers its status as text).
    assert await attempts(db, oid) == [(500, "body '500'"), (500, "body '500'"), (200, None)]


async def test_503_with_retry_after_waits_what_the_receiver_asked(db: Database, rx: FaultyReceiver) -> None:
    [oid] = await seed_events(db, API_KEY, 1)
    rx.plan(Reply(503, {"Retry-After": "1"}))
    async with running_dispatcher(db, fast_delivery(), API_KEY):  # schedule would retry after 0.05 s
        await wait_until(db, DELIVERED, 1)
    first, second = rx.requests
    assert second.at - first.at >= 0.9
    same_random_id(rx)
    assert [a[0] for a in await attempts(db, oid)] == [503, 200]


async def test_429_is_retried_and_honours_retry_after_too(db: Database, rx: FaultyReceiver) -> None:
    [oid] = await seed_events(db, API_KEY, 1)
    rx.plan(Reply(429), Reply(429, {"Retry-After": "1"}))
    async with running_dispatcher(db, fast_delivery(), API_KEY):
        await wait_until(db, DELIVERED, 1)
    r1, r2, r3 = rx.requests
    assert r2.at - r1.at < 0.8  # no Retry-After: the schedule (0.05 s)
    assert r3.at - r2.at >= 0.9  # Retry-After: 1
    same_random_id(rx)
    assert [a[0] for a in await attempts(db, oid)] == [429, 429, 200]


async def test_a_stall_past_the_timeout_is_a_failed_attempt_and_is_retried(
    db: Database, rx: FaultyReceiver
) -> None:
    [oid] = await seed_events(db, API_KEY, 1)
    rx.plan(Stall(3.0))
    async with running_dispatcher(db, fast_delivery(timeout=0.4), API_KEY):
        await wait_until(db, DELIVERED, 1)
    log = await db.fetchall(
        "SELECT status, error, duration_ms FROM delivery_attempt WHERE outbox_id = ? ORDER BY id", (oid,)
    )
    assert log[0]["status"] is None and "timeout" in log[0]["error"] and log[0]["duration_ms"] >= 350
    assert log[1]["status"] == 200
    same_random_id(rx)


async def test_a_connection_reset_is_a_failed_attempt_and_is_retried(
    db: Database, rx: FaultyReceiver
) -> None:
    [oid] = await seed_events(db, API_KEY, 1)
    rx.plan(Reset())
    async with running_dispatcher(db, fast_delivery(), API_KEY):
        await wait_until(db, DELIVERED, 1)
    (status, error), ok = await attempts(db, oid)
    assert status is None and error, "a reset must be recorded with its error"
    assert ok == (200, None)
    same_random_id(rx)


@pytest.mark.parametrize("code", [307, 308])
async def test_a_307_or_308_is_followed_with_the_same_body_and_signatures(
    db: Database, rx: FaultyReceiver, code: int
) -> None:
    target = FaultyReceiver(API_KEY)
    await target.start()
    try:
        [oid] = await seed_events(db, API_KEY, 1)
        rx.plan(Reply(code, {"Location": target.url + "new-home"}))
        async with running_dispatcher(db, fast_delivery(), API_KEY):
            await wait_until(db, DELIVERED, 1)
        assert await attempts(db, oid) == [(200, None)]  # one attempt, delivered at the redirect target
        (first,), (moved,) = rx.requests, target.requests
        assert moved.path == "/new-home" and moved.ours is not None and moved.library_ok
        assert moved.raw_body == first.raw_body
        for header in ("webhook-id", "webhook-timestamp", "webhook-signature", "Content-Type"):
            assert moved.headers[header] == first.headers[header]
    finally:
        await target.stop()


async def test_up_to_three_redirects_are_followed_and_a_fourth_is_a_failure(
    db: Database, rx: FaultyReceiver
) -> None:
    [three, four] = await seed_events(db, API_KEY, 2)
    hops = [Reply(307, {"Location": f"/hop{i}"}) for i in range(1, 5)]
    rx.plan(*hops[:3], Reply(200), *hops)  # relative Locations, resolved against the URL redirected from
    fast = fast_delivery(concurrency=1, per_webhook_concurrency=1)
    async with running_dispatcher(db, fast, API_KEY):
        await wait_until(db, DELIVERED, 2)
    assert [r.path for r in rx.requests[:4]] == ["/", "/hop1", "/hop2", "/hop3"]
    assert await attempts(db, three) == [(200, None)]
    (status, error), ok = await attempts(db, four)
    assert status == 307 and f"more than 3 redirects, the last to {rx.url}hop4" in str(error), error
    assert ok == (200, None)


@pytest.mark.parametrize("code", [301, 302, 303])
async def test_a_301_302_or_303_is_not_followed_and_the_failure_names_the_location(
    db: Database, rx: FaultyReceiver, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    target = FaultyReceiver(API_KEY)
    await target.start()
    try:
        [oid] = await seed_events(db, API_KEY, 1)
        rx.plan(Reply(code, {"Location": target.url}))
        async with running_dispatcher(db, fast_delivery(), API_KEY):
            await wait_until(db, DELIVERED, 1)
        assert target.requests == []  # a POST turned into a GET without its body would lose the event
        (status, error), ok = await attempts(db, oid)
        assert status == code and f"redirect to {target.url} not followed" in str(error), error
        assert ok == (200, None)
        logged = [r.getMessage() for r in caplog.records if r.name == "raspisms_daemon.dispatcher"]
        assert any(target.url in m and f"HTTP {code}" in m for m in logged), logged
        same_random_id(rx)
    finally:
        await target.stop()


async def test_a_410_disables_the_webhook_and_keeps_its_deliveries_pending(
    db: Database, rx: FaultyReceiver
) -> None:
    await seed_events(db, API_KEY, 5)
    rx.default = Reply(410)
    async with running_dispatcher(db, fast_delivery(per_webhook_concurrency=1), API_KEY) as dispatcher:
        await wait_until(db, "SELECT enabled FROM webhook WHERE name = 'rx'", 0)
        hook = await wh.get_webhook(db.conn, "rx")
        assert hook.disabled_reason is not None and "410" in hook.disabled_reason
        await wait_until(db, "SELECT COUNT(*) FROM outbox WHERE lease_until IS NULL AND state = 'pending'", 5)
        seen = len(rx.requests)
        assert seen == 1  # one slot: nothing more was sent after the 410
        row = await db.fetchone("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
        assert row is not None and row[0] == 5  # not dead, not lost

        rx.default = Reply(200)
        async with db.transaction() as conn:
            await wh.enable_webhook(conn, "rx", now=time.time())
        dispatcher.wake()
        await wait_until(db, DELIVERED, 5)
    assert len(rx.acknowledged_ids()) == 5


async def test_a_receiver_that_is_down_and_comes_back_gets_everything(
    db: Database, rx: FaultyReceiver
) -> None:
    await rx.go_down()
    await seed_events(db, API_KEY, 20)
    delivery = fast_delivery(schedule=(0.0, 0.3, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0), jitter=0.2)
    async with running_dispatcher(db, delivery, API_KEY):
        # every event fails at least once while nothing listens
        await wait_until(db, "SELECT COUNT(*) FROM outbox WHERE attempts = 0", 0)
        refused = await db.fetchone("SELECT COUNT(*) FROM delivery_attempt WHERE status IS NULL")
        assert refused is not None and refused[0] >= 20
        await rx.come_back()
        await wait_until(db, DELIVERED, 20, within=15)
    stored = {r[0] for r in await db.fetchall("SELECT random_id FROM outbox")}
    assert rx.acknowledged_ids() == stored
