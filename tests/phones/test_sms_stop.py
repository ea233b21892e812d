"""SMS STOP on reception (RaspbianFrance/raspisms@5e2b030:controllers/internals/Received.php:113-137,
SmsStop.php:74-78): which texts are STOP requests, the list, the one reply and its tag."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from raspisms_daemon.clock import ManualClock
from raspisms_daemon.gsm.modem import SmsReceived
from raspisms_daemon.gsm.pdu import DeliverPdu, decode, encode_deliver
from raspisms_daemon.phones import intake, jobs
from raspisms_daemon.phones.context import PhoneContext
from raspisms_daemon.phones.sms_stop import is_stop_request
from raspisms_daemon.store import smsstop
from raspisms_daemon.store.db import Database
from tests.helpers.fake_backend import phone_context

SCTS = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FROM = "+33612345678"


@pytest.mark.parametrize(
    ("text", "stop"),
    [
        ("stop", True),
        ("STOP", True),
        ("Stop", True),
        ("  stop\n", True),
        ("\tSTOP SMS\r\n", True),
        ("stop sms", True),
        ("STOP.", False),
        ("Stop!", False),
        ("STOPSMS", False),
        ("stop  sms", False),
        ("stop please", False),
        ("arrêt", False),
        ("", False),
    ],
)
def test_a_stop_request_is_exactly_stop_or_stop_sms_trimmed_in_any_case(text: str, stop: bool) -> None:
    assert is_stop_request(text) is stop


def sms(text: str, index: int, number: str = FROM) -> SmsReceived:
    pdus = encode_deliver(number, text, scts=SCTS, concat_ref=9)
    messages = [decode(p) for p in pdus]
    assert len(messages) == 1 and isinstance(messages[0], DeliverPdu)
    return SmsReceived(index=index, storage="SM", pdu=pdus[0], message=messages[0])


@pytest.fixture
async def ctx(db: Database) -> PhoneContext:
    ctx = await phone_context(db, ManualClock(1_767_323_045.0), phone_ids=(1, 2))
    ctx.stop_reply = "Bien reçu {{ contact_metas.number }}, plus de SMS."
    return ctx


async def replies(db: Database) -> list[tuple[object, ...]]:
    rows = await db.fetchall(
        "SELECT s.text, s.id_phone, s.tag, n.number FROM scheduled s JOIN scheduled_number n "
        "ON n.id_scheduled = s.id ORDER BY s.id"
    )
    return [tuple(r) for r in rows]


async def test_the_first_stop_lists_the_number_and_schedules_the_one_reply(
    ctx: PhoneContext, db: Database
) -> None:
    woken: list[int] = []
    ctx.wake_sender = lambda: woken.append(1)
    (taken,) = await intake.take_in(ctx, 2, [sms("Stop", 1)])
    rid = taken.received_id
    (entry,) = await smsstop.entries(db)
    assert (entry.number, entry.id_phone, entry.id_received, entry.at) == (FROM, 2, rid, ctx.now())
    # Templated like any SMS, sent by the phone that received the STOP, tagged so the list lets it through.
    assert await replies(db) == [(f"Bien reçu {FROM}, plus de SMS.", 2, "SMS_STOP", FROM)]
    assert woken == [1]
    # The received SMS and its webhook are there as for any SMS.
    assert (await db.fetchone("SELECT text FROM received WHERE id = ?", (rid,)))[0] == "Stop"  # type: ignore[index]
    await intake.take_in(ctx, 1, [sms("STOP SMS", 2)])
    assert len(await smsstop.entries(db)) == 1 and len(await replies(db)) == 1  # no second reply


async def test_no_reply_without_a_reply_text_or_with_sms_stop_off_but_the_number_is_listed(
    ctx: PhoneContext, db: Database
) -> None:
    ctx.stop_reply = ""
    await intake.take_in(ctx, 1, [sms("stop", 1)])
    ctx.stop_reply, ctx.sms_stop = "bye", False
    await intake.take_in(ctx, 1, [sms("stop", 2, number="+33611111111")])
    assert [e.number for e in await smsstop.entries(db)] == [FROM, "+33611111111"]
    assert await replies(db) == []


async def test_a_plain_text_reply_is_sent_as_written_when_templating_is_off(
    ctx: PhoneContext, db: Database
) -> None:
    ctx.templating, ctx.stop_reply = False, "{{ as is }}"
    await intake.take_in(ctx, 1, [sms("stop", 1)])
    assert await replies(db) == [("{{ as is }}", 1, "SMS_STOP", FROM)]


async def test_other_texts_change_nothing(ctx: PhoneContext, db: Database) -> None:
    await intake.take_in(ctx, 1, [sms("stop it", 1)])
    assert await smsstop.entries(db) == [] and await replies(db) == []


def parts(text: str, first_index: int, number: str = FROM) -> list[SmsReceived]:
    out = []
    for i, pdu in enumerate(encode_deliver(number, text, scts=SCTS, concat_ref=9)):
        message = decode(pdu)
        assert isinstance(message, DeliverPdu) and message.concat is not None
        out.append(SmsReceived(index=first_index + i, storage="SM", pdu=pdu, message=message))
    return out


def committed_replies(db: Database) -> int:
    """Replies another connection can see: committed ones only."""
    with sqlite3.connect(db.path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM scheduled WHERE tag = 'SMS_STOP'").fetchone()[0])


@pytest.mark.parametrize("how", ["completed", "expired"])
async def test_a_stop_in_a_multipart_message_wakes_the_sender_once_its_reply_is_committed(
    ctx: PhoneContext, db: Database, how: str
) -> None:
    # A sender woken before the commit finds nothing and sleeps until its next poll (up to 30 s).
    woken: list[int] = []
    ctx.wake_sender = lambda: woken.append(committed_replies(db))
    stop = parts("STOP" + " " * 200, 1)  # two parts, a STOP request once trimmed
    if how == "completed":
        await intake.take_in(ctx, 1, stop)
    else:
        await intake.take_in(ctx, 1, stop[:1])
        assert woken == []
        assert isinstance(ctx.clock, ManualClock)
        ctx.clock.advance(ctx.multipart_timeout + 1)
        assert await jobs.flush_expired_multiparts(ctx) == 1
    assert [e.number for e in await smsstop.entries(db)] == [FROM]
    assert woken == [1]
