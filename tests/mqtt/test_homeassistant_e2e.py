"""Home Assistant over MQTT, end to end on a real Mosquitto: discovery, events, notify, clean removal."""

from __future__ import annotations

import json
from pathlib import Path

import aiomqtt

from raspisms_daemon.config import MqttConfig
from tests.helpers.daemon_process import poll_until, running_daemon
from tests.helpers.mosquitto import Broker, mosquitto, needs_mosquitto, subscriber

pytestmark = needs_mosquitto


def _mqtt(broker: Broker) -> MqttConfig:
    return MqttConfig(host="127.0.0.1", port=broker.port, gateway="gw1", homeassistant=True)


async def test_each_phone_is_discovered_its_sms_and_calls_are_events_and_notify_sends_an_sms(
    tmp_path: Path,
) -> None:
    async with mosquitto(tmp_path) as broker, subscriber(broker, "homeassistant/#", "raspisms/#") as sub:
        async with running_daemon(tmp_path, phones=2, config_overrides={"mqtt": _mqtt(broker)}) as env:

            def configs() -> set[str]:
                return {t for t, p, _ in sub.on("homeassistant/") if p}

            await sub.wait_for(lambda: len(configs()) == 12)
            assert {t.split("/")[3].split("_")[0] for t in configs()} == {"phone1", "phone2"}

            await env.sims[0].inject_sms("+33612345678", "to home assistant")
            await sub.wait_for(lambda: sub.on("raspisms/gw1/phone/1/last_sms"))
            ((_, last, _),) = sub.on("raspisms/gw1/phone/1/last_sms")
            assert json.loads(last)["text"] == "to home assistant"
            await env.sims[1].ring("+33698765432")
            await sub.wait_for(lambda: sub.on("raspisms/gw1/phone/2/event"))
            events = [json.loads(p) for t, p, _ in sub.on("raspisms/gw1/phone/") if t.endswith("/event")]
            assert {(e["event_type"], e["from"]) for e in events} == {
                ("sms", "+33612345678"),
                ("call", "+33698765432"),
            }

            async with aiomqtt.Client(
                "127.0.0.1", broker.port, identifier="home-assistant", protocol=aiomqtt.ProtocolVersion.V5
            ) as ha:
                await ha.publish(
                    "raspisms/gw1/phone/2/notify", b"+33612345678: sent from Home Assistant", qos=1
                )
            await poll_until(lambda: bool(env.sims[1].state()["sent"]), within=20)
            assert [s["text"] for s in env.sims[1].state()["sent"]] == ["sent from Home Assistant"]
            assert env.sims[0].state()["sent"] == []

        # Phone 2 leaves the config: its entities and retained topics are removed (empty retained).
        async with running_daemon(tmp_path, phones=1, config_overrides={"mqtt": _mqtt(broker)}) as env:

            def removed() -> set[str]:
                return {
                    t for t, p, _ in sub.messages if p == b"" and "phone2" in t.replace("/phone/2/", "phone2")
                }

            await sub.wait_for(lambda: len(removed()) == 8)
            assert {t for t in removed() if t.startswith("homeassistant/")} == {
                t for t in configs() if "/phone2_" in t
            }
            assert {t for t in removed() if t.startswith("raspisms/")} == {
                "raspisms/gw1/phone/2/state",
                "raspisms/gw1/phone/2/last_sms",
            }
        # A broker-side view: nothing of phone 2 is retained any more, phone 1's is.
        async with subscriber(broker, "#", client_id="late", persistent=False) as late:
            await late.wait_for(lambda: any("phone1_signal" in t for t, _, _ in late.messages))
            retained = {t for t, p, r in late.messages if r and p}
            assert not [t for t in retained if "phone2" in t or "/phone/2/" in t]
            assert "raspisms/gw1/phone/1/state" in retained
