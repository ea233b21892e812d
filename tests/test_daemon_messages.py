"""The message-table queries the API uses (store/messages.py) on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from raspisms_daemon.errors import StoreError
from raspisms_daemon.store import messages
from raspisms_daemon.store.db import Database, open_database

NOW = 1_700_000_000.0


@pytest.fixture
async def db(tmp_path: Path):
    database = await open_database(tmp_path / "db.sqlite3")
    async with database.transaction() as conn:
        await messages.upsert_phone(conn, id=1, name="one", backend="at", device="/dev/x", enabled=True)
    yield database
    await database.close()


async def test_create_scheduled_normalises_and_deduplicates_numbers(db: Database) -> None:
    sid = await messages.create_scheduled(
        db, text="hi", numbers=["+33 6 12 34 56 78", "0033612345678", "0612345678"], now=NOW, tag="t"
    )
    row = await messages.get_scheduled(db, sid)
    assert row is not None
    assert row["numbers"] == ["+33612345678", "0612345678"]
    assert row["tag"] == "t" and row["text"] == "hi" and row["id_phone"] is None
    assert row["at"] == messages.fmt_time(NOW)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": "", "numbers": ["+331"]}, "text"),
        ({"text": "x", "numbers": []}, "number"),
        ({"text": "x", "numbers": ["abc"]}, "invalid phone number"),
        ({"text": "x", "numbers": ["+33612345678"], "id_phone": 9}, "unknown phone"),
    ],
)
async def test_create_scheduled_refuses_bad_input_with_a_clear_message(
    db: Database, kwargs: dict, message: str
) -> None:
    with pytest.raises(StoreError, match=message):
        await messages.create_scheduled(db, now=NOW, **kwargs)


async def test_list_scheduled_pages_and_delete_cancels_only_pending(db: Database) -> None:
    ids = [
        await messages.create_scheduled(db, text=f"m{i}", numbers=["+33612345678"], now=NOW + i)
        for i in range(3)
    ]
    first = await messages.list_scheduled(db, page=0, limit=2)
    assert [r["id"] for r in first.rows] == ids[:2] and first.has_next and not first.has_prev
    second = await messages.list_scheduled(db, page=1, limit=2)
    assert [r["id"] for r in second.rows] == ids[2:] and not second.has_next and second.has_prev
    assert await messages.delete_scheduled(db, ids[0]) is True
    assert await messages.delete_scheduled(db, ids[0]) is False  # already cancelled
    assert await messages.delete_scheduled(db, 999) is False
    assert [r["id"] for r in (await messages.list_scheduled(db)).rows] == ids[1:]


async def test_lists_of_sended_received_phones_use_raspisms_fields(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO sended (at, text, destination, id_phone, status, state, tag) "
            "VALUES (?, 'a', '+331', 1, 'unknown', 'sent', 'x')",
            (NOW,),
        )
        await conn.execute(
            "INSERT INTO received (at, text, origin, id_phone) VALUES (?, 'b', '+332', 1)", (NOW,)
        )
    sended = (await messages.list_sended(db)).rows
    assert sended[0]["destination"] == "+331" and sended[0]["at"] == messages.fmt_time(NOW)
    assert {
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
    } == set(sended[0])
    received = (await messages.list_received(db)).rows
    assert received[0]["origin"] == "+332" and received[0]["status"] == "unread"
    phones = (await messages.list_phones(db)).rows
    assert phones[0]["id"] == 1 and phones[0]["status"] == "disconnected"
