"""What goes on the wire: the publications of one outbox row, a phone's retained state, a job's status.
Pure.

An event row of the MQTT target is published on ``…/event/<type>`` as the webhook's JSON body (the
five RaspiSMS fields, ``body`` an object: the same random id, signature and body as a webhook gets).
Beside it, when the event concerns a send job, the job's new status on ``…/sent/<job id>``; and with
Home Assistant, an SMS or a call as an event of its phone (``…/phone/<id>/event``) and an SMS as the
phone's last one (``…/phone/<id>/last_sms``, retained). A row counts as delivered once the broker
acknowledged every one of them (PUBACK).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, NamedTuple

from .topics import Topics

__all__ = [
    "JOB_STATUS_TYPE",
    "PhoneView",
    "Publication",
    "document_json",
    "job_status",
    "phone_state",
    "publications",
    "sms_status",
]

JOB_STATUS_TYPE = "job_status"  # an outbox row of the MQTT target only: a job accepted or refused

# A send_sms body's status → the job's; a send_sms_status_change's (either flavour's word) → the job's.
_SENT = {"unknown": "sent", "failed": "failed"}
_REPORTED = {"success": "delivered", "delivered": "delivered", "failed": "failed", "unknown": "unknown"}


class Publication(NamedTuple):
    topic: str
    payload: bytes
    retain: bool = False


class PhoneView(NamedTuple):
    """What the link publishes of a phone (the daemon builds it from the supervisor's status)."""

    id: int
    name: str
    state: str  # connected | disconnected | disabled
    available: bool  # can send now
    signal: int | None  # rssi 0..31 (27.007 +CSQ)
    operator: str | None
    registration: str | None


def document_json(doc: dict[str, Any]) -> str:
    """A document as this link publishes it: compact JSON, UTF-8 as is."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _json(doc: dict[str, Any]) -> bytes:
    return document_json(doc).encode()


def signal_dbm(rssi: int | None) -> int | None:
    """27.007 +CSQ rssi (0..31; 99 unknown) → dBm, as the standard defines it (0 → -113, 31 → -51)."""
    if rssi is None or not 0 <= rssi <= 31:
        return None
    return -113 + 2 * rssi


def phone_state(phone: PhoneView) -> bytes:
    """The retained ``…/phone/<id>/state``."""
    return _json(
        {
            "id": phone.id,
            "name": phone.name,
            "state": phone.state,
            "available": phone.available,
            "signal": phone.signal,
            "signal_dbm": signal_dbm(phone.signal),
            "operator": phone.operator,
            "registration": phone.registration,
        }
    )


def job_status(job_id: str, gateway: str, status: str, **fields: Any) -> dict[str, Any]:
    """A job's status document: ``accepted`` (committed on this gateway; ``scheduled`` is its id),
    ``refused`` (``error`` says why), then per number ``sent`` / ``failed`` (the modem's answer) and
    ``delivered`` / ``failed`` / ``unknown`` (the delivery report), with the SMS's ``sms`` id."""
    return {"id": job_id, "gateway": gateway, "status": status, **fields}


def sms_status(
    type: str, body: dict[str, Any], send_error: str | None = None
) -> tuple[str, dict[str, Any]] | None:
    """The job status a ``send_sms`` or ``send_sms_status_change`` body means, with its details.
    ``send_error``: the SMS's recorded error. A ``send_sms`` of status ``unknown`` with one is a send the
    modem never answered (it may have left; never sent again): the job's status is ``unknown``, not
    ``sent``, since RaspiSMS's body says ``unknown`` for both."""
    if type == "send_sms":
        details = {"sms": body.get("id"), "destination": body.get("destination"), "phone": body.get("origin")}
        word = _SENT.get(str(body.get("status")), "unknown")
        if send_error is None:
            return word, details
        return ("unknown" if word == "sent" else word), {**details, "error": send_error}
    if type == "send_sms_status_change":
        return _REPORTED.get(str(body.get("status")), "unknown"), {"sms": body.get("id")}
    return None


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat()


def publications(
    topics: Topics,
    *,
    type: str,
    body_json: str,
    payload: bytes,
    timestamp: int,
    job_id: str | None,
    homeassistant: bool,
    send_error: str | None = None,
) -> list[Publication]:
    """Everything one outbox row of the MQTT target is published as. ``payload``: the row rendered as
    the JSON webhook body; ``job_id``: the send job this event is about, if any, and ``send_error`` its
    SMS's recorded error."""
    body = json.loads(body_json)
    if type == JOB_STATUS_TYPE:
        return [Publication(topics.sent(str(body["id"])), body_json.encode())]
    out = [Publication(topics.event(type), payload)]
    status = sms_status(type, body, send_error) if job_id is not None else None
    if job_id is not None and status is not None:
        word, details = status
        doc = job_status(job_id, topics.gateway, word, **details)
        out.append(Publication(topics.sent(job_id), _json(doc)))
    if homeassistant and type == "receive_sms" and isinstance(body.get("destination"), int):
        phone = body["destination"]
        sms = {
            "at": _iso(timestamp),
            "from": body.get("origin"),
            "text": body.get("text"),
            "id": body.get("id"),
        }
        out.append(Publication(topics.phone(phone, "event"), _json({"event_type": "sms", **sms})))
        out.append(Publication(topics.phone(phone, "last_sms"), _json(sms), retain=True))
    if homeassistant and type == "inbound_call" and isinstance(body.get("id_phone"), int):
        call = {"at": _iso(timestamp), "from": body.get("origin"), "id": body.get("id")}
        out.append(
            Publication(topics.phone(body["id_phone"], "event"), _json({"event_type": "call", **call}))
        )
    return out
