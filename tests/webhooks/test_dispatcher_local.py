"""Failures on this machine (webhooks/results.error_kind), made real: a webhook whose ca_file cannot be
read when it is delivered to. They are logged as local and never counted (a schedule of one attempt, and
still never dead); that webhook's deliveries wait 1 s, 1 s, 2 s, 4 s … up to 60 s on the injected clock
(no busy loop), the other webhooks go on meanwhile, and once the file is back everything goes out at its
first counted attempt. (Running out of file descriptors for real: tests/faults/test_local_errors.py.)"""

from __future__ import annotations

import asyncio
import itertools
import logging
import shutil
from pathlib import Path

import pytest

from raspisms_daemon.clock import ManualClock
from raspisms_daemon.store import webhooks as wh
from raspisms_daemon.store.db import Database
from tests.helpers.dispatch_process import fast_delivery, running_dispatcher, seed_events, wait_until
from tests.helpers.receiver import FaultyReceiver
from tests.helpers.tls import make_pki

API_KEY = "local-test-key"
START = 1_700_000_000.0


async def local_rounds(db: Database) -> list[float]:
    """The clock times at which local attempts were made (several rows may share a round)."""
    rows = await db.fetchall("SELECT DISTINCT at FROM delivery_attempt WHERE local = 1 ORDER BY at")
    return [r[0] - START for r in rows]


async def test_local_failures_never_count_wait_longer_and_longer_and_end_with_the_trouble(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pki = make_pki(tmp_path / "pki")
    secure = FaultyReceiver(API_KEY, tolerance=None, ssl_context=pki.server_context())
    plain = FaultyReceiver(API_KEY, tolerance=None)
    await secure.start()
    await plain.start()
    ca_file = tmp_path / "receiver-ca.pem"  # named by the webhook, missing when deliveries start
    clock = ManualClock(START)
    caplog.set_level(logging.INFO, logger="raspisms_daemon.dispatcher")
    try:
        async with db.transaction() as conn:
            await wh.add_webhook(conn, "secure", secure.url, ca_file=str(ca_file), now=0.0)
            await wh.add_webhook(conn, "plain", plain.url, now=0.0)
        await seed_events(db, API_KEY, 4, now=START)  # four rows for each webhook
        delivery = fast_delivery(schedule=(0.0,))  # a counted failure would make a row dead at once
        async with running_dispatcher(db, delivery, API_KEY, clock=clock):
            async with asyncio.timeout(20):
                while len(await local_rounds(db)) < 11:  # noqa: ASYNC110 - the dispatcher's table
                    await asyncio.sleep(0.02)
            # The other webhook went on meanwhile.
            assert len(plain.acknowledged_ids()) == 4
            states = await db.fetchall(
                "SELECT o.state, o.attempts, o.last_error FROM outbox o "
                "JOIN webhook w ON w.id = o.webhook_id WHERE w.name = 'secure'"
            )
            assert [(s, n) for s, n, _ in states] == [("pending", 0)] * 4  # never counted, never dead
            assert all(e.startswith("local: ca_file: cannot read") for _, _, e in states), states
            shutil.copy(pki.ca_cert, ca_file)  # the machine is fine again
            await wait_until(db, "SELECT COUNT(*) FROM outbox WHERE state = 'delivered'", 8)
        rounds = await local_rounds(db)
    finally:
        await secure.stop()
        await plain.stop()
    waits = [round(b - a, 6) for a, b in itertools.pairwise(rounds)]
    assert waits[:10] == [1, 1, 2, 4, 8, 16, 32, 60, 60, 60]  # as long as it lasted, then a minute
    assert len(secure.acknowledged_ids()) == 4
    counted = await db.fetchall("SELECT attempts FROM outbox")
    assert [r[0] for r in counted] == [1] * 8
    messages = [r.getMessage() for r in caplog.records]
    assert sum("fail on this machine" in m for m in messages) == 1  # one error for the whole trouble
    assert any("work again after" in m for m in messages)
