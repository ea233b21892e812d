"""Reading a send job from the broker. Pure: bytes in, a :class:`JobRequest` or a :class:`Refusal` out.

A job is one JSON object::

    {"id": "order-1234", "to": "+33612345678", "text": "Your parcel is here",
     "phone": 1, "tag": "parcels", "at": "2026-01-31 18:30:00"}

``id`` (required) is the client's: one topic level (no ``/``, ``+``, ``#``), at most 128 characters; a
second job with the same id on the same gateway is the same job (idempotent). ``to`` is one number or
a list, in international form as RaspiSMS takes them (libphonenumber, no default region). ``text`` as
the API takes it (at most 1000 characters). ``phone`` (optional) a phone id of the gateway that takes
the job; ``tag`` (optional) at most 255 characters; ``at`` (optional) RaspiSMS's ``Y-m-d H:i:s`` in
the gateway's time zone.

Home Assistant's notify entity publishes a bare text: ``+33612345678: the text`` (the number, a colon,
the text), or a job object without ``id``; the gateway names the job itself.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, NamedTuple

from ..dates import parse_date
from ..numbers import parse_phone
from ..texts import blank
from .topics import job_id_topic_safe

__all__ = ["MAX_JOB_ID", "JobRequest", "Refusal", "parse_job", "parse_notify"]

MAX_JOB_ID = 128
_NOTIFY_RE = re.compile(r"^\s*(\+[\d\s.()-]{4,30}?)\s*:\s*(.*)$", re.DOTALL)


class JobRequest(NamedTuple):
    job_id: str | None  # None: a notify message, named by the gateway
    numbers: tuple[str, ...]  # E.164
    text: str
    phone: int | None = None
    tag: str | None = None
    at: datetime | None = None  # local, naive; None: now


class Refusal(NamedTuple):
    job_id: str | None  # None: the id itself was unreadable (nothing to answer on)
    reason: str


def _job_id(value: Any) -> str | Refusal:
    if not isinstance(value, str) or not value.strip():
        return Refusal(None, "id: a job needs an id (a non-empty string)")
    if len(value) > MAX_JOB_ID or not job_id_topic_safe(value) or not value.isprintable():
        return Refusal(None, f"id: at most {MAX_JOB_ID} printable characters, no '/', '+' or '#'")
    return value


def parse_job(
    payload: bytes,
    *,
    phones: frozenset[int],
    text_limit: int,
    tag_limit: int,
    named: bool = True,
) -> JobRequest | Refusal:
    """The job in ``payload``; ``phones``: the ids this gateway has. ``named``: the job must carry its
    id (False for Home Assistant's notify messages)."""
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return Refusal(None, "not a JSON object")
    if not isinstance(data, dict):
        return Refusal(None, "not a JSON object")
    job_id: str | None = None
    if named:
        checked = _job_id(data.get("id"))
        if isinstance(checked, Refusal):
            return checked
        job_id = checked
    return _fields(job_id, data, phones=phones, text_limit=text_limit, tag_limit=tag_limit)


def _fields(
    job_id: str | None, data: dict[str, Any], *, phones: frozenset[int], text_limit: int, tag_limit: int
) -> JobRequest | Refusal:
    def refuse(reason: str) -> Refusal:
        return Refusal(job_id, reason)

    unknown = sorted(set(data) - {"id", "to", "text", "phone", "tag", "at"})
    if unknown:
        return refuse(f"unknown field(s): {', '.join(unknown)} (a job has id, to, text, phone, tag, at)")
    raw_to = data.get("to")
    given = [raw_to] if isinstance(raw_to, str) else raw_to
    if not isinstance(given, list) or not given or not all(isinstance(n, str) for n in given):
        return refuse("to: a number, or a list of numbers, in international form (+33612345678)")
    numbers: list[str] = []
    for raw in given:
        number = parse_phone(raw)
        if number is None:
            return refuse(f"to: {raw!r} is not a valid international number (+<country><number>)")
        numbers.append(number)
    text = data.get("text")
    if not isinstance(text, str) or blank(text):
        return refuse("text: a non-empty string")
    if len(text) > text_limit:
        return refuse(f"text: at most {text_limit} characters")
    phone = data.get("phone")
    if phone is not None and (isinstance(phone, bool) or not isinstance(phone, int) or phone not in phones):
        known = ", ".join(map(str, sorted(phones))) or "none"
        return refuse(f"phone: {phone!r} is not a phone of this gateway (its phones: {known})")
    tag = data.get("tag")
    if tag is not None and (not isinstance(tag, str) or len(tag) > tag_limit):
        return refuse(f"tag: a string of at most {tag_limit} characters")
    at = data.get("at")
    when: datetime | None = None
    if at is not None:
        try:
            when = parse_date(at) if isinstance(at, str) else None
        except ValueError:
            when = None
        if when is None:
            return refuse('at: a date "Y-m-d H:i:s" in the gateway\'s time zone')
    return JobRequest(job_id, tuple(dict.fromkeys(numbers)), text, phone, tag, when)


def parse_notify(
    payload: bytes, *, phone: int, phones: frozenset[int], text_limit: int, tag_limit: int
) -> JobRequest | Refusal:
    """A message from Home Assistant's notify entity of ``phone``: ``+NUMBER: text``, or a job object
    without id (its ``phone`` defaults to this one)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(None, "not UTF-8 text")
    if text.lstrip().startswith("{"):
        found = parse_job(payload, phones=phones, text_limit=text_limit, tag_limit=tag_limit, named=False)
        if isinstance(found, JobRequest) and found.phone is None:
            return JobRequest(None, found.numbers, found.text, phone, found.tag, found.at)
        return found
    match = _NOTIFY_RE.match(text)
    if match is None:
        return Refusal(None, 'write the number, a colon and the text: "+33612345678: Hello"')
    data = {"to": match.group(1), "text": match.group(2), "phone": phone}
    return _fields(None, data, phones=phones, text_limit=text_limit, tag_limit=tag_limit)
