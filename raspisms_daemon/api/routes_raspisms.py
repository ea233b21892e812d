"""The RaspiSMS-compatible routes (RaspiSMS v3.9.5 ``controllers/publics/Api.php``), same shapes and codes.

Where we differ, on purpose: numbers that are not valid are refused (RaspiSMS drops them silently, an
SMS that never leaves is worse than a 400); ``mms``, contacts and groups are refused (GSM modems send no
MMS; we have no address book); ``next``/``prev`` links never carry the API key; a list type ``call`` is
added.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..clock import Clock
from ..dates import format_date, parse_date
from ..errors import StoreError
from ..store import lists
from ..store import scheduled as scheduled_store
from ..store.db import Database
from .control import CLOCK, CONTROL
from .envelope import ApiError, Code, json_response
from .params import bad, missing, opt_bool, opt_int, opt_str, read_params, str_list

__all__ = ["LIST_TYPES", "add_routes", "parse_at"]

LISTERS: dict[str, Callable[[Database, int], Awaitable[lists.Page]]] = {
    "sended": lists.sended,
    "received": lists.received,
    "scheduled": lists.scheduled,
    "phone": lists.phones,
    "call": lists.calls,
}
LIST_TYPES = tuple(LISTERS)


def parse_at(value: Any, clock: Clock) -> float | None:
    """``YYYY-MM-DD HH:MM:SS`` in the daemon's local time → unix seconds; None/"" → None (= now)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad('at must be a date of format "Y-m-d H:i:s".')
    try:
        return clock.from_local(parse_date(value))
    except ValueError:
        raise bad('at must be a date of format "Y-m-d H:i:s" (e.g. 2026-01-31 18:30:00).') from None


def _dated(page: lists.Page, clock: Clock) -> list[dict[str, Any]]:
    """The page's rows with their times as RaspiSMS shows dates (local ``YYYY-MM-DD HH:MM:SS``)."""
    return [
        {k: format_date(clock.local(v)) if k in page.times and v is not None else v for k, v in row.items()}
        for row in page.rows
    ]


async def post_scheduled(request: web.Request) -> web.Response:
    control = request.app[CONTROL]
    params = await read_params(request)
    text = params.get("text")
    if text is None or text == "":
        raise missing("One require parameter is missing : text")
    if not isinstance(text, str):
        raise bad("text must be a string")
    at = parse_at(params.get("at"), request.app[CLOCK])
    if opt_bool(params, "mms"):
        raise bad("mms is not supported: GSM modems send SMS only")
    for unsupported in ("contacts", "groups", "conditional_groups"):
        if str_list(params, unsupported):
            raise bad(f"{unsupported} are not supported by raspisms-daemon: give numbers")
    numbers = str_list(params, "numbers")
    if not numbers:
        raise missing("One require parameter is missing : You must specify at least one valid number.")
    for number in numbers:
        try:
            scheduled_store.normalize_number(number)
        except StoreError as exc:
            raise bad(str(exc)) from None
    id_phone = opt_int(params, "id_phone")
    flash = opt_bool(params, "flash")
    tag = opt_str(params, "tag", max_len=255)
    try:
        scheduled_id = await scheduled_store.create(
            control.db,
            text=text,
            numbers=numbers,
            now=request.app[CLOCK].time(),
            at=at,
            id_phone=id_phone,
            tag=tag,
            flash=flash,
            id_user=control.config.daemon.user_id,
        )
    except StoreError as exc:
        raise bad(str(exc)) from None
    control.wake_sender()
    return json_response(scheduled_id, status=201)


async def delete_scheduled(request: web.Request) -> web.StreamResponse:
    control = request.app[CONTROL]
    scheduled_id = _path_int(request, "id")
    if not await scheduled_store.cancel(control.db, scheduled_id):
        raise ApiError(
            400,
            Code.CANNOT_DELETE,
            f"Cannot delete this entry: no scheduled SMS {scheduled_id} waiting to be sent "
            "(unknown, already sent or being sent).",
        )
    control.wake_sender()
    # RaspiSMS answers a successful DELETE with 204 (no body).
    return web.Response(status=204)


async def list_entries(request: web.Request) -> web.Response:
    control = request.app[CONTROL]
    entry_type = request.match_info["type"]
    lister = LISTERS.get(entry_type)
    if lister is None:
        raise ApiError(
            404,
            Code.INVALID_PARAMETER,
            f"You have specified an invalid parameter : entry_type must be one of : {', '.join(LIST_TYPES)}.",
        )
    page = _path_int(request, "page", default=0, minimum=0)
    # The read-only view: a page never shows a row of a transaction still in progress.
    result = await lister(control.db.reads, page)

    def link(n: int) -> str:
        return str(request.url.with_path(f"/api/list/{entry_type}/{n}/").with_query(None))

    return json_response(
        _dated(result, request.app[CLOCK]),
        next=link(page + 1) if result.has_next else None,
        prev=link(page - 1) if result.has_prev else None,
    )


def _path_int(request: web.Request, key: str, *, default: int | None = None, minimum: int = 1) -> int:
    raw = request.match_info.get(key)
    if raw is None and default is not None:
        return default
    if raw is None or not raw.isdigit() or int(raw) < minimum:
        raise bad(f"{key} must be an integer of at least {minimum}, not {raw!r}")
    return int(raw)


def add_routes(app: web.Application) -> None:
    # RaspiSMS's routes end with "/"; the same without it are accepted too.
    for slash in ("/", ""):
        app.router.add_post("/api/scheduled" + slash, post_scheduled)
        app.router.add_delete("/api/scheduled/{id}" + slash, delete_scheduled)
        app.router.add_get("/api/list/{type}" + slash, list_entries)
        app.router.add_get("/api/list/{type}/{page}" + slash, list_entries)
