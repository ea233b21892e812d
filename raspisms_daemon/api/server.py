"""The local HTTP API: RaspiSMS 3.9.5's API, plus webhooks, deliveries, phones, the STOP list, health
and metrics.

- Auth: the API key as RaspiSMS takes it (``api_key`` query parameter, else ``api_key`` form field,
  else ``X-Api-Key`` header; the first present is the one checked), compared in constant time with
  ``[daemon] api_key``. ``/healthz`` and ``/metrics`` need no key: they expose counts, never message
  content, and Prometheus scrapers rarely send custom headers; the API listens on 127.0.0.1 or a unix
  socket by default.
- Every answer is RaspiSMS's JSON envelope ``{error, message, response, next, prev}`` (``/metrics`` is
  Prometheus text; RaspiSMS's ``status/force`` route answers its partial envelope). Unknown route →
  404, bad or missing key → 401, bad request → 4xx with a message; an unexpected exception → 500 with
  no detail (the traceback goes to the log only).
- The access log is off: RaspiSMS clients pass the key in the query string, and list links carry it.
- Reads that are not part of a write go through ``db.reads`` (the read-only connection): a list never
  shows rows of a transaction another coroutine has not committed yet (and may roll back).

Routes (a trailing ``/`` is optional everywhere; RaspiSMS's also under ``/raspisms``):

    POST   /api/scheduled/                 RaspiSMS's fields (form, multipart or JSON) → 201, id  (RaspiSMS)
    GET    /api/send-sms/?to=&text=[&id_phone=]  → 200, id                                  (RaspiSMS)
    DELETE /api/scheduled/{id}/            → 204; 400 CANNOT_DELETE when not pending           (RaspiSMS)
    GET    /api/list/{type}/[{page}/|after/{id}/|before/{id}/]  25 a page, oldest first     (RaspiSMS)
    GET    /api/usage/ · /api/stats/sms-status/ · /api/invalid_number/[{page}/]             (RaspiSMS)
    POST   /api/phone/{id}/status/ · /api/phone/{id}/status/force/                           (RaspiSMS)
    GET    /api/webhooks/                  list;  POST: name, url, [types, format, flavor, enabled] → 201
    GET    /api/webhooks/{name}/           one;   DELETE: remove it and its outbox rows
    POST   /api/webhooks/{name}/enable     (its backlog becomes due at once)  · …/disable
    GET    /api/deliveries/?state=&webhook=&limit=    newest first
    GET    /api/deliveries/{id}/           with ``attempts_log``
    POST   /api/deliveries/{id}/replay     pending again, same random id
    GET    /api/phones/                    live status from the supervisors
    POST   /api/phones/{id}/disable        [reason]: stop sending with it (kept across restarts) · 404
    POST   /api/phones/{id}/enable         undo a disable (by the API or the reliability check) · 404
    GET    /api/smsstop/ · POST: number · DELETE /api/smsstop/{number}/   the SMS STOP list
    POST   /api/daemon/attach              {"device": path|null} → {"device", "phones": [ids]}
    GET    /healthz                        no key: {"status": "ok", "phones": {…counts}, "backlog": n};
                                           503 {"status": "degraded", "reason": …} on storage trouble
    GET    /metrics                        no key: Prometheus text
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..clock import Clock, SystemClock
from ..config import UnixListen, parse_listen
from ..store.faults import StorageFault
from .control import CLOCK, CONTROL, DaemonControl
from .envelope import ApiError, Code, error_response, raspisms_error

__all__ = ["create_app", "given_api_key", "start_api"]

log = logging.getLogger("raspisms_daemon.api")

MAX_BODY = 1024 * 1024
PUBLIC_PATHS = frozenset({"/healthz", "/metrics"})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes a JSON envelope; nothing internal (traceback, SQL) reaches the client."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            return error_response(404, Code.NOT_FOUND, f"no such route: {request.method} {request.path}")
        if exc.status == 405:
            allowed = ", ".join(sorted(getattr(exc, "allowed_methods", ()) or ()))
            return error_response(
                405,
                Code.INVALID_PARAMETER,
                f"method {request.method} not allowed on {request.path}"
                + (f" (allowed: {allowed})" if allowed else ""),
            )
        if exc.status == 413:
            return error_response(
                413, Code.INVALID_PARAMETER, f"request body too large (max {MAX_BODY} bytes)"
            )
        return error_response(exc.status, Code.INVALID_PARAMETER, exc.reason)
    except StorageFault as exc:
        # Disk full, file deleted …: nothing was accepted; the client may try again later.
        return error_response(503, Code.INTERNAL_ERROR, f"the daemon cannot store anything now: {exc}")
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("API %s %s failed", request.method, request.path)
        return error_response(500, Code.INTERNAL_ERROR, "internal error (details in the daemon's log)")


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def given_api_key(request: web.Request) -> str | None:
    """The key as RaspiSMS takes it (controllers/publics/Api.php:89): the ``api_key`` query parameter,
    else the ``api_key`` field of a form body, else the ``X-Api-Key`` header. The first one present
    wins, even when empty or wrong: the next ones are not looked at."""
    if "api_key" in request.query:
        return request.query.getall("api_key")[-1]  # PHP keeps the last of a repeated name
    if request.content_type in FORM_TYPES:
        form = await request.post()  # cached: the handler reads the same form
        if "api_key" in form:
            value = form.getall("api_key")[-1]
            return value if isinstance(value, str) else ""
    return request.headers.get("X-Api-Key")


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    expected = request.app[CONTROL].config.daemon.api_key.encode()
    given = await given_api_key(request) or ""
    # compare_digest on bytes: constant time, and no TypeError on a non-ASCII value.
    if not expected or not hmac.compare_digest(given.encode("utf-8", "replace"), expected):
        raise raspisms_error(Code.INVALID_CREDENTIALS, status=401)
    return await handler(request)


def create_app(control: DaemonControl, *, clock: Clock | None = None) -> web.Application:
    from . import routes_admin, routes_raspisms

    app = web.Application(middlewares=[_errors, _auth], client_max_size=MAX_BODY)
    app[CONTROL] = control
    app[CLOCK] = clock or SystemClock()
    routes_raspisms.add_routes(app)
    routes_admin.add_routes(app)
    return app


async def start_api(control: DaemonControl, listen: str, *, clock: Clock | None = None) -> web.AppRunner:
    """Serve the API on ``listen`` ("HOST:PORT", "[::1]:PORT" or "unix:/path"); cleanup() stops it."""
    try:
        where = parse_listen(listen)
    except ValueError as exc:
        raise ValueError(f"[api] listen: {exc}") from None
    runner = web.AppRunner(create_app(control, clock=clock), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site: web.BaseSite
        if isinstance(where, UnixListen):
            site = web.UnixSite(runner, where.path)
            await site.start()
            # Group access, so an admin in the daemon's group can use the CLI; nobody else.
            os.chmod(where.path, 0o660)
        else:
            site = web.TCPSite(runner, where.host, where.port, reuse_address=True)
            await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info("API listening on %s", ", ".join(str(a) for a in runner.addresses))
    return runner
