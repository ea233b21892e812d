"""Reading send jobs: what is taken, what is refused and why (a table; no I/O)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from raspisms_daemon.api.envelope import ApiError
from raspisms_daemon.api.scheduling import check_text
from raspisms_daemon.mqtt.jobs import JobRequest, Refusal, parse_job, parse_notify

PHONES = frozenset({1, 2})


def job(doc: Any) -> JobRequest | Refusal:
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return parse_job(raw, phones=PHONES, text_limit=1000, tag_limit=255)


def test_a_full_job_is_read_with_its_number_in_e164() -> None:
    found = job(
        {
            "id": "j1",
            "to": "+33 6 12 34 56 78",
            "text": "hi",
            "phone": 2,
            "tag": "t",
            "at": "2026-01-31 18:30:00",
        }
    )
    assert found == JobRequest("j1", ("+33612345678",), "hi", 2, "t", datetime(2026, 1, 31, 18, 30))


def test_a_list_of_numbers_keeps_each_once_in_order() -> None:
    found = job({"id": "j", "to": ["+33612345678", "+447911123456", "+33612345678"], "text": "x"})
    assert isinstance(found, JobRequest) and found.numbers == ("+33612345678", "+447911123456")


@pytest.mark.parametrize(
    ("doc", "job_id", "reason"),
    [
        (b"{not json", None, "not a JSON object"),
        (b"\xff\xfe", None, "not a JSON object"),
        ([1, 2], None, "not a JSON object"),
        ({"to": "+33612345678", "text": "x"}, None, "a job needs an id"),
        ({"id": "a/b", "to": "+33612345678", "text": "x"}, None, "no '/'"),
        ({"id": "a+", "to": "+33612345678", "text": "x"}, None, "no '/'"),
        ({"id": "x" * 129, "to": "+33612345678", "text": "x"}, None, "at most 128"),
        ({"id": "j", "to": "0612345678", "text": "x"}, "j", "not a valid international number"),
        ({"id": "j", "to": [], "text": "x"}, "j", "to: a number"),
        ({"id": "j", "to": 33612345678, "text": "x"}, "j", "to: a number"),
        ({"id": "j", "to": "+33612345678"}, "j", "text: a non-empty string"),
        ({"id": "j", "to": "+33612345678", "text": "   "}, "j", "text: a non-empty string"),
        ({"id": "j", "to": "+33612345678", "text": "x" * 1001}, "j", "at most 1000"),
        ({"id": "j", "to": "+33612345678", "text": "x", "phone": 3}, "j", "not a phone of this gateway"),
        ({"id": "j", "to": "+33612345678", "text": "x", "phone": True}, "j", "not a phone of this gateway"),
        ({"id": "j", "to": "+33612345678", "text": "x", "tag": "t" * 256}, "j", "tag: a string"),
        ({"id": "j", "to": "+33612345678", "text": "x", "at": "tomorrow"}, "j", "at: a date"),
        ({"id": "j", "to": "+33612345678", "text": "x", "when": 1}, "j", "unknown field(s): when"),
    ],
)
def test_a_bad_job_is_refused_naming_the_field(doc: Any, job_id: str | None, reason: str) -> None:
    found = job(doc)
    assert isinstance(found, Refusal)
    assert found.job_id == job_id
    assert reason in found.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+33612345678: Hello", ("+33612345678", "Hello")),
        ("+33 6 12 34 56 78 : two\nlines", ("+33612345678", "two\nlines")),
        ('{"to": "+33612345678", "text": "json"}', ("+33612345678", "json")),
    ],
)
def test_a_notify_message_is_the_number_a_colon_and_the_text(text: str, expected: tuple[str, str]) -> None:
    found = parse_notify(text.encode(), phone=2, phones=PHONES, text_limit=1000, tag_limit=255)
    assert isinstance(found, JobRequest)
    assert (found.numbers[0], found.text, found.phone, found.job_id) == (*expected, 2, None)


@pytest.mark.parametrize("text", ["Hello without a number", "0612345678: national", "+33612345678:"])
def test_a_notify_message_without_a_usable_number_or_text_is_refused(text: str) -> None:
    found = parse_notify(text.encode(), phone=1, phones=PHONES, text_limit=1000, tag_limit=255)
    assert isinstance(found, Refusal) and found.job_id is None


@pytest.mark.parametrize("text", ["   ", "\t\r\n\x0b\x00", "\xa0", "\u3000", "x"])
def test_a_text_is_blank_for_a_job_exactly_when_the_api_refuses_it_as_blank(text: str) -> None:
    found = job({"id": "j", "to": "+33612345678", "text": text})
    try:
        check_text(text)
        api_refuses = False
    except ApiError:
        api_refuses = True
    assert isinstance(found, Refusal) is api_refuses
