"""The sender's rules on a scripted backend, a real SQLite file and the ManualClock: what is committed
before a PDU goes out, what a refusal, a silence or a crash leaves, and never a double send."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from raspisms_daemon.clock import ManualClock
from raspisms_daemon.config import PhoneConfig
from raspisms_daemon.errors import CmeError, CmsError, ModemGone, ModemTimeout
from raspisms_daemon.gsm.pdu import SubmitPart
from raspisms_daemon.phones.context import PhoneContext
from raspisms_daemon.phones.sender import Sender, is_transient, recover_interrupted_sends
from raspisms_daemon.phones.supervisor import PhoneState, PhoneSupervisor
from raspisms_daemon.store import scheduled, smsstop
from raspisms_daemon.store import sent as sent_store
from raspisms_daemon.store.db import Database
from raspisms_daemon.store.scheduled import NewNumber
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


def connected(
    ctx: PhoneContext, backend: FakeBackend, phone_id: int = 1, *, group: int | None = None, priority: int = 0
) -> PhoneSupervisor:
    phone = PhoneConfig(id=phone_id, device="/dev/x", send_rate=6000.0, group=group, priority=priority)
    sup = PhoneSupervisor(phone, backend, ctx)
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
    assert change is not None and json.loads(change[0])["status"] == "success"  # the documented word
    assert await db.fetchall("SELECT * FROM unmatched_report") == []


def phone_set(
    ctx: PhoneContext, spec: dict[int, tuple[str, int | None, int]]
) -> tuple[dict[int, PhoneSupervisor], dict[int, FakeBackend]]:
    """``{id: (state, group, priority)}`` → supervisors on their own fake backends."""
    sups, backends = {}, {}
    for pid, (state, group, priority) in spec.items():
        backends[pid] = FakeBackend()
        sups[pid] = connected(ctx, backends[pid], pid, group=group, priority=priority)
        if state == "disconnected":
            sups[pid].link = PhoneState.DISCONNECTED
        elif state == "disabled":
            sups[pid].disable("by the owner")
    return sups, backends


async def senders(db: Database) -> list[tuple[str, int | None]]:
    return [tuple(r) for r in await db.fetchall("SELECT destination, id_phone FROM sended ORDER BY id")]


NUMBERS = tuple(f"+336000000{i:02d}" for i in range(30))


async def test_with_no_phone_named_each_sms_goes_through_a_random_phone_that_can_send(
    ctx: PhoneContext, db: Database
) -> None:
    sups, backends = phone_set(
        ctx, {1: ("connected", None, 0), 2: ("connected", None, 0), 3: ("disconnected", None, 0)}
    )
    await schedule(ctx, numbers=NUMBERS)
    assert await Sender(ctx, sups, rng=random.Random(7)).process_due() == len(NUMBERS)
    counts = [len(backends[p].sent) for p in (1, 2, 3)]
    assert counts[0] > 0 and counts[1] > 0 and counts[2] == 0 and sum(counts) == len(NUMBERS)


@pytest.mark.parametrize(
    ("spec", "id_phone_group", "expected"),
    [
        # No phone named: the highest priority among the phones that can send.
        ({1: ("connected", None, 0), 2: ("connected", None, 5), 3: ("disconnected", None, 9)}, None, {2}),
        # A group: its phones only, the highest priority first.
        ({1: ("connected", 1, 1), 2: ("connected", 1, 2), 3: ("connected", 2, 9)}, 1, {2}),
        # The best phone of the group cannot send: the next one does.
        ({1: ("connected", 1, 1), 2: ("disconnected", 1, 2), 3: ("connected", 2, 9)}, 1, {1}),
        ({1: ("connected", 1, 1), 2: ("disabled", 1, 2), 3: ("connected", 2, 9)}, 1, {1}),
        # Equal priorities: spread at random among them.
        ({1: ("connected", 1, 3), 2: ("connected", 1, 3), 3: ("connected", 2, 9)}, 1, {1, 2}),
    ],
)
async def test_the_highest_priority_phone_that_can_send_is_chosen(
    ctx: PhoneContext,
    db: Database,
    spec: dict[int, tuple[str, int | None, int]],
    id_phone_group: int | None,
    expected: set[int],
) -> None:
    sups, _ = phone_set(ctx, spec)
    await schedule(ctx, numbers=NUMBERS, id_phone_group=id_phone_group)
    await Sender(ctx, sups, rng=random.Random(3)).process_due()
    used = {phone for _, phone in await senders(db)}
    assert used == expected


@pytest.mark.parametrize("state", ["disconnected", "disabled"])
async def test_failover_an_sms_naming_a_phone_that_cannot_send_goes_through_another_of_its_group(
    ctx: PhoneContext, db: Database, state: str
) -> None:
    sups, backends = phone_set(ctx, {1: (state, 1, 9), 2: ("connected", 1, 0), 3: ("connected", 2, 5)})
    await schedule(ctx, id_phone=1)
    await Sender(ctx, sups).process_due()
    assert await senders(db) == [(TO, 2)] and len(backends[2].sent) == 1 and backends[1].sent == []
    (body,) = await send_sms_bodies(db)
    assert body["origin"] == 2 and body["status"] == "unknown"


async def test_failover_waits_while_the_group_has_no_phone_that_can_send_and_goes_when_one_can(
    ctx: PhoneContext, db: Database
) -> None:
    sups, _ = phone_set(ctx, {1: ("disconnected", 1, 0), 2: ("disconnected", 1, 0)})
    await schedule(ctx, id_phone=1)
    sender = Sender(ctx, sups)
    assert await sender.process_due() == 0 and await senders(db) == []
    sups[2].link = PhoneState.CONNECTED
    assert await sender.process_due() == 1 and await senders(db) == [(TO, 2)]


async def test_without_a_group_an_sms_naming_a_disconnected_phone_waits_for_it(
    ctx: PhoneContext, db: Database
) -> None:
    sups, _ = phone_set(ctx, {1: ("disconnected", None, 0), 2: ("connected", None, 0)})
    await schedule(ctx, id_phone=1)
    assert await Sender(ctx, sups).process_due() == 0 and await senders(db) == []


@pytest.mark.parametrize(
    ("spec", "id_phone", "id_phone_group", "reason"),
    [
        (
            {1: ("disabled", 1, 0), 2: ("disabled", 1, 0)},
            1,
            None,
            "phone 1 is disabled (by the owner) and so is every other phone of group 1",
        ),
        ({1: ("disabled", 1, 0), 2: ("connected", None, 0)}, None, 1, "every phone of group 1 is disabled"),
        ({1: ("connected", 1, 0)}, None, 4, "no phone is configured in group 4"),
    ],
)
async def test_an_sms_no_phone_of_its_group_can_ever_send_fails_with_the_reason(
    ctx: PhoneContext,
    db: Database,
    spec: dict[int, tuple[str, int | None, int]],
    id_phone: int | None,
    id_phone_group: int | None,
    reason: str,
) -> None:
    sups, _ = phone_set(ctx, spec)
    await schedule(ctx, id_phone=id_phone, id_phone_group=id_phone_group)
    await Sender(ctx, sups).process_due()
    row = await db.fetchone("SELECT state, error FROM sended")
    assert row is not None and tuple(row) == ("failed", reason)


async def test_a_number_on_the_stop_list_is_skipped_and_recorded_unless_the_sms_is_tagged_sms_stop(
    ctx: PhoneContext, backend: FakeBackend, db: Database
) -> None:
    stopped, other = "+33611111111", "+33622222222"
    async with db.transaction() as conn:
        await smsstop.add(conn, stopped, at=ctx.now(), id_phone=1)
    plain = await schedule(ctx, numbers=(stopped, other))
    tagged = await schedule(ctx, numbers=(stopped,), tag="SMS_STOP")
    start = ctx.now()
    await Sender(ctx, {1: connected(ctx, backend)}).process_due()
    assert [p.number for p in backend.sent] == [other, stopped]  # the tagged one reaches it
    assert await senders(db) == [(other, 1), (stopped, 1)]
    skipped = await db.fetchall(
        "SELECT number, skipped, skipped_at FROM scheduled_number WHERE skipped IS NOT NULL"
    )
    assert [tuple(r) for r in skipped] == [(stopped, "sms_stop", start)]
    states = await db.fetchall("SELECT id, state FROM scheduled ORDER BY id")
    assert [tuple(r) for r in states] == [(plain, "done"), (tagged, "done")]
    assert ctx.counters["sent_skipped_total"] == 1
    assert [b["destination"] for b in await send_sms_bodies(db)] == [other, stopped]  # no webhook for a skip
    (entry,) = await smsstop.entries(db)
    assert (entry.number, entry.skipped, entry.last_skipped_at) == (stopped, 1, start)


async def test_with_sms_stop_off_numbers_on_the_list_are_sent_to(
    ctx: PhoneContext, backend: FakeBackend, db: Database
) -> None:
    ctx.sms_stop = False
    async with db.transaction() as conn:
        await smsstop.add(conn, TO, at=ctx.now())
    await schedule(ctx)
    await Sender(ctx, {1: connected(ctx, backend)}).process_due()
    assert [p.number for p in backend.sent] == [TO]


async def test_each_number_gets_the_text_rendered_for_it(
    ctx: PhoneContext, backend: FakeBackend, db: Database
) -> None:
    await scheduled.create(
        ctx.db,
        text="Hi {{ contact.name }}",
        numbers=[NewNumber("+33611111111", '{"name":"Jo"}', "Hi Jo"), NewNumber("+33622222222")],
        now=ctx.now(),
    )
    await Sender(ctx, {1: connected(ctx, backend)}).process_due()
    assert [p.text for p in backend.sent] == ["Hi Jo", "Hi {{ contact.name }}"]
    assert [b["text"] for b in await send_sms_bodies(db)] == ["Hi Jo", "Hi {{ contact.name }}"]


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


# --- several phones send side by side ----------------------------------------------------------------------


class Network:
    """Holds every PDU at the modem until the test lets them go; counts what is in flight where."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.flying: dict[int, int] = {}
        self.most: dict[int, int] = {}
        self.most_total = 0
        self.reached = asyncio.Event()
        self.expected_total = 0

    def hook(self, phone_id: int) -> Callable[[SubmitPart], Awaitable[None]]:
        async def on_send(part: SubmitPart) -> None:
            self.flying[phone_id] = self.flying.get(phone_id, 0) + 1
            self.most[phone_id] = max(self.most.get(phone_id, 0), self.flying[phone_id])
            self.most_total = max(self.most_total, sum(self.flying.values()))
            if sum(self.flying.values()) >= self.expected_total:
                self.reached.set()
            await self.gate.wait()
            self.flying[phone_id] -= 1

        return on_send


async def test_several_phones_send_side_by_side_with_one_sms_in_flight_each(
    ctx: PhoneContext, db: Database
) -> None:
    sups, backends = phone_set(
        ctx, {1: ("connected", None, 0), 2: ("connected", None, 0), 3: ("connected", None, 0)}
    )
    net = Network()
    net.expected_total = 3
    for pid, backend in backends.items():
        backend.on_send = net.hook(pid)
    await schedule(ctx, numbers=NUMBERS[:9])
    sending = asyncio.create_task(Sender(ctx, sups, rng=random.Random(1)).process_due())
    await asyncio.wait_for(net.reached.wait(), 5)  # three PDUs at three modems at once
    net.gate.set()
    assert await asyncio.wait_for(sending, 5) == 9
    assert net.most_total == 3 and set(net.most.values()) == {1}
    assert sum(len(b.sent) for b in backends.values()) == 9
    assert sorted(dest for dest, _ in await senders(db)) == sorted(NUMBERS[:9])


async def test_an_sms_naming_a_busy_phone_waits_for_it_rather_than_taking_another(
    ctx: PhoneContext, db: Database
) -> None:
    sups, backends = phone_set(ctx, {1: ("connected", 1, 0), 2: ("connected", 1, 0)})
    net = Network()
    net.expected_total = 1
    backends[1].on_send = net.hook(1)
    await schedule(ctx, numbers=NUMBERS[:3], id_phone=1)
    sending = asyncio.create_task(Sender(ctx, sups).process_due())
    await asyncio.wait_for(net.reached.wait(), 5)
    net.gate.set()
    assert await asyncio.wait_for(sending, 5) == 3
    assert [phone for _, phone in await senders(db)] == [1, 1, 1] and backends[2].sent == []
    assert net.most == {1: 1}


async def test_stopping_lets_the_sends_in_flight_finish_and_starts_no_other(
    ctx: PhoneContext, db: Database
) -> None:
    sups, backends = phone_set(ctx, {1: ("connected", None, 0), 2: ("connected", None, 0)})
    net = Network()
    net.expected_total = 2
    for pid, backend in backends.items():
        backend.on_send = net.hook(pid)
    await schedule(ctx, numbers=NUMBERS[:6])
    sender = Sender(ctx, sups)
    sending = asyncio.create_task(sender.process_due())
    await asyncio.wait_for(net.reached.wait(), 5)
    sender.stop_soon()
    net.gate.set()
    await asyncio.wait_for(sending, 5)
    rows = await db.fetchall("SELECT state FROM sended")
    assert [r[0] for r in rows] == ["sent", "sent"]  # the two in hand ended; nothing else started
