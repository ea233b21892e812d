"""MQTT: a fleet's intake throughput (1 gateway, then 3, in the same run) and the event latency from the
modem to an MQTT subscriber, beside the webhook's, on a real Mosquitto (bench/broker.py).

    python -m bench.mqtt_fleet [--jobs 2000] [--sms 200] [--smoke]

Fleet: each gateway is a daemon process (``raspisms-daemon run``) with a simulated modem and its own
SQLite file. Jobs are published to ``raspisms/send`` (QoS 1) for a date far ahead, so that what is
measured is the intake alone: a job counts once its ``accepted`` status (published from the outbox after
the commit that took it) reached a subscriber. First one gateway alone takes N jobs, then two more join
and the three take N others.

Latency: one daemon with a webhook and ``[mqtt]``; SMS injected one at a time; the clock runs from
``inject_sms`` to the verified webhook POST and to the MQTT subscriber's message, for the same SMS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiomqtt

from bench.bench_inbound import API_KEY, percentile, start_daemon, wait_arrived, wait_daemon_ready
from bench.broker import Broker
from bench.profile import stop_process
from raspisms_daemon.simulator import Simulator
from raspisms_daemon.webhooks.receiver import ReceivedDelivery, VerifyingReceiver

__all__ = ["event_latency", "fleet_throughput", "main"]

FAR = "2099-01-01 00:00:00"


def gateway_config(
    workdir: Path, link: Path, broker: Broker, gateway: str, webhook: str | None = None
) -> Path:
    cfg = workdir / "config.ini"
    hook = f"[webhook:bench]\nurl = {webhook}\ntypes = receive_sms\n\n" if webhook else ""
    cfg.write_text(
        f"[daemon]\ndatabase = {workdir / 'bench.sqlite3'}\napi_key = {API_KEY}\nlog_level = warning\n\n"
        f"[api]\nlisten = unix:{workdir / 'api.sock'}\n\n"
        f"[mqtt]\nurl = {broker.url}\ngateway = {gateway}\n\n"
        f"{hook}[phone:1]\ndevice = {link}\n"
    )
    cfg.chmod(0o600)
    return cfg


class Gateway:
    def __init__(self, workdir: Path, broker: Broker, name: str, webhook: str | None = None) -> None:
        self.dir = workdir / name
        self.dir.mkdir()
        self.name = name
        self.broker = broker
        self.webhook = webhook
        self.sim = Simulator(self.dir / "modem", noise=False)
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        await self.sim.start()
        self.proc = await start_daemon(
            gateway_config(self.dir, self.sim.link, self.broker, self.name, self.webhook)
        )
        await wait_daemon_ready(self.dir / "api.sock", self.proc)

    async def stop(self) -> None:
        if self.proc is not None:
            await stop_process(self.proc, grace=30.0)
        await self.sim.stop()


async def _subscribe(broker: Broker, filters: list[str], on: Any, ready: asyncio.Event) -> None:
    async with aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        identifier=f"bench-{os.getpid()}-{filters[0]}",
        protocol=aiomqtt.ProtocolVersion.V5,
    ) as client:
        for f in filters:
            await client.subscribe(f, qos=1)
        ready.set()
        async for message in client.messages:
            on(message.topic.value, message.payload if isinstance(message.payload, bytes) else b"")


async def _taking(states: dict[str, bool], names: list[str], within: float = 60.0) -> None:
    """Until every gateway's phone state says it can send (it holds the shared subscription by then)."""
    deadline = time.monotonic() + within
    while not all(states.get(n) for n in names):
        if time.monotonic() > deadline:
            raise SystemExit(f"gateways not taking jobs within {within:g} s: {states}")
        await asyncio.sleep(0.05)


async def _take(
    broker: Broker, accepted: dict[str, tuple[str, float]], prefix: str, n: int, within: float
) -> float:
    """Publish n jobs, return jobs per second until all are accepted (committed on some gateway)."""
    ids = [f"{prefix}-{i:06d}" for i in range(n)]
    start = time.perf_counter()
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier=f"bench-jobs-{prefix}", protocol=aiomqtt.ProtocolVersion.V5
    ) as client:
        for job_id in ids:
            job = {"id": job_id, "to": "+33612345678", "text": f"bench {job_id}", "at": FAR}
            await client.publish("raspisms/send", json.dumps(job).encode(), qos=1)
    deadline = start + within
    while not all(i in accepted for i in ids):
        if time.perf_counter() > deadline:
            missing = sum(i not in accepted for i in ids)
            raise SystemExit(f"{missing} of {n} jobs not accepted within {within:g} s")
        await asyncio.sleep(0.01)
    return n / (max(accepted[i][1] for i in ids) - start)


async def fleet_throughput(jobs: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-mqtt-fleet-"))
    broker = Broker(workdir / "broker")
    gateways = [Gateway(workdir, broker, f"gw{i + 1}") for i in range(3)]
    accepted: dict[str, tuple[str, float]] = {}  # job id → (gateway, when its acceptance arrived)
    states: dict[str, bool] = {}

    def on(topic: str, payload: bytes) -> None:
        if not payload:
            return
        doc = json.loads(payload)
        if "/sent/" in topic and doc.get("status") == "accepted":
            accepted.setdefault(doc["id"], (topic.split("/")[1], time.perf_counter()))
        elif topic.endswith("/state"):
            states[topic.split("/")[1]] = bool(doc.get("available"))

    ready = asyncio.Event()
    await broker.start()
    listener = asyncio.create_task(
        _subscribe(broker, ["raspisms/+/sent/#", "raspisms/+/phone/+/state"], on, ready)
    )
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await gateways[0].start()
        await _taking(states, ["gw1"])
        one = await _take(broker, accepted, "one", jobs, within=max(60.0, jobs / 10))
        await asyncio.gather(gateways[1].start(), gateways[2].start())
        await _taking(states, ["gw1", "gw2", "gw3"])
        three = await _take(broker, accepted, "three", jobs, within=max(60.0, jobs / 10))
        spread = Counter(gw for job, (gw, _) in accepted.items() if job.startswith("three-"))
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await asyncio.gather(*(g.stop() for g in gateways), return_exceptions=True)
        await broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "jobs": jobs,
        "one_per_s": round(one, 1),
        "three_per_s": round(three, 1),
        "ratio": round(three / one, 2),
        "spread": dict(sorted(spread.items())),
        "cpus": os.cpu_count(),
    }


async def event_latency(n: int, per_sms: float = 10.0) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-mqtt-latency-"))
    broker = Broker(workdir / "broker")
    hooks: dict[str, float] = {}
    mqtt: dict[str, float] = {}
    got = asyncio.Event()

    def on_delivery(d: ReceivedDelivery) -> None:
        hooks.setdefault(d.body["text"], time.perf_counter())
        got.set()

    def on(topic: str, payload: bytes) -> None:
        if payload:
            mqtt.setdefault(json.loads(payload)["body"]["text"], time.perf_counter())
            got.set()

    receiver = VerifyingReceiver(API_KEY, on_delivery=on_delivery)
    await receiver.start("127.0.0.1", 0)
    await broker.start()
    gateway = Gateway(workdir, broker, "gw1", webhook=receiver.url)
    ready = asyncio.Event()
    listener = asyncio.create_task(_subscribe(broker, ["raspisms/gw1/event/receive_sms"], on, ready))
    hook_ms: list[float] = []
    mqtt_ms: list[float] = []
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await gateway.start()
        for i in range(n):
            text = f"bench {i}"
            start = time.perf_counter()
            await gateway.sim.inject_sms("+33612345678", text)
            late = f"SMS {i} did not arrive on both within {per_sms} s"
            await wait_arrived(text, [hooks, mqtt], got, start + per_sms, late)
            hook_ms.append((hooks[text] - start) * 1000.0)
            mqtt_ms.append((mqtt[text] - start) * 1000.0)
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await gateway.stop()
        await broker.stop()
        await receiver.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    h, m = sorted(hook_ms), sorted(mqtt_ms)
    return {
        "sms": n,
        "mqtt_p50_ms": percentile(m, 50),
        "mqtt_p99_ms": percentile(m, 99),
        "webhook_p50_ms": percentile(h, 50),
        "webhook_p99_ms": percentile(h, 99),
        "mqtt_mean_ms": statistics.fmean(m),
        "webhook_mean_ms": statistics.fmean(h),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--sms", type=int, default=200)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    jobs, sms = (100, 10) if args.smoke else (args.jobs, args.sms)
    print(json.dumps(asyncio.run(fleet_throughput(jobs)), indent=2))
    print(json.dumps(asyncio.run(event_latency(sms)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
