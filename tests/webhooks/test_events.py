"""Event bodies in both flavours: every field, its JSON type, value and place, byte for byte.

``raspisms``: what RaspiSMS v3.9.5's code sends (RaspbianFrance/raspisms@5e2b030:
controllers/internals/Received.php:374-386, Sended.php:121-127 and 360-373, Call.php:34-43,93,96,
Console.php:284-293; PHP json_encode's default flags). ``documented``: RaspiSMS's documentation
(RaspbianFrance/raspisms-documentation@fac2cd9:source/developpers/webhooks/overview.rst:54-205).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest

from raspisms_daemon.webhooks import events

AT = datetime(2026, 3, 4, 5, 6, 7)
RECEIVED = events.receive_sms(id=42, at=AT, origin="+33612345678", destination=3, text="héllo 🙂 a/b")
SENT = events.send_sms(
    id=7,
    at=AT,
    status="unknown",
    origin=2,
    destination="+33600000000",
    text="hi",
    originating_scheduled=11,
    tag="promo",
)
DELIVERED = events.send_sms_status_change(id=9, status="delivered")
CALL = events.inbound_call(id=5, id_user=1, id_phone=2, uid="c-5", start=AT, end=None, origin="+33611111111")
RELIABILITY = events.phone_reliability(
    reliability_type="failed", id_phone=4, period=120, total=30, unreliable=4, rate=4 / 30
)


def wire(type: str, body: dict[str, object], flavor: str) -> str:
    return events.body_json(events.flavored(type, body, flavor), flavor)


@pytest.mark.parametrize(
    ("type", "body", "expected"),
    [
        (
            "receive_sms",
            RECEIVED,
            '{"id":42,"at":"2026-03-04 05:06:07","text":"h\\u00e9llo \\ud83d\\ude42 a\\/b","destination":3,'
            '"origin":"+33612345678","command":false,"mms":false,"medias":[]}',
        ),
        (
            "send_sms",
            SENT,
            '{"id":7,"at":"2026-03-04 05:06:07","status":"unknown","text":"hi","destination":"+33600000000",'
            '"origin":2,"mms":false,"medias":[],"originating_scheduled":11}',
        ),
        ("send_sms_status_change", DELIVERED, '{"id":9,"status":"delivered"}'),
        (
            "inbound_call",
            CALL,
            '{"id_user":1,"id_phone":2,"uid":"c-5","start":"2026-03-04 05:06:07","end":null,'
            '"direction":"inbound","origin":"+33611111111","destination":null,"id":5}',
        ),
        (
            "phone_reliability",
            RELIABILITY,
            # SUM() and the division are MySQL DECIMALs, strings in PHP (4 decimals).
            '{"reliability_type":"failed","id_phone":4,"period":120,"total":30,"unreliable":"4","rate":"0.1333"}',
        ),
    ],
)
def test_the_raspisms_flavor_is_byte_for_byte_what_raspisms_code_sends(
    type: str, body: dict[str, object], expected: str
) -> None:
    assert wire(type, body, "raspisms") == expected


@pytest.mark.parametrize(
    ("type", "body", "expected"),
    [
        (
            "receive_sms",
            RECEIVED,
            '{"id":42,"at":"2026-03-04 05:06:07","origin":"+33612345678","destination":3,'
            '"text":"h\\u00e9llo \\ud83d\\ude42 a/b","mms":0}',
        ),
        (
            "send_sms",
            SENT,
            '{"id":7,"at":"2026-03-04 05:06:07","status":"unknown","origin":2,"destination":"+33600000000",'
            '"text":"hi","mms":0,"originating_scheduled":11,"tag":"promo"}',
        ),
        ("send_sms_status_change", DELIVERED, '{"id":9,"status":"success"}'),
        (
            "inbound_call",
            CALL,
            '{"id":5,"id_user":1,"id_phone":2,"uid":"c-5","direction":"inbound",'
            '"start":"2026-03-04 05:06:07",'
            '"end":null,"origin":"+33611111111","destination":null}',
        ),
        (
            "phone_reliability",
            RELIABILITY,
            '{"reliability_type":"failed","id_phone":4,"period":120,"total":30,"unreliable":4,'
            '"rate":0.13333333333333333}',
        ),
    ],
)
def test_the_documented_flavor_is_what_raspisms_documentation_describes(
    type: str, body: dict[str, object], expected: str
) -> None:
    assert wire(type, body, "documented") == expected


@pytest.mark.parametrize(("status", "documented"), [("failed", "failed"), ("unknown", "unknown")])
def test_only_delivered_is_worded_differently_by_the_documentation(status: str, documented: str) -> None:
    body = events.send_sms_status_change(id=1, status=status)
    assert events.flavored("send_sms_status_change", body, "documented")["status"] == documented
    assert events.flavored("send_sms_status_change", body, "raspisms")["status"] == status


def test_a_send_without_tag_or_scheduled_has_an_empty_documented_tag_and_null_scheduled() -> None:
    body = events.send_sms(
        id=1, at=AT, status="failed", origin=None, destination="+1", text="x", originating_scheduled=None
    )
    documented = events.flavored("send_sms", body, "documented")
    assert (
        documented["tag"] == ""
        and documented["originating_scheduled"] is None
        and documented["origin"] is None
    )
    assert "tag" not in events.flavored("send_sms", body, "raspisms")


def test_documented_medias_appear_only_when_there_are_some() -> None:
    with_media = {**RECEIVED, "mms": True, "medias": [{"id": 1, "id_user": 1, "path": "a.jpg"}]}
    documented = events.flavored("receive_sms", with_media, "documented")
    assert documented["mms"] == 1 and documented["medias"] == [{"id": 1, "id_user": 1, "path": "a.jpg"}]


@pytest.mark.parametrize(
    ("unreliable", "total", "rate"),
    [(1, 3, "0.3333"), (2, 3, "0.6667"), (1, 8, "0.1250"), (25, 25, "1.0000"), (0, 25, "0.0000")],
)
def test_the_raspisms_rate_is_a_four_decimal_string_rounded_half_up(
    unreliable: int, total: int, rate: str
) -> None:
    body = events.phone_reliability(
        reliability_type="unknown", id_phone=1, period=120, total=total, unreliable=unreliable, rate=0.0
    )
    assert events.flavored("phone_reliability", body, "raspisms")["rate"] == rate


def test_an_unknown_flavor_is_refused() -> None:
    with pytest.raises(ValueError, match="flavor"):
        events.flavored("receive_sms", RECEIVED, "php")


def test_dates_are_written_in_the_zone_the_caller_gives_never_converted() -> None:
    plus5 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=5)))
    body = events.receive_sms(id=1, at=plus5, origin="+33612345678", destination=1, text="x")
    assert body["at"] == "2026-06-01 12:00:00"
    stored = events.receive_sms(id=1, at="2026-01-02 03:04:05", origin="+1", destination=1, text="x")
    assert stored["at"] == "2026-01-02 03:04:05"
    ended = events.inbound_call(
        id=5, id_user=1, id_phone=2, uid="c-5", start=AT, end=AT + timedelta(seconds=30), origin="+3361"
    )
    assert ended["end"] == "2026-03-04 05:06:37"


def test_phone_reliability_keeps_a_whole_period_an_int_and_refuses_unknown_types() -> None:
    one = events.phone_reliability(
        reliability_type="unknown", id_phone=4, period=1.5, total=1, unreliable=1, rate=1
    )
    assert type(one["rate"]) is float and one["period"] == 1.5
    assert type(RELIABILITY["period"]) is int
    with pytest.raises(ValueError, match="reliability_type"):
        events.phone_reliability(reliability_type="slow", id_phone=1, period=1, total=1, unreliable=1, rate=1)


def test_body_json_is_compact_and_ascii_and_escapes_slashes_only_for_raspisms() -> None:
    assert events.body_json({"a": 1, "b": "é/"}) == '{"a":1,"b":"\\u00e9/"}'
    assert events.body_json({"a": 1, "b": "é/"}, "raspisms") == '{"a":1,"b":"\\u00e9\\/"}'


def test_render_form_is_raspisms_urlencoded_fields_in_raspisms_order() -> None:
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
    assert [k.split("=")[0] for k in data.decode().split("&")] == [
        "webhook_timestamp",
        "webhook_type",
        "webhook_random_id",
        "webhook_signature",
        "body",
    ]
    fields = parse_qs(data.decode("ascii"), strict_parsing=True)
    assert fields == {
        "webhook_timestamp": ["1700000000"],
        "webhook_type": ["send_sms_status_change"],
        "webhook_random_id": ["1700000000-" + "a" * 32],
        "webhook_signature": ["f" * 64],
        "body": [bj],
    }


def test_render_form_of_the_raspisms_flavor_encodes_like_php_http_build_query() -> None:
    kw = {"fmt": "form", "timestamp": 1, "random_id": "r", "signature": "s", "type": "receive_sms"}
    ours, _ = events.render(**kw, body_json='{"text":"a~ b"}')  # type: ignore[arg-type]
    php, _ = events.render(**kw, body_json='{"text":"a~ b"}', flavor="raspisms")  # type: ignore[arg-type]
    # PHP's urlencode() (what Guzzle's form_params use) encodes "~"; both decode to the same body.
    assert ours.endswith(b"a~+b%22%7D") and php.endswith(b"a%7E+b%22%7D")
    assert parse_qs(ours.decode()) == parse_qs(php.decode())


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
