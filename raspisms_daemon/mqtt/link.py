"""The connection to the broker (aiomqtt on paho-mqtt 2, MQTT 5), kept up for as long as the daemon runs.

- A persistent session (clean start off, a session that never expires): the broker keeps this gateway's
  subscriptions and the jobs routed to it while it is down, and hands back, on reconnection, every job
  it had delivered and that was not acknowledged.
- Jobs are acknowledged (PUBACK, in the order received) only after the transaction that took them in
  committed (:mod:`.intake`); the job id makes a job delivered again a no-op.
- The shared subscription ``$share/<prefix>/<prefix>/send`` is held only while a phone of this gateway
  can send; ``<prefix>/<gateway>/send`` always.
- ``status`` is ``online`` (retained) while connected, ``offline`` on a clean stop and, as the last
  will, when the connection dies.
- Events go out through :meth:`MqttLink.deliver`, the dispatcher's transport for the MQTT target: every
  publication of a row at QoS 1, delivered when the broker acknowledged them all. When the connection
  comes back, the target's backlog is made due at once.

aiomqtt wraps neither manual acknowledgement nor PUBACK reason codes; both go through its paho-mqtt
client (``aiomqtt.Client._client``; the version range in pyproject.toml pins that layout).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Callable
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from .. import __version__
from ..api.scheduling import MAX_TAG, TEXT_LIMIT
from ..clock import Clock, within
from ..config import MqttConfig
from ..store import mqtt as mqtt_store
from ..store import outbox as outbox_store
from ..store.db import Database
from ..store.outbox import Claimed
from ..webhooks.emit import EventSink
from .discovery import discovery_documents
from .intake import Intake
from .jobs import JobRequest, Refusal, parse_job, parse_notify
from .payloads import PhoneView, Publication, phone_state, publications
from .topics import Topics

__all__ = ["MqttLink"]

log = logging.getLogger("raspisms_daemon.mqtt")

NEVER_EXPIRES = 0xFFFFFFFF  # MQTT 5 session expiry interval: the session outlives any outage
RECEIVE_MAXIMUM = 256  # jobs the broker may have in flight to us, unacknowledged
BATCH = 256  # jobs committed in one transaction at most
PRESENCE_INTERVAL = 1.0  # seconds between looks at the phones (availability, signal)
RECONNECT = (0.5, 1.0, 2.0, 5.0, 10.0, 15.0)  # seconds before each reconnection attempt, the last repeated
KEEPALIVE = 30


class MqttLink:
    def __init__(
        self,
        cfg: MqttConfig,
        *,
        db: Database,
        clock: Clock,
        gateway: str,
        sink: EventSink,
        target_id: int,
        phones: Callable[[], list[PhoneView]],
        templating: bool,
        user_id: int,
        wake_sender: Callable[[], None],
        wake_dispatcher: Callable[[], None],
        publish_timeout: float = 15.0,
    ) -> None:
        self._cfg = cfg
        self._db = db
        self._clock = clock
        self.topics = Topics(cfg.topic_prefix, gateway)
        self._target = target_id
        self._phones = phones
        self._wake_sender = wake_sender
        self._wake_dispatcher = wake_dispatcher
        self._timeout = publish_timeout
        self._intake = Intake(
            db,
            clock,
            self.topics,
            sink=sink,
            target_id=target_id,
            templating=templating,
            user_id=user_id,
        )
        self._client: aiomqtt.Client | None = None
        self._up = asyncio.Event()
        self._pending: dict[int, asyncio.Future[ReasonCode]] = {}
        self._shared: bool | None = None  # subscribed to the shared subscription (None: not known)
        self._states: dict[int, bytes] = {}  # last phone state published, per phone
        self._last_error = "not connected yet"

    @property
    def client_id(self) -> str:
        return self._cfg.client_id or f"raspisms-{self.topics.gateway}"

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    # -- the dispatcher's transport ------------------------------------------------------------------

    async def deliver(self, row: Claimed, payload: bytes) -> tuple[int | None, str | None]:
        """Publish one outbox row of the MQTT target: ``(200, None)`` once the broker acknowledged every
        publication (PUBACK: recorded as status 200), ``(None, why)`` otherwise."""
        job_id, send_error = await self._job_of(row) or (None, None)
        pubs = publications(
            self.topics,
            type=row.type,
            body_json=row.body,
            payload=payload,
            timestamp=row.timestamp,
            job_id=job_id,
            send_error=send_error,
            homeassistant=self._cfg.homeassistant,
        )
        try:
            async with asyncio.timeout(self._timeout):
                await self._up.wait()
                client = self._client
                assert client is not None
                results = await asyncio.gather(
                    *(self._publish(client, p) for p in pubs), return_exceptions=True
                )
        except TimeoutError:
            return None, f"broker not connected within {self._timeout:g} s ({self._last_error})"
        errors = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
        if errors:
            return None, "; ".join(dict.fromkeys(errors))
        return 200, None

    async def _job_of(self, row: Claimed) -> tuple[str, str | None] | None:
        """The send job an SMS event is about, with the SMS's recorded error."""
        if row.type not in ("send_sms", "send_sms_status_change"):
            return None
        sended = json.loads(row.body).get("id")
        if not isinstance(sended, int):
            return None
        return await mqtt_store.job_of_sended(self._db.reads.conn, sended)

    async def _publish(self, client: aiomqtt.Client, pub: Publication) -> None:
        """One QoS 1 publication, waited for until its PUBACK; a PUBACK reason code ≥ 0x80 (not
        authorised, quota exceeded …) raises."""
        info = client._client.publish(pub.topic, pub.payload, qos=1, retain=pub.retain)
        if info.rc != 0:
            raise aiomqtt.MqttCodeError(info.rc, "could not publish")
        future: asyncio.Future[ReasonCode] = asyncio.get_running_loop().create_future()
        self._pending[info.mid] = future
        try:
            code = await within(future, self._timeout)
        except TimeoutError:
            raise aiomqtt.MqttError(f"no PUBACK within {self._timeout:g} s") from None
        finally:
            self._pending.pop(info.mid, None)
        if code.is_failure:
            raise aiomqtt.MqttError(f"the broker refused {pub.topic}: {code} ({code.value})")

    # -- the connection ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Stay connected until cancelled; on cancellation, leave cleanly (offline, shared jobs to others)."""
        attempt = 0
        while True:
            try:
                await self._session()
                attempt = 0
            except (aiomqtt.MqttError, OSError, ssl.SSLError) as exc:
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.warning("MQTT broker %s: %s; reconnecting", self._cfg.url, self._last_error)
            finally:
                self._down()
            await asyncio.sleep(RECONNECT[min(attempt, len(RECONNECT) - 1)])
            attempt += 1

    def _down(self) -> None:
        self._up.clear()
        self._client = None
        self._shared = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(aiomqtt.MqttError("disconnected before the PUBACK"))

    def _make_client(self) -> aiomqtt.Client:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = NEVER_EXPIRES
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        tls = None
        if self._cfg.tls:
            tls = ssl.create_default_context(
                cafile=str(self._cfg.ca_file) if self._cfg.ca_file is not None else None
            )
        client = aiomqtt.Client(
            self._cfg.host,
            self._cfg.port,
            identifier=self.client_id,
            username=self._cfg.username,
            password=self._cfg.password,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=props,
            will=aiomqtt.Will(self.topics.status, b"offline", qos=1, retain=True),
            keepalive=KEEPALIVE,
            timeout=self._timeout,
            max_inflight_messages=64,
            tls_context=tls,
            logger=logging.getLogger("raspisms_daemon.mqtt.paho"),
        )
        paho = client._client
        paho.manual_ack_set(True)
        theirs = client._on_publish  # aiomqtt's own: its publish() calls wait on it

        def on_publish(c: Any, userdata: Any, mid: int, code: ReasonCode, properties: Any) -> None:
            future = self._pending.pop(mid, None)
            if future is not None and not future.done():
                future.set_result(code)
            theirs(c, userdata, mid, code, properties)

        paho.on_publish = on_publish
        return client

    async def _session(self) -> None:
        client = self._make_client()
        async with client:
            self._client = client
            try:
                await self._arrive(client)
                log.info(
                    "MQTT: connected to %s as %s (gateway %s)",
                    self._cfg.url,
                    self.client_id,
                    self.topics.gateway,
                )
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._presence_loop(client), name="mqtt-presence")
                    tg.create_task(self._take_jobs(client), name="mqtt-jobs")
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(3.0):
                        await asyncio.shield(self._leave(client))
                raise
            except BaseExceptionGroup as group:
                # A task's MqttError (the connection died): the first one is the reason.
                raise group.exceptions[0] from None

    async def _arrive(self, client: aiomqtt.Client) -> None:
        """Right after CONNACK: subscriptions, presence, retained clean-up, the backlog due now."""
        await client.subscribe(self.topics.own_send, qos=1)
        if self._cfg.homeassistant:
            await client.subscribe(self.topics.notify_filter, qos=1)
        else:
            await client.unsubscribe(self.topics.notify_filter)
        await self._publish(client, Publication(self.topics.status, b"online", retain=True))
        self._states.clear()
        await self._retained(client)
        await self._presence(client)
        self._up.set()
        async with self._db.transaction(durable=False) as conn:
            await outbox_store.make_backlog_due(conn, webhook_id=self._target, now=self._clock.time())
        self._wake_dispatcher()

    async def _leave(self, client: aiomqtt.Client) -> None:
        """A clean stop: no more shared jobs for us (the others take them), and offline."""
        self._up.clear()
        await client.unsubscribe(self.topics.shared_send)
        await self._publish(client, Publication(self.topics.status, b"offline", retain=True))

    async def _retained(self, client: aiomqtt.Client) -> None:
        """Publish the discovery documents; clear what a removed phone (or Home Assistant switched off)
        left retained on the broker."""
        phones = self._phones()
        docs = (
            discovery_documents(self.topics, phones, prefix=self._cfg.discovery_prefix, version=__version__)
            if self._cfg.homeassistant
            else []
        )
        wanted = {d.topic for d in docs} | {
            self.topics.phone(p.id, leaf) for p in phones for leaf in ("state", "last_sms")
        }
        known = await mqtt_store.retained_topics(self._db.reads.conn)
        async with self._db.transaction(durable=False) as conn:
            await mqtt_store.remember_retained(conn, wanted, now=self._clock.time())
        stale = sorted(known - wanted)
        for topic in stale:
            await self._publish(client, Publication(topic, b"", retain=True))
        if stale:
            async with self._db.transaction(durable=False) as conn:
                await mqtt_store.forget_retained(conn, stale)
            log.info("MQTT: cleared %d retained topic(s) of phones no longer configured", len(stale))
        for doc in docs:
            await self._publish(client, doc)

    async def _presence(self, client: aiomqtt.Client) -> None:
        phones = self._phones()
        available = any(p.available for p in phones)
        if available is not self._shared:
            if available:
                codes = await client.subscribe(self.topics.shared_send, qos=1)
                refused = [c for c in codes if isinstance(c, ReasonCode) and c.is_failure]
                if refused:
                    log.error("MQTT: the broker refused the shared subscription: %s", refused[0])
                else:
                    log.info("MQTT: a phone can send: taking jobs from %s", self.topics.shared_send)
            else:
                await client.unsubscribe(self.topics.shared_send)
                log.info("MQTT: no phone can send: leaving %s to the other gateways", self.topics.shared_send)
            self._shared = available
        for phone in phones:
            state = phone_state(phone)
            if self._states.get(phone.id) != state:
                await self._publish(
                    client, Publication(self.topics.phone(phone.id, "state"), state, retain=True)
                )
                self._states[phone.id] = state

    async def _presence_loop(self, client: aiomqtt.Client) -> None:
        while True:
            await asyncio.sleep(PRESENCE_INTERVAL)  # a cadence: the phones' state is read, not pushed
            await self._presence(client)

    # -- jobs ----------------------------------------------------------------------------------------

    async def _take_jobs(self, client: aiomqtt.Client) -> None:
        messages = client.messages
        while True:
            batch = [await anext(messages)]
            while len(messages) and len(batch) < BATCH:
                batch.append(await anext(messages))
            await self._take(client, batch)

    def _read(
        self, message: aiomqtt.Message, phones: frozenset[int]
    ) -> tuple[str, JobRequest | Refusal] | None:
        topic = message.topic.value
        payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
        if topic in (self.topics.own_send, self.topics.fleet_send):
            return topic, parse_job(payload, phones=phones, text_limit=TEXT_LIMIT, tag_limit=MAX_TAG)
        phone = self.topics.notify_phone(topic)
        if phone is not None:
            if phone not in phones:
                return topic, Refusal(None, f"phone {phone} is not a phone of this gateway")
            return topic, parse_notify(
                payload, phone=phone, phones=phones, text_limit=TEXT_LIMIT, tag_limit=MAX_TAG
            )
        log.warning("MQTT: message on %s, which is no topic of ours: ignored", topic)
        return None

    async def _take(self, client: aiomqtt.Client, batch: list[aiomqtt.Message]) -> None:
        phones = frozenset(p.id for p in self._phones())  # once a batch: each call builds every status
        jobs = [job for message in batch if (job := self._read(message, phones)) is not None]
        while jobs:
            await self._db.health.wait_writable()
            try:
                again = await self._intake.take(jobs)
                break
            except Exception as exc:
                if not self._db.health.report(exc):
                    raise  # not the disk's trouble: the connection drops, the broker sends them again
        else:
            again = None
        # After the commit, and in the order received (MQTT 5 §4.6).
        for message in batch:
            if message.qos > 0:
                client._client.ack(message.mid, message.qos)
        if again is not None:
            if again:
                log.info("MQTT: %d job(s) delivered again, taken before: acknowledged", again)
            self._wake_sender()
            self._wake_dispatcher()
