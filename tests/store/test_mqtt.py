"""The MQTT link's tables: its target among the webhooks, the jobs it took, the retained topics."""

from __future__ import annotations

import sqlite3

import pytest

from raspisms_daemon.config import WebhookConfig
from raspisms_daemon.errors import DeliveryError
from raspisms_daemon.store import mqtt as store
from raspisms_daemon.store import outbox, scheduled
from raspisms_daemon.store import webhooks as wh
from raspisms_daemon.store.db import Database


async def test_the_target_is_one_webhook_of_kind_mqtt_taking_every_type_as_json(db: Database) -> None:
    async with db.transaction() as conn:
        first = await store.sync_target(conn, "mqtt://broker:1883", now=1.0)
        again = await store.sync_target(conn, "mqtts://broker:8883", now=2.0)
        hook = await wh.get_webhook(conn, "mqtt")
        subscribed = await outbox.subscribers(conn, "receive_sms")
    assert first == again == hook.id
    assert (hook.kind, hook.url, hook.format, hook.enabled) == ("mqtt", "mqtts://broker:8883", "json", True)
    assert (hook.id, "documented") in subscribed


async def test_without_mqtt_the_target_is_disabled_and_keeps_its_pending_rows_until_it_is_back(
    db: Database,
) -> None:
    async with db.transaction() as conn:
        tid = await store.sync_target(conn, "mqtt://b:1883", now=1.0)
        await outbox.enqueue(conn, [outbox.NewDelivery(tid, "receive_sms", "{}", 1, "r", "s")], now=1.0)
        await store.disable_target(conn)
        hook = await wh.get_webhook(conn, tid)
        assert not hook.enabled and "no [mqtt]" in (hook.disabled_reason or "")
        assert await outbox.backlog_count(conn) == 1
        await store.sync_target(conn, "mqtt://b:1883", now=2.0)
        assert (await wh.get_webhook(conn, tid)).enabled


async def test_a_webhook_already_named_mqtt_is_reported_not_overwritten(db: Database) -> None:
    async with db.transaction() as conn:
        await wh.add_webhook(conn, "mqtt", "https://example.org/hook", now=1.0)
        with pytest.raises(DeliveryError, match="rename it"):
            await store.sync_target(conn, "mqtt://b:1883", now=1.0)


async def test_a_config_webhook_cannot_take_the_targets_name(db: Database) -> None:
    async with db.transaction() as conn:
        await store.sync_target(conn, "mqtt://b:1883", now=1.0)
        with pytest.raises(DeliveryError, match="broker's"):
            await wh.sync_config_webhooks(conn, [WebhookConfig("mqtt", "https://example.org/")], now=1.0)


async def test_config_sync_never_disables_the_target(db: Database) -> None:
    async with db.transaction() as conn:
        tid = await store.sync_target(conn, "mqtt://b:1883", now=1.0)
        await wh.sync_config_webhooks(conn, [], now=2.0)
        assert (await wh.get_webhook(conn, tid)).enabled


async def test_a_job_id_is_taken_once_and_maps_to_its_sms(db: Database) -> None:
    async with db.transaction() as conn:
        sid = await scheduled.insert(conn, text="hi", numbers=["+33612345678"], now=1.0)
        await store.add_job(conn, "order-1", topic="raspisms/send", id_scheduled=sid, error=None, now=1.0)
        await store.add_job(conn, "bad-1", topic="raspisms/send", id_scheduled=None, error="why", now=1.0)
        with pytest.raises(sqlite3.IntegrityError):
            await store.add_job(conn, "order-1", topic="raspisms/send", id_scheduled=sid, error=None, now=2.0)
        found = await store.find_jobs(conn, ["order-1", "bad-1", "unknown"])
        assert found == {
            "order-1": store.Job("order-1", sid, None),
            "bad-1": store.Job("bad-1", None, "why"),
        }
        await conn.execute(
            "INSERT INTO sended (at, text, destination, originating_scheduled) "
            "VALUES (1, 'hi', '+33612345678', ?), (1, 'hi', '+33612345679', ?)",
            (sid, sid),
        )
        await conn.execute("UPDATE sended SET error = 'no answer' WHERE destination = '+33612345679'")
        async with conn.execute("SELECT MIN(id), MAX(id) FROM sended") as cur:
            row = await cur.fetchone()
        assert row is not None
        assert await store.job_of_sended(conn, row[0]) == ("order-1", None)
        assert await store.job_of_sended(conn, row[1]) == ("order-1", "no answer")
        assert await store.job_of_sended(conn, row[1] + 1) is None


async def test_retained_topics_are_remembered_until_forgotten(db: Database) -> None:
    async with db.transaction() as conn:
        await store.remember_retained(conn, ["a/1", "a/2"], now=1.0)
        await store.remember_retained(conn, ["a/2"], now=2.0)
        assert await store.retained_topics(conn) == {"a/1", "a/2"}
        await store.forget_retained(conn, ["a/1"])
        assert await store.retained_topics(conn) == {"a/2"}
