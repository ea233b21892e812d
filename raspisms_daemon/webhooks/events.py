"""Webhook event bodies and the wire rendering, exactly as RaspiSMS v3.9.5 sends them (docs/design.md §3).

Pure: no I/O. One builder per webhook type returns the body dict (field names, JSON types and order as
RaspiSMS's code builds them); :func:`body_json` serialises it once, when the event is stored, and
:func:`render` wraps it in the five RaspiSMS fields for one delivery.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from ..dates import format_date

__all__ = [
    "WEBHOOK_FORMATS",
    "WEBHOOK_TYPES",
    "body_json",
    "inbound_call",
    "phone_reliability",
    "receive_sms",
    "render",
    "send_sms",
    "send_sms_status_change",
]

# The event vocabulary, shared by the config, the store, the API and the CLI: one builder per type
# below, and the two bodies render() makes (RaspiSMS's form, or the same fields as one JSON object).
WEBHOOK_TYPES = ("receive_sms", "send_sms", "send_sms_status_change", "inbound_call", "phone_reliability")
WEBHOOK_FORMATS = ("form", "json")

# An aware datetime in the daemon's zone (the caller's clock decides which), or a date already
# formatted (read back from the store).
Date = datetime | str


def _date(dt: Date) -> str:
    return dt if isinstance(dt, str) else format_date(dt)


def _date_or_none(dt: Date | None) -> str | None:
    return None if dt is None else _date(dt)


def receive_sms(*, id: int, at: Date, origin: str, destination: int, text: str) -> dict[str, Any]:
    """``receive_sms``: ``destination`` is the phone id, ``origin`` the sender's number; no MMS on GSM."""
    return {
        "id": int(id),
        "at": _date(at),
        "text": text,
        "destination": int(destination),
        "origin": origin,
        "mms": 0,
    }


def send_sms(
    *,
    id: int,
    at: Date,
    status: str,
    origin: int | None,
    destination: str,
    text: str,
    originating_scheduled: int | None,
    tag: str | None = "",
) -> dict[str, Any]:
    """``send_sms``: ``origin`` is the phone id (null when no phone could send it: none configured, all
    disabled), ``status`` ``unknown`` (accepted) or ``failed``."""
    return {
        "id": int(id),
        "at": _date(at),
        "status": status,
        "text": text,
        "destination": destination,
        "origin": None if origin is None else int(origin),
        "mms": 0,
        "originating_scheduled": None if originating_scheduled is None else int(originating_scheduled),
        "tag": tag or "",
    }


def send_sms_status_change(*, id: int, status: str) -> dict[str, Any]:
    """``send_sms_status_change``: ``status`` is the configured success word, ``failed`` or ``unknown``."""
    return {"id": int(id), "status": status}


def inbound_call(
    *,
    id: int,
    id_user: int,
    id_phone: int,
    uid: str,
    start: Date,
    end: Date | None,
    origin: str | None,
) -> dict[str, Any]:
    """``inbound_call``: ``end`` is null until the call is over; ``destination`` is null (it is us);
    ``origin`` is null when the network hides the caller."""
    return {
        "id": int(id),
        "id_user": int(id_user),
        "id_phone": int(id_phone),
        "uid": str(uid),
        "direction": "inbound",
        "start": _date(start),
        "end": _date_or_none(end),
        "origin": origin,
        "destination": None,
    }


def phone_reliability(
    *, reliability_type: str, id_phone: int, period: float, total: int, unreliable: int, rate: float
) -> dict[str, Any]:
    """``phone_reliability``: ``period`` in minutes, ``rate`` = unreliable / total as a 0..1 float."""
    if reliability_type not in ("failed", "unknown"):
        raise ValueError(f"reliability_type must be failed or unknown, not {reliability_type!r}")
    # A whole number of minutes stays an int on the wire, as RaspiSMS's setting is an int.
    period_out: int | float = int(period) if float(period).is_integer() else float(period)
    return {
        "reliability_type": reliability_type,
        "id_phone": int(id_phone),
        "period": period_out,
        "total": int(total),
        "unreliable": int(unreliable),
        "rate": float(rate),
    }


def body_json(body: dict[str, Any]) -> str:
    """Compact JSON, non-ASCII escaped as ``\\uXXXX`` like PHP's ``json_encode`` (byte-stable, 7-bit)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True)


def render(
    *, fmt: str, timestamp: int, random_id: str, signature: str, type: str, body_json: str
) -> tuple[bytes, str]:
    """The request body and its Content-Type for one delivery of a stored event.

    ``form`` is RaspiSMS's wire format (``body`` a JSON string); ``json`` sends the same five fields as
    one object with ``body`` as an object.
    """
    if fmt == "form":
        fields = [
            ("webhook_timestamp", str(int(timestamp))),
            ("webhook_type", type),
            ("webhook_random_id", random_id),
            ("webhook_signature", signature),
            ("body", body_json),
        ]
        return urlencode(fields).encode("ascii"), "application/x-www-form-urlencoded"
    if fmt == "json":
        obj = {
            "webhook_timestamp": int(timestamp),
            "webhook_type": type,
            "webhook_random_id": random_id,
            "webhook_signature": signature,
            "body": json.loads(body_json),
        }
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii"), "application/json"
    raise ValueError(f"unknown webhook format {fmt!r} (form or json)")
