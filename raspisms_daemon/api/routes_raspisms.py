"""RaspiSMS 3.9.5's API (RaspbianFrance/raspisms@5e2b030:controllers/publics/Api.php, routes.php:213-250):
the same routes, request shapes, checks, error codes and texts, HTTP statuses (GET 200/404, POST
201/400, DELETE 204/400) and envelope. Also served under ``/raspisms/``, where RaspiSMS's Debian
package puts them, so a client's base URL needs only its host changed.

The daemon has no address book, no MMS and no users: contact, group, conditional group and media lists
are empty, a scheduled SMS naming contacts or groups is refused with a message saying to send numbers,
an MMS is refused as RaspiSMS refuses it when MMS are off, and the one user is the config's. Phone
groups and priorities come from the config (``[phone:ID] group``, ``priority``). The deliberate
differences are listed in README.md ("RaspiSMS compatibility").
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ..clock import Clock
from ..dates import format_date, parse_date, parse_loose_date
from ..numbers import parse_phone
from ..store import lists, usage
from ..store import scheduled as scheduled_store
from . import php
from .control import CLOCK, CONTROL
from .decoding import decimal_id
from .envelope import MESSAGES, Code, json_response, raspisms_error
from .pagination import link_ids
from .params import read_params, read_query
from .scheduling import bad_date, check_text, destinations, id_among, read_scheduled

__all__ = ["LIST_TYPES", "PREFIXES", "add_routes"]

RASPISMS_LIST_TYPES = (
    "sended",
    "received",
    "scheduled",
    "contact",
    "group",
    "conditional_group",
    "phone",
    "phone_group",
    "media",
)
LIST_TYPES = (*RASPISMS_LIST_TYPES, "call")  # call: ours
EMPTY_TYPES = frozenset({"contact", "group", "conditional_group", "media"})  # no address book, no MMS
PREFIXES = ("", "/raspisms")  # RaspiSMS's Debian package serves the app under /raspisms
NOT_FOUND = 404  # a failed GET, as RaspiSMS's auto_http_code answers it
MAX_PAGE = php.INT_MAX // lists.PAGE_SIZE


# --- helpers ----------------------------------------------------------------------------------------


def _phone_ids(request: web.Request) -> list[int]:
    return [p.id for p in request.app[CONTROL].config.phones]


def _group_ids(request: web.Request) -> list[int]:
    return sorted({p.group for p in request.app[CONTROL].config.phones if p.group is not None})


def _link(request: web.Request, path: str, **query: str) -> str:
    """An absolute link as RaspiSMS builds one: the API key the client authenticated with is in its
    query string (whether it came as a parameter, a form field or a header), so it works as given."""
    prefix = "/raspisms" if request.path.startswith("/raspisms/") else ""
    base = request.url.with_path("/").with_query(None)
    params = {"api_key": request.app[CONTROL].config.daemon.api_key, **query}
    return f"{str(base).rstrip('/')}{prefix}{path}?{urlencode(params)}"


def _dated(page: lists.Page, clock: Clock) -> list[dict[str, Any]]:
    """Rows with their times as RaspiSMS shows dates (local ``YYYY-MM-DD HH:MM:SS``)."""
    out = []
    for row in page.rows:
        shown: dict[str, Any] = {k: _date(v, clock) if k in page.times else v for k, v in row.items()}
        for number in shown.get("numbers", ()):
            number["created_at"] = _date(number["created_at"], clock)
        out.append(shown)
    return out


def _date(ts: float | None, clock: Clock) -> str | None:
    return None if ts is None else format_date(clock.local(ts))


def _local_ts(text: str, clock: Clock) -> float:
    return clock.from_local(parse_date(text))


# --- scheduling -------------------------------------------------------------------------------------


async def post_scheduled(request: web.Request) -> web.Response:
    """``POST /api/scheduled/`` (Api.php:382-655): form or multipart as RaspiSMS, or a JSON object."""
    control = request.app[CONTROL]
    clock = request.app[CLOCK]
    params = await read_params(request)
    # Validating up to MAX_NUMBERS numbers (libphonenumber) and rendering a template for each takes
    # CPU time (a second for 10 000 on a PC); in a thread, the event loop goes on meanwhile.
    sms = await asyncio.to_thread(
        read_scheduled,
        params,
        phones=_phone_ids(request),
        groups=_group_ids(request),
        templating=control.config.api.templating,
    )
    scheduled_id = await scheduled_store.create(
        control.db,
        text=sms.text,
        numbers=sms.numbers,
        now=clock.time(),
        at=None if sms.at is None else _local_ts(sms.at, clock),
        id_phone=sms.id_phone,
        id_phone_group=sms.id_phone_group,
        tag=sms.tag,
        flash=sms.flash,
        id_user=control.config.daemon.user_id,
    )
    control.wake_sender()
    return json_response(scheduled_id, status=201)


async def get_send_sms(request: web.Request) -> web.Response:
    """``GET /api/send-sms/?to=&text=[&id_phone=]`` (Api.php:318-362): send now, answer the id (200)."""
    control = request.app[CONTROL]
    query = read_query(request)
    raw_to, text = query.get("to"), query.get("text")
    to = parse_phone(raw_to) if isinstance(raw_to, str) else None
    has_text = isinstance(text, str) and not php.falsy(text)
    if to is None or not has_text:
        details = ("" if to else "to ") + ("" if has_text else "text")
        raise raspisms_error(Code.MISSING_PARAMETER, details, status=NOT_FOUND)
    assert isinstance(text, str)
    check_text(text, status=NOT_FOUND)
    id_phone = id_among(query.get("id_phone"), _phone_ids(request))
    if id_phone == 0:
        raise raspisms_error(Code.CANNOT_CREATE, status=NOT_FOUND)
    numbers = destinations(text, [(to, "[]")], templating=control.config.api.templating, status=NOT_FOUND)
    scheduled_id = await scheduled_store.create(
        control.db,
        text=text,
        numbers=numbers,
        now=request.app[CLOCK].time(),
        id_phone=id_phone,
        id_user=control.config.daemon.user_id,
    )
    control.wake_sender()
    return json_response(scheduled_id)


async def delete_scheduled(request: web.Request) -> web.StreamResponse:
    """``DELETE /api/scheduled/{id}/`` (Api.php:664-682): 204, or 400 when nothing waits under that id."""
    control = request.app[CONTROL]
    scheduled_id = php.int_cast(request.match_info["id"])
    if not await scheduled_store.cancel(control.db, scheduled_id):
        raise raspisms_error(Code.CANNOT_DELETE)
    control.wake_sender()
    return web.Response(status=204)  # RaspiSMS's body is dropped by Apache for a 204


# --- lists ------------------------------------------------------------------------------------------


async def list_entries(request: web.Request) -> web.Response:
    """``GET /api/list/{type}/[{page}/|after/{id}/|before/{id}/]`` (Api.php:135-242)."""
    entry_type = request.match_info["type"]
    if entry_type not in LIST_TYPES:
        raise raspisms_error(
            Code.INVALID_PARAMETER, f"entry_type must be one of : {', '.join(LIST_TYPES)}.", status=NOT_FOUND
        )
    info = request.match_info
    cursor = lists.Cursor(
        # No table holds 25 × 2^63 rows: a page past that is past the end, and its offset would not fit.
        page=min(php.int_cast(info.get("page", "0")), MAX_PAGE),
        after=php.int_cast(info["after"]) if "after" in info else None,
        before=php.int_cast(info["before"]) if "before" in info else None,
    )
    if cursor.page < 0:
        raise raspisms_error(Code.INVALID_PARAMETER, "page must be 0 or more.", status=NOT_FOUND)
    rows = await _entries(request, entry_type, cursor)
    next_id, prev_id = link_ids([r["id"] for r in rows], cursor, lists.PAGE_SIZE)
    path = f"/api/list/{entry_type}"
    return json_response(
        rows,
        next=None if next_id is None else _link(request, f"{path}/after/{next_id}/"),
        prev=None if prev_id is None else _link(request, f"{path}/before/{prev_id}/"),
    )


async def _entries(request: web.Request, entry_type: str, cursor: lists.Cursor) -> list[dict[str, Any]]:
    control = request.app[CONTROL]
    clock = request.app[CLOCK]
    db = control.db.reads  # committed rows only
    user = control.config.daemon.user_id
    if entry_type in EMPTY_TYPES:
        return []
    if entry_type == "phone_group":
        return await _phone_groups(request, cursor)
    page: lists.Page
    if entry_type == "sended":
        page = await lists.sended(db, cursor, id_user=user)
    elif entry_type == "received":
        page = await lists.received(db, cursor, id_user=user)
    elif entry_type == "scheduled":
        page = await lists.scheduled(db, cursor)
    elif entry_type == "phone":
        page = await lists.phones(db, cursor, ids=_phone_ids(request), id_user=user)
    else:
        page = await lists.calls(db, cursor)
    return _dated(page, clock)


async def _phone_groups(request: web.Request, cursor: lists.Cursor) -> list[dict[str, Any]]:
    """The config's phone groups as RaspiSMS's ``phone_group`` rows, each with its phones."""
    control = request.app[CONTROL]
    members: dict[int, list[int]] = defaultdict(list)
    for phone in control.config.phones:
        if phone.group is not None:
            members[phone.group].append(phone.id)
    ids = sorted(members)
    if cursor.after is not None:
        ids = [i for i in ids if i > cursor.after][: lists.PAGE_SIZE]
    elif cursor.before is not None:
        ids = [i for i in ids if i < cursor.before][-lists.PAGE_SIZE :]
    else:
        ids = ids[cursor.page * lists.PAGE_SIZE : (cursor.page + 1) * lists.PAGE_SIZE]
    every = _phone_ids(request)
    phone_page = await lists.phones(
        control.db.reads, ids=every, id_user=control.config.daemon.user_id, limit=max(1, len(every))
    )
    phone_rows = {r["id"]: r for r in _dated(phone_page, request.app[CLOCK])}
    return [
        {
            "id": gid,
            "id_user": control.config.daemon.user_id,
            "name": f"group {gid}",
            "created_at": None,
            "updated_at": None,
            "nb_phone": len(members[gid]),
            "phones": [phone_rows[p] for p in members[gid] if p in phone_rows],
        }
        for gid in ids
    ]


# --- usage and statistics ---------------------------------------------------------------------------


async def get_usage(request: web.Request) -> web.Response:
    """``GET /api/usage/?start=&end=&tag=`` (Api.php:253-310): SMS sent per phone, bounds included."""
    control = request.app[CONTROL]
    clock = request.app[CLOCK]
    query = read_query(request)
    bounds: dict[str, float | None] = {}
    for key in ("start", "end"):
        value = query.get(key)
        bounds[key] = None
        if not php.falsy(value):
            try:
                bounds[key] = _local_ts(value, clock) if isinstance(value, str) else None
            except ValueError:
                pass
            if bounds[key] is None:
                raise bad_date(key, status=NOT_FOUND)
    tag = query.get("tag")
    counts = await usage.sent_by_phone(
        control.db.reads,
        start=bounds["start"],
        end=bounds["end"],
        tag_like=tag if isinstance(tag, str) else None,
    )
    volumes = {str(pid): counts.get(pid, 0) for pid in _phone_ids(request)}
    # PHP's json_encode writes an empty array as [], not {}.
    return json_response({"total": sum(volumes.values()), "phones_volumes": volumes or []})


async def get_sms_status_stats(request: web.Request) -> web.Response:
    """``GET /api/stats/sms-status/?start=&end=[&id_phone=]`` (Api.php:1188-1248): SMS sent per local
    day, phone and status, bounds included."""
    control = request.app[CONTROL]
    clock = request.app[CLOCK]
    query = read_query(request)
    start, end = query.get("start"), query.get("end")
    if php.falsy(start) or php.falsy(end):
        raise raspisms_error(Code.MISSING_PARAMETER, "start and end date are required.", status=NOT_FOUND)
    now = clock.local(clock.time()).replace(tzinfo=None)
    bounds = []
    for key, value in (("start", start), ("end", end)):
        try:
            bounds.append(clock.from_local(parse_loose_date(str(value), now)))
        except ValueError:
            raise bad_date(key, status=NOT_FOUND) from None
    raw_phone = query.get("id_phone")
    id_phone: int | None = None
    if not php.falsy(raw_phone):
        id_phone = php.int_cast(str(raw_phone))
        if id_phone not in _phone_ids(request):
            raise raspisms_error(
                Code.INVALID_PARAMETER,
                f"phone with id {str(raw_phone)[:40]} does not exists.",
                status=NOT_FOUND,
            )
    counts: dict[tuple[str, int, str], int] = defaultdict(int)
    for at, phone, status in await usage.statuses(
        control.db.reads, start=bounds[0], end=bounds[1], id_phone=id_phone
    ):
        counts[(clock.local(at).strftime("%Y-%m-%d"), phone, status)] += 1
    # MySQL orders an ENUM column by its declared order: unknown, delivered, failed
    # (db/migrations/20191206123238_first_migration.php:596-600).
    rank = {"unknown": 0, "delivered": 1, "failed": 2}
    rows = [
        {"at_ymd": day, "id_phone": phone, "status": status, "nb": nb}
        for (day, phone, status), nb in sorted(
            counts.items(), key=lambda kv: (kv[0][0], kv[0][1], rank[kv[0][2]])
        )
    ]
    return json_response(rows)


def _php_number(value: float) -> str:
    """A float as PHP writes it in a URL: ``50.0`` → ``50``."""
    return str(int(value)) if value.is_integer() else repr(value)


async def get_invalid_numbers(request: web.Request) -> web.Response:
    """``GET /api/invalid_number/[{page}/]?volume=&percent_failed=&percent_unknown=``
    (Api.php:1260-1312): numbers whose SMS mostly fail or stay unknown, 25 a page."""
    control = request.app[CONTROL]
    query = read_query(request)
    if any(query.get(k) is None for k in ("volume", "percent_failed", "percent_unknown")):
        raise raspisms_error(
            Code.MISSING_PARAMETER,
            "volume, percent_failed and percent_unknown are required.",
            status=NOT_FOUND,
        )
    page = php.int_cast(request.match_info.get("page", "0"))
    if page < 0:
        raise raspisms_error(Code.INVALID_PARAMETER, "page must be 0 or more.", status=NOT_FOUND)
    volume = php.int_cast(str(query["volume"]))
    failed = php.float_cast(str(query["percent_failed"])) / 100
    unknown = php.float_cast(str(query["percent_unknown"])) / 100
    rows = await usage.invalid_numbers(
        control.db.reads, volume=volume, failed=failed, unknown=unknown, page=page, limit=lists.PAGE_SIZE
    )
    kept = {
        "volume": str(volume),
        "percent_failed": _php_number(failed * 100),
        "percent_unknown": _php_number(unknown * 100),
    }
    return json_response(
        [r.as_dict() for r in rows],
        next=_link(request, f"/api/invalid_number/{page + 1}/", **kept)
        if len(rows) == lists.PAGE_SIZE
        else None,
        prev=_link(request, f"/api/invalid_number/{page - 1}/", **kept) if page > 0 else None,
    )


# --- phones -----------------------------------------------------------------------------------------


def _phone_state(request: web.Request, raw_id: str) -> tuple[int, str] | None:
    """``(id, state)`` of a configured phone named by the path, None when there is none."""
    phone_id = decimal_id(raw_id)
    if phone_id is None:
        return None
    state = next((s.state for s in request.app[CONTROL].phone_status() if s.id == phone_id), None)
    return None if state is None else (phone_id, state)


async def post_phone_status(request: web.Request) -> web.Response:
    """``POST /api/phone/{id}/status/`` (Api.php:1080-1140): the phone's status, checked again (201)."""
    found = _phone_state(request, request.match_info["id"])
    if found is None:
        raise raspisms_error(Code.CANNOT_UPDATE)
    if found[1] == "disabled":
        raise raspisms_error(
            Code.CANNOT_UPDATE, "Phone have been manually disabled, you need to re-enable it manually."
        )
    return json_response("available" if found[1] == "connected" else "unavailable", status=201)


async def post_phone_status_force(request: web.Request) -> web.Response:
    """``POST /api/phone/{id}/status/force/`` with ``status`` = available | disabled
    (Api.php:1148-1176). RaspiSMS answers this one with a partial envelope, and so does this."""
    control = request.app[CONTROL]
    status = (await read_params(request)).get("status")
    if status not in ("available", "disabled"):
        return _partial_error(Code.INVALID_PARAMETER, ' "status" must be "disabled" or "available".')
    found = _phone_state(request, request.match_info["id"])
    if found is None:
        return _partial_error(Code.CANNOT_UPDATE)
    phone_id = found[0]
    if status == "disabled":
        await control.disable_phone(phone_id, "disabled through the API")
    elif not await control.enable_phone(phone_id):
        disabled = f"phone {phone_id} is disabled in the config ([phone:{phone_id}] enabled = no)."
        return _partial_error(Code.CANNOT_UPDATE, disabled)
    return web.json_response({"response": status}, status=201)


def _partial_error(code: Code, details: str = "") -> web.Response:
    """A 400 as ``status/force`` answers it: ``error`` and ``message`` only, worded as
    :func:`.envelope.raspisms_error` words it."""
    return web.json_response({"error": int(code), "message": MESSAGES[code] + details}, status=400)


async def post_phone(request: web.Request) -> web.Response:
    """``POST /api/phone/`` creates a phone in RaspiSMS; here phones come from the config."""
    raise raspisms_error(Code.CANNOT_CREATE, " : phones are set up in the config file ([phone:ID] sections).")


async def post_phone_update(request: web.Request) -> web.Response:
    """``POST /api/phone/{id}/`` updates a phone in RaspiSMS; here phones come from the config."""
    raise raspisms_error(Code.CANNOT_UPDATE, "phones are set up in the config file ([phone:ID] sections).")


# --- routing ----------------------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/api/list/{type}", list_entries),
    ("GET", "/api/list/{type}/after/{after}", list_entries),
    ("GET", "/api/list/{type}/before/{before}", list_entries),
    ("GET", "/api/list/{type}/{page}", list_entries),
    ("GET", "/api/usage", get_usage),
    ("GET", "/api/stats/sms-status", get_sms_status_stats),
    ("GET", "/api/invalid_number", get_invalid_numbers),
    ("GET", "/api/invalid_number/{page}", get_invalid_numbers),
    ("GET", "/api/send-sms", get_send_sms),
    ("POST", "/api/scheduled", post_scheduled),
    ("DELETE", "/api/scheduled/{id}", delete_scheduled),
    ("POST", "/api/phone", post_phone),
    ("POST", "/api/phone/{id}", post_phone_update),
    ("POST", "/api/phone/{id}/status", post_phone_status),
    ("POST", "/api/phone/{id}/status/force", post_phone_status_force),
)


def add_routes(app: web.Application) -> None:
    # RaspiSMS's routes end with "/"; the same without it are accepted too, as RaspiSMS's router does.
    for prefix in PREFIXES:
        for method, path, handler in ROUTES:
            for slash in ("/", ""):
                app.router.add_route(method, prefix + path + slash, handler)
