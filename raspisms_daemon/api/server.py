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
- What a client sends is read strictly (:mod:`.decoding`, :mod:`.params`): bytes that are not text,
  a lone surrogate, JSON nested too deep or a number JSON cannot hold is a 400 naming the field; every
  bound (body, numbers, form fields, nesting) is in :mod:`.limits` and answered with a 4xx naming it.
- Connections go through the guard (:mod:`.guard`): a cap derived from the descriptor limit, a
  request-head timeout, a body timeout; at the cap the connection idle the longest makes room.
  A request aiohttp cannot parse as HTTP gets its plain 400 and one rate-limited log line.
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
import resource
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..clock import Clock, SystemClock
from ..config import UnixListen, parse_listen
from ..noise import LineLimiter
from ..store.faults import StorageFault
from .control import CLOCK, CONTROL, DaemonControl
from .decoding import Malformed
from .envelope import ApiError, Code, error_response, raspisms_error
from .guard import GUARD, ConnectionGuard, GuardedSite, guarded
from .limits import MAX_BODY, ConnectionLimits, connection_cap
from .params import read_form, read_query

__all__ = ["create_app", "given_api_key", "start_api"]

log = logging.getLogger("raspisms_daemon.api")

PUBLIC_PATHS = frozenset({"/healthz", "/metrics"})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes a JSON envelope; nothing internal (traceback, SQL) reaches the client."""
    try:
        return await handler(request)
    except ApiError as exc:
        response = error_response(exc.status, exc.code, exc.message)
        if exc.status == 408:
            response.force_close()  # the rest of the body may still come: the connection is done
        return response
    except Malformed as exc:
        return error_response(400, Code.INVALID_PARAMETER, str(exc))
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


async def given_api_key(request: web.Request) -> str | None:
    """The key as RaspiSMS takes it (controllers/publics/Api.php:89): the ``api_key`` query parameter,
    else the ``api_key`` field of a form body, else the ``X-Api-Key`` header. The first one present
    wins, even when empty or wrong: the next ones are not looked at. A repeated name keeps its last
    value, as in PHP; an array (``api_key[]=``) is no key."""
    query = read_query(request)
    if "api_key" in query:
        value = query["api_key"]
        return value if isinstance(value, str) else ""
    fields = [value for name, value in await read_form(request) if name == "api_key"]
    if fields:
        return fields[-1] if isinstance(fields[-1], str) else ""
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


def create_app(
    control: DaemonControl, *, clock: Clock | None = None, limits: ConnectionLimits | None = None
) -> web.Application:
    from . import routes_admin, routes_raspisms

    app = web.Application(middlewares=[guarded, _errors, _auth], client_max_size=MAX_BODY)
    app[CONTROL] = control
    app[CLOCK] = clock or SystemClock()
    app[GUARD] = ConnectionGuard(limits or ConnectionLimits(), app[CLOCK])
    app.cleanup_ctx.append(app[GUARD].cleanup_ctx)
    routes_raspisms.add_routes(app)
    routes_admin.add_routes(app)
    return app


def default_limits() -> ConnectionLimits:
    """The connection limits for this process: the cap from its descriptor limit (:mod:`.limits`)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    nofile = 1 << 20 if soft == resource.RLIM_INFINITY else soft
    return ConnectionLimits(max_connections=connection_cap(nofile))


async def start_api(
    control: DaemonControl,
    listen: str,
    *,
    clock: Clock | None = None,
    limits: ConnectionLimits | None = None,
) -> web.AppRunner:
    """Serve the API on ``listen`` ("HOST:PORT", "[::1]:PORT" or "unix:/path"); cleanup() stops it.
    ``limits`` defaults to :func:`default_limits`."""
    try:
        where = parse_listen(listen)
    except ValueError as exc:
        raise ValueError(f"[api] listen: {exc}") from None
    app = create_app(control, clock=clock, limits=limits or default_limits())
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    _quiet_malformed_http()
    await runner.setup()
    try:
        site: GuardedSite
        if isinstance(where, UnixListen):
            site = GuardedSite(runner, app[GUARD], path=where.path)
            await site.start()
            # Group access, so an admin in the daemon's group can use the CLI; nobody else.
            os.chmod(where.path, 0o660)
        else:
            site = GuardedSite(runner, app[GUARD], host=where.host, port=where.port)
            await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info(
        "API listening on %s (at most %d connections)",
        ", ".join(str(a) for a in runner.addresses),
        app[GUARD].limits.max_connections,
    )
    return runner


class _MalformedHttp(logging.Filter):
    """aiohttp logs a request it cannot parse (garbage, a bad request line) with a traceback at ERROR;
    the client got its 400. Here it is one line, a few and then one a minute at most."""

    def __init__(self) -> None:
        super().__init__()
        self._noise = LineLimiter(burst=3, interval=60.0)

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        verdict = self._noise.hit(record.created)
        if not verdict.log:
            return False
        more = f" ({verdict.suppressed} more not logged)" if verdict.suppressed else ""
        record.msg = "API: a malformed HTTP request, answered 400: %s%s"
        what = str(exc.message).splitlines()[0].rstrip(": ") if exc.message else type(exc).__name__
        record.args = (what, more)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        return True


def _quiet_malformed_http() -> None:
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _MalformedHttp) for f in server_log.filters):
        server_log.addFilter(_MalformedHttp())
