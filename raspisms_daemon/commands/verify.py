"""``raspisms-daemon verify``: check the signatures of a captured webhook request.

The raw request body comes on stdin (exactly the bytes received), the Standard Webhooks headers (if
captured) as ``--header 'webhook-id: …'``. Exit 0 when every signature present is valid, 1 when not.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from ..webhooks.events import WEBHOOK_TYPES
from ..webhooks.signing import verify_raspisms, verify_standard

__all__ = ["Verdict", "register", "verify_capture"]

FIELDS = ("webhook_timestamp", "webhook_type", "webhook_random_id", "webhook_signature", "body")
STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
EX_USAGE = 2


@dataclass
class Verdict:
    ok: list[str] = field(default_factory=list)  # what checked out
    problems: list[str] = field(default_factory=list)  # why it is not valid

    @property
    def valid(self) -> bool:
        return not self.problems


def _fields(body: bytes, fmt: str) -> tuple[dict[str, Any] | None, str | None]:
    """The five RaspiSMS fields from a form or JSON body, or the reason they cannot be read."""
    if fmt == "auto":
        fmt = "json" if body.lstrip()[:1] in (b"{", b"[") else "form"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None, "the body is not UTF-8"
    if fmt == "json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            return None, f"the body is not JSON ({exc.msg} at char {exc.pos})"
        if not isinstance(obj, dict):
            return None, "the JSON body is not an object"
        return obj, None
    try:
        pairs = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        return None, "the body is not application/x-www-form-urlencoded"
    repeated = [name for name, values in pairs.items() if len(values) > 1]
    if repeated:
        return None, f"field {', '.join(sorted(repeated))} given more than once"
    return {name: values[0] for name, values in pairs.items()}, None


def verify_capture(
    body: bytes,
    *,
    api_key: str,
    headers: dict[str, str] | None = None,
    fmt: str = "auto",
    tolerance: float | None = None,
    now: float | None = None,
) -> Verdict:
    """Check the RaspiSMS signature in ``body`` and, when headers are given, the Standard Webhooks one."""
    verdict = Verdict()
    fields, why = _fields(body, fmt)
    if fields is None:
        verdict.problems.append(why or "unreadable body")
    else:
        missing = [name for name in FIELDS if name not in fields]
        if missing:
            verdict.problems.append("missing field " + ", ".join(missing))
        random_id, signature = fields.get("webhook_random_id"), fields.get("webhook_signature")
        if isinstance(random_id, str) and isinstance(signature, str):
            if verify_raspisms(api_key, random_id, signature):
                verdict.ok.append("raspisms signature ok")
            else:
                verdict.problems.append(
                    "raspisms signature mismatch (webhook_signature is not HMAC-SHA256(api key, "
                    "webhook_random_id): another key, or an altered id)"
                )
        elif "webhook_random_id" in fields and "webhook_signature" in fields:
            verdict.problems.append("webhook_random_id and webhook_signature must be strings")
        if "webhook_type" in fields and fields["webhook_type"] not in WEBHOOK_TYPES:
            verdict.problems.append(f"unknown webhook_type {fields['webhook_type']!r}")
        inner = fields.get("body")
        if isinstance(inner, str):
            try:
                inner = json.loads(inner)
            except json.JSONDecodeError:
                verdict.problems.append("field body is not JSON")
                inner = {}
        if "body" in fields and not isinstance(inner, dict):
            verdict.problems.append("field body is not a JSON object")
    given = {k.lower(): v for k, v in (headers or {}).items() if k.lower() in STANDARD_HEADERS}
    if given:
        reason = verify_standard(
            api_key, given, body, now=time.time() if now is None else now, tolerance=tolerance
        )
        if reason is None:
            verdict.ok.append("standard-webhooks signature ok")
        else:
            verdict.problems.append(f"standard-webhooks: {reason}")
    return verdict


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check the signatures of a captured webhook (raw body on stdin)",
        description="Check a captured webhook: the RaspiSMS signature in the body (form or JSON) and, "
        "when the webhook-id/-timestamp/-signature headers are given, the Standard Webhooks signature "
        "over the raw body. Reads the raw body on stdin. Exit 0 if valid, 1 if not.",
    )
    key = parser.add_mutually_exclusive_group(required=True)
    key.add_argument("--api-key", metavar="KEY", help="the API key (visible in ps: prefer --api-key-file)")
    key.add_argument("--api-key-file", metavar="FILE", type=Path, help="file holding the API key")
    parser.add_argument(
        "--header",
        "-H",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a captured request header (repeat for webhook-id, webhook-timestamp, webhook-signature)",
    )
    parser.add_argument(
        "--format",
        choices=("auto", "form", "json"),
        default="auto",
        help="body format (default: auto, JSON when the body starts with '{')",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        metavar="SECONDS",
        default=None,
        help="also require webhook-timestamp within SECONDS of now (default: no time check, since a "
        "captured body is usually verified later)",
    )
    parser.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    if args.api_key_file is not None:
        try:
            api_key = args.api_key_file.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            print(
                f"verify: cannot read {args.api_key_file}: {getattr(exc, 'strerror', None) or exc}",
                file=sys.stderr,
            )
            return EX_USAGE
    else:
        api_key = args.api_key.strip()
    if not api_key or not api_key.isascii():
        print("verify: the API key must be non-empty ASCII", file=sys.stderr)
        return EX_USAGE
    headers: dict[str, str] = {}
    for raw in args.header:
        name, sep, value = raw.partition(":")
        if not sep or not name.strip():
            print(f"verify: --header {raw!r} is not 'Name: value'", file=sys.stderr)
            return EX_USAGE
        headers[name.strip().lower()] = value.strip()
    body = sys.stdin.buffer.read()
    if not body:
        print("invalid: empty body on stdin (pipe the raw request body in)")
        return 1
    verdict = verify_capture(
        body, api_key=api_key, headers=headers, fmt=args.format, tolerance=args.tolerance
    )
    if verdict.valid:
        if not any(h in headers for h in STANDARD_HEADERS):
            verdict.ok.append("standard-webhooks headers not given")
        print("valid: " + "; ".join(verdict.ok))
        return 0
    print("invalid: " + "; ".join(verdict.problems))
    for line in verdict.ok:
        print(f"  ({line})")
    return 1
