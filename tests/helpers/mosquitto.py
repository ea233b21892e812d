"""A real Mosquitto broker for tests: its own config, 127.0.0.1 on a free port, persistence in the
test's directory; stopped (SIGTERM: it saves its persistence) and started again on the same port.

    async with mosquitto(tmp_path) as broker:
        async with subscriber(broker, "raspisms/#") as sub: ...
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bench.broker import MOSQUITTO, Broker
from tests.helpers.machine import needs

__all__ = ["MOSQUITTO", "Broker", "Collector", "Publisher", "mosquitto", "needs_mosquitto", "subscriber"]

needs_mosquitto = needs(MOSQUITTO, "mosquitto", "mosquitto")


@contextlib.asynccontextmanager
async def mosquitto(tmp_path: Path) -> AsyncIterator[Broker]:
    broker = Broker(tmp_path / "broker")
    await broker.start()
    try:
        yield broker
    finally:
        if broker.proc is not None and broker.proc.returncode is None:
            broker.proc.kill()
            await broker.proc.wait()


@dataclass
class Collector:
    """Every message a subscriber got, in order: ``(topic, payload, retain)``."""

    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on(self, prefix: str) -> list[tuple[str, bytes, bool]]:
        return [m for m in self.messages if m[0].startswith(prefix)]

    async def wait_for(self, predicate: object, within: float = 20.0) -> None:
        assert callable(predicate)
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


def session_properties() -> Properties:
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0xFFFFFFFF
    return props


@contextlib.asynccontextmanager
async def subscriber(
    broker: Broker, *filters: str, client_id: str = "test-subscriber", persistent: bool = True
) -> AsyncIterator[Collector]:
    """A QoS 1 subscriber that stays subscribed across a broker restart (a persistent session: what was
    published meanwhile reaches it after), reconnecting on its own."""
    got = Collector()

    async def run() -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1",
                    broker.port,
                    identifier=client_id,
                    protocol=aiomqtt.ProtocolVersion.V5,
                    clean_start=not persistent,
                    properties=session_properties() if persistent else None,
                ) as client:
                    for f in filters:
                        await client.subscribe(f, qos=1)
                    ready.set()
                    async for message in client.messages:
                        payload = message.payload if isinstance(message.payload, bytes) else b""
                        got.messages.append((message.topic.value, payload, bool(message.retain)))
                        got.changed.set()
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)

    ready = asyncio.Event()
    task = asyncio.create_task(run())
    try:
        async with asyncio.timeout(10):
            await ready.wait()
        yield got
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await task


class Publisher:
    """A QoS 1 publisher that reads the PUBACK's reason code (aiomqtt does not hand it out): 16 "No
    matching subscribers" means the broker dropped the message, as MQTT 5 lets it say."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self._client = client
        self._pending: dict[int, asyncio.Future[int]] = {}
        theirs = client._on_publish

        def on_publish(c: Any, userdata: Any, mid: int, code: Any, properties: Any) -> None:
            future = self._pending.pop(mid, None)
            if future is not None and not future.done():
                future.set_result(int(code.value))
            theirs(c, userdata, mid, code, properties)

        client._client.on_publish = on_publish

    async def publish(self, topic: str, payload: bytes, *, within: float = 10.0) -> int:
        """The PUBACK's reason code (0: accepted and routed)."""
        info = self._client._client.publish(topic, payload, qos=1)
        if info.rc != 0:
            raise aiomqtt.MqttError(f"could not publish: {info.rc}")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending[info.mid] = future
        return await asyncio.wait_for(future, within)
