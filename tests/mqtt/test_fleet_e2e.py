"""A fleet of three daemons (real processes, each with a simulated modem) on one real Mosquitto, taking
300 send jobs from the shared topic ``raspisms/send``.

What makes "exactly once across the fleet" hold, as these tests pin it:

- the broker hands each job of the shared subscription to one session only, and a job delivered to a
  gateway stays with that gateway's session until acknowledged: Mosquitto 2.0.11 neither redistributes
  an unacknowledged job when the gateway dies nor stops queueing new ones to an offline persistent
  session (it keeps its turn in the round robin); the gateway gets them all when it reconnects;
- the gateway acknowledges a job only after the transaction that stored it committed, and a job
  delivered again (committed, then SIGKILLed before its PUBACK) finds its id in ``mqtt_job``: it is
  acknowledged, not scheduled twice;
- the session never expires (MQTT 5 session expiry 0xFFFFFFFF), so nothing queued for a dead gateway
  is dropped before it returns.

A send in flight when a gateway is SIGKILLed ends ``unknown`` and is never sent again (docs/design.md
§6): such a job counts as sent at most once, never twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from raspisms_daemon.simulator import Simulator
from tests.helpers.daemon_process import DaemonProcess, poll_until, write_config
from tests.helpers.mosquitto import Broker, Collector, Publisher, mosquitto, needs_mosquitto, subscriber
from tests.helpers.receiver import FaultyReceiver
from tests.helpers.simulator import simulated_modem

pytestmark = [needs_mosquitto, pytest.mark.slow, pytest.mark.timeout(240)]

JOBS = 300
GATEWAYS = 3
NO_MATCHING_SUBSCRIBERS = 16  # MQTT 5 PUBACK reason code
SETTLED = {"sent", "failed", "unknown"}  # a job's statuses once its send ended


class Fleet:
    def __init__(self, broker: Broker, sims: list[Simulator], procs: list[DaemonProcess]) -> None:
        self.broker = broker
        self.sims = sims
        self.procs = procs

    def sent_texts(self) -> list[list[str]]:
        return [[s["text"] for s in sim.state()["sent"]] for sim in self.sims]


@contextlib.asynccontextmanager
async def fleet(tmp_path: Path, broker: Broker, rx: FaultyReceiver) -> AsyncIterator[Fleet]:
    async with contextlib.AsyncExitStack() as stack:
        sims: list[Simulator] = []
        procs: list[DaemonProcess] = []
        for i in range(GATEWAYS):
            d = tmp_path / f"gw{i + 1}"
            d.mkdir()
            sim = await stack.enter_async_context(
                simulated_modem(d, name="modem", imei=f"86700000000010{i}", fast={"send_delay": 0.01})
            )
            sims.append(sim)
            cfg = write_config(
                d / "config.ini",
                database=d / "daemon.sqlite3",
                api_listen=f"unix:{d / 'api.sock'}",
                phones=[{"id": 1, "device": str(sim.link), "delivery_reports": "no"}],
                webhooks=[{"name": "test", "url": rx.url}],
                extra={"mqtt": {"url": broker.url, "gateway": f"gw{i + 1}"}},
            )
            procs.append(DaemonProcess(cfg, d / "api.sock"))
        try:
            await asyncio.gather(*(p.start(phones_connected=1) for p in procs))
            yield Fleet(broker, sims, procs)
        finally:
            for p in procs:
                if p.proc is not None and p.proc.returncode is None:
                    p.kill()
                    await p.wait()


async def wait_taking(presence: Collector, gateways: set[str]) -> None:
    """Until each gateway said (retained phone state) that its phone can send: it then holds the shared
    subscription (subscribed before that state is published)."""

    def taking() -> set[str]:
        return {t.split("/")[1] for t, p, _ in presence.messages if p and json.loads(p).get("available")}

    await presence.wait_for(lambda: taking() >= gateways, within=30)


async def publish_jobs(broker: Broker, ids: range, *, every: float = 0.0) -> int:
    """Each job published until the broker took it: QoS 1, PUBACK reason 0. A publish the broker
    answers 16 (no matching subscribers: no gateway holds the shared subscription at that moment, as
    right after a broker restart, since Mosquitto 2.0.11 does not restore shared subscriptions from its
    persistence) was dropped, and is published again, as a client must; one that failed with the
    connection never reached the broker. Returns how many were published again."""
    i, again = ids.start, 0
    while i < ids.stop:
        try:
            async with aiomqtt.Client(
                "127.0.0.1", broker.port, identifier="test-jobs", protocol=aiomqtt.ProtocolVersion.V5
            ) as client:
                publisher = Publisher(client)
                while i < ids.stop:
                    job = {"id": f"job-{i:03d}", "to": "+33612345678", "text": f"job {i:03d}"}
                    code = await publisher.publish("raspisms/send", json.dumps(job).encode())
                    if code == NO_MATCHING_SUBSCRIBERS:
                        again += 1
                        await asyncio.sleep(0.1)
                        continue
                    assert code == 0, f"the broker refused a job: reason {code}"
                    i += 1
                    if every:
                        await asyncio.sleep(every)
        except aiomqtt.MqttError:
            await asyncio.sleep(0.2)
    return again


def statuses(sent: Collector) -> dict[str, dict[str, set[str]]]:
    """gateway → job id → statuses published for it."""
    out: dict[str, dict[str, set[str]]] = {}
    for topic, payload, _ in sent.messages:
        if payload:
            doc = json.loads(payload)
            out.setdefault(topic.split("/")[1], {}).setdefault(doc["id"], set()).add(doc["status"])
    return out


def settled(sent: Collector) -> set[str]:
    """Jobs whose SMS left, failed, or ended ``unknown`` (its gateway died mid-send), as published."""
    return {job for per in statuses(sent).values() for job, st in per.items() if st & SETTLED}


async def wait_all_settled(sent: Collector, within: float = 120.0) -> None:
    await poll_until(lambda: len(settled(sent)) >= JOBS, within=within, every=0.2)
    await asyncio.sleep(1.0)  # anything sent twice would show up by now


def check_exactly_once(
    f: Fleet,
    sent: dict[str, dict[str, set[str]]],
    *,
    interrupted: set[str] = frozenset(),  # type: ignore[assignment]
) -> dict[str, Any]:
    """Every job sent once; ``interrupted``: jobs a SIGKILL may have caught mid-send (at most one of
    them may be missing: its send ended ``unknown``, as its status says, and was never sent again)."""
    texts = f.sent_texts()
    counts = Counter(t for per in texts for t in per)
    missing = {f"job-{i:03d}" for i in range(JOBS)} - {f"job-{t[4:]}" for t in counts}
    unknown = {job for per in sent.values() for job, st in per.items() if "unknown" in st}
    assert missing <= interrupted & unknown and len(missing) <= 1, f"jobs never sent: {sorted(missing)}"
    assert [t for t, n in counts.items() if n > 1] == [], "a job was sent twice"
    # Each job was taken (committed, acknowledged) by exactly one gateway, which sent it.
    takers = Counter(job for per in sent.values() for job, st in per.items() if "accepted" in st)
    assert [j for j, n in takers.items() if n > 1] == []
    for k, per_gw in enumerate(texts):
        accepted = {job for job, st in sent.get(f"gw{k + 1}", {}).items() if "accepted" in st}
        assert {f"job-{t[4:]}" for t in per_gw} == accepted - missing
    return {f"gw{k + 1}": len(t) for k, t in enumerate(texts)}


async def test_three_gateways_take_300_jobs_each_sent_exactly_once_spread_over_all_three(
    tmp_path: Path,
) -> None:
    rx = FaultyReceiver("test-key-0123456789abcdef0123456789")
    await rx.start()
    try:
        async with (
            mosquitto(tmp_path) as broker,
            subscriber(broker, "raspisms/+/phone/+/state", client_id="presence") as presence,
            subscriber(broker, "raspisms/+/sent/#", client_id="statuses") as sent,
            fleet(tmp_path, broker, rx) as f,
        ):
            await wait_taking(presence, {"gw1", "gw2", "gw3"})
            await publish_jobs(broker, range(JOBS))
            await wait_all_settled(sent)
            spread = check_exactly_once(f, statuses(sent))
            assert all(n > 0 for n in spread.values()), spread
            print(f"spread over the fleet: {spread}")
    finally:
        await rx.stop()


async def test_a_gateway_sigkilled_mid_run_loses_no_job_it_acknowledged_and_the_others_take_the_rest(
    tmp_path: Path,
) -> None:
    rx = FaultyReceiver("test-key-0123456789abcdef0123456789")
    await rx.start()
    try:
        async with (
            mosquitto(tmp_path) as broker,
            subscriber(broker, "raspisms/+/phone/+/state", client_id="presence") as presence,
            subscriber(broker, "raspisms/+/sent/#", client_id="statuses") as sent,
            fleet(tmp_path, broker, rx) as f,
        ):
            await wait_taking(presence, {"gw1", "gw2", "gw3"})
            # gw2 sends slowly: when it dies it holds jobs committed and acknowledged but not yet sent.
            f.sims[1].send_delay = 0.1
            publisher = asyncio.create_task(publish_jobs(broker, range(JOBS), every=0.005))
            await sent.wait_for(lambda: len(statuses(sent).get("gw2", {})) >= 40)
            f.procs[1].kill()
            await f.procs[1].wait()
            in_hand = {j for j, st in statuses(sent).get("gw2", {}).items() if "accepted" in st}
            sent_before = len(f.sent_texts()[1])
            await asyncio.sleep(1.0)
            await publisher
            f.sims[1].send_delay = 0.01
            await f.procs[1].start(phones_connected=1)
            await wait_all_settled(sent)
            spread = check_exactly_once(f, statuses(sent), interrupted=in_hand)
            gw2_sent = {f"job-{t[4:]}" for t in f.sent_texts()[1]}
            assert len(in_hand - gw2_sent) <= 1, "a job gw2 had acknowledged was lost"
            assert len(in_hand) > sent_before, "the kill came after gw2 had sent all it held"
            print(f"gw2 held {len(in_hand)} jobs ({sent_before} sent) when killed; spread: {spread}")
    finally:
        await rx.stop()


async def test_a_broker_restarted_mid_run_loses_no_job_and_no_event(tmp_path: Path) -> None:
    rx = FaultyReceiver("test-key-0123456789abcdef0123456789")
    await rx.start()
    try:
        async with (
            mosquitto(tmp_path) as broker,
            subscriber(broker, "raspisms/+/phone/+/state", client_id="presence") as presence,
            subscriber(broker, "raspisms/+/sent/#", client_id="statuses") as sent,
            subscriber(broker, "raspisms/+/event/#", client_id="events") as events,
            fleet(tmp_path, broker, rx) as f,
        ):
            await wait_taking(presence, {"gw1", "gw2", "gw3"})
            for sim in f.sims:
                sim.send_delay = 0.05  # the gateways are still sending when the broker goes
            await publish_jobs(broker, range(JOBS // 2))
            await poll_until(lambda: sum(len(t) for t in f.sent_texts()) >= 30, within=60)
            await broker.stop()
            # While it is down: SMS arrive, SMS go out; their events wait in the outboxes.
            sent_while_down = sum(len(t) for t in f.sent_texts())
            for i, sim in enumerate(f.sims):
                await sim.inject_sms("+33612345678", f"while the broker is down {i}")
            await rx.wait_for(lambda: len([d for d in rx.deliveries if d.type == "receive_sms"]) >= GATEWAYS)
            await asyncio.sleep(1.0)
            sent_while_down = sum(len(t) for t in f.sent_texts()) - sent_while_down
            await broker.start()
            again = await publish_jobs(broker, range(JOBS // 2, JOBS))
            await wait_all_settled(sent)

            def distinct(type: str) -> set[str]:
                docs = [json.loads(p) for t, p, _ in events.messages if t.endswith(f"/event/{type}")]
                return {d["webhook_random_id"] for d in docs}

            await events.wait_for(lambda: len(distinct("send_sms")) >= JOBS, within=60)
            await events.wait_for(lambda: len(distinct("receive_sms")) >= GATEWAYS, within=30)
            spread = check_exactly_once(f, statuses(sent))
            assert len(distinct("send_sms")) == JOBS
            texts = {
                json.loads(p)["body"]["text"] for t, p, _ in events.messages if t.endswith("/receive_sms")
            }
            assert texts == {f"while the broker is down {i}" for i in range(GATEWAYS)}
            assert sent_while_down > 0, "nothing was sent while the broker was down: no event had to wait"
            print(
                f"{sent_while_down} SMS sent while the broker was down; {again} job(s) published again "
                f"(no gateway subscribed yet); spread: {spread}"
            )
    finally:
        await rx.stop()
