"""The sender's rules on a scripted backend, a real SQLite file and the ManualClock: what is committed
before a PDU goes out, what a refusal, a silence or a crash leaves, and never a double send."""

from __future__ import annotations

import json
from typing import Any

import pytest

from raspisms_daemon.clock import ManualClock
from raspisms_daemon.config import PhoneConfig
from raspisms_daemon.errors import CmeError, CmsError, ModemGone, ModemTimeout
from raspisms_daemon.gsm.pdu import SubmitPart
from raspisms_daemon.phones.context import PhoneContext
from raspisms_daemon.phones.sender import Sender, is_transient, recover_interrupted_sends
from raspisms_daemon.phones.supervisor import PhoneState, PhoneSupervisor
from raspisms_daemon.store import scheduled
from raspisms_daemon.store import sent as sent_store
from raspisms_daemon.store.db import Database
from tests.helpers.fake_backend import FakeBackend, phone_context

TO = "+33698765432"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_767_323_045.0)


@pytest.fixture
async def ctx(db: Database, clock: ManualClock) -> PhoneContext:
    return await phone_context(db, clock, phone_ids=(1, 2))


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


def connected(ctx: PhoneContext, backend: FakeBackend, phone_id: int = 1) -> PhoneSupervisor:
    sup = PhoneSupervisor(PhoneConfig(id=phone_id, device="/dev/x", send_rate=6000.0), backend, ctx)
    sup.link = PhoneState.CONNECTED
    return sup


async def schedule(
    ctx: PhoneContext, text: str = "hello", numbers: tuple[str, ...] = (TO,), **kw: Any
) -> int:
    return await scheduled.create(ctx.db, text=text, numbers=list(numbers), now=ctx.now(), **kw)


async def send_sms_bodies(db: Database) -> list[dict[str, object]]:
    rows = await db.fetchall("SELECT body FROM outbox WHERE type = 'send_sms' ORDER BY id")
    return [json.loads(r["body"]) for r in rows]


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (CmsError(500), True),
        (CmsError(331), True),
        (CmsError(38), True),
        (CmsError(304), False),
        (CmsError(21), False),
        (CmeError(14), True),
        (CmeError(10), False),
        (ModemTimeout("x"), False),
    ],
)
def test_transient_errors_are_the_documented_set(exc: Exception, transient: bool) -> None:
    assert is_transient(exc) is transient


async def test_the_sending_row_is_committed_before_the_pdu_goes_to_the_modem(
    ctx: PhoneContext, backend: FakeBackend, db: Database
) -> None:
    states: list[str] = []

    async def look(part: SubmitPart) -> None:
        row = await db.reads.fetchone("SELECT state FROM sended")
        assert row is not None
        states.append(row[0])

    backend.on_send = look
    sid = await schedule(ctx, tag="t1")
    assert await Sender(ctx, {1: connected(ctx, backend)}).process_due() == 1
    assert states == ["sending"]
    row = await db.fetchone("SELECT state, status, attempts FROM sended")
    assert row is not None and tuple(row) == ("sent", "unknown", 1)
    part = await db.fetchone("SELECT seq, mr, status FROM sended_part")
    assert part is not None and tuple(part) == (1, 1, "pending")
    (body,) = await send_sms_bodies(db)
    assert (body["status"], body["destination"], body["origin"], body["tag"]) == ("unknown", TO, 1, "t1")
    assert body["originating_scheduled"] == sid
    assert (sch := await scheduled.get(db, sid)) is not None and sch.state == "done"


async def test_a_transient_refusal_retries_only_the_failing_part_after_the_delays_on_the_clock(
    ctx: PhoneContext, backend: FakeBackend, clock: ManualClock, db: Database
) -> None:
    backend.send_results = [11, CmsError(38), CmsError(500), 12]  # part 2 refused twice, then accepted
    await schedule(ctx, text="p" * 200)  # two GSM-7 parts
    started = clock.monotonic()
    await Sender(ctx, {1: connected(ctx, backend)}, retry_delays=(2.0, 5.0, 15.0)).process_due()
    assert [p.concat.seq for p in backend.sent if p.concat] == [1, 2]  # part 1 left once
    assert clock.monotonic() - started == 7.0
    row = await db.fetchone("SELECT state, attempts FROM sended")
    assert row is not None and tuple(row) == ("sent", 3)
    assert [tuple(r) for r in await db.fetchall("SELECT seq, mr FROM sended_part ORDER BY seq")] == [
        (1, 11),
        (2, 12),
    ]


async def test_a_final_refusal_fails_the_sms_and_says_which_part(
    ctx: PhoneContext, backend: FakeBackend, db: Database
) -> None:
    backend.send_results = [CmsError(304)]
    await schedule(ctx)
    await Sender(ctx, {1: connected(ctx, backend)}).process_due()
    row = await db.fetchone("SELECT state, status, error FROM sended")
    assert row is not None and row[:2] == ("failed", "failed") and "refused by the modem" in row[2]
    assert [b["status"] for b in await send_sms_bodies(db)] == ["failed"]


@pytest.mark.parametrize("silence", [ModemTimeout("no answer"), ModemGone("unplugged")])
async def test_no_answer_while_sending_is_unknown_and_never_retried(
    ctx: PhoneContext, backend: FakeBackend, db: Database, silence: Exception
) -> None:
    backend.send_results = [silence, 99]
    await schedule(ctx)
    await Sender(ctx, {1: connected(ctx, backend)}).process_due()
    assert backend.sent == []  # the second result was never asked for: no second try
    row = await db.fetchone("SELECT state, status FROM sended")
    assert row is not None and tuple(row) == ("sent", "unknown")
    assert [b["status"] for b in await send_sms_bodies(db)] == ["unknown"]


async def test_a_row_left_sending_by_a_crash_ends_unknown_and_is_never_resent(
    ctx: PhoneContext, backend: FakeBackend, db: Database
) -> None:
    sid = await schedule(ctx)
    sch = await scheduled.get(db, sid)
    assert sch is not None
    (dest,) = await scheduled.unsent_numbers(db, sid)
    async with db.transaction() as conn:  # what a crash after the first commit leaves
        await sent_store.insert_sending(conn, sch, dest, 1, at=ctx.now())
    assert await recover_interrupted_sends(ctx) == 1
    assert await Sender(ctx, {1: connected(ctx, backend)}).process_due() == 0
    assert backend.sent == []
    row = await db.fetchone("SELECT state, status, error FROM sended")
    assert row is not None and row[:2] == ("sent", "unknown") and "interrupted" in row[2]
    assert [b["status"] for b in await send_sms_bodies(db)] == ["unknown"]


async def test_without_a_usable_phone_nothing_is_committed_until_one_connects(
    ctx: PhoneContext, backend: FakeBackend, db: Database
) -> None:
    sup = connected(ctx, backend)
    sup.link = PhoneState.DISCONNECTED
    await schedule(ctx)
    sender = Sender(ctx, {1: sup})
    assert await sender.process_due() == 0
    assert await db.fetchall("SELECT * FROM sended") == []
    sup.link = PhoneState.CONNECTED
    assert await sender.process_due() == 1 and len(backend.sent) == 1


@pytest.mark.parametrize(
    ("phones", "id_phone", "reason"),
    [
        ({}, None, "no phone is configured"),
        ({1: "disabled"}, None, "every phone is disabled"),
        ({1: "connected"}, 7, "phone 7 is not configured"),
        ({1: "disabled"}, 1, "phone 1 is disabled (maintenance)"),
    ],
)
async def test_an_sms_no_phone_can_ever_send_fails_at_once_with_the_reason(
    ctx: PhoneContext,
    backend: FakeBackend,
    db: Database,
    phones: dict[int, str],
    id_phone: int | None,
    reason: str,
) -> None:
    sups = {}
    for pid, state in phones.items():
        sups[pid] = connected(ctx, backend, pid)
        if state == "disabled":
            sups[pid].disable("maintenance")
    await schedule(ctx, id_phone=id_phone if id_phone in (None, 1, 2) else None)
    if id_phone == 7:
        async with db.transaction() as conn:
            await conn.execute("UPDATE scheduled SET id_phone = 7")
    await Sender(ctx, sups).process_due()
    row = await db.fetchone("SELECT state, error FROM sended")
    assert row is not None and tuple(row) == ("failed", reason)
    (body,) = await send_sms_bodies(db)
    assert body["status"] == "failed" and backend.sent == []


async def test_a_report_that_beat_the_senders_commit_is_applied_when_the_parts_are_recorded(
    ctx: PhoneContext, backend: FakeBackend, db: Database
) -> None:
    async with db.transaction() as conn:  # it arrived between +CMGS and the sender's commit
        await sent_store.add_unmatched_report(
            conn, id_phone=1, mr=1, number="0698765432", outcome="delivered", status=0, at=ctx.now()
        )
    await schedule(ctx)
    await Sender(ctx, {1: connected(ctx, backend)}).process_due()
    row = await db.fetchone("SELECT status FROM sended")
    assert row is not None and row[0] == "delivered"
    change = await db.fetchone("SELECT body FROM outbox WHERE type = 'send_sms_status_change'")
    assert change is not None and json.loads(change[0])["status"] == "delivered"
    assert await db.fetchall("SELECT * FROM unmatched_report") == []


async def test_sms_without_a_phone_named_go_round_robin_over_the_connected_phones(
    ctx: PhoneContext, db: Database
) -> None:
    a, b = FakeBackend(), FakeBackend()
    await schedule(ctx, numbers=("+33600000001", "+33600000002", "+33600000003", "+33600000004"))
    await Sender(ctx, {1: connected(ctx, a, 1), 2: connected(ctx, b, 2)}).process_due()
    assert len(a.sent) == len(b.sent) == 2


async def test_send_rate_spaces_the_parts_of_one_phone(ctx: PhoneContext, backend: FakeBackend) -> None:
    clock = ctx.clock
    assert isinstance(clock, ManualClock)
    sup = PhoneSupervisor(PhoneConfig(id=1, device="/dev/null", send_rate=6.0), backend, ctx)  # 1 part / 10 s
    start = clock.monotonic()
    await sup.rate_wait(1)
    assert clock.monotonic() == start  # the first one goes at once
    await sup.rate_wait(2)
    assert clock.monotonic() == start + 10
    await sup.rate_wait(1)
    assert clock.monotonic() == start + 30  # the two parts before it took 20 s
    clock.advance(100)
    before = clock.monotonic()
    await sup.rate_wait(1)
    assert clock.monotonic() == before  # idle long enough: no wait
