"""Our own routes: webhooks CRUD, deliveries (list, attempts, replay), live phone status, enabling and
disabling a phone, the SMS STOP list, udev attach, ``/healthz`` and ``/metrics``.

Reads outside a transaction use ``db.reads`` (committed rows only); writes use ``db.transaction()``."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web

from ..clock import Clock
from ..config import validate_webhook_url
from ..errors import DeliveryError, StoreError
from ..phones.supervisor import PhoneStatus
from ..store import outbox as store_outbox
from ..store import smsstop as store_smsstop
from ..store import webhooks as store_webhooks
from ..webhooks.events import DEFAULT_FLAVOR, WEBHOOK_TYPES
from ..webhooks.tls import ca_file_problem
from . import metrics as prom
from .control import CLOCK, CONTROL
from .decoding import decimal_id
from .envelope import ApiError, Code, json_response
from .guard import GUARD
from .params import bad, missing, opt_bool, opt_int, opt_str, read_params, read_query, str_list

__all__ = ["ATTACH_TIMEOUT", "add_routes"]

ATTACH_TIMEOUT = 30.0  # attach waits for the phones to reopen their ports; bounded like any modem await
DELIVERY_STATES = tuple(s.value for s in store_outbox.DeliveryState)


def _not_found(message: str) -> ApiError:
    return ApiError(404, Code.NOT_FOUND, message)


@contextlib.contextmanager
def _webhook_named(name: str) -> Iterator[None]:
    """The store's "no such webhook" (DeliveryError) as a 404 for the route that named it."""
    try:
        yield
    except DeliveryError:
        raise _not_found(f"no webhook named {name!r}") from None


# --- webhooks -------------------------------------------------------------------------------------


async def list_webhooks(request: web.Request) -> web.Response:
    hooks = await store_webhooks.list_webhooks(request.app[CONTROL].db.reads.conn)
    return json_response([h.as_dict() for h in hooks])


async def get_webhook(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    with _webhook_named(name):
        hook = await store_webhooks.get_webhook(request.app[CONTROL].db.reads.conn, name)
    return json_response(hook.as_dict())


async def create_webhook(request: web.Request) -> web.Response:
    control = request.app[CONTROL]
    params = await read_params(request)
    name = opt_str(params, "name", max_len=64)
    url = opt_str(params, "url", max_len=2000)
    if not name:
        raise missing("name is required")
    if not url:
        raise missing("url is required")
    reason = validate_webhook_url(url)
    if reason:
        raise bad(f"url: {reason}")
    types = str_list(params, "types")
    if not types or [t.lower() for t in types] == ["all"]:
        types = list(WEBHOOK_TYPES)
    fmt = opt_str(params, "format") or "form"
    flavor = opt_str(params, "flavor") or DEFAULT_FLAVOR
    enabled = opt_bool(params, "enabled", default=True)
    ca_file = opt_str(params, "ca_file", max_len=4096) or None
    verify = opt_bool(params, "verify", default=True)
    try:
        store_webhooks.validate_tls(url, ca_file, verify)
    except DeliveryError as exc:
        raise bad(str(exc)) from None
    if ca_file is not None:
        problem = ca_file_problem(Path(ca_file))  # as the daemon's user, which will load it
        if problem is not None:
            raise bad(f"ca_file: {problem}")
    async with control.db.transaction() as conn:
        try:
            await store_webhooks.get_webhook(conn, name)
        except DeliveryError:
            pass
        else:
            raise ApiError(409, Code.CANNOT_CREATE, f"a webhook named {name!r} already exists")
        try:
            hook = await store_webhooks.add_webhook(
                conn,
                name,
                url,
                types=types,
                format=fmt,
                flavor=flavor,
                enabled=enabled,
                ca_file=ca_file,
                verify=verify,
                now=request.app[CLOCK].time(),
            )
        except DeliveryError as exc:
            raise bad(str(exc)) from None
    return json_response(hook.as_dict(), status=201)


async def delete_webhook(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    async with request.app[CONTROL].db.transaction() as conn:
        with _webhook_named(name):
            dropped = await store_webhooks.remove_webhook(conn, name)
    return json_response({"removed": name, "pending_dropped": dropped})


async def enable_webhook(request: web.Request) -> web.Response:
    control = request.app[CONTROL]
    name = request.match_info["name"]
    async with control.db.transaction() as conn:
        with _webhook_named(name):
            hook = await store_webhooks.enable_webhook(conn, name, now=request.app[CLOCK].time())
    control.wake_dispatcher()  # its kept backlog is due at once
    return json_response(hook.as_dict())


async def disable_webhook(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    async with request.app[CONTROL].db.transaction() as conn:
        with _webhook_named(name):
            hook = await store_webhooks.disable_webhook(conn, name, "disabled through the API")
    return json_response(hook.as_dict())


# --- deliveries -----------------------------------------------------------------------------------


async def list_deliveries(request: web.Request) -> web.Response:
    query = read_query(request)
    state = opt_str(query, "state") or None
    if state is not None and state not in DELIVERY_STATES:
        raise bad(f"state must be one of: {', '.join(DELIVERY_STATES)}")
    limit = opt_int(query, "limit", maximum=1000) or 50
    rows = await store_outbox.list_deliveries(
        request.app[CONTROL].db.reads.conn,
        state=state,
        webhook=opt_str(query, "webhook") or None,
        limit=limit,
    )
    return json_response([d.as_dict() for d in rows])


def _delivery_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()):
        raise bad(f"delivery id must be a positive integer, not {raw[:40]!r}")
    delivery_id = decimal_id(raw)
    if delivery_id is None:  # past the largest id there can be
        raise _not_found(f"no delivery with id {raw[:40]}")
    return delivery_id


async def get_delivery(request: web.Request) -> web.Response:
    conn = request.app[CONTROL].db.reads.conn
    delivery_id = _delivery_id(request)
    try:
        delivery = await store_outbox.get_delivery(conn, delivery_id)
    except StoreError:
        raise _not_found(f"no delivery with id {delivery_id}") from None
    attempts = await store_outbox.list_attempts(conn, delivery_id)
    return json_response({**delivery.as_dict(), "attempts_log": [a.as_dict() for a in attempts]})


async def replay_delivery(request: web.Request) -> web.Response:
    control = request.app[CONTROL]
    delivery_id = _delivery_id(request)
    async with control.db.transaction() as conn:
        try:
            delivery = await store_outbox.replay_delivery(conn, delivery_id, now=request.app[CLOCK].time())
        except StoreError:
            raise _not_found(f"no delivery with id {delivery_id}") from None
    control.wake_dispatcher()
    return json_response(delivery.as_dict())


# --- phones, attach -------------------------------------------------------------------------------


def phone_json(status: PhoneStatus, clock: Clock) -> dict[str, object]:
    """A phone's status as the API shows it: ``last_seen`` in ISO 8601 with the daemon's zone."""
    out: dict[str, object] = status._asdict()
    if status.last_seen is not None:
        out["last_seen"] = clock.local(status.last_seen).isoformat(timespec="seconds")
    return out


async def list_phones(request: web.Request) -> web.Response:
    clock = request.app[CLOCK]
    return json_response([phone_json(s, clock) for s in request.app[CONTROL].phone_status()])


def _phone_status(request: web.Request, phone_id: int) -> dict[str, object] | None:
    status = next((s for s in request.app[CONTROL].phone_status() if s.id == phone_id), None)
    return None if status is None else phone_json(status, request.app[CLOCK])


def _phone_id(request: web.Request) -> int:
    """The path's phone id; 400 for a bad id, 404 for a phone the daemon does not have."""
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()):
        raise bad(f"phone id must be a positive integer, not {raw[:40]!r}")
    phone_id = decimal_id(raw)
    if phone_id is None or _phone_status(request, phone_id) is None:
        raise _not_found(f"no phone with id {raw[:40]}")
    return phone_id


async def enable_phone(request: web.Request) -> web.Response:
    control = request.app[CONTROL]
    phone_id = _phone_id(request)
    if not await control.enable_phone(phone_id):
        raise ApiError(
            409,
            Code.INVALID_PARAMETER,
            f"phone {phone_id} is disabled in the config ([phone:{phone_id}] enabled = no): "
            "only the config can enable it",
        )
    return json_response(_phone_status(request, phone_id))


async def disable_phone(request: web.Request) -> web.Response:
    control = request.app[CONTROL]
    phone_id = _phone_id(request)
    params = await read_params(request)
    reason = opt_str(params, "reason", max_len=255) or "disabled through the API"
    if not await control.disable_phone(phone_id, reason):
        raise _not_found(f"no phone with id {phone_id}")
    return json_response(_phone_status(request, phone_id))


async def attach(request: web.Request) -> web.Response:
    params = await read_params(request)
    device = params.get("device")
    if device is not None and (not isinstance(device, str) or not device.strip()):
        raise bad("device must be a device path or null")
    try:
        async with asyncio.timeout(ATTACH_TIMEOUT):
            ids = await request.app[CONTROL].attach(device.strip() if device else None)
    except TimeoutError:
        raise ApiError(
            504, Code.INTERNAL_ERROR, f"attach did not finish within {ATTACH_TIMEOUT:g} s"
        ) from None
    return json_response({"device": device, "phones": ids})


# --- the SMS STOP list -----------------------------------------------------------------------------


def stop_json(entry: store_smsstop.StopEntry, clock: Clock) -> dict[str, object]:
    """An entry as the API shows it: times in ISO 8601 with the daemon's zone."""
    out = entry.as_dict()
    for key in ("at", "last_skipped_at"):
        value = out[key]
        if isinstance(value, float):
            out[key] = clock.local(value).isoformat(timespec="seconds")
    return out


async def list_stops(request: web.Request) -> web.Response:
    entries = await store_smsstop.entries(request.app[CONTROL].db.reads)
    return json_response([stop_json(e, request.app[CLOCK]) for e in entries])


async def add_stop(request: web.Request) -> web.Response:
    params = await read_params(request)
    number = (opt_str(params, "number", max_len=64) or "").strip()
    if not number:
        raise missing("number is required")
    async with request.app[CONTROL].db.transaction() as conn:
        added = await store_smsstop.add(conn, number, at=request.app[CLOCK].time())
    if not added:
        raise ApiError(409, Code.CANNOT_CREATE, f"{number} is on the SMS STOP list already")
    return json_response({"added": number}, status=201)


async def remove_stop(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    async with request.app[CONTROL].db.transaction() as conn:
        removed = await store_smsstop.remove(conn, number)
    if not removed:
        raise _not_found(f"{number} is not on the SMS STOP list (write + as %2B in a URL)")
    return json_response({"removed": number})


# --- health and metrics (no API key) --------------------------------------------------------------


def _phone_counts(status: list[PhoneStatus]) -> dict[str, int]:
    counts = {"configured": len(status), "connected": 0, "disconnected": 0, "disabled": 0}
    for phone in status:
        counts[phone.state] += 1
    return counts


async def healthz(request: web.Request) -> web.Response:
    """200 ``{"status": "ok", …}``; 503 ``{"status": "degraded", "reason": …}`` while the database
    cannot take writes (messages then wait on the SIMs, sending and deliveries are paused)."""
    control = request.app[CONTROL]
    body: dict[str, object] = {"status": "ok", "phones": _phone_counts(control.phone_status())}
    try:
        body["backlog"] = await store_outbox.backlog_count(control.db.reads.conn)
    except (sqlite3.Error, OSError) as exc:
        control.db.health.report(exc)
        body["backlog"] = None
    reason = control.db.health.reason
    if reason is not None:
        body.update(status="degraded", reason=reason)
        return web.json_response(body, status=503)
    return web.json_response(body)


async def metrics(request: web.Request) -> web.Response:
    control = request.app[CONTROL]
    status = control.phone_status()
    samples: list[prom.Sample] = [prom.Sample("up", 1, help="1 while the daemon answers")]
    samples += control.metrics()
    samples += request.app[GUARD].samples()
    for phone in status:
        labels = (("phone", str(phone.id)), ("name", phone.name))
        samples.append(
            prom.Sample(
                "phone_connected",
                1 if phone.state == "connected" else 0,
                labels,
                help="1 when the phone's modem is connected",
            )
        )
        if phone.signal is not None:
            samples.append(
                prom.Sample("phone_signal", phone.signal, labels, help="signal as the modem reports it")
            )
    by_state = await store_outbox.count_by_state(control.db.reads.conn)  # one scan gives the backlog too
    samples.append(
        prom.Sample(
            "outbox_pending", by_state["pending"], help="webhook deliveries waiting (not yet delivered)"
        )
    )
    for state, count in by_state.items():
        samples.append(
            prom.Sample(
                "outbox_rows",
                count,
                (("state", state),),
                help="outbox rows by state (delivered rows are pruned after retention)",
            )
        )
    hooks = await store_webhooks.list_webhooks(control.db.reads.conn)
    for enabled in (True, False):
        samples.append(
            prom.Sample(
                "webhooks",
                sum(h.enabled is enabled for h in hooks),
                (("enabled", "true" if enabled else "false"),),
                help="configured webhooks",
            )
        )
    return web.Response(text=prom.render(samples), headers={"Content-Type": prom.CONTENT_TYPE})


def add_routes(app: web.Application) -> None:
    r = app.router
    for slash in ("/", ""):
        r.add_get("/api/webhooks" + slash, list_webhooks)
        r.add_post("/api/webhooks" + slash, create_webhook)
        r.add_get("/api/webhooks/{name}" + slash, get_webhook)
        r.add_delete("/api/webhooks/{name}" + slash, delete_webhook)
        r.add_post("/api/webhooks/{name}/enable" + slash, enable_webhook)
        r.add_post("/api/webhooks/{name}/disable" + slash, disable_webhook)
        r.add_get("/api/deliveries" + slash, list_deliveries)
        r.add_get("/api/deliveries/{id}" + slash, get_delivery)
        r.add_post("/api/deliveries/{id}/replay" + slash, replay_delivery)
        r.add_get("/api/phones" + slash, list_phones)
        r.add_post("/api/phones/{id}/enable" + slash, enable_phone)
        r.add_post("/api/phones/{id}/disable" + slash, disable_phone)
        r.add_post("/api/daemon/attach" + slash, attach)
        r.add_get("/api/smsstop" + slash, list_stops)
        r.add_post("/api/smsstop" + slash, add_stop)
        r.add_delete("/api/smsstop/{number}" + slash, remove_stop)
    r.add_get("/healthz", healthz)
    r.add_get("/metrics", metrics)
