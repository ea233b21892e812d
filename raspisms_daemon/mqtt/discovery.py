"""Home Assistant's MQTT discovery documents: one device per phone. Pure.

Checked against Home Assistant's documentation (home-assistant/home-assistant.io:
source/_integrations/mqtt.markdown "Discovery topic" / "Discovery payload", sensor.mqtt.markdown,
event.mqtt.markdown, notify.mqtt.markdown) and its discovery code's topic pattern
(home-assistant/core: homeassistant/components/mqtt/discovery.py ``TOPIC_MATCHER``):
``<discovery_prefix>/<component>/<node_id>/<object_id>/config``, ids of ``[a-zA-Z0-9_-]``, a JSON
object with full (unabbreviated) keys, published retained; an empty retained payload removes the entity.
tests/mqtt/test_discovery.py validates every document against the keys those pages list.

Per phone: sensors signal (dBm), operator, registration and last SMS received (its time; sender and text
as attributes), an ``event`` entity (event types ``sms`` and ``call``) and a ``notify`` entity whose
message (``+33612345678: text``) is sent as an SMS by that phone. All are unavailable while the gateway
is offline (its ``status`` topic, the last will).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .payloads import PhoneView, Publication, document_json
from .topics import Topics

__all__ = ["ORIGIN_NAME", "discovery_documents", "node_id"]

ORIGIN_NAME = "raspisms-daemon"
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")


def node_id(gateway: str) -> str:
    return "raspisms_" + _NOT_ID.sub("_", gateway)


def _entities(topics: Topics, phone: PhoneView) -> list[tuple[str, str, dict[str, object]]]:
    """``(component, object id suffix, component-specific keys)`` of one phone's entities."""
    state = topics.phone(phone.id, "state")
    last = topics.phone(phone.id, "last_sms")
    return [
        (
            "sensor",
            "signal",
            {
                "name": "Signal",
                "state_topic": state,
                "value_template": "{{ value_json.signal_dbm }}",
                "device_class": "signal_strength",
                "unit_of_measurement": "dBm",
                "state_class": "measurement",
                "entity_category": "diagnostic",
            },
        ),
        (
            "sensor",
            "operator",
            {
                "name": "Operator",
                "state_topic": state,
                "value_template": "{{ value_json.operator }}",
                "icon": "mdi:radio-tower",
                "entity_category": "diagnostic",
            },
        ),
        (
            "sensor",
            "registration",
            {
                "name": "Registration",
                "state_topic": state,
                "value_template": "{{ value_json.registration }}",
                "icon": "mdi:sim",
                "entity_category": "diagnostic",
            },
        ),
        (
            "sensor",
            "last_sms",
            {
                "name": "Last SMS received",
                "state_topic": last,
                "value_template": "{{ value_json.at }}",
                "device_class": "timestamp",
                "json_attributes_topic": last,
                "icon": "mdi:message-text",
            },
        ),
        (
            "event",
            "events",
            {
                "name": "SMS and calls",
                "state_topic": topics.phone(phone.id, "event"),
                "event_types": ["sms", "call"],
                "icon": "mdi:message-badge",
            },
        ),
        (
            "notify",
            "send",
            {
                "name": "Send SMS",
                "command_topic": topics.phone(phone.id, "notify"),
                "qos": 1,
            },
        ),
    ]


def discovery_documents(
    topics: Topics, phones: Iterable[PhoneView], *, prefix: str, version: str
) -> list[Publication]:
    """The retained discovery documents of these phones (config topics and JSON payloads)."""
    node = node_id(topics.gateway)
    out: list[Publication] = []
    for phone in phones:
        device = {
            "identifiers": [f"{node}_phone{phone.id}"],
            "name": phone.name or f"Phone {phone.id} ({topics.gateway})",
            "manufacturer": ORIGIN_NAME,
            "model": "GSM modem",
            "sw_version": version,
        }
        for component, what, keys in _entities(topics, phone):
            object_id = f"phone{phone.id}_{what}"
            doc = {
                **keys,
                "unique_id": f"{node}_{object_id}",
                "availability_topic": topics.status,
                "payload_available": "online",
                "payload_not_available": "offline",
                "device": device,
                "origin": {"name": ORIGIN_NAME, "sw_version": version},
            }
            topic = f"{prefix}/{component}/{node}/{object_id}/config"
            payload = document_json(doc).encode()
            out.append(Publication(topic, payload, retain=True))
    return out
