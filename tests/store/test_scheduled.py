"""Scheduled SMS in the store: creation rules, cancelling, what falls due."""

from __future__ import annotations

from typing import Any

import pytest

from raspisms_daemon.errors import StoreError
from raspisms_daemon.store import phones, scheduled
from raspisms_daemon.store.db import Database
from raspisms_daemon.store.scheduled import NewNumber

NOW = 1_700_000_000.0


@pytest.fixture
async def db(db: Database) -> Database:
    async with db.transaction() as conn:
        await phones.upsert(conn, id=1, name="one", backend="at", device="/dev/x", enabled=True)
    return db


async def test_create_stores_the_numbers_as_given_in_order_with_their_data_and_text(db: Database) -> None:
    sid = await scheduled.create(
        db,
        text="hi {{ contact.n }}",
        numbers=[
            "+33612345679",
            NewNumber("+33612345678", '{"n":1}', "hi 1"),
            NewNumber("+33612345670", "[]", "", "empty text"),
        ],
        now=NOW,
        tag="t",
        id_phone_group=4,
    )
    sch = await scheduled.get(db, sid)
    assert sch is not None
    assert (await scheduled.numbers_of(db, [sid]))[sid] == ["+33612345679", "+33612345678", "+33612345670"]
    rows = [tuple(r) for r in await scheduled.number_rows(db, [sid])]
    assert [r[2:] for r in rows] == [
        ("+33612345679", "[]", None, None),
        ("+33612345678", '{"n":1}', "hi 1", None),
        ("+33612345670", "[]", "", "empty text"),
    ]
    assert (sch.tag, sch.text, sch.id_phone, sch.at, sch.state, sch.id_phone_group) == (
        "t",
        "hi {{ contact.n }}",
        None,
        NOW,
        "pending",
        4,
    )
    # The skipped number is never to send; the others are.
    assert [d.number for d in await scheduled.unsent_numbers(db, sid)] == ["+33612345679", "+33612345678"]
    assert [d.text for d in await scheduled.unsent_numbers(db, sid)] == [None, "hi 1"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": "", "numbers": ["+331"]}, "text"),
        ({"text": "x", "numbers": []}, "number"),
        ({"text": "x", "numbers": ["+33612345678"], "id_phone": 9}, "unknown phone"),
    ],
)
async def test_create_refuses_bad_input_with_a_clear_message(
    db: Database, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(StoreError, match=message):
        await scheduled.create(db, now=NOW, **kwargs)


async def test_cancel_only_takes_a_pending_sms(db: Database) -> None:
    sid = await scheduled.create(db, text="m", numbers=["+33612345678"], now=NOW)
    assert await scheduled.cancel(db, sid) is True
    assert await scheduled.cancel(db, sid) is False  # already cancelled
    assert await scheduled.cancel(db, 999) is False
    sch = await scheduled.get(db, sid)
    assert sch is not None and sch.state == "cancelled"


async def test_due_is_the_pending_sms_whose_time_has_come_earliest_first(db: Database) -> None:
    later = await scheduled.create(db, text="later", numbers=["+33612345678"], now=NOW, at=NOW + 60)
    first = await scheduled.create(db, text="first", numbers=["+33612345678"], now=NOW, at=NOW - 5)
    second = await scheduled.create(db, text="second", numbers=["+33612345678"], now=NOW)
    assert [s.id for s in await scheduled.due(db, now=NOW, limit=10)] == [first, second]
    assert [s.id for s in await scheduled.due(db, now=NOW, limit=1)] == [first]
    assert await scheduled.next_due_at(db, after=NOW) == NOW + 60
    assert [s.id for s in await scheduled.due(db, now=NOW + 60, limit=10)] == [first, second, later]


async def sent_to(db: Database, sid: int, dest: scheduled.Destination) -> None:
    """``dest``'s sended row, then ``finish``, in one transaction (as the sender records an SMS)."""
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO sended (at, text, destination, scheduled_number, originating_scheduled) "
            "VALUES (?, 'x', ?, ?, ?)",
            (NOW, dest.number, dest.id, sid),
        )
        await scheduled.finish(conn, sid)


async def test_a_scheduled_sms_is_not_done_while_an_earlier_number_waits_behind_a_later_one_sent(
    db: Database,
) -> None:
    # finish looks from the last number (cheap while sending in order); any order must still hold.
    sid = await scheduled.create(db, text="x", numbers=[f"+3361111111{i}" for i in range(3)], now=NOW)
    first, middle, last = await scheduled.unsent_numbers(db, sid)
    for dest, done in ((last, "pending"), (first, "pending"), (middle, "done")):
        await sent_to(db, sid, dest)
        assert (sch := await scheduled.get(db, sid)) is not None and sch.state == done


async def test_a_scheduled_sms_is_done_once_every_number_has_its_sended_row(db: Database) -> None:
    sid = await scheduled.create(db, text="x", numbers=["+33611111111", "+33622222222"], now=NOW)
    sch = await scheduled.get(db, sid)
    assert sch is not None
    first, second = await scheduled.unsent_numbers(db, sid)
    await sent_to(db, sid, first)
    assert await scheduled.unsent_numbers(db, sid) == [second]
    assert (sch := await scheduled.get(db, sid)) is not None and sch.state == "pending"
    await sent_to(db, sid, second)
    assert (sch := await scheduled.get(db, sid)) is not None and sch.state == "done"
