"""Event bodies: every field, its JSON type and value, as RaspiSMS v3.9.5 sends them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest

from raspisms_daemon.webhooks import events

AT = datetime(2026, 3, 4, 5, 6, 7)


def roundtrip(body: dict[str, object]) -> dict[str, object]:
    text = events.body_json(body)
    decoded = json.loads(text)
    assert text == json.dumps(decoded, separators=(",", ":"))  # compact, ASCII, same field order
    assert isinstance(decoded, dict)
    return decoded


def test_dates_are_written_in_the_zone_the_caller_gives_never_converted() -> None:
    plus5 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=5)))
    body = events.receive_sms(id=1, at=plus5, origin="+33612345678", destination=1, text="x")
    assert body["at"] == "2026-06-01 12:00:00"
    stored = events.receive_sms(id=1, at="2026-01-02 03:04:05", origin="+1", destination=1, text="x")
    assert stored["at"] == "2026-01-02 03:04:05"


def test_receive_sms_fields_types_and_values() -> None:
    body = roundtrip(events.receive_sms(id=42, at=AT, origin="+33612345678", destination=3, text="héllo 🙂"))
    assert body == {
        "id": 42,
        "at": "2026-03-04 05:06:07",
        "text": "héllo 🙂",
        "destination": 3,
        "origin": "+33612345678",
        "mms": 0,
    }
    assert type(body["id"]) is int and type(body["destination"]) is int and type(body["mms"]) is int
    assert "medias" not in body


def test_send_sms_fields_types_and_values() -> None:
    body = roundtrip(
        events.send_sms(
            id=7,
            at=AT,
            status="unknown",
            origin=2,
            destination="+33600000000",
            text="hi",
            originating_scheduled=11,
            tag="",
        )
    )
    assert body == {
        "id": 7,
        "at": "2026-03-04 05:06:07",
        "status": "unknown",
        "text": "hi",
        "destination": "+33600000000",
        "origin": 2,
        "mms": 0,
        "originating_scheduled": 11,
        "tag": "",
    }
    assert "medias" not in body


def test_send_sms_tag_none_becomes_empty_string_and_scheduled_may_be_null() -> None:
    body = roundtrip(
        events.send_sms(
            id=1,
            at=AT,
            status="failed",
            origin=1,
            destination="+1",
            text="x",
            originating_scheduled=None,
            tag=None,
        )
    )
    assert body["tag"] == "" and body["originating_scheduled"] is None and body["status"] == "failed"


def test_send_sms_status_change_fields() -> None:
    body = roundtrip(events.send_sms_status_change(id=9, status="delivered"))
    assert body == {"id": 9, "status": "delivered"}


def test_inbound_call_end_null_until_known_destination_null_direction_inbound() -> None:
    body = roundtrip(
        events.inbound_call(id=5, id_user=1, id_phone=2, uid="c-5", start=AT, end=None, origin="+33611111111")
    )
    assert body == {
        "id": 5,
        "id_user": 1,
        "id_phone": 2,
        "uid": "c-5",
        "direction": "inbound",
        "start": "2026-03-04 05:06:07",
        "end": None,
        "origin": "+33611111111",
        "destination": None,
    }
    ended = events.inbound_call(
        id=5, id_user=1, id_phone=2, uid="c-5", start=AT, end=AT + timedelta(seconds=30), origin="+3361"
    )
    assert ended["end"] == "2026-03-04 05:06:37"


def test_phone_reliability_fields_and_rate_is_float() -> None:
    body = roundtrip(
        events.phone_reliability(
            reliability_type="failed", id_phone=4, period=120, total=25, unreliable=5, rate=0.2
        )
    )
    assert body == {
        "reliability_type": "failed",
        "id_phone": 4,
        "period": 120,
        "total": 25,
        "unreliable": 5,
        "rate": 0.2,
    }
    assert type(body["rate"]) is float and type(body["period"]) is int
    one = roundtrip(
        events.phone_reliability(
            reliability_type="unknown", id_phone=4, period=1.5, total=1, unreliable=1, rate=1
        )
    )
    assert type(one["rate"]) is float and one["rate"] == 1.0 and one["period"] == 1.5


def test_phone_reliability_refuses_unknown_type() -> None:
    with pytest.raises(ValueError, match="reliability_type"):
        events.phone_reliability(reliability_type="slow", id_phone=1, period=1, total=1, unreliable=1, rate=1)


def test_body_json_is_compact_and_ascii() -> None:
    text = events.body_json({"a": 1, "b": "é/"})
    assert text == '{"a":1,"b":"\\u00e9/"}'


def test_render_form_is_raspisms_urlencoded_fields() -> None:
    bj = events.body_json(events.send_sms_status_change(id=3, status="failed"))
    data, ctype = events.render(
        fmt="form",
        timestamp=1700000000,
        random_id="1700000000-" + "a" * 32,
        signature="f" * 64,
        type="send_sms_status_change",
        body_json=bj,
    )
    assert ctype == "application/x-www-form-urlencoded"
    fields = parse_qs(data.decode("ascii"), strict_parsing=True)
    assert fields == {
        "webhook_timestamp": ["1700000000"],
        "webhook_type": ["send_sms_status_change"],
        "webhook_random_id": ["1700000000-" + "a" * 32],
        "webhook_signature": ["f" * 64],
        "body": [bj],
    }


def test_render_json_has_int_timestamp_and_body_object() -> None:
    bj = events.body_json(events.receive_sms(id=1, at=AT, origin="+1", destination=1, text="a&b=c"))
    data, ctype = events.render(
        fmt="json", timestamp=1700000000, random_id="r", signature="s", type="receive_sms", body_json=bj
    )
    assert ctype == "application/json"
    obj = json.loads(data)
    assert obj == {
        "webhook_timestamp": 1700000000,
        "webhook_type": "receive_sms",
        "webhook_random_id": "r",
        "webhook_signature": "s",
        "body": json.loads(bj),
    }
    assert type(obj["webhook_timestamp"]) is int


def test_render_refuses_unknown_format() -> None:
    with pytest.raises(ValueError, match="format"):
        events.render(
            fmt="xml", timestamp=1, random_id="r", signature="s", type="receive_sms", body_json="{}"
        )
