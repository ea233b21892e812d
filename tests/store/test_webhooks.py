"""The webhook table: CRUD, URL validation, and config sync that respects a 410-disable."""

from __future__ import annotations

from pathlib import Path

import pytest

from raspisms_daemon.config import WebhookConfig
from raspisms_daemon.errors import DeliveryError
from raspisms_daemon.store import webhooks as wh
from raspisms_daemon.store.db import Database
from raspisms_daemon.webhooks.events import WEBHOOK_TYPES


async def test_added_webhook_is_listed_with_its_types_format_and_source(db: Database) -> None:
    async with db.transaction() as conn:
        hook = await wh.add_webhook(
            conn, "ha", "https://example.org/hook", types=["send_sms", "receive_sms"], format="json", now=0.0
        )
    assert hook.types == frozenset({"send_sms", "receive_sms"})
    assert (hook.format, hook.enabled, hook.source) == ("json", True, "api")
    assert [h.name for h in await wh.list_webhooks(db.conn)] == ["ha"]
    assert (await wh.get_webhook(db.conn, "ha")).url == "https://example.org/hook"


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/", "file:///etc/passwd", "javascript:alert(1)", "example.org/hook", "http://", ""],
)
async def test_non_http_urls_are_refused_with_a_clear_error(db: Database, url: str) -> None:
    async with db.transaction() as conn:
        with pytest.raises(DeliveryError, match="webhook URL refused"):
            await wh.add_webhook(conn, "bad", url, now=0.0)
    assert await wh.list_webhooks(db.conn) == []


async def test_duplicate_name_unknown_type_and_bad_format_are_refused(db: Database) -> None:
    async with db.transaction() as conn:
        await wh.add_webhook(conn, "a", "http://127.0.0.1/", now=0.0)
        with pytest.raises(DeliveryError, match="already exists"):
            await wh.add_webhook(conn, "a", "http://127.0.0.1/other", now=0.0)
        with pytest.raises(DeliveryError, match="unknown webhook type"):
            await wh.add_webhook(conn, "b", "http://127.0.0.1/", types=["receive_sms", "nope"], now=0.0)
        with pytest.raises(DeliveryError, match="form or json"):
            await wh.add_webhook(conn, "c", "http://127.0.0.1/", format="xml", now=0.0)


async def test_disable_records_the_reason_and_enable_clears_it(db: Database) -> None:
    async with db.transaction() as conn:
        await wh.add_webhook(conn, "a", "http://127.0.0.1/", now=0.0)
        hook = await wh.disable_webhook(conn, "a", "410 Gone")
        assert (hook.enabled, hook.disabled_reason) == (False, "410 Gone")
        hook = await wh.enable_webhook(conn, "a", now=0.0)
        assert (hook.enabled, hook.disabled_reason) == (True, None)


async def test_unknown_names_raise_delivery_error(db: Database) -> None:
    async with db.transaction() as conn:
        for call in (
            wh.get_webhook(conn, "x"),
            wh.enable_webhook(conn, "x", now=0.0),
            wh.remove_webhook(conn, "x"),
            wh.disable_webhook(conn, "x", "r"),
        ):
            with pytest.raises(DeliveryError, match="no webhook named 'x'"):
                await call


async def test_an_unknown_id_is_reported_as_an_id_not_as_a_name(db: Database) -> None:
    async with db.transaction() as conn:
        with pytest.raises(DeliveryError, match=r"^no webhook with id 7$"):
            await wh.get_webhook(conn, 7)


async def test_remove_deletes_the_webhook(db: Database) -> None:
    async with db.transaction() as conn:
        await wh.add_webhook(conn, "a", "http://127.0.0.1/", now=0.0)
        assert await wh.remove_webhook(conn, "a") == 0
    assert await wh.list_webhooks(db.conn) == []


async def test_config_webhooks_are_upserted_with_source_config(db: Database) -> None:
    cfg = WebhookConfig(name="inbox", url="http://127.0.0.1/in", types=frozenset({"receive_sms"}))
    async with db.transaction() as conn:
        await wh.sync_config_webhooks(conn, [cfg], now=0.0)
        await wh.sync_config_webhooks(conn, [cfg], now=0.0)  # idempotent
    [hook] = await wh.list_webhooks(db.conn)
    assert (hook.name, hook.source, hook.types, hook.enabled) == (
        "inbox",
        "config",
        frozenset({"receive_sms"}),
        True,
    )


async def test_a_410_disabled_config_webhook_stays_disabled_until_its_config_changes(db: Database) -> None:
    cfg = WebhookConfig(name="inbox", url="http://127.0.0.1/in")
    async with db.transaction() as conn:
        await wh.sync_config_webhooks(conn, [cfg], now=0.0)
        await wh.disable_webhook(conn, "inbox", "410 Gone from its URL")
    async with db.transaction() as conn:  # a restart with the same config
        await wh.sync_config_webhooks(conn, [cfg], now=0.0)
    hook = await wh.get_webhook(db.conn, "inbox")
    assert (hook.enabled, hook.disabled_reason) == (False, "410 Gone from its URL")
    fixed = WebhookConfig(name="inbox", url="http://127.0.0.1/new-in")
    async with db.transaction() as conn:  # the owner fixed the URL
        await wh.sync_config_webhooks(conn, [fixed], now=0.0)
    hook = await wh.get_webhook(db.conn, "inbox")
    assert (hook.enabled, hook.url, hook.types) == (True, "http://127.0.0.1/new-in", frozenset(WEBHOOK_TYPES))


async def test_config_webhook_removed_from_the_config_is_disabled_not_deleted(db: Database) -> None:
    async with db.transaction() as conn:
        await wh.sync_config_webhooks(conn, [WebhookConfig(name="old", url="http://127.0.0.1/")], now=0.0)
        await wh.add_webhook(conn, "mine", "http://127.0.0.1/api", now=0.0)
    async with db.transaction() as conn:
        await wh.sync_config_webhooks(conn, [], now=0.0)
    old = await wh.get_webhook(db.conn, "old")
    assert (old.enabled, old.disabled_reason) == (False, "removed from the config")
    assert (await wh.get_webhook(db.conn, "mine")).enabled  # API webhooks are not the config's business


async def test_config_with_a_bad_url_is_refused(db: Database) -> None:
    async with db.transaction() as conn:
        with pytest.raises(DeliveryError):
            await wh.sync_config_webhooks(conn, [WebhookConfig(name="x", url="mailto:a@b")], now=0.0)


@pytest.mark.parametrize("name", ["a/b", "my hook", "-dash-first", "x" * 65, "é"])
async def test_names_the_config_would_refuse_are_refused_by_the_store_too(db: Database, name: str) -> None:
    async with db.transaction() as conn:
        with pytest.raises(DeliveryError, match="1-64 letters"):
            await wh.add_webhook(conn, name, "https://example.org/hook", now=0.0)
    assert await wh.list_webhooks(db.conn) == []


async def test_a_webhook_keeps_its_ca_file_and_verify(db: Database) -> None:
    async with db.transaction() as conn:
        await wh.add_webhook(conn, "private", "https://10.0.0.2/hook", ca_file="/etc/rd/ca.pem", now=0.0)
        await wh.add_webhook(conn, "insecure", "https://10.0.0.3/hook", verify=False, now=0.0)
        await wh.add_webhook(conn, "plain", "http://10.0.0.4/hook", now=0.0)
    hooks = {h.name: (h.ca_file, h.verify) for h in await wh.list_webhooks(db.conn)}
    assert hooks == {"private": ("/etc/rd/ca.pem", True), "insecure": (None, False), "plain": (None, True)}
    assert (await wh.get_webhook(db.conn, "private")).as_dict()["ca_file"] == "/etc/rd/ca.pem"
    assert (await wh.get_webhook(db.conn, "insecure")).as_dict()["verify"] is False


@pytest.mark.parametrize(
    ("url", "tls", "message"),
    [
        ("http://h/", {"ca_file": "/ca.pem"}, "ca_file is for https:// URLs only"),
        ("http://h/", {"verify": False}, "verify = no is for https:// URLs only"),
        ("https://h/", {"ca_file": "/ca.pem", "verify": False}, "either a ca_file or verify = no"),
        ("https://h/", {"ca_file": "ca.pem"}, "ca_file must be an absolute path"),
    ],
)
async def test_tls_settings_that_cannot_apply_are_refused(
    db: Database, url: str, tls: dict[str, object], message: str
) -> None:
    async with db.transaction() as conn:
        with pytest.raises(DeliveryError, match=message):
            await wh.add_webhook(conn, "x", url, now=0.0, **tls)  # type: ignore[arg-type]


async def test_a_config_webhook_s_ca_file_and_verify_follow_the_config(db: Database) -> None:
    plain = WebhookConfig(name="inbox", url="https://127.0.0.1/in")
    async with db.transaction() as conn:
        await wh.sync_config_webhooks(conn, [plain], now=0.0)
    first = await wh.get_webhook(db.conn, "inbox")
    pinned = WebhookConfig(name="inbox", url="https://127.0.0.1/in", ca_file=Path("/etc/rd/ca.pem"))
    async with db.transaction() as conn:
        await wh.sync_config_webhooks(conn, [pinned], now=0.0)
    assert (await wh.get_webhook(db.conn, "inbox")).ca_file == "/etc/rd/ca.pem"
    insecure = WebhookConfig(name="inbox", url="https://127.0.0.1/in", verify=False)
    async with db.transaction() as conn:
        await wh.sync_config_webhooks(conn, [insecure], now=0.0)
    hook = await wh.get_webhook(db.conn, "inbox")
    assert (hook.ca_file, hook.verify) == (None, False)
    async with db.transaction() as conn:
        await wh.sync_config_webhooks(conn, [plain], now=0.0)
    assert await wh.get_webhook(db.conn, "inbox") == first  # back as it was
