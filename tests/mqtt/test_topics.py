"""The topic tree and the gateway's name (a table; no I/O)."""

from __future__ import annotations

import pytest

from raspisms_daemon.mqtt.topics import Topics, gateway_name, job_id_topic_safe


@pytest.mark.parametrize(
    ("configured", "hostname", "expected"),
    [
        ("pi-1", "whatever", "pi-1"),
        ("", "raspberrypi", "raspberrypi"),
        ("", "raspberrypi.local", "raspberrypi"),
        ("", "my pi#2", "my-pi-2"),
        ("", "", "gateway"),
    ],
)
def test_the_gateway_is_named_by_the_config_or_the_host_name_made_one_topic_level(
    configured: str, hostname: str, expected: str
) -> None:
    assert gateway_name(configured, hostname) == expected


def test_the_topics_of_a_gateway() -> None:
    t = Topics("raspisms", "pi1")
    assert t.status == "raspisms/pi1/status"
    assert t.shared_send == "$share/raspisms/raspisms/send"
    assert t.fleet_send == "raspisms/send"
    assert t.own_send == "raspisms/pi1/send"
    assert t.event("receive_sms") == "raspisms/pi1/event/receive_sms"
    assert t.sent("order-1") == "raspisms/pi1/sent/order-1"
    assert t.phone(3, "state") == "raspisms/pi1/phone/3/state"


@pytest.mark.parametrize(
    ("topic", "phone"),
    [
        ("raspisms/pi1/phone/3/notify", 3),
        ("raspisms/pi1/phone/x/notify", None),
        ("raspisms/pi2/phone/3/notify", None),
        ("raspisms/pi1/phone/3/state", None),
        ("other/raspisms/pi1/phone/3/notify", None),
    ],
)
def test_only_this_gateways_notify_topics_name_a_phone(topic: str, phone: int | None) -> None:
    assert Topics("raspisms", "pi1").notify_phone(topic) == phone


@pytest.mark.parametrize(("job_id", "ok"), [("order-1", True), ("a/b", False), ("#", False), ("", False)])
def test_a_job_id_must_be_one_topic_level(job_id: str, ok: bool) -> None:
    assert job_id_topic_safe(job_id) is ok
