"""What the dispatcher reads of an answer: the status, the headers and at most RESPONSE_PREFIX bytes of
the body, against real receivers on 127.0.0.1. A body that ends within them leaves its connection for the
next delivery; one that does not (giant, endless, trickling) is cut and its connection closed, and the
status stands; a failure's error quotes the start of its body on one line."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from raspisms_daemon.store import webhooks as wh
from raspisms_daemon.store.db import Database
from tests.helpers.dispatch_process import fast_delivery, running_dispatcher, seed_events, wait_until
from tests.helpers.receiver import FaultyReceiver, Flood, Reply

API_KEY = "bodies-test-key"
DELIVERED = "SELECT COUNT(*) FROM outbox WHERE state = 'delivered'"
MB = 1024 * 1024
ONE_AT_A_TIME = {"concurrency": 1, "per_webhook_concurrency": 1}


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


async def attempts(db: Database) -> list[tuple[int | None, str | None, float]]:
    rows = await db.fetchall("SELECT status, error, duration_ms FROM delivery_attempt ORDER BY id")
    return [(r[0], r[1], r[2]) for r in rows]


async def test_a_short_body_is_read_to_its_end_and_the_connection_is_kept(
    db: Database, rx: FaultyReceiver
) -> None:
    await seed_events(db, API_KEY, 1)
    async with running_dispatcher(db, fast_delivery(**ONE_AT_A_TIME), API_KEY) as dispatcher:
        await wait_until(db, DELIVERED, 1)
        await seed_events(db, API_KEY, 1, start_id=2)
        dispatcher.wake()
        await wait_until(db, DELIVERED, 2)
    assert len(rx.requests) == 2 and rx.requests[0].peer == rx.requests[1].peer  # one connection
    assert rx.requests[0].headers["Accept-Encoding"] == "identity"


@pytest.mark.parametrize("size", [400 * MB, None], ids=["400MB", "endless"])
async def test_a_giant_or_endless_200_body_is_cut_and_its_connection_closed(
    db: Database, rx: FaultyReceiver, size: int | None
) -> None:
    rx.plan(Flood(200, size))
    await seed_events(db, API_KEY, 1)
    async with running_dispatcher(db, fast_delivery(timeout=30.0, **ONE_AT_A_TIME), API_KEY) as dispatcher:
        await wait_until(db, DELIVERED, 1)
        await seed_events(db, API_KEY, 1, start_id=2)
        dispatcher.wake()
        await wait_until(db, DELIVERED, 2)
        await rx.wait_for(lambda: len(rx.flooded) == 1)
    assert [(status, error) for status, error, _ in await attempts(db)] == [(200, None), (200, None)]
    [flooded] = rx.flooded
    assert flooded.hung_up and flooded.written < 64 * MB  # the daemon hung up, far from the end
    assert rx.requests[0].peer != rx.requests[1].peer  # that connection was not reused


async def test_a_trickling_body_holds_its_slot_until_the_timeout_at_most_and_the_status_stands(
    db: Database, rx: FaultyReceiver
) -> None:
    # One byte every 0.1 s: the prefix would take 100 s to come.
    rx.plan(Flood(200, None, chunk=1, pace=0.1))
    await seed_events(db, API_KEY, 1)
    async with running_dispatcher(db, fast_delivery(timeout=1.0), API_KEY):
        await wait_until(db, DELIVERED, 1)
        await rx.wait_for(lambda: len(rx.flooded) == 1)
    [(status, error, duration_ms)] = await attempts(db)
    assert (status, error) == (200, None)  # delivered at the first attempt, not a timeout failure
    assert 900 <= duration_ms < 5000, duration_ms  # it waited for the body up to the 1 s timeout
    assert rx.flooded[0].hung_up


async def test_a_failure_s_error_quotes_the_start_of_its_body_on_one_line(
    db: Database, rx: FaultyReceiver
) -> None:
    rx.plan(
        Flood(500, 400 * MB),
        Reply(502, body="<h1>Bad\tGateway</h1>\n\x00 upstream down\r\n"),
        Reply(503, {"Content-Encoding": "gzip"}, body="not really gzip"),
        Reply(500, body=""),
    )
    await seed_events(db, API_KEY, 1)
    async with running_dispatcher(db, fast_delivery(schedule=(0.0, 0.01, 0.01, 0.01, 0.01)), API_KEY):
        await wait_until(db, DELIVERED, 1)
    assert [(status, error) for status, error, _ in await attempts(db)] == [
        (500, f"body '{'x' * 200}…'"),  # at most 200 characters of the prefix read
        (502, "body '<h1>Bad Gateway</h1> upstream down'"),
        (503, "a gzip body"),  # never decompressed
        (500, None),
        (200, None),
    ]
