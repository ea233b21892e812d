"""The phone supervisor's rules on a scripted backend, a real SQLite file and the ManualClock.

The rule that matters most: a stored message is deleted from the SIM only after the transaction that
took it in committed — every delete here looks at the database at that very moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from raspisms_daemon.clock import ManualClock
from raspisms_daemon.config import PhoneConfig
from raspisms_daemon.errors import CmeError, ModemError, ModemGone
from raspisms_daemon.gsm.modem import (
    CallEnded,
    CallRinging,
    Disconnected,
    Reconnected,
    ReportReceived,
    SignalChanged,
    SmsReceived,
    UndecodableSms,
)
from raspisms_daemon.gsm.pdu import DeliverPdu, StatusReportPdu, decode, encode_deliver, encode_status_report
from raspisms_daemon.phones.context import PhoneContext
from raspisms_daemon.phones.intake import deliver_multipart
from raspisms_daemon.phones.jobs import flush_expired_multiparts
from raspisms_daemon.phones.supervisor import PhoneState, PhoneSupervisor
from raspisms_daemon.store.db import Database
from raspisms_daemon.store.faults import FaultKind, StorageFault
from raspisms_daemon.store.received import PartKey
from tests.helpers.fake_backend import FakeBackend, phone_context

SCTS = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_767_323_045.0)


@pytest.fixture
async def ctx(db: Database, clock: ManualClock) -> PhoneContext:
    return await phone_context(db, clock)


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def sup(ctx: PhoneContext, backend: FakeBackend) -> PhoneSupervisor:
    return PhoneSupervisor(
        PhoneConfig(id=1, name="phone1", device="/dev/x"), backend, ctx, take_in_retries=(1.0, 2.0)
    )


def sms(text: str, *, index: int | None = 3, number: str = "+33612345678") -> SmsReceived:
    (hex_pdu,) = encode_deliver(number, text, scts=SCTS)
    msg = decode(hex_pdu)
    assert isinstance(msg, DeliverPdu)
    return SmsReceived(index=index, storage="SM", pdu=hex_pdu, message=msg)


def parts(text: str, *, first_index: int = 10, ref: int = 7) -> list[SmsReceived]:
    out = []
    for i, hex_pdu in enumerate(encode_deliver("+33612345678", text, scts=SCTS, concat_ref=ref)):
        msg = decode(hex_pdu)
        assert isinstance(msg, DeliverPdu)
        out.append(SmsReceived(index=first_index + i, storage="SM", pdu=hex_pdu, message=msg))
    return out


async def bodies(db: Database, type: str) -> list[dict[str, object]]:
    rows = await db.fetchall("SELECT body FROM outbox WHERE type = ? ORDER BY id", (type,))
    return [json.loads(r["body"]) for r in rows]


async def test_a_stored_sms_is_committed_with_its_webhook_before_the_sim_slot_is_freed(
    sup: PhoneSupervisor, backend: FakeBackend, db: Database
) -> None:
    seen_at_delete: list[tuple[int, int]] = []

    async def look(index: int, storage: str) -> None:
        # A fresh read on the read-only connection: only committed rows are visible there.
        received = await db.reads.fetchone("SELECT COUNT(*) FROM received")
        outbox = await db.reads.fetchone("SELECT COUNT(*) FROM outbox WHERE type = 'receive_sms'")
        assert received is not None and outbox is not None
        seen_at_delete.append((received[0], outbox[0]))

    backend.on_delete = look
    await sup.handle(sms("Gate opened"))

    assert seen_at_delete == [(1, 1)]
    assert backend.deleted == [("SM", 3)]
    (body,) = await bodies(db, "receive_sms")
    assert (body["text"], body["origin"], body["destination"]) == ("Gate opened", "+33612345678", 1)
    assert body["at"] == "2026-01-02 03:04:05"  # the clock's time, in the clock's zone (UTC)


async def test_a_message_seen_again_is_deleted_but_not_emitted_twice(
    sup: PhoneSupervisor, backend: FakeBackend, db: Database
) -> None:
    message = sms("only once")
    backend.delete_errors = [ModemError("+CMS ERROR: 321")]  # the first delete fails: seen again later
    await sup.handle(message)
    await sup.handle(message)
    assert len(await bodies(db, "receive_sms")) == 1
    assert backend.deleted == [("SM", 3)]


async def test_a_new_message_in_a_reused_slot_is_new(sup: PhoneSupervisor, db: Database) -> None:
    await sup.handle(sms("first"))
    await sup.handle(sms("second"))  # same slot 3, another PDU
    assert [b["text"] for b in await bodies(db, "receive_sms")] == ["first", "second"]


async def test_a_message_handed_over_directly_is_never_deleted(
    sup: PhoneSupervisor, backend: FakeBackend, db: Database
) -> None:
    await sup.handle(sms("+CMT", index=None))
    assert backend.deleted == [] and len(await bodies(db, "receive_sms")) == 1


async def test_an_undecodable_pdu_is_kept_raw_and_freed_without_a_webhook(
    sup: PhoneSupervisor, backend: FakeBackend, db: Database
) -> None:
    await sup.handle(UndecodableSms(index=5, storage="SM", pdu="07FFFF", error="truncated"))
    row = await db.fetchone("SELECT pdu, error, id_phone, sim_index FROM undecodable")
    assert row is not None and tuple(row) == ("07FFFF", "truncated", 1, 5)
    assert await db.fetchall("SELECT * FROM outbox") == []
    assert backend.deleted == [("SM", 5)]


async def test_parts_in_any_order_make_one_sms_and_each_part_is_freed_after_its_commit(
    sup: PhoneSupervisor, backend: FakeBackend, db: Database
) -> None:
    pieces = parts("é" * 170 + "ж" * 80)  # UCS-2: 4 parts
    for part in reversed(pieces):
        await sup.handle(part)
    (body,) = await bodies(db, "receive_sms")
    assert body["text"] == "é" * 170 + "ж" * 80
    assert sorted(backend.deleted) == [("SM", p.index) for p in pieces if p.index is not None]
    assert await db.fetchall("SELECT * FROM multipart_part") == []
    row = await db.fetchone("SELECT parts, complete FROM received")
    assert row is not None and tuple(row) == (4, 1)


async def test_an_emoji_split_between_two_parts_arrives_whole(sup: PhoneSupervisor, db: Database) -> None:
    # A sender that cut between the two UTF-16 units of 😀 (a real phone's carelessness, built by hand).
    text = "a" * 66 + "😀" + "b"
    units = text.encode("utf-16-be")
    halves = [units[: 67 * 2], units[67 * 2 :]]
    for seq, data in enumerate(halves, 1):
        udh = bytes([5, 0, 3, 42, 2, seq])
        ud = udh + data
        tpdu = bytes([0x40, 11, 0x91]) + bytes.fromhex("3316325476F8") + bytes([0, 0x08])
        tpdu += bytes.fromhex("62102030400000") + bytes([len(ud)]) + ud
        hex_pdu = ("00" + tpdu.hex()).upper()
        msg = decode(hex_pdu)
        assert isinstance(msg, DeliverPdu) and msg.concat is not None
        await sup.handle(SmsReceived(index=20 + seq, storage="SM", pdu=hex_pdu, message=msg))
    (body,) = await bodies(db, "receive_sms")
    assert body["text"] == text


async def test_a_new_multipart_reusing_a_waiting_reference_is_not_mixed_into_it(
    sup: PhoneSupervisor, db: Database
) -> None:
    old = parts("A" * 153 + "B" * 153 + "C" * 10)  # part 2 never arrives
    new = parts("X" * 153 + "Y" * 153 + "Z" * 10, first_index=20)  # same sender, same reference 7
    for part in (old[0], old[2], *new):
        await sup.handle(part)
    assert [b["text"] for b in await bodies(db, "receive_sms")] == [
        "A" * 153 + "C" * 10,
        "X" * 153 + "Y" * 153 + "Z" * 10,
    ]
    rows = await db.fetchall("SELECT complete, parts FROM received ORDER BY id")
    assert [tuple(r) for r in rows] == [(0, 2), (1, 3)]


async def test_an_incomplete_multipart_is_delivered_with_what_arrived_after_the_timeout(
    ctx: PhoneContext, sup: PhoneSupervisor, clock: ManualClock, db: Database
) -> None:
    ctx.multipart_timeout = 600.0
    first, _, third = parts("A" * 153 + "B" * 153 + "C" * 10)
    for part in (first, third, first):  # the last one is a repeat
        await sup.handle(part)
    clock.advance(599.0)
    assert await flush_expired_multiparts(ctx) == 0  # not old enough yet
    assert await db.fetchall("SELECT * FROM received") == []
    clock.advance(1.0)
    assert await flush_expired_multiparts(ctx) == 1
    row = await db.fetchone("SELECT text, complete, parts FROM received")
    assert row is not None and tuple(row) == ("A" * 153 + "C" * 10, 0, 2)
    assert [b["text"] for b in await bodies(db, "receive_sms")] == ["A" * 153 + "C" * 10]
    assert await flush_expired_multiparts(ctx) == 0  # delivered once


async def test_delivering_a_multipart_whose_parts_are_gone_emits_no_empty_sms(
    ctx: PhoneContext, db: Database
) -> None:
    # The housekeeping job picked an expired message, then the supervisor completed it before the
    # job's transaction ran: the job finds no part and must not deliver an empty text.
    async with db.transaction() as conn:
        rid = await deliver_multipart(ctx, conn, PartKey(1, "+33612345678", 7, 3), complete=False)
    assert rid is None
    assert (
        await db.fetchall("SELECT * FROM received") == [] and await db.fetchall("SELECT * FROM outbox") == []
    )


@pytest.mark.parametrize("index", [3, None], ids=["stored", "handed-over-directly"])
async def test_a_take_in_the_store_refuses_is_retried_on_the_clock_and_nothing_is_deleted_meanwhile(
    ctx: PhoneContext, backend: FakeBackend, db: Database, index: int | None
) -> None:
    class RepairedDuringTheFirstWait(ManualClock):
        async def sleep(self, seconds: float) -> None:
            assert backend.deleted == []  # nothing freed while it is not committed
            async with db.transaction() as conn:
                await conn.execute("ALTER TABLE received_away RENAME TO received")
            await super().sleep(seconds)

    ctx.clock = clock = RepairedDuringTheFirstWait()
    async with db.transaction() as conn:  # the store breaks: every take-in fails
        await conn.execute("ALTER TABLE received RENAME TO received_away")
    sup = PhoneSupervisor(PhoneConfig(id=1, device="/dev/x"), backend, ctx, take_in_retries=(1.0, 2.0))
    await sup.handle(sms("survives a broken store", index=index))  # +CMT: the only copy is this event
    assert clock.monotonic() == 1.0  # one wait, then it went in
    assert [b["text"] for b in await bodies(db, "receive_sms")] == ["survives a broken store"]
    assert backend.deleted == ([("SM", 3)] if index is not None else [])


async def test_a_stored_message_given_up_on_stays_on_the_sim(
    sup: PhoneSupervisor, backend: FakeBackend, clock: ManualClock, db: Database
) -> None:
    async with db.transaction() as conn:
        await conn.execute("ALTER TABLE received RENAME TO received_away")
    await sup.handle(sms("kept on the SIM"))
    assert backend.deleted == []  # it comes again after a reconnect or restart
    assert clock.monotonic() >= 3.0  # both retries were slept on the clock


async def test_a_report_that_matches_nothing_yet_is_kept_for_the_sender(
    sup: PhoneSupervisor, backend: FakeBackend, db: Database
) -> None:
    hex_pdu = encode_status_report(42, "+33698765432", status=0, scts=SCTS, discharge=SCTS)
    report = decode(hex_pdu)
    assert isinstance(report, StatusReportPdu)
    await sup.handle(ReportReceived(index=2, storage="SR", pdu=hex_pdu, report=report))
    row = await db.fetchone("SELECT mr, number, outcome FROM unmatched_report")
    assert row is not None and tuple(row) == (42, "+33698765432", "delivered")
    assert backend.deleted == [("SR", 2)]


async def test_a_sim_wanting_a_code_stops_the_phone_after_one_try_and_says_why(
    sup: PhoneSupervisor, backend: FakeBackend
) -> None:
    backend.start_errors = [CmeError(16, "the SIM refused the configured PIN")]
    await asyncio.wait_for(sup.run(), 5)  # returns: no retry
    assert backend.starts == 1
    status = sup.status()
    assert status.state == "disconnected" and "+CME ERROR: 16" in (status.error or "")


async def test_a_failed_start_is_retried_after_the_backoff_on_the_clock(
    ctx: PhoneContext, backend: FakeBackend, clock: ManualClock
) -> None:
    backend.start_errors = [ModemGone("unplugged"), ModemGone("unplugged")]
    up = asyncio.Event()
    sup = PhoneSupervisor(
        PhoneConfig(id=1, device="/dev/x"), backend, ctx, start_backoff=(5.0, 7.0), on_connected=up.set
    )
    running = asyncio.create_task(sup.run())
    await asyncio.wait_for(up.wait(), 5)
    assert backend.starts == 3 and clock.monotonic() >= 12.0
    assert sup.status().state == "connected" and sup.status().imei == "356938035643809"
    await backend.stop()
    await asyncio.wait_for(running, 5)


async def test_link_events_and_signal_update_the_status_and_the_phone_table(
    sup: PhoneSupervisor, db: Database
) -> None:
    await sup.handle(Reconnected())
    await sup.handle(SignalChanged(rssi=9))
    assert (sup.status().state, sup.status().signal) == ("connected", 9)
    await sup.handle(Disconnected("unplugged"))
    assert sup.status().state == "disconnected"
    row = await db.fetchone("SELECT status, imei FROM phone WHERE id = 1")
    assert row is not None and tuple(row) == ("disconnected", "356938035643809")


async def test_a_call_is_one_webhook_at_its_first_ring_and_ends_its_row(
    sup: PhoneSupervisor, clock: ManualClock, db: Database
) -> None:
    await sup.handle(CallRinging("+33644556677"))
    await sup.handle(CallRinging("+33644556677"))
    clock.advance(8.0)
    await sup.handle(CallEnded())
    (body,) = await bodies(db, "inbound_call")
    assert (body["origin"], body["end"], body["direction"]) == ("+33644556677", None, "inbound")
    row = await db.fetchone("SELECT rings, end - start FROM call")
    assert row is not None and tuple(row) == (2, 8.0)


async def test_a_phone_set_to_hang_up_does_so_at_the_nth_ring(
    ctx: PhoneContext, backend: FakeBackend
) -> None:
    sup = PhoneSupervisor(PhoneConfig(id=1, device="/dev/x", hangup_calls=2), backend, ctx)
    await sup.handle(CallRinging(None))
    assert backend.hangups == 0
    await sup.handle(CallRinging(None))
    assert backend.hangups == 1
    row = await ctx.db.fetchone("SELECT origin, rings, end IS NOT NULL FROM call")
    assert row is not None and tuple(row) == (None, 2, 1)


# --- batches: messages ready together share one durable commit -------------------------------------------


def count_durable_commits(monkeypatch: pytest.MonkeyPatch, db: Database) -> list[None]:
    """One entry per durable transaction committed from now on (each costs the fsync a batch shares)."""
    commits: list[None] = []
    real = db.transaction

    @contextlib.asynccontextmanager
    async def counting(*, durable: bool = True) -> AsyncIterator[object]:
        async with real(durable=durable) as conn:
            yield conn
        if durable:
            commits.append(None)

    monkeypatch.setattr(db, "transaction", counting)
    return commits


def committed_at_each_delete(backend: FakeBackend, db: Database) -> list[int]:
    """How many received rows were committed when each delete reached the modem."""
    seen: list[int] = []

    async def look(index: int, storage: str) -> None:
        row = await db.reads.fetchone("SELECT COUNT(*) FROM received")
        assert row is not None
        seen.append(row[0])

    backend.on_delete = look
    return seen


async def run_until_deleted(sup: PhoneSupervisor, backend: FakeBackend, n: int) -> None:
    """Run the supervisor until ``n`` deletes reached the modem, then stop it."""
    reached = asyncio.Event()
    look = backend.on_delete

    async def count(index: int, storage: str) -> None:
        if look is not None:
            await look(index, storage)
        if len(backend.deleted) + 1 >= n:  # this one is the n-th
            reached.set()

    backend.on_delete = count
    running = asyncio.create_task(sup.run())
    try:
        await asyncio.wait_for(reached.wait(), 5)
        await asyncio.sleep(0)  # the n-th delete completes
    finally:
        await backend.stop()
        await asyncio.wait_for(running, 5)


async def test_messages_ready_together_are_committed_as_one_batch_before_any_slot_is_freed(
    sup: PhoneSupervisor, backend: FakeBackend, db: Database
) -> None:
    at_delete = committed_at_each_delete(backend, db)
    backend.push(*(sms(f"burst {i}", index=i) for i in range(1, 6)))  # a sweep's listing: all ready
    await run_until_deleted(sup, backend, 5)
    assert at_delete == [5] * 5  # one at a time, the first delete would have seen 1
    assert backend.deleted == [("SM", i) for i in range(1, 6)]
    assert [b["text"] for b in await bodies(db, "receive_sms")] == [f"burst {i}" for i in range(1, 6)]


async def test_a_batch_costs_one_durable_commit_and_a_lone_message_one(
    sup: PhoneSupervisor, backend: FakeBackend, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = count_durable_commits(monkeypatch, db)
    await sup.handle_batch([sms(f"together {i}", index=i) for i in range(1, 9)])
    assert len(commits) == 1 and len(backend.deleted) == 8
    await sup.handle(sms("alone", index=20))
    assert len(commits) == 2 and len(await bodies(db, "receive_sms")) == 9


async def test_a_lone_message_is_taken_in_without_waiting_for_company(
    sup: PhoneSupervisor, backend: FakeBackend, clock: ManualClock, db: Database
) -> None:
    start = clock.monotonic()
    backend.push(sms("nobody follows"))
    await run_until_deleted(sup, backend, 1)  # nothing else ever comes: it still goes in
    assert clock.monotonic() == start  # no batching window on the clock either
    assert [b["text"] for b in await bodies(db, "receive_sms")] == ["nobody follows"]


async def test_a_message_the_store_refuses_holds_back_none_of_its_batch(
    sup: PhoneSupervisor, backend: FakeBackend, db: Database
) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON received WHEN NEW.text = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    await sup.handle_batch([sms("before", index=1), sms("poison", index=2), sms("after", index=3)])
    assert [b["text"] for b in await bodies(db, "receive_sms")] == ["before", "after"]
    assert backend.deleted == [("SM", 1), ("SM", 3)]  # the refused one stays on the SIM


async def test_a_batch_arriving_while_degraded_is_held_then_taken_in_with_one_commit(
    sup: PhoneSupervisor,
    backend: FakeBackend,
    db: Database,
    ctx: PhoneContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx.db.health.report(StorageFault(FaultKind.FULL, db.path))
    await sup.handle_batch([sms(f"held {i}", index=i) for i in range(1, 4)])
    assert sup.held == 3 and backend.deleted == [] and await bodies(db, "receive_sms") == []
    ctx.db.health.recovered()
    at_delete = committed_at_each_delete(backend, db)
    commits = count_durable_commits(monkeypatch, db)
    assert await sup.retake_held() == 0
    assert len(commits) == 1 and at_delete == [3, 3, 3]
    assert [b["text"] for b in await bodies(db, "receive_sms")] == ["held 1", "held 2", "held 3"]


async def test_the_same_message_twice_in_one_batch_is_one_sms_and_freed_once(
    sup: PhoneSupervisor, backend: FakeBackend, db: Database
) -> None:
    twice = sms("listed twice", index=4)
    await sup.handle_batch([twice, sms("other", index=5), twice])
    assert [b["text"] for b in await bodies(db, "receive_sms")] == ["listed twice", "other"]
    assert backend.deleted == [("SM", 4), ("SM", 5)]


async def test_parts_of_one_message_in_one_batch_make_one_sms(
    sup: PhoneSupervisor, backend: FakeBackend, db: Database
) -> None:
    pieces = parts("A" * 153 + "B" * 153 + "C" * 10)
    await sup.handle_batch([pieces[2], sms("between", index=30), pieces[0], pieces[1]])
    texts = [b["text"] for b in await bodies(db, "receive_sms")]
    assert texts == ["between", "A" * 153 + "B" * 153 + "C" * 10]
    assert sorted(backend.deleted) == sorted([("SM", 30)] + [("SM", p.index) for p in pieces if p.index])
    assert await db.fetchall("SELECT * FROM multipart_part") == []


async def test_an_event_that_is_not_a_message_ends_a_batch_and_keeps_its_place(
    sup: PhoneSupervisor, backend: FakeBackend
) -> None:
    links: list[PhoneState] = []

    async def look(index: int, storage: str) -> None:
        links.append(sup.link)

    backend.on_delete = look
    backend.push(sms("before the loss", index=1), Disconnected("unplugged"), sms("after it", index=2))
    await run_until_deleted(sup, backend, 2)
    assert links == [PhoneState.CONNECTED, PhoneState.DISCONNECTED]
