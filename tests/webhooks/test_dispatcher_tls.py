"""https receivers with a private CA (made on the fly with openssl), on 127.0.0.1: a webhook's ca_file
makes it trusted, without one the system's CAs refuse it (a failure that counts), ``verify = no`` delivers
and is warned about once per webhook, not per delivery."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from raspisms_daemon.store import webhooks as wh
from raspisms_daemon.store.db import Database
from tests.helpers.dispatch_process import fast_delivery, running_dispatcher, seed_events, wait_until
from tests.helpers.receiver import FaultyReceiver
from tests.helpers.tls import PrivateCA, make_pki

API_KEY = "tls-test-key"
DELIVERED = "SELECT COUNT(*) FROM outbox WHERE state = 'delivered'"


@pytest.fixture
def pki(tmp_path: Path) -> PrivateCA:
    return make_pki(tmp_path / "pki")


@pytest.fixture
async def rx(pki: PrivateCA) -> AsyncIterator[FaultyReceiver]:
    receiver = FaultyReceiver(API_KEY, ssl_context=pki.server_context())
    await receiver.start()
    yield receiver
    await receiver.stop()


async def add_hook(db: Database, name: str, url: str, **tls: object) -> None:
    async with db.transaction() as conn:
        await wh.add_webhook(conn, name, url, now=0.0, **tls)  # type: ignore[arg-type]


async def test_a_webhook_with_the_receiver_s_ca_file_delivers_over_https(
    db: Database, rx: FaultyReceiver, pki: PrivateCA
) -> None:
    assert rx.url.startswith("https://127.0.0.1:")
    await add_hook(db, "private", rx.url, ca_file=str(pki.ca_cert))
    await seed_events(db, API_KEY, 3)
    async with running_dispatcher(db, fast_delivery(), API_KEY):
        await wait_until(db, DELIVERED, 3)
    assert len(rx.acknowledged_ids()) == 3  # verified by the receiver, over TLS


async def test_without_a_ca_file_a_private_ca_is_refused_and_that_counts(
    db: Database, rx: FaultyReceiver
) -> None:
    await add_hook(db, "system", rx.url)
    [oid] = await seed_events(db, API_KEY, 1)
    async with running_dispatcher(db, fast_delivery(schedule=(0.0, 0.01)), API_KEY):
        await wait_until(db, "SELECT state FROM outbox", "dead")
    rows = await db.fetchall("SELECT status, error, local FROM delivery_attempt WHERE outbox_id = ?", (oid,))
    assert len(rows) == 2 and all(r[0] is None and r[2] == 0 for r in rows)  # counted: the receiver's
    assert all("CERTIFICATE_VERIFY_FAILED" in r[1] for r in rows), rows
    assert rx.requests == []  # no request left before the certificate was checked


async def test_without_a_ca_file_the_system_s_cas_are_read_when_first_needed(
    db: Database, rx: FaultyReceiver, pki: PrivateCA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The private CA becomes "the system's" only now, long after aiohttp built its own default contexts
    # at import: the delivery succeeds only if the dispatcher makes its own, when first needed.
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_cert))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "none"))
    await add_hook(db, "system", rx.url)
    await seed_events(db, API_KEY, 2)
    async with running_dispatcher(db, fast_delivery(), API_KEY):
        await wait_until(db, DELIVERED, 2)
    assert len(rx.acknowledged_ids()) == 2


async def test_another_ca_s_file_does_not_vouch_for_the_receiver(
    db: Database, rx: FaultyReceiver, tmp_path: Path
) -> None:
    other = make_pki(tmp_path / "other", name="other")
    await add_hook(db, "wrong-ca", rx.url, ca_file=str(other.ca_cert))
    await seed_events(db, API_KEY, 1)
    async with running_dispatcher(db, fast_delivery(schedule=(0.0,)), API_KEY):
        await wait_until(db, "SELECT state FROM outbox", "dead")
    row = await db.fetchone("SELECT error FROM delivery_attempt")
    assert row is not None and "CERTIFICATE_VERIFY_FAILED" in row[0]


async def test_verify_no_delivers_and_is_warned_about_once_per_webhook(
    db: Database, rx: FaultyReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    await add_hook(db, "insecure", rx.url, verify=False)
    await seed_events(db, API_KEY, 3)
    caplog.set_level(logging.WARNING, logger="raspisms_daemon.dispatcher")
    async with running_dispatcher(db, fast_delivery(), API_KEY) as dispatcher:
        await wait_until(db, DELIVERED, 3)
        for start in (10, 20):  # more deliveries, the webhooks read again: no second warning
            await seed_events(db, API_KEY, 1, start_id=start)
            dispatcher.wake()
        await wait_until(db, DELIVERED, 5)
    warnings = [r for r in caplog.records if "verification is OFF" in r.getMessage()]
    assert len(warnings) == 1 and getattr(warnings[0], "webhook", None) == "insecure"
    assert len(rx.acknowledged_ids()) == 5
