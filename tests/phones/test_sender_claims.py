"""The sender against cancels and backlogs, on a scripted backend, a real SQLite file and the
ManualClock: a cancel either wins (nothing is sent) or is refused (the SMS goes), never both; a backlog
larger than one page goes out in one go, without waiting for the poll interval."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from raspisms_daemon.clock import ManualClock
from raspisms_daemon.config import PhoneConfig
from raspisms_daemon.gsm.pdu import SubmitPart
from raspisms_daemon.phones.context import PhoneContext
from raspisms_daemon.phones.sender import BATCH, Sender
from raspisms_daemon.phones.supervisor import PhoneState, PhoneSupervisor
from raspisms_daemon.store import scheduled
from raspisms_daemon.store.db import Database
from tests.helpers.fake_backend import FakeBackend, phone_context


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_767_323_045.0)


@pytest.fixture
async def ctx(db: Database, clock: ManualClock) -> PhoneContext:
    return await phone_context(db, clock)


def connected(ctx: PhoneContext, backend: FakeBackend, send_rate: float) -> PhoneSupervisor:
    sup = PhoneSupervisor(PhoneConfig(id=1, device="/dev/x", send_rate=send_rate), backend, ctx)
    sup.link = PhoneState.CONNECTED
    return sup


def after_rate_wait(sup: PhoneSupervisor, action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` at the end of every wait for the phone's next send slot (the send-rate wait)."""
    wait = sup.rate_wait

    async def wait_then(parts: int) -> None:
        await wait(parts)
        await action()

    sup.rate_wait = wait_then  # type: ignore[method-assign]


async def sent_texts(db: Database) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in await db.fetchall("SELECT text, state FROM sended ORDER BY id")]


async def test_a_cancel_during_the_send_rate_wait_wins_and_the_sms_is_never_sent(
    ctx: PhoneContext, db: Database
) -> None:
    backend = FakeBackend()
    sup = connected(ctx, backend, send_rate=1.0)  # one part a minute: the second SMS waits 60 s
    await scheduled.create(db, text="first", numbers=["+33600000001"], now=ctx.now())
    second = await scheduled.create(db, text="second", numbers=["+33600000002"], now=ctx.now())
    answers: list[bool] = []

    async def cancel_second_while_it_waits() -> None:
        if backend.sent:  # the first one has left: this is the second's wait
            answers.append(await scheduled.cancel(db, second))

    after_rate_wait(sup, cancel_second_while_it_waits)
    await Sender(ctx, {1: sup}).process_due()

    assert answers == [True]  # the cancel was accepted …
    assert len(backend.sent) == 1  # … so the second SMS never reached the modem
    assert await sent_texts(db) == [("first", "sent")]
    assert (await scheduled.get(db, second)).state == "cancelled"  # type: ignore[union-attr]
    send_sms = await db.fetchall("SELECT body FROM outbox WHERE type = 'send_sms'")
    assert len(send_sms) == 1


async def test_a_cancel_after_the_claim_is_refused_and_the_sms_is_sent(
    ctx: PhoneContext, db: Database
) -> None:
    backend = FakeBackend()
    sup = connected(ctx, backend, send_rate=0.0)
    sid = await scheduled.create(db, text="going", numbers=["+33600000001"], now=ctx.now())
    answers: list[bool] = []

    async def cancel_while_the_modem_has_it(part: SubmitPart) -> None:
        answers.append(await scheduled.cancel(db, sid))

    backend.on_send = cancel_while_the_modem_has_it
    await Sender(ctx, {1: sup}).process_due()

    assert answers == [False]
    assert len(backend.sent) == 1
    assert await sent_texts(db) == [("going", "sent")]
    assert (await scheduled.get(db, sid)).state == "done"  # type: ignore[union-attr]


async def test_a_backlog_larger_than_one_page_goes_out_without_waiting_for_the_poll(
    ctx: PhoneContext, db: Database, clock: ManualClock
) -> None:
    backend = FakeBackend()
    sup = connected(ctx, backend, send_rate=0.0)  # no spacing: the clock moves only if the sender sleeps
    n = BATCH + 50
    async with db.transaction() as conn:  # one commit for the whole backlog (a restart finding it)
        for i in range(n):
            cur = await conn.execute(
                "INSERT INTO scheduled (id_user, at, text, created_at) VALUES (1, ?, ?, ?)",
                (ctx.now() - 10, f"backlog {i}", ctx.now() - 10),
            )
            await conn.execute(
                "INSERT INTO scheduled_number (id_scheduled, number) VALUES (?, ?)",
                (cur.lastrowid, f"+336{i:08d}"),
            )
    started = clock.time()
    last_sent_at: list[float] = []
    done = asyncio.Event()

    async def count(part: SubmitPart) -> None:
        if len(backend.sent) + 1 == n:
            last_sent_at.append(clock.time())
            done.set()

    backend.on_send = count
    task = asyncio.create_task(Sender(ctx, {1: sup}, poll_interval=30.0).run())
    try:
        await asyncio.wait_for(done.wait(), 60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(backend.sent) == n
    # Not one poll interval slept on the way: the whole backlog left in one pass.
    assert last_sent_at == [started]
