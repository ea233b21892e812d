"""The outbox: one row per subscribed webhook inside the caller's transaction, replay, pruning."""

from __future__ import annotations

import pytest

from raspisms_daemon.errors import StoreError
from raspisms_daemon.store import outbox
from raspisms_daemon.store import webhooks as wh
from raspisms_daemon.store.db import Database
from raspisms_daemon.webhooks import events

API_KEY = "secret-key"
BODY = events.send_sms_status_change(id=7, status="delivered")


@pytest.fixture
async def db(db: Database) -> Database:
    async with db.transaction() as conn:
        await wh.add_webhook(conn, "all", "http://127.0.0.1:1/all", now=0.0)
        await wh.add_webhook(conn, "sms-only", "http://127.0.0.1:1/sms", types=["receive_sms"], now=0.0)
        await wh.add_webhook(conn, "off", "http://127.0.0.1:1/off", now=0.0)
        await wh.disable_webhook(conn, "off", "test")
    return db

def new_row(webhook_id: int, random_id: str = "1700000123-" + "a" * 32) -> outbox.NewDelivery:
    return outbox.NewDelivery(
        webhook_id=webhook_id,
        type="send_sms_status_change",
        body=events.body_json(BODY),
        timestamp=1_700_000_123,
        random_id=random_id,
        signature="sig-" + random_id,
    )


async def enqueue(db: Database, type: str = "send_sms_status_change", now: float = 1000.0) -> list[int]:
    """One row per subscriber of ``type``, as the event sink would make them."""
    async with db.transaction() as conn:
        hooks = await outbox.subscribers(conn, type)
        return await outbox.enqueue(conn, [new_row(h, f"{h}-{now}") for h, _ in hooks], now=now)


async def test_subscribers_are_the_enabled_webhooks_taking_the_type(db: Database) -> None:
    async with db.transaction() as conn:
        names = {h.id: h.name for h in await wh.list_webhooks(conn)}
        assert [names[i] for i, _ in await outbox.subscribers(conn, "send_sms_status_change")] == ["all"]
        got = [(names[i], f) for i, f in await outbox.subscribers(conn, "receive_sms")]
        assert got == [("all", "documented"), ("sms-only", "documented")]


async def test_enqueued_rows_are_pending_due_now_with_what_they_were_given(db: Database) -> None:
    async with db.transaction() as conn:
        ((hook, _),) = await outbox.subscribers(conn, "send_sms_status_change")
        [oid] = await outbox.enqueue(conn, [new_row(hook)], now=1000.0)
    d = await outbox.get_delivery(db.conn, oid)
    assert (d.webhook, d.type, d.body, d.timestamp) == (
        "all",
        "send_sms_status_change",
        events.body_json(BODY),
        1_700_000_123,
    )
    assert (d.random_id, d.signature) == ("1700000123-" + "a" * 32, "sig-1700000123-" + "a" * 32)
    assert (d.state, d.attempts, d.next_attempt_at) == (outbox.DeliveryState.PENDING, 0, 1000.0)


async def test_enqueue_is_part_of_the_callers_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await outbox.enqueue(conn, [new_row(1)], now=1.0)
            raise RuntimeError("the received SMS row failed")
    assert await db.fetchall("SELECT * FROM outbox") == []


async def test_replay_of_a_dead_row_makes_it_pending_and_due_now_with_the_same_random_id(
    db: Database,
) -> None:
    [oid] = await enqueue(db)
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE outbox SET state = 'dead', attempts = 10, next_attempt_at = 5 WHERE id = ?", (oid,)
        )
    before = await outbox.get_delivery(db.conn, oid)
    async with db.transaction() as conn:
        after = await outbox.replay_delivery(conn, oid, now=2000.0)
    assert after.state is outbox.DeliveryState.PENDING
    assert (after.attempts, after.next_attempt_at) == (0, 2000.0)
    assert (after.random_id, after.signature) == (before.random_id, before.signature)


async def test_replay_of_a_delivered_row_sends_it_again(db: Database) -> None:
    [oid] = await enqueue(db)
    async with db.transaction() as conn:
        await conn.execute("UPDATE outbox SET state = 'delivered', delivered_at = 10 WHERE id = ?", (oid,))
        d = await outbox.replay_delivery(conn, oid, now=3000.0)
    assert (d.state, d.delivered_at, d.next_attempt_at) == (outbox.DeliveryState.PENDING, None, 3000.0)


async def test_replay_of_an_unknown_id_raises_store_error(db: Database) -> None:
    async with db.transaction() as conn:
        with pytest.raises(StoreError, match="no delivery with id 999"):
            await outbox.replay_delivery(conn, 999, now=1.0)


async def test_list_filters_by_state_and_webhook_newest_first(db: Database) -> None:
    await enqueue(db, "receive_sms")
    await enqueue(db, "receive_sms")
    async with db.transaction() as conn:
        await conn.execute("UPDATE outbox SET state = 'dead' WHERE id = 1")
    assert [d.id for d in await outbox.list_deliveries(db.conn)] == [4, 3, 2, 1]
    assert [d.id for d in await outbox.list_deliveries(db.conn, state="dead")] == [1]
    assert [d.id for d in await outbox.list_deliveries(db.conn, webhook="sms-only")] == [4, 2]
    assert [d.id for d in await outbox.list_deliveries(db.conn, limit=1)] == [4]


async def test_prune_deletes_only_old_delivered_rows_and_their_attempts_in_batches(db: Database) -> None:
    ids = []
    for _ in range(7):
        ids += await enqueue(db)
    async with db.transaction() as conn:
        for i, oid in enumerate(ids):
            state = "delivered" if i < 5 else ("dead" if i == 5 else "pending")
            await conn.execute(
                "UPDATE outbox SET state = ?, delivered_at = ? WHERE id = ?",
                (state, 100.0 if state == "delivered" else None, oid),
            )
            await conn.execute(
                "INSERT INTO delivery_attempt (outbox_id, at, status, duration_ms) VALUES (?,1,200,1)", (oid,)
            )
        await conn.execute("UPDATE outbox SET delivered_at = 900 WHERE id = ?", (ids[4],))  # recent
    async with db.transaction() as conn:
        assert await outbox.prune_delivered(conn, before=500.0, batch=3) == 3
    async with db.transaction() as conn:
        assert await outbox.prune_delivered(conn, before=500.0, batch=3) == 1
        assert await outbox.prune_delivered(conn, before=500.0, batch=3) == 0
    left = [r[0] for r in await db.fetchall("SELECT id FROM outbox ORDER BY id")]
    assert left == ids[4:]
    attempts = [r[0] for r in await db.fetchall("SELECT outbox_id FROM delivery_attempt ORDER BY outbox_id")]
    assert attempts == ids[4:]


async def test_removing_a_webhook_reports_and_drops_its_pending_rows(db: Database) -> None:
    await enqueue(db, "receive_sms")
    async with db.transaction() as conn:
        assert await wh.remove_webhook(conn, "sms-only") == 1
    assert len(await db.fetchall("SELECT * FROM outbox")) == 1
    assert await outbox.backlog_count(db.conn) == 1


async def test_count_by_state_names_every_state_even_when_empty(db: Database) -> None:
    assert await outbox.count_by_state(db.conn) == {"pending": 0, "delivered": 0, "dead": 0}
    ids = await enqueue(db) + await enqueue(db)
    async with db.transaction() as conn:
        await conn.execute("UPDATE outbox SET state = 'dead' WHERE id = ?", (ids[0],))
    assert await outbox.count_by_state(db.reads.conn) == {"pending": 1, "delivered": 0, "dead": 1}


async def test_release_stale_leases_makes_only_leased_pending_rows_due_now(db: Database) -> None:
    leased, free, dead = await enqueue(db, now=1000.0) + await enqueue(db, now=1000.0) + await enqueue(db)
    async with db.transaction() as conn:
        # A claim by a process that then died, a row waiting out a backoff, and a dead row with a lease.
        await conn.execute(
            "UPDATE outbox SET next_attempt_at = 9000, lease_until = 9000 WHERE id = ?", (leased,)
        )
        await conn.execute("UPDATE outbox SET next_attempt_at = 5000 WHERE id = ?", (free,))
        await conn.execute("UPDATE outbox SET state = 'dead', lease_until = 9000 WHERE id = ?", (dead,))
        assert await outbox.release_stale_leases(conn, now=2000.0) == 1
        assert await outbox.release_stale_leases(conn, now=2000.0) == 0
    rows = {d.id: d for d in await outbox.list_deliveries(db.conn, limit=10)}
    assert (rows[leased].next_attempt_at, rows[leased].lease_until) == (2000.0, None)
    assert (rows[free].next_attempt_at, rows[free].lease_until) == (5000.0, None)
    assert rows[dead].lease_until == 9000.0
