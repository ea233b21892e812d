"""Webhook event bodies and the wire rendering, in the two flavours a webhook can ask for
(docs/design.md §3). Pure: no I/O.

One builder per webhook type returns the event's *canonical* body: every field either flavour needs,
in the key order and with the JSON types RaspiSMS 3.9.5's code uses. :func:`flavored` turns it into
what one webhook gets:

- ``documented`` (the default): what RaspiSMS's documentation describes
  (RaspbianFrance/raspisms-documentation@fac2cd9:source/developpers/webhooks/overview.rst): its key
  order, ``mms`` 0/1, ``medias`` only when there are some, ``tag`` in ``send_sms``, and ``success`` for
  a delivered SMS;
- ``raspisms``: byte for byte what RaspiSMS 3.9.5's code sends (RaspbianFrance/raspisms@5e2b030:
  controllers/internals/Received.php:374-386, Sended.php:121-127 and 360-373, Call.php:34-43,
  Console.php:284-293): ``mms`` false, ``medias`` [], ``command`` false, no ``tag``, ``delivered``,
  ``phone_reliability``'s ``unreliable`` and ``rate`` as MySQL hands them to PHP (decimal strings), and
  PHP ``json_encode``'s escaped slashes.

:func:`body_json` serialises a flavoured body once, when the event is stored; :func:`render` wraps it in
the five RaspiSMS fields for one delivery.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from ..dates import format_date

__all__ = [
    "DEFAULT_FLAVOR",
    "WEBHOOK_FLAVORS",
    "WEBHOOK_FORMATS",
    "WEBHOOK_TYPES",
    "body_json",
    "flavored",
    "inbound_call",
    "phone_reliability",
    "receive_sms",
    "render",
    "send_sms",
    "send_sms_status_change",
]

# The event vocabulary, shared by the config, the store, the API and the CLI: one builder per type
# below, the two bodies render() makes (RaspiSMS's form, or the same fields as one JSON object), and
# the two flavours of the event bodies.
WEBHOOK_TYPES = ("receive_sms", "send_sms", "send_sms_status_change", "inbound_call", "phone_reliability")
WEBHOOK_FORMATS = ("form", "json")
WEBHOOK_FLAVORS = ("documented", "raspisms")
DEFAULT_FLAVOR = "documented"

# An aware datetime in the daemon's zone (the caller's clock decides which), or a date already
# formatted (read back from the store).
Date = datetime | str


def _date(dt: Date) -> str:
    return dt if isinstance(dt, str) else format_date(dt)


def _date_or_none(dt: Date | None) -> str | None:
    return None if dt is None else _date(dt)


def receive_sms(*, id: int, at: Date, origin: str, destination: int, text: str) -> dict[str, Any]:
    """``receive_sms``: ``destination`` is the phone id, ``origin`` the sender's number; no MMS on GSM,
    and no command (RaspiSMS's commands are off by default)."""
    return {
        "id": int(id),
        "at": _date(at),
        "text": text,
        "destination": int(destination),
        "origin": origin,
        "command": False,
        "mms": False,
        "medias": [],
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
    tag: str | None = None,
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
        "mms": False,
        "medias": [],
        "originating_scheduled": None if originating_scheduled is None else int(originating_scheduled),
        "tag": tag,
    }


def send_sms_status_change(*, id: int, status: str) -> dict[str, Any]:
    """``send_sms_status_change``: ``status`` is ``delivered``, ``failed`` or ``unknown``."""
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
        "id_user": int(id_user),
        "id_phone": int(id_phone),
        "uid": str(uid),
        "start": _date(start),
        "end": _date_or_none(end),
        "direction": "inbound",
        "origin": origin,
        "destination": None,
        "id": int(id),
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


def _pick(body: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: body[k] for k in keys}


def _documented(type: str, body: dict[str, Any]) -> dict[str, Any]:
    if type == "receive_sms":
        out = _pick(body, ("id", "at", "origin", "destination", "text"))
        out["mms"] = int(body["mms"])
        if body["medias"]:
            out["medias"] = body["medias"]
        return out
    if type == "send_sms":
        out = _pick(body, ("id", "at", "status", "origin", "destination", "text"))
        out["mms"] = int(body["mms"])
        if body["medias"]:
            out["medias"] = body["medias"]
        out["originating_scheduled"] = body["originating_scheduled"]
        out["tag"] = body["tag"] or ""
        return out
    if type == "send_sms_status_change":
        return {"id": body["id"], "status": "success" if body["status"] == "delivered" else body["status"]}
    if type == "inbound_call":
        keys = ("id", "id_user", "id_phone", "uid", "direction", "start", "end", "origin", "destination")
        return _pick(body, keys)
    return dict(body)


def _raspisms(type: str, body: dict[str, Any]) -> dict[str, Any]:
    if type == "send_sms":
        return {k: v for k, v in body.items() if k != "tag"}
    if type == "phone_reliability":
        # MySQL's SUM() and division are DECIMAL, which PDO hands to PHP as strings (4 decimals).
        from decimal import ROUND_HALF_UP, Decimal  # here: rare, and decimal is not light to import

        total, unreliable = int(body["total"]), int(body["unreliable"])
        rate = Decimal(unreliable) / Decimal(total) if total else Decimal(0)
        return {
            **body,
            "unreliable": str(unreliable),
            "rate": str(rate.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)),
        }
    return dict(body)


def flavored(type: str, body: dict[str, Any], flavor: str = DEFAULT_FLAVOR) -> dict[str, Any]:
    """The canonical ``body`` of a ``type`` event as a webhook of this ``flavor`` gets it."""
    if flavor == "documented":
        return _documented(type, body)
    if flavor == "raspisms":
        return _raspisms(type, body)
    raise ValueError(f"unknown webhook flavor {flavor!r} ({' or '.join(WEBHOOK_FLAVORS)})")


def body_json(body: dict[str, Any], flavor: str = DEFAULT_FLAVOR) -> str:
    """Compact JSON, non-ASCII escaped as ``\\uXXXX`` like PHP's ``json_encode`` (byte-stable, 7-bit);
    the ``raspisms`` flavour also escapes ``/`` as ``\\/``, as ``json_encode`` does by default."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=True)
    # "/" only ever appears inside JSON strings, so escaping every one is exact.
    return text.replace("/", "\\/") if flavor == "raspisms" else text


def render(
    *,
    fmt: str,
    timestamp: int,
    random_id: str,
    signature: str,
    type: str,
    body_json: str,
    flavor: str = DEFAULT_FLAVOR,
) -> tuple[bytes, str]:
    """The request body and its Content-Type for one delivery of a stored event.

    ``form`` is RaspiSMS's wire format (``body`` a JSON string); ``json`` sends the same five fields as
    one object with ``body`` as an object. The ``raspisms`` flavour's form is encoded as Guzzle's
    ``form_params`` (PHP ``http_build_query``) encodes it, ``~`` as ``%7E`` included.
    """
    if fmt == "form":
        fields = [
            ("webhook_timestamp", str(int(timestamp))),
            ("webhook_type", type),
            ("webhook_random_id", random_id),
            ("webhook_signature", signature),
            ("body", body_json),
        ]
        encoded = urlencode(fields)
        if flavor == "raspisms":
            encoded = encoded.replace("~", "%7E")  # the one character PHP encodes and Python does not
        return encoded.encode("ascii"), "application/x-www-form-urlencoded"
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
