"""``raspisms-daemon send``: schedule an SMS through the running daemon's local API.

    raspisms-daemon send -c FILE --to +33612345678 [--to …] --text "Hello" [--at 2026-01-31T18:30] \
        [--phone 1] [--tag T] [--flash]

This module also holds the small API client that ``phones`` and ``attach`` use: it reads ``[api] listen``
and ``[daemon] api_key`` from the config and talks HTTP over TCP or the unix socket.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from datetime import datetime
from typing import Any

from ..config import Config, UnixListen, load_config_or_exit, parse_listen
from ..dates import format_date
from ._common import add_config_argument

__all__ = [
    "EX_UNAVAILABLE",
    "ApiClientError",
    "add_client_config_argument",
    "api_request",
    "call_api",
    "register",
]

EX_UNAVAILABLE = 69  # sysexits.h: the daemon is not running / not reachable
CLIENT_TIMEOUT = 30.0


class ApiClientError(Exception):
    """The daemon could not be reached (exit 69) — the message says where we looked."""


def add_client_config_argument(parser: argparse.ArgumentParser) -> None:
    """``-c/--config FILE`` of a command that talks to the running daemon (it reads its API address)."""
    add_config_argument(parser, what="configuration file of the running daemon")


def _connect(config: Config) -> socket.socket:
    where = parse_listen(config.api.listen)
    if isinstance(where, UnixListen):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CLIENT_TIMEOUT)
        try:
            sock.connect(where.path)
        except OSError:
            sock.close()
            raise
        return sock
    # A daemon listening on every address is reached on loopback.
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(where.host, where.host)
    return socket.create_connection((host, where.port), timeout=CLIENT_TIMEOUT)


def api_request(
    config: Config, method: str, path: str, payload: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    """``(HTTP status, envelope)``; raises ApiClientError when the daemon cannot be reached.

    One HTTP/1.0 exchange on a socket, the answer read until the daemon closes the connection: our own
    API is the only peer, and HTTP/1.0 rules out chunked bodies and kept-alive connections. Not
    aiohttp nor :mod:`http.client`: a command must start fast on a Pi, and their imports (the email
    parser, TLS) would cost more than everything else ``send`` does."""
    if not config.api.enabled:
        raise ApiClientError("the local API is disabled in the config ([api] enabled = no)")
    data = b"" if payload is None else json.dumps(payload).encode()
    head = [f"{method} {path} HTTP/1.0", "Host: raspisms-daemon", f"X-Api-Key: {config.daemon.api_key}"]
    if payload is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    try:
        with _connect(config) as sock:
            sock.sendall("\r\n".join(head).encode() + b"\r\n\r\n" + data)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError as exc:
        raise ApiClientError(
            f"cannot reach the daemon at {config.api.listen}: {exc or type(exc).__name__}"
        ) from exc
    status, text = _parse_response(b"".join(chunks))
    if status is None:
        raise ApiClientError(f"the daemon at {config.api.listen} answered something that is not HTTP")
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        body = {"message": text}
    return status, body if isinstance(body, dict) else {"response": body}


def _parse_response(raw: bytes) -> tuple[int | None, str]:
    """The status code and the body of a whole HTTP/1.x response (None: not one)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    parts = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        return None, ""
    return int(parts[1]), body.decode("utf-8", "replace")


def call_api(
    args: argparse.Namespace, method: str, path: str, payload: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]] | int:
    """Run one request for a command; an int is the exit status to return (the error is printed)."""
    config = load_config_or_exit(args.config)
    try:
        status, body = api_request(config, method, path, payload)
    except ApiClientError as exc:
        print(f"error: {exc} (is raspisms-daemon running?)", file=sys.stderr)
        return EX_UNAVAILABLE
    if status >= 400:
        print(f"error: HTTP {status}: {body.get('message') or body}", file=sys.stderr)
        return 1
    return status, body


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "send",
        help="send an SMS through the running daemon",
        description="Schedule an SMS through the running daemon's local API (now, or at --at).",
    )
    add_client_config_argument(parser)
    parser.add_argument(
        "--to",
        action="append",
        required=True,
        metavar="NUMBER",
        help="destination number, +<country><number> (repeat for several)",
    )
    parser.add_argument("--text", required=True)
    parser.add_argument("--at", metavar="ISO", help="when to send, e.g. 2026-01-31T18:30 (local time)")
    parser.add_argument("--phone", type=int, metavar="ID", help="send with this phone (default: any)")
    parser.add_argument("--tag", help="free text, echoed in the send_sms webhook")
    parser.add_argument("--flash", action="store_true", help="a flash SMS (shown, not stored)")
    parser.set_defaults(func=send_command)


def send_command(args: argparse.Namespace) -> int:
    payload: dict[str, Any] = {"text": args.text, "numbers": args.to}
    if args.at:
        try:
            when = datetime.fromisoformat(args.at)
        except ValueError:
            print(f"error: --at {args.at!r} is not an ISO date (e.g. 2026-01-31T18:30)", file=sys.stderr)
            return 2
        if when.tzinfo is not None:
            when = when.astimezone().replace(tzinfo=None)
        payload["at"] = format_date(when)
    if args.phone is not None:
        payload["id_phone"] = args.phone
    if args.tag:
        payload["tag"] = args.tag
    if args.flash:
        payload["flash"] = True
    result = call_api(args, "POST", "/api/scheduled/", payload)
    if isinstance(result, int):
        return result
    _, body = result
    print(f"scheduled SMS {body.get('response')} to {', '.join(args.to)}")
    return 0
