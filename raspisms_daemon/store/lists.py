"""RaspiSMS's paged lists (``GET /api/list/{type}/``) of sent, received and scheduled SMS, phones and
calls (read-only): 25 rows by id, oldest first, a page number or a cursor (``after``/``before`` an id),
as RaspiSMS's ``StandardModel::list_for_user`` (models/StandardModel.php:78-89).

Rows carry RaspiSMS's keys in its column order (db/migrations, replayed), then ours. Times stay unix
seconds here; :attr:`Page.times` names the keys that hold one, and the API formats them as RaspiSMS
shows dates.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, NamedTuple

from ..errors import StoreError
from . import scheduled as scheduled_store
from .db import Database

__all__ = ["PAGE_SIZE", "Cursor", "Page", "calls", "phones", "received", "scheduled", "sended"]

PAGE_SIZE = 25  # RaspiSMS's API list page size (controllers/publics/Api.php:153)

# Our phone states as RaspiSMS's phone statuses (models/Phone.php:17-21).
_PHONE_STATUS = (
    "CASE t.status WHEN 'connected' THEN 'available' WHEN 'disabled' THEN 'disabled' ELSE 'unavailable' END"
)


class Cursor(NamedTuple):
    """Which rows: page ``page`` (0-based), or the ids just after ``after``, or just before ``before``."""

    page: int = 0
    after: int | None = None
    before: int | None = None


_FIRST_PAGE = Cursor()  # the default cursor: page 0


class Page(NamedTuple):
    rows: list[dict[str, Any]]
    times: tuple[str, ...] = ()


async def _rows(
    db: Database, select: str, cursor: Cursor, limit: int, *, where: str = "1", params: Sequence[Any] = ()
) -> list[sqlite3.Row]:
    """``select`` (with alias ``t`` for the listed table) in id order, under ``cursor``."""
    if limit < 1:
        raise StoreError("limit must be >= 1")
    if cursor.after is not None:
        return await db.fetchall(
            f"{select} WHERE {where} AND t.id > ? ORDER BY t.id LIMIT ?", (*params, cursor.after, limit)
        )
    if cursor.before is not None:
        # The ids closest below the cursor, shown oldest first (RaspiSMS reverses its DESC query).
        rows = await db.fetchall(
            f"{select} WHERE {where} AND t.id < ? ORDER BY t.id DESC LIMIT ?", (*params, cursor.before, limit)
        )
        return rows[::-1]
    if cursor.page < 0:
        raise StoreError("page must be >= 0")
    return await db.fetchall(
        f"{select} WHERE {where} ORDER BY t.id LIMIT ? OFFSET ?", (*params, limit, cursor.page * limit)
    )


async def sended(
    db: Database, cursor: Cursor = _FIRST_PAGE, *, id_user: int = 1, limit: int = PAGE_SIZE
) -> Page:
    """Sent SMS (status: unknown | delivered | failed); then ours: ``state`` and ``error``."""
    rows = await _rows(
        db,
        "SELECT t.id, t.at, t.text, t.destination, t.flash, t.status, t.uid, "
        "COALESCE(p.backend, '') AS adapter, ? AS id_user, t.id_phone, t.mms, t.originating_scheduled, "
        "t.at AS created_at, t.final_at AS updated_at, t.tag, t.state, t.error "
        "FROM sended t LEFT JOIN phone p ON p.id = t.id_phone",
        cursor,
        limit,
        params=(id_user,),
    )
    out = []
    for r in rows:
        row = dict(r)
        extra = {"state": row.pop("state"), "error": row.pop("error")}
        out.append({**row, "medias": [], **extra})
    return Page(out, ("at", "created_at", "updated_at"))


async def received(
    db: Database, cursor: Cursor = _FIRST_PAGE, *, id_user: int = 1, limit: int = PAGE_SIZE
) -> Page:
    """Received SMS, with RaspiSMS's fields."""
    rows = await _rows(
        db,
        "SELECT t.id, t.at, t.text, t.origin, t.command, t.status, ? AS id_user, t.id_phone, t.mms, "
        "t.at AS created_at, NULL AS updated_at FROM received t",
        cursor,
        limit,
        params=(id_user,),
    )
    return Page([{**dict(r), "medias": []} for r in rows], ("at", "created_at"))


async def scheduled(db: Database, cursor: Cursor = _FIRST_PAGE, *, limit: int = PAGE_SIZE) -> Page:
    """Scheduled SMS not sent yet (RaspiSMS deletes a scheduled row once it is sent), each with its
    numbers (``{id, id_scheduled, number, data, created_at, updated_at}``, plus ours: ``text`` rendered
    for it, ``skipped``) and RaspiSMS's empty ``contacts``, ``groups``, ``conditional_groups``, ``medias``."""
    rows = await _rows(
        db,
        "SELECT t.id, t.id_user, t.at, t.text, t.flash, t.id_phone, t.id_phone_group, t.mms, t.created_at, "
        "NULL AS updated_at, t.tag FROM scheduled t",
        cursor,
        limit,
        where="t.state = 'pending'",
    )
    numbers: dict[int, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
    created = {r["id"]: r["created_at"] for r in rows}
    for n in await scheduled_store.number_rows(db, list(numbers)):
        numbers[n["id_scheduled"]].append(
            {
                "id": n["id"],
                "id_scheduled": n["id_scheduled"],
                "number": n["number"],
                "data": n["data"],
                "created_at": created[n["id_scheduled"]],
                "updated_at": None,
                "text": n["text"],
                "skipped": n["skipped"],
            }
        )
    out = [
        {
            **dict(r),
            "numbers": numbers[r["id"]],
            "contacts": [],
            "groups": [],
            "conditional_groups": [],
            "medias": [],
        }
        for r in rows
    ]
    return Page(out, ("at", "created_at"))


async def phones(
    db: Database,
    cursor: Cursor = _FIRST_PAGE,
    *,
    ids: Sequence[int],
    id_user: int = 1,
    limit: int = PAGE_SIZE,
) -> Page:
    """The configured phones (``ids``), with RaspiSMS's fields (``adapter`` is the backend,
    ``adapter_data`` the device as JSON, ``status`` available | unavailable | disabled), then ours."""
    if not ids:
        return Page([])
    marks = ",".join("?" * len(ids))
    rows = await _rows(
        db,
        f"SELECT t.id, ? AS id_user, t.backend AS adapter, json_object('device', t.device) AS adapter_data, "
        f"t.name, t.priority, NULL AS created_at, NULL AS updated_at, "
        f"{_PHONE_STATUS} AS status, t.id_phone_group, t.device, t.imei, t.iccid, "
        "t.operator, t.signal, t.registration, t.last_seen, t.disabled_reason FROM phone t",
        cursor,
        limit,
        where=f"t.id IN ({marks})",
        params=(id_user, *ids),
    )
    return Page([dict(r) for r in rows], ("last_seen",))


async def calls(db: Database, cursor: Cursor = _FIRST_PAGE, *, limit: int = PAGE_SIZE) -> Page:
    """Calls (ours: RaspiSMS has no call list)."""
    rows = await _rows(
        db,
        "SELECT t.id, t.id_user, t.id_phone, t.uid, t.start, t.end, t.direction, t.origin, t.destination "
        "FROM call t",
        cursor,
        limit,
    )
    return Page([dict(r) for r in rows], ("start", "end"))
