"""RaspiSMS's paged lists: id order, pages and cursors as models/StandardModel.php:78-89 reads them,
RaspiSMS's keys in its column order, and the time columns left for the API to format."""

from __future__ import annotations

import pytest

from raspisms_daemon.store import lists, phones, scheduled
from raspisms_daemon.store.db import Database
from raspisms_daemon.store.lists import Cursor
from raspisms_daemon.store.scheduled import NewNumber

NOW = 1_700_000_000.0


@pytest.fixture
async def db(db: Database) -> Database:
    async with db.transaction() as conn:
        await phones.upsert(
            conn, id=1, name="one", backend="at", device="/dev/x", enabled=True, group=2, priority=3
        )
        await phones.upsert(conn, id=7, name="gone", backend="at", device="/dev/y", enabled=True)
    return db


async def insert_received(db: Database, n: int) -> list[int]:
    async with db.transaction() as conn:
        for i in range(n):
            await conn.execute(
                "INSERT INTO received (at, text, origin, id_phone) VALUES (?, ?, '+33612345678', 1)",
                (NOW + i, f"r{i}"),
            )
    return [r[0] for r in await db.fetchall("SELECT id FROM received ORDER BY id")]


@pytest.mark.parametrize(
    ("cursor", "expected"),
    [
        (Cursor(), range(1, 26)),  # oldest first, 25 a page
        (Cursor(page=1), range(26, 51)),
        (Cursor(page=2), range(51, 61)),
        (Cursor(page=3), range(0)),
        (Cursor(after=50), range(51, 61)),  # no offset: the ids above the cursor
        (Cursor(after=0), range(1, 26)),
        (Cursor(before=40), range(15, 40)),  # the 25 ids closest below, still oldest first
        (Cursor(before=10), range(1, 10)),
        (Cursor(before=1), range(0)),
    ],
)
async def test_pages_and_cursors_follow_raspisms(db: Database, cursor: Cursor, expected: range) -> None:
    assert await insert_received(db, 60) == list(range(1, 61))
    page = await lists.received(db, cursor)
    assert [r["id"] for r in page.rows] == list(expected)


async def test_scheduled_lists_pending_sms_by_id_with_raspisms_number_rows(db: Database) -> None:
    later = await scheduled.create(db, text="later", numbers=["+33612345678"], now=NOW, at=NOW + 60)
    first = await scheduled.create(
        db,
        text="Hi {{ contact.name }}",
        numbers=[NewNumber("+33612345679", '{"name":"Jo"}', "Hi Jo")],
        now=NOW,
        id_phone_group=2,
        tag="t",
    )
    cancelled = await scheduled.create(db, text="x", numbers=["+33612345678"], now=NOW)
    await scheduled.cancel(db, cancelled)
    page = await lists.scheduled(db)
    assert [r["id"] for r in page.rows] == [later, first]  # by id, not by due time
    row = page.rows[1]
    assert list(row) == [
        "id",
        "id_user",
        "at",
        "text",
        "flash",
        "id_phone",
        "id_phone_group",
        "mms",
        "created_at",
        "updated_at",
        "tag",
        "numbers",
        "contacts",
        "groups",
        "conditional_groups",
        "medias",
    ]
    assert row["id_phone_group"] == 2 and row["tag"] == "t" and row["contacts"] == [] and row["medias"] == []
    (number,) = row["numbers"]
    assert number["number"] == "+33612345679" and number["data"] == '{"name":"Jo"}'
    assert number["id_scheduled"] == first and number["text"] == "Hi Jo" and number["skipped"] is None
    assert page.times == ("at", "created_at")


async def test_sended_and_received_rows_have_raspisms_keys_in_order_then_ours(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO sended (at, text, destination, id_phone, status, state, tag, uid) "
            "VALUES (?, 'a', '+331', 1, 'unknown', 'sent', 'x', 'u1')",
            (NOW,),
        )
    await insert_received(db, 1)
    sended = await lists.sended(db, id_user=4)
    assert list(sended.rows[0]) == [
        "id",
        "at",
        "text",
        "destination",
        "flash",
        "status",
        "uid",
        "adapter",
        "id_user",
        "id_phone",
        "mms",
        "originating_scheduled",
        "created_at",
        "updated_at",
        "tag",
        "medias",
        "state",
        "error",
    ]
    row = sended.rows[0]
    assert (row["adapter"], row["id_user"], row["at"], row["created_at"]) == ("at", 4, NOW, NOW)
    assert sended.times == ("at", "created_at", "updated_at")
    received = (await lists.received(db)).rows[0]
    assert list(received) == [
        "id",
        "at",
        "text",
        "origin",
        "command",
        "status",
        "id_user",
        "id_phone",
        "mms",
        "created_at",
        "updated_at",
        "medias",
    ]
    assert received["status"] == "unread" and received["medias"] == []


async def test_phones_are_the_configured_ones_with_raspisms_statuses(db: Database) -> None:
    async with db.transaction() as conn:
        await phones.set_disabled(conn, 1, at=NOW, reason="r")
        await conn.execute("UPDATE phone SET status = 'disabled' WHERE id = 1")
    rows = (await lists.phones(db, ids=[1])).rows
    assert [r["id"] for r in rows] == [1]  # phone 7 is no longer in the config
    assert rows[0]["status"] == "disabled" and rows[0]["priority"] == 3 and rows[0]["id_phone_group"] == 2
    assert rows[0]["adapter_data"] == '{"device":"/dev/x"}'
    async with db.transaction() as conn:
        await conn.execute("UPDATE phone SET status = 'connected' WHERE id = 7")
    assert [r["status"] for r in (await lists.phones(db, ids=[1, 7])).rows] == ["disabled", "available"]
    assert (await lists.phones(db, ids=[])).rows == []
