"""What each outbox row of the MQTT target is published as (a table; no I/O)."""

from __future__ import annotations

import json

import pytest

from raspisms_daemon.mqtt.payloads import (
    JOB_STATUS_TYPE,
    PhoneView,
    phone_state,
    publications,
    signal_dbm,
    sms_status,
)
from raspisms_daemon.mqtt.topics import Topics

T = Topics("raspisms", "pi1")


def pubs(
    type: str, body: dict[str, object], *, job_id: str | None = None, ha: bool = False
) -> dict[str, object]:
    out = publications(
        T,
        type=type,
        body_json=json.dumps(body),
        payload=b"<webhook json>",
        timestamp=1767225600,
        job_id=job_id,
        homeassistant=ha,
    )
    return {
        p.topic: (p.payload if p.payload == b"<webhook json>" else json.loads(p.payload), p.retain)
        for p in out
    }


def test_an_event_goes_to_its_type_topic_as_the_webhook_json() -> None:
    assert pubs("phone_reliability", {"id_phone": 1}) == {
        "raspisms/pi1/event/phone_reliability": (b"<webhook json>", False)
    }


def test_an_sms_of_a_job_also_publishes_the_jobs_status() -> None:
    body = {
        "id": 9,
        "status": "unknown",
        "origin": 1,
        "destination": "+33612345678",
        "originating_scheduled": 4,
    }
    got = pubs("send_sms", body, job_id="order-1")
    assert got["raspisms/pi1/sent/order-1"] == (
        {
            "id": "order-1",
            "gateway": "pi1",
            "status": "sent",
            "sms": 9,
            "destination": "+33612345678",
            "phone": 1,
        },
        False,
    )
    report = pubs("send_sms_status_change", {"id": 9, "status": "success"}, job_id="order-1")
    assert report["raspisms/pi1/sent/order-1"][0]["status"] == "delivered"  # type: ignore[index]


@pytest.mark.parametrize(
    ("type", "status", "expected"),
    [
        ("send_sms", "unknown", "sent"),
        ("send_sms", "failed", "failed"),
        ("send_sms_status_change", "success", "delivered"),
        ("send_sms_status_change", "delivered", "delivered"),  # the raspisms flavour's word
        ("send_sms_status_change", "failed", "failed"),
        ("send_sms_status_change", "unknown", "unknown"),
    ],
)
def test_sms_statuses_become_job_statuses(type: str, status: str, expected: str) -> None:
    found = sms_status(type, {"id": 1, "status": status})
    assert found is not None and found[0] == expected


def test_a_send_the_modem_never_answered_is_unknown_not_sent_and_says_why() -> None:
    # RaspiSMS's send_sms says "unknown" for a send the modem took and for one it never answered.
    why = "interrupted while sending: the daemon stopped before the modem answered"
    body = {"id": 1, "status": "unknown", "origin": 1, "destination": "+33612345678"}
    assert sms_status("send_sms", body, why) == (
        "unknown",
        {"sms": 1, "destination": "+33612345678", "phone": 1, "error": why},
    )
    refusal = "SMS refused by the modem: +CMS ERROR: 500"
    refused = sms_status("send_sms", {**body, "status": "failed"}, refusal)
    assert refused is not None and refused[0] == "failed" and refused[1]["error"] == refusal
    # A delivery report's status is the report's, whatever the send recorded.
    assert sms_status("send_sms_status_change", {"id": 1, "status": "failed"}, why) == ("failed", {"sms": 1})


def test_a_job_status_row_goes_to_the_jobs_topic_only() -> None:
    doc = {"id": "order-2", "gateway": "pi1", "status": "accepted", "scheduled": 3}
    assert pubs(JOB_STATUS_TYPE, doc) == {"raspisms/pi1/sent/order-2": (doc, False)}


def test_with_home_assistant_an_sms_is_an_event_of_its_phone_and_its_last_sms() -> None:
    body = {"id": 5, "at": "2026-01-01 01:00:00", "origin": "+33612345678", "destination": 2, "text": "hi"}
    got = pubs("receive_sms", body, ha=True)
    sms = {"at": "2026-01-01T00:00:00+00:00", "from": "+33612345678", "text": "hi", "id": 5}
    assert got["raspisms/pi1/phone/2/event"] == ({"event_type": "sms", **sms}, False)
    assert got["raspisms/pi1/phone/2/last_sms"] == (sms, True)
    call = pubs("inbound_call", {"id": 7, "id_phone": 2, "origin": "+33612345678"}, ha=True)
    assert call["raspisms/pi1/phone/2/event"][0]["event_type"] == "call"  # type: ignore[index]
    assert set(pubs("receive_sms", body)) == {"raspisms/pi1/event/receive_sms"}


@pytest.mark.parametrize(("rssi", "dbm"), [(0, -113), (1, -111), (31, -51), (99, None), (None, None)])
def test_signal_in_dbm_as_27007_defines_rssi(rssi: int | None, dbm: int | None) -> None:
    assert signal_dbm(rssi) == dbm


def test_a_phones_state_says_whether_it_can_send() -> None:
    doc = json.loads(phone_state(PhoneView(1, "a", "connected", True, 15, "Orange", "home")))
    assert doc == {
        "id": 1,
        "name": "a",
        "state": "connected",
        "available": True,
        "signal": 15,
        "signal_dbm": -83,
        "operator": "Orange",
        "registration": "home",
    }
