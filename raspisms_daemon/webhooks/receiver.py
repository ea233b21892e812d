"""A webhook receiver that verifies what the daemon sends: both signatures, checked with our own code.

Used by ``raspisms-daemon demo`` (to show deliveries arriving) and as the base of the test receiver.
It accepts both wire formats (form and json), answers 2xx to a verified delivery and 401 otherwise.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from . import signing

__all__ = ["ReceivedDelivery", "VerifyingReceiver", "parse_delivery"]

log = logging.getLogger("raspisms_daemon.receiver")

DeliveryCallback = Callable[["ReceivedDelivery"], Awaitable[None] | None]


@dataclass(frozen=True)
class ReceivedDelivery:
    """One verified POST, as the receiver saw it."""

    type: str
    random_id: str
    signature: str
    timestamp: int
    body: dict[str, Any]
    format: str  # form|json
    raw_body: bytes
    headers: Mapping[str, str] = field(repr=False)
    path: str
    received_at: float


def parse_delivery(raw: bytes, content_type: str) -> tuple[str, dict[str, Any]]:
    """``(format, fields)`` of a webhook request body; ``body`` is parsed to a dict. ValueError when bad."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/json":
        obj = json.loads(raw)
        if not isinstance(obj, dict):
            raise ValueError("JSON webhook is not an object")
        fields = dict(obj)
        fmt = "json"
        if isinstance(fields.get("body"), str):
            fields["body"] = json.loads(fields["body"])
    elif ctype == "application/x-www-form-urlencoded":
        fields = dict(parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=True))
        fmt = "form"
        # As a RaspiSMS receiver does: json.loads(body).
        fields["body"] = json.loads(fields.get("body", ""))
    else:
        raise ValueError(f"unexpected Content-Type {content_type!r}")
    for name in ("webhook_timestamp", "webhook_random_id", "webhook_signature", "webhook_type", "body"):
        if name not in fields:
            raise ValueError(f"missing field {name}")
    if not isinstance(fields["body"], dict):
        raise ValueError("body is not a JSON object")
    fields["webhook_timestamp"] = int(fields["webhook_timestamp"])
    return fmt, fields


class VerifyingReceiver:
    """An aiohttp server on ``host:port`` that verifies, records and hands over each delivery.

    ``on_delivery`` (sync or async) is called with each verified :class:`ReceivedDelivery`. ``tolerance``
    is the Standard Webhooks timestamp tolerance in seconds (``None``: no age check); ``ssl_context``
    serves https.
    """

    def __init__(
        self,
        api_key: str,
        *,
        on_delivery: DeliveryCallback | None = None,
        tolerance: float | None = 300.0,
        path: str = "/",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.api_key = api_key
        self.ssl_context = ssl_context
        self.on_delivery = on_delivery
        self.tolerance = tolerance
        self.path = path
        self.deliveries: list[ReceivedDelivery] = []
        self.rejected: list[tuple[str, bytes]] = []  # (reason, raw body)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.host = ""
        self.port = 0

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("receiver is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}{self.path}"

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen (``port=0`` picks a free port; :attr:`port` tells which)."""
        # A short shutdown grace: stopping must not hang on a client that keeps a request open.
        self._runner = web.AppRunner(
            self.make_app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, host, port, reuse_address=True, ssl_context=self.ssl_context)
        await self._site.start()
        self.host = host
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._site = None

    def verify(
        self, request_headers: Mapping[str, str], raw: bytes, *, now: float | None = None
    ) -> tuple[ReceivedDelivery | None, str | None]:
        """Parse and check both signatures; ``(delivery, None)`` when valid, ``(None, reason)`` otherwise.

        Header names are case-insensitive here too, so a plain dict of captured headers works.
        """
        headers = {k.lower(): v for k, v in request_headers.items()}
        try:
            fmt, fields = parse_delivery(raw, headers.get("content-type", ""))
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            # TypeError: a JSON body whose webhook_timestamp is null, a list …
            return None, f"malformed webhook: {exc}"
        if not signing.verify_raspisms(
            self.api_key, str(fields["webhook_random_id"]), str(fields["webhook_signature"])
        ):
            return None, "webhook_signature does not match webhook_random_id"
        t = time.time() if now is None else now
        reason = signing.verify_standard(self.api_key, request_headers, raw, now=t, tolerance=self.tolerance)
        if reason is not None:
            return None, reason
        if headers.get("webhook-id") != fields["webhook_random_id"]:
            return None, "webhook-id header differs from webhook_random_id"
        delivery = ReceivedDelivery(
            type=str(fields["webhook_type"]),
            random_id=str(fields["webhook_random_id"]),
            signature=str(fields["webhook_signature"]),
            timestamp=int(fields["webhook_timestamp"]),
            body=fields["body"],
            format=fmt,
            raw_body=raw,
            headers=dict(request_headers),
            path="",
            received_at=t,
        )
        return delivery, None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        delivery, reason = self.verify(request.headers, raw)
        if delivery is None:
            assert reason is not None
            self.rejected.append((reason, raw))
            log.warning("rejected a webhook: %s", reason)
            return web.json_response({"error": reason}, status=401)
        delivery = dataclasses.replace(delivery, path=request.path)
        self.deliveries.append(delivery)
        if self.on_delivery is not None:
            result = self.on_delivery(delivery)
            if result is not None:
                await result
        return web.json_response({"ok": True, "random_id": delivery.random_id})
