"""The event sink: one outbox row per enabled webhook subscribed to the type, signed once per row."""

from __future__ import annotations

import json

import pytest

from raspisms_daemon.clock import ManualClock
from raspisms_daemon.errors import DeliveryError
from raspisms_daemon.store import webhooks as wh
from raspisms_daemon.store.db import Database
from raspisms_daemon.webhooks import events, signing
from raspisms_daemon.webhooks.emit import EventSink

API_KEY = "secret-key-0123456789"
BODY = events.send_sms_status_change(id=7, status="delivered")
RECEIVED = events.receive_sms(
    id=3, at="2026-01-02 03:04:05", origin="+33612345678", destination=1, text="a/b"
)


@pytest.fixture
async def sink(db: Database) -> EventSink:
    async with db.transaction() as conn:
        await wh.add_webhook(conn, "all", "http://127.0.0.1:1/all", now=0.0)
        await wh.add_webhook(conn, "sms-only", "http://127.0.0.1:1/sms", types=["receive_sms"], now=0.0)
        await wh.add_webhook(conn, "off", "http://127.0.0.1:1/off", now=0.0)
        await wh.disable_webhook(conn, "off", "test")
    return EventSink(API_KEY, ManualClock(1_700_000_123.5))


async def test_one_row_per_enabled_webhook_subscribed_to_the_type(db: Database, sink: EventSink) -> None:
    async with db.transaction() as conn:
        assert len(await sink.emit(conn, "send_sms_status_change", BODY)) == 1  # "all" only
        assert len(await sink.emit(conn, "receive_sms", RECEIVED)) == 2  # "all" and "sms-only"; never "off"
    rows = await db.fetchall(
        "SELECT w.name FROM outbox o JOIN webhook w ON w.id = o.webhook_id ORDER BY o.id"
    )
    assert [r[0] for r in rows] == ["all", "all", "sms-only"]


async def test_each_row_has_its_own_signed_random_id_the_event_time_and_the_compact_body(
    db: Database, sink: EventSink
) -> None:
    async with db.transaction() as conn:
        await sink.emit(conn, "send_sms_status_change", BODY)
        await sink.emit(conn, "receive_sms", RECEIVED)
    rows = await db.fetchall("SELECT * FROM outbox")
    assert len({r["random_id"] for r in rows}) == 3
    assert [r["body"] for r in rows] == ['{"id":7,"status":"success"}'] + [
        '{"id":3,"at":"2026-01-02 03:04:05","origin":"+33612345678","destination":1,"text":"a/b","mms":0}'
    ] * 2
    for r in rows:
        assert r["random_id"].startswith("1700000123-") and len(r["random_id"].split("-")[1]) == 32
        assert signing.verify_raspisms(API_KEY, r["random_id"], r["signature"])
        assert (r["state"], r["attempts"], r["next_attempt_at"], r["timestamp"]) == (
            "pending",
            0,
            1_700_000_123.5,
            1_700_000_123,
        )


async def test_emitting_is_part_of_the_callers_transaction(db: Database, sink: EventSink) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await sink.emit(conn, "receive_sms", RECEIVED)
            raise RuntimeError("the received SMS row failed")
    assert await db.fetchall("SELECT * FROM outbox") == []


async def test_an_unknown_type_is_refused(db: Database, sink: EventSink) -> None:
    async with db.transaction() as conn:
        with pytest.raises(DeliveryError):
            await sink.emit(conn, "mms", BODY)


async def test_each_webhook_gets_the_body_in_its_own_flavor(db: Database, sink: EventSink) -> None:
    async with db.transaction() as conn:
        await wh.add_webhook(conn, "code", "http://127.0.0.1:1/code", flavor="raspisms", now=0.0)
        await sink.emit(conn, "send_sms_status_change", BODY)
        await sink.emit(conn, "receive_sms", RECEIVED)
    rows = await db.fetchall(
        "SELECT w.name, o.type, o.body FROM outbox o JOIN webhook w ON w.id = o.webhook_id ORDER BY o.id"
    )
    documented = (
        '{"id":3,"at":"2026-01-02 03:04:05","origin":"+33612345678","destination":1,"text":"a/b","mms":0}'
    )
    code = (
        '{"id":3,"at":"2026-01-02 03:04:05","text":"a\\/b","destination":1,"origin":"+33612345678",'
        '"command":false,"mms":false,"medias":[]}'
    )
    assert [tuple(r) for r in rows] == [
        ("all", "send_sms_status_change", '{"id":7,"status":"success"}'),
        ("code", "send_sms_status_change", '{"id":7,"status":"delivered"}'),
        ("all", "receive_sms", documented),
        ("sms-only", "receive_sms", documented),
        ("code", "receive_sms", code),
    ]
    assert json.loads(rows[4]["body"])["text"] == "a/b"


async def test_a_row_for_one_target_keeps_its_body_as_given_and_is_signed_like_the_others(
    db: Database, sink: EventSink
) -> None:
    # An MQTT job's status: its document is no webhook event, for the MQTT target alone.
    target = (await db.fetchone("SELECT id FROM webhook WHERE name = 'sms-only'"))[0]  # type: ignore[index]
    async with db.transaction() as conn:
        row_id = await sink.emit_to(conn, target, "job_status", '{"id":"j1","status":"accepted"}')
    (row,) = await db.fetchall("SELECT * FROM outbox")
    assert (row["id"], row["webhook_id"], row["type"], row["body"]) == (
        row_id,
        target,
        "job_status",
        '{"id":"j1","status":"accepted"}',
    )
    assert row["timestamp"] == 1_700_000_123 and row["random_id"].startswith("1700000123-")
    assert signing.verify_raspisms(API_KEY, row["random_id"], row["signature"])
