"""RaspiSMS-style paged lists of sent, received and scheduled SMS, phones and calls (read-only).

Times stay unix seconds here; :attr:`Page.times` names the columns that hold one, and the API formats
them as RaspiSMS shows dates.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import StoreError
from . import scheduled as scheduled_store
from .db import Database

__all__ = ["PAGE_SIZE", "Page", "calls", "phones", "received", "scheduled", "sended"]

PAGE_SIZE = 25  # RaspiSMS's API list page size


@dataclass(frozen=True)
class Page:
    """One page of a list; ``page`` is 0-based as in ``/api/list/{type}/{page}/``."""

    rows: list[dict[str, Any]]
    page: int
    has_next: bool
    times: tuple[str, ...] = ()

    @property
    def has_prev(self) -> bool:
        return self.page > 0


async def phones(db: Database, page: int = 0, limit: int = PAGE_SIZE) -> Page:
    return await _list(
        db,
        "SELECT id, name, backend, device, status, imei, iccid, operator, signal, registration, last_seen, "
        "disabled_reason FROM phone ORDER BY id",
        page,
        limit,
        times=("last_seen",),
    )


async def scheduled(db: Database, page: int = 0, limit: int = PAGE_SIZE) -> Page:
    """Scheduled SMS not sent yet (RaspiSMS removes a scheduled row once sent), oldest due first."""
    rows = await _page(
        db,
        "SELECT id, id_user, at, text, id_phone, flash, tag, mms, state FROM scheduled "
        "WHERE state = 'pending' ORDER BY at, id",
        (),
        page,
        limit,
    )
    numbers = await scheduled_store.numbers_of(db, [r["id"] for r in rows])
    return _mk_page([{**dict(r), "numbers": numbers[r["id"]]} for r in rows], page, limit, ("at",))


async def sended(db: Database, page: int = 0, limit: int = PAGE_SIZE) -> Page:
    """Sent SMS, newest first, with RaspiSMS's fields (status: unknown | delivered | failed)."""
    return await _list(
        db,
        "SELECT id, at, text, destination, id_phone, status, flash, uid, tag, mms, originating_scheduled "
        "FROM sended ORDER BY id DESC",
        page,
        limit,
        times=("at",),
    )


async def received(db: Database, page: int = 0, limit: int = PAGE_SIZE) -> Page:
    """Received SMS, newest first, with RaspiSMS's fields."""
    return await _list(
        db,
        "SELECT id, at, text, origin, id_phone, status, command, mms FROM received ORDER BY id DESC",
        page,
        limit,
        times=("at",),
    )


async def calls(db: Database, page: int = 0, limit: int = PAGE_SIZE) -> Page:
    return await _list(
        db,
        "SELECT id, id_user, id_phone, uid, start, end, direction, origin, destination FROM call "
        "ORDER BY id DESC",
        page,
        limit,
        times=("start", "end"),
    )


async def _list(db: Database, sql: str, page: int, limit: int, *, times: tuple[str, ...]) -> Page:
    rows = await _page(db, sql, (), page, limit)
    return _mk_page([dict(r) for r in rows], page, limit, times)


async def _page(db: Database, sql: str, params: Sequence[Any], page: int, limit: int) -> list[sqlite3.Row]:
    if page < 0 or limit < 1:
        raise StoreError("page must be >= 0 and limit >= 1")
    # one row more than asked tells whether there is a next page
    return list(await db.fetchall(f"{sql} LIMIT ? OFFSET ?", (*params, limit + 1, page * limit)))


def _mk_page(rows: list[dict[str, Any]], page: int, limit: int, times: tuple[str, ...]) -> Page:
    return Page(rows=rows[:limit], page=page, has_next=len(rows) > limit, times=times)
