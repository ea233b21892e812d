"""The RaspiSMS-style paged lists: pages, fields, and the time columns left for the API to format."""

from __future__ import annotations

import pytest

from raspisms_daemon.store import lists, phones, scheduled
from raspisms_daemon.store.db import Database

NOW = 1_700_000_000.0


@pytest.fixture
async def db(db: Database) -> Database:
    async with db.transaction() as conn:
        await phones.upsert(conn, id=1, name="one", backend="at", device="/dev/x", enabled=True)
    return db


async def test_scheduled_pages_show_pending_sms_with_their_numbers(db: Database) -> None:
    ids = [await scheduled.create(db, text=f"m{i}", numbers=["+33612345678"], now=NOW + i) for i in range(3)]
    first = await lists.scheduled(db, page=0, limit=2)
    assert [r["id"] for r in first.rows] == ids[:2] and first.has_next and not first.has_prev
    assert first.rows[0]["numbers"] == ["+33612345678"] and first.times == ("at",)
    second = await lists.scheduled(db, page=1, limit=2)
    assert [r["id"] for r in second.rows] == ids[2:] and not second.has_next and second.has_prev
    await scheduled.cancel(db, ids[0])
    assert [r["id"] for r in (await lists.scheduled(db)).rows] == ids[1:]


async def test_sended_received_and_phones_use_raspisms_fields(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO sended (at, text, destination, id_phone, status, state, tag) "
            "VALUES (?, 'a', '+331', 1, 'unknown', 'sent', 'x')",
            (NOW,),
        )
        await conn.execute(
            "INSERT INTO received (at, text, origin, id_phone) VALUES (?, 'b', '+332', 1)", (NOW,)
        )
    sended = await lists.sended(db)
    assert sended.rows[0]["destination"] == "+331" and sended.rows[0]["at"] == NOW and sended.times == ("at",)
    assert set(sended.rows[0]) == {
        "id",
        "at",
        "text",
        "destination",
        "id_phone",
        "status",
        "flash",
        "uid",
        "tag",
        "mms",
        "originating_scheduled",
    }
    received = (await lists.received(db)).rows
    assert received[0]["origin"] == "+332" and received[0]["status"] == "unread"
    phone_rows = (await lists.phones(db)).rows
    assert phone_rows[0]["id"] == 1 and phone_rows[0]["status"] == "disconnected"
