"""The daemon on a real Mosquitto (127.0.0.1, a free port): events out, jobs in, presence, Home Assistant.

In process (``running_daemon``) with a simulated modem; the broker is a real ``mosquitto`` process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

import aiomqtt
import pytest

from raspisms_daemon.config import DeliveryConfig, MqttConfig
from raspisms_daemon.store import outbox
from tests.helpers.daemon_process import poll_until, running_daemon
from tests.helpers.mosquitto import Broker, mosquitto, needs_mosquitto, subscriber

pytestmark = needs_mosquitto


def _mqtt(broker: Broker, **kw: object) -> MqttConfig:
    return MqttConfig(host="127.0.0.1", port=broker.port, gateway="gw1", **kw)  # type: ignore[arg-type]


async def _publish(broker: Broker, topic: str, doc: object) -> None:
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier="test-client", protocol=aiomqtt.ProtocolVersion.V5
    ) as client:
        await client.publish(topic, payload, qos=1)


def _docs(messages: list[tuple[str, bytes, bool]]) -> list[dict[str, object]]:
    return [json.loads(p) for _, p, _ in messages if p]


async def test_an_sms_reaches_the_event_topic_with_its_own_random_id_and_the_status_is_online_then_offline(
    tmp_path: Path,
) -> None:
    async with mosquitto(tmp_path) as broker, subscriber(broker, "raspisms/#") as sub:
        mqtt = _mqtt(broker)
        async with running_daemon(tmp_path, config_overrides={"mqtt": mqtt}) as env:
            await env.sims[0].inject_sms("+33612345678", "hello broker")
            await sub.wait_for(lambda: sub.on("raspisms/gw1/event/receive_sms"))
            hooks = await env.wait_type("receive_sms")
            (doc,) = _docs(sub.on("raspisms/gw1/event/receive_sms"))
            assert doc["webhook_type"] == "receive_sms"
            assert doc["body"]["text"] == "hello broker"  # type: ignore[index]
            assert doc["body"]["origin"] == "+33612345678"  # type: ignore[index]
            # Its own row of the outbox: a random id of its own, signed like a webhook's.
            assert doc["webhook_random_id"] != hooks[0].random_id
            # Retained: a subscriber that comes later gets it at once.
            async with subscriber(broker, "raspisms/gw1/status", client_id="late", persistent=False) as late:
                await late.wait_for(lambda: late.messages)
                assert late.messages[-1] == ("raspisms/gw1/status", b"online", True)
        # A clean stop says offline (retained) before it disconnects.
        async with subscriber(broker, "raspisms/gw1/status", client_id="later", persistent=False) as later:
            await later.wait_for(lambda: later.messages)
            assert later.messages[-1] == ("raspisms/gw1/status", b"offline", True)


async def test_a_job_from_the_shared_topic_is_sent_once_and_its_statuses_are_published(
    tmp_path: Path,
) -> None:
    async with mosquitto(tmp_path) as broker, subscriber(broker, "raspisms/gw1/sent/#") as sub:
        async with running_daemon(tmp_path, config_overrides={"mqtt": _mqtt(broker)}) as env:
            assert env.daemon.mqtt is not None
            await poll_until(lambda: env.daemon.mqtt is not None and env.daemon.mqtt.connected, within=20)
            await poll_until(
                lambda: env.daemon.mqtt is not None and env.daemon.mqtt._shared is True, within=20
            )
            job = {"id": "job-1", "to": "+33612345678", "text": "from the fleet", "tag": "t1"}
            await _publish(broker, "raspisms/send", job)
            await _publish(broker, "raspisms/send", job)  # the same id again: the same job
            await sub.wait_for(
                lambda: (
                    {d["status"] for d in _docs(sub.on("raspisms/gw1/sent/job-1"))} >= {"accepted", "sent"}
                )
            )
            sent = env.sims[0].state()["sent"]
            assert [s["text"] for s in sent] == ["from the fleet"]
            statuses = [d["status"] for d in _docs(sub.on("raspisms/gw1/sent/job-1"))]
            assert statuses.count("accepted") == 1


async def test_a_job_whose_send_the_modem_never_answered_is_unknown_with_the_reason_not_sent(
    tmp_path: Path,
) -> None:
    async with mosquitto(tmp_path) as broker, subscriber(broker, "raspisms/gw1/sent/#") as sub:
        async with running_daemon(tmp_path, config_overrides={"mqtt": _mqtt(broker)}) as env:
            await poll_until(lambda: env.daemon.mqtt is not None and env.daemon.mqtt.connected, within=20)
            await env.sims[0].fault("stall")
            job = {"id": "job-9", "to": "+33612345678", "text": "lost?"}
            await _publish(broker, "raspisms/gw1/send", job)
            await poll_until(lambda: _sending(tmp_path / "daemon.sqlite3"), within=10)
            await asyncio.sleep(0.1)  # AT+CMGS is written; the modem does not answer, then is gone
            await env.sims[0].fault("unplug")

            def ended() -> list[dict[str, object]]:
                return [d for d in _docs(sub.on("raspisms/gw1/sent/job-9")) if d["status"] != "accepted"]

            await sub.wait_for(ended)
            (doc,) = ended()
            assert doc["status"] == "unknown"
            assert "no answer from the modem" in str(doc["error"])
            assert env.sims[0].state()["sent"] == []


def _sending(db: Path) -> bool:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        return conn.execute("SELECT state FROM sended").fetchall() == [("sending",)]


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"not json", "not a JSON object"),
        (json.dumps({"id": "bad-1", "to": "0612345678", "text": "x"}).encode(), "not a valid international"),
    ],
)
async def test_a_bad_job_is_refused_with_a_reason_and_nothing_is_sent(
    tmp_path: Path, payload: bytes, reason: str
) -> None:
    async with mosquitto(tmp_path) as broker, subscriber(broker, "raspisms/gw1/sent/#") as sub:
        async with running_daemon(tmp_path, config_overrides={"mqtt": _mqtt(broker)}) as env:
            await poll_until(lambda: env.daemon.mqtt is not None and env.daemon.mqtt.connected, within=20)
            await _publish(broker, "raspisms/gw1/send", payload)
            good = {"id": "good-1", "to": "+33612345678", "text": "after the bad one"}
            await _publish(broker, "raspisms/gw1/send", good)
            await sub.wait_for(
                lambda: any(d["status"] == "sent" for d in _docs(sub.on("raspisms/gw1/sent/good-1")))
            )
            assert [s["text"] for s in env.sims[0].state()["sent"]] == ["after the bad one"]
            refused = [d for d in _docs(sub.messages) if d["status"] == "refused"]
            if b"bad-1" in payload:
                assert len(refused) == 1 and reason in str(refused[0]["error"])
            else:
                assert refused == []  # no id to answer on: logged only


async def test_events_from_while_the_broker_was_down_go_out_as_soon_as_it_is_back_not_after_the_backoff(
    tmp_path: Path,
) -> None:
    # One attempt at once, the next an hour later: only "due at once on reconnection" can deliver it soon.
    delivery = DeliveryConfig(schedule=(0.0, 3600.0), jitter=0.0, timeout=1.0, connect_timeout=1.0)
    async with mosquitto(tmp_path) as broker, subscriber(broker, "raspisms/gw1/event/#") as sub:
        overrides = {"mqtt": _mqtt(broker), "delivery": delivery}
        async with running_daemon(tmp_path, config_overrides=overrides) as env:
            await poll_until(lambda: env.daemon.mqtt is not None and env.daemon.mqtt.connected, within=20)
            await broker.stop()
            await env.sims[0].inject_sms("+33612345678", "while the broker is down")

            async def failed_once() -> bool:
                rows = await outbox.list_deliveries(env.daemon.db.reads.conn, webhook="mqtt")
                return any(r.attempts >= 1 and r.state is outbox.DeliveryState.PENDING for r in rows)

            async with asyncio.timeout(20):
                while not await failed_once():  # noqa: ASYNC110 - the store is polled, no event to wait on
                    await asyncio.sleep(0.05)
            await broker.start()
            await sub.wait_for(lambda: sub.on("raspisms/gw1/event/receive_sms"), within=20)
            (doc,) = _docs(sub.on("raspisms/gw1/event/receive_sms"))
            assert doc["body"]["text"] == "while the broker is down"  # type: ignore[index]
