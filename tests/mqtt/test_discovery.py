"""Home Assistant's discovery documents, validated against what Home Assistant documents and checks.

The outside oracle, key by key:

- the topic: home-assistant/core@(discovery.py, the ``TOPIC_MATCHER`` of its device-discovery era):
  ``(?P<component>\\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config`` after the
  discovery prefix, and ``component`` one of its ``SUPPORTED_COMPONENTS`` (sensor, event, notify are);
- the keys each platform accepts, with their types and which are required: home-assistant/home-assistant.io
  source/_integrations/sensor.mqtt.markdown@9e4a69ab, event.mqtt.markdown@0271d54c,
  notify.mqtt.markdown@08520bb1 (their ``{% configuration %}`` blocks, transcribed below);
- ``origin``: core's ``MQTT_ORIGIN_INFO_SCHEMA`` (``name`` required; ``sw_version``, ``support_url``).

Deliberate choices: full key names (no abbreviations), ``availability_topic`` (not the list form),
``entity_category: diagnostic`` on the modem's sensors (the sensor page: "must be diagnostic for
sensors"), signal in dBm with ``device_class: signal_strength`` (27.007's rssi → dBm).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from raspisms_daemon.mqtt.discovery import discovery_documents, node_id
from raspisms_daemon.mqtt.payloads import PhoneView
from raspisms_daemon.mqtt.topics import Topics

TOPIC_MATCHER = re.compile(
    r"(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config"
)

# Common to the three pages: availability, device, and the entity keys every MQTT entity has.
COMMON: dict[str, type | tuple[type, ...]] = {
    "availability": list,
    "availability_mode": str,
    "availability_template": str,
    "availability_topic": str,
    "device": dict,
    "enabled_by_default": bool,
    "encoding": str,
    "entity_category": str,
    "entity_picture": str,
    "icon": str,
    "json_attributes_template": str,
    "json_attributes_topic": str,
    "name": str,
    "object_id": str,
    "payload_available": str,
    "payload_not_available": str,
    "qos": int,
    "unique_id": str,
    "origin": dict,
}
PLATFORMS: dict[str, tuple[dict[str, type | tuple[type, ...]], set[str]]] = {
    # keys: type; required keys
    "sensor": (
        {
            "device_class": str,
            "expire_after": int,
            "force_update": bool,
            "last_reset_value_template": str,
            "options": list,
            "suggested_display_precision": int,
            "state_class": str,
            "state_topic": str,
            "unit_of_measurement": str,
            "value_template": str,
        },
        {"state_topic"},
    ),
    "event": (
        {"device_class": str, "event_types": list, "state_topic": str, "value_template": str},
        {"state_topic", "event_types"},
    ),
    "notify": ({"command_template": str, "command_topic": str, "retain": bool}, {"command_topic"}),
}
DEVICE_KEYS = {
    "configuration_url",
    "connections",
    "hw_version",
    "identifiers",
    "manufacturer",
    "model",
    "model_id",
    "name",
    "serial_number",
    "suggested_area",
    "sw_version",
    "via_device",
}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}

TOPICS = Topics("raspisms", "pi.kitchen")
PHONES = [
    PhoneView(1, "huawei", "connected", True, 20, "Orange F", "home"),
    PhoneView(7, "", "disconnected", False, None, None, None),
]


def _docs() -> list[tuple[str, dict[str, Any]]]:
    pubs = discovery_documents(TOPICS, PHONES, prefix="homeassistant", version="1.2.3")
    assert all(p.retain for p in pubs)
    return [(p.topic, json.loads(p.payload)) for p in pubs]


@pytest.mark.parametrize(("topic", "doc"), _docs(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_discovery_document_has_only_documented_keys_of_the_documented_types(
    topic: str, doc: dict[str, Any]
) -> None:
    assert topic.startswith("homeassistant/")
    match = TOPIC_MATCHER.fullmatch(topic.removeprefix("homeassistant/"))
    assert match is not None, topic
    component = match["component"]
    keys, required = PLATFORMS[component]
    allowed = {**COMMON, **keys}
    assert set(doc) <= set(allowed), set(doc) - set(allowed)
    assert required <= set(doc)
    for key, value in doc.items():
        assert isinstance(value, allowed[key]), (key, value)
    assert set(doc["device"]) <= DEVICE_KEYS and doc["device"]["identifiers"]
    assert set(doc["origin"]) <= ORIGIN_KEYS and doc["origin"]["name"]
    # device info only works with unique_id (all three pages); the object id is the unique id's tail.
    assert doc["unique_id"].endswith(match["object_id"])
    if doc.get("entity_category") is not None:
        assert doc["entity_category"] == "diagnostic"


def test_each_phone_is_one_device_with_four_sensors_an_event_and_a_notify_entity() -> None:
    docs = _docs()
    by_device: dict[str, list[str]] = {}
    for topic, doc in docs:
        by_device.setdefault(doc["device"]["identifiers"][0], []).append(topic.split("/")[1])
    assert sorted(by_device) == ["raspisms_pi_kitchen_phone1", "raspisms_pi_kitchen_phone7"]
    for components in by_device.values():
        assert sorted(components) == ["event", "notify", "sensor", "sensor", "sensor", "sensor"]
    assert len({doc["unique_id"] for _, doc in docs}) == len(docs)
    # A gateway name with a dot becomes a valid node id; the topics keep the gateway's own name.
    assert node_id("pi.kitchen") == "raspisms_pi_kitchen"
    topics = {str(doc.get("state_topic") or doc.get("command_topic")) for _, doc in docs}
    assert {t.split("/")[1] for t in topics} == {"pi.kitchen"}


def test_the_entities_read_the_topics_the_gateway_publishes() -> None:
    docs = {topic.rsplit("/", 2)[-2]: doc for topic, doc in _docs()}
    assert docs["phone1_signal"]["state_topic"] == "raspisms/pi.kitchen/phone/1/state"
    assert docs["phone1_signal"]["unit_of_measurement"] == "dBm"
    assert docs["phone1_last_sms"]["device_class"] == "timestamp"
    assert docs["phone1_events"]["state_topic"] == "raspisms/pi.kitchen/phone/1/event"
    assert docs["phone1_events"]["event_types"] == ["sms", "call"]
    assert docs["phone1_send"]["command_topic"] == "raspisms/pi.kitchen/phone/1/notify"
    assert docs["phone7_signal"]["device"]["name"] == "Phone 7 (pi.kitchen)"
    assert all(d["availability_topic"] == "raspisms/pi.kitchen/status" for d in docs.values())
