"""The wiring: builds the whole daemon from a :class:`~raspisms_daemon.config.Config` and runs it.

This is the one place that creates long-lived tasks. They all belong to one ``TaskGroup``: the webhook
dispatcher, one supervisor per phone, the sender, the reliability and housekeeping jobs, the systemd
watchdog and status line. Start-up order: database (migrations) → config webhooks and phones into the
store → recovery of what a crash interrupted (sends left ``sending``, calls left open) → tasks → local
API → ``READY=1``. Shutdown (:meth:`Daemon.request_stop`, SIGTERM/SIGINT): ``STOPPING=1``, the API stops
taking requests, the sender finishes the SMS in hand, then every task is cancelled (transactions in
flight commit or roll back as a whole; undelivered webhooks stay in the outbox for the next start).

Before anything else the daemon locks the database (``<database>.lock``, :mod:`.store.lock`): a second
daemon on the same file stops there, before touching a lease. Storage trouble (docs/design.md §4):
a transient fault makes the daemon *degraded* (:mod:`.store.health`) and a probe every few seconds
ends it; a fatal one stops the daemon with :data:`exit_code` 78; a database file deleted under it is
written back from the still-open file and the daemon stops with 75 so that systemd restarts it on it
(:mod:`.store.watch`).
SIGHUP (:meth:`Daemon.request_reload`) reloads the configuration (:mod:`.reload`).

:class:`Daemon` implements the API server's ``DaemonControl``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import glob
import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp

from .api.metrics import Sample
from .clock import Clock, SystemClock, within
from .config import Config, MqttConfig, PhoneConfig, UnixListen, load_config, parse_listen
from .errors import ConfigError, LinkError, ModemError, StoreError
from .gsm.modem import ModemBackend
from .gsm.policy import RefusedPins
from .logs import register_secret, set_log_level
from .mqtt.payloads import PhoneView
from .noise import MODEM_GARBAGE
from .phones.calls import close_dangling_calls
from .phones.context import PhoneContext
from .phones.jobs import housekeeping_loop
from .phones.reliability_job import reliability_loop
from .phones.sender import Sender, recover_interrupted_sends
from .phones.supervisor import PhoneState, PhoneStatus, PhoneSupervisor
from .reload import plan_reload
from .store import mqtt as mqtt_store
from .store import phones as phone_store
from .store.db import Database, open_database
from .store.faults import StorageFault
from .store.lock import DatabaseLock
from .store.outbox import release_stale_leases
from .store.watch import CHECK_INTERVAL, EX_TEMPFAIL, StorageWatch
from .store.webhooks import sync_config_webhooks
from .systemd import Notifier
from .webhooks.dispatcher import Dispatcher, Transport
from .webhooks.emit import EventSink
from .webhooks.results import AttemptResult

if TYPE_CHECKING:
    from .mqtt.link import MqttLink

__all__ = ["EX_TEMPFAIL", "BackendFactory", "Daemon", "make_backend"]

log = logging.getLogger("raspisms_daemon")

BackendFactory = Callable[[PhoneConfig, Clock], ModemBackend]
READY_WAIT = 30.0  # READY=1 at the latest this long after start, even if a modem is slow to answer
PROBE_TIMEOUT = 15.0  # opening and identifying a candidate device for an IMEI/ICCID-matched phone
SENDER_GRACE = 20.0  # at shutdown, how long the SMS in hand may take to finish
STATUS_INTERVAL = 10.0


def make_backend(phone: PhoneConfig, clock: Clock, *, refused_pins: RefusedPins) -> ModemBackend:
    """The backend ``[phone:ID] backend`` names (imported lazily: python-gammu is optional)."""
    if phone.backend == "gammu":
        from .gsm.gammu_backend import GammuBackend

        return GammuBackend(phone, clock=clock, refused_pins=refused_pins)
    from .gsm.serial_at import SerialAtBackend

    return SerialAtBackend(phone, clock=clock, refused_pins=refused_pins)


def _candidate_devices() -> list[str]:
    """Where a USB modem's AT port shows up; by-id first (stable names), then the raw ttys."""
    by_id = sorted(glob.glob("/dev/serial/by-id/*"))
    return by_id or sorted(glob.glob("/dev/ttyUSB*") + glob.glob("/dev/ttyACM*"))


def _same_device(a: str, b: str) -> bool:
    if a == b:
        return True
    with contextlib.suppress(OSError):
        return os.path.realpath(a) == os.path.realpath(b)
    return False


class Daemon:
    """The running daemon; also the API server's ``DaemonControl``."""

    db: Database
    config: Config

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        backend_factory: BackendFactory | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.config = config
        # Here, not in the command that starts us: whatever runs a Daemon (run, demo, tests) keeps the
        # API key and the PINs out of every log line.
        register_secret(config.daemon.api_key)
        for phone in config.phones:
            if phone.pin:
                register_secret(phone.pin)
        if config.mqtt is not None and config.mqtt.password:
            register_secret(config.mqtt.password)
        self.clock: Clock = clock or SystemClock()
        # One memory of refused PINs for every backend built from here on: a phone's rebuilt backend must
        # not spend another of its SIM's three tries.
        pins = RefusedPins()
        self.backend_factory = backend_factory or functools.partial(make_backend, refused_pins=pins)
        self.notifier = notifier or Notifier.from_env()
        self.supervisors: dict[int, PhoneSupervisor] = {}
        self.dispatcher: Dispatcher | None = None
        self.sender: Sender | None = None
        self.mqtt: MqttLink | None = None
        self._mqtt_target: int | None = None
        self.ctx: PhoneContext | None = None
        self.api_url: str | None = None
        self.ready = asyncio.Event()
        self.exit_code = 0  # what the process should exit with once run() returns
        self.lock = DatabaseLock(config.daemon.database)
        self._stop = asyncio.Event()
        self._reload = asyncio.Event()
        self._probe_lock = asyncio.Lock()  # one device probed at a time

    # --- DaemonControl -------------------------------------------------------------------------------

    def phone_status(self) -> list[PhoneStatus]:
        return [sup.status() for _, sup in sorted(self.supervisors.items())]

    def wake_sender(self) -> None:
        if self.sender is not None:
            self.sender.wake()

    def wake_dispatcher(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.wake()

    async def attach(self, device: str | None) -> list[int]:
        """udev saw a device: the phones on that path (all not connected ones when None) retry now.

        A phone configured by IMEI/ICCID without a device is looked for on ``device`` (or, when None,
        on the usual serial paths): the device is opened, identified and released; on a match the
        phone uses it from then on.
        """
        ids: list[int] = []
        waiting = [
            s
            for _, s in sorted(self.supervisors.items())
            if s.phone.enabled and s.link is not PhoneState.CONNECTED
        ]
        for sup in waiting:
            if sup.phone.device and (device is None or _same_device(sup.phone.device, device)):
                ids.append(sup.phone.id)
                await sup.attach()
        unplaced = [s for s in waiting if not s.phone.device and (s.phone.imei or s.phone.iccid)]
        if unplaced:
            candidates = [device] if device is not None else _candidate_devices()
            for path in candidates:
                if any(
                    _same_device(s.phone.device, path) for s in self.supervisors.values() if s.phone.device
                ):
                    continue  # a configured phone owns it
                found = await self._identify(path, unplaced)
                if found is not None:
                    unplaced.remove(found)
                    found.retarget(path)
                    ids.append(found.phone.id)
                    await found.attach()
        log.info("attach %s: phones %s", device or "(any)", ids or "none")
        return ids

    async def _identify(self, path: str, phones: list[PhoneSupervisor]) -> PhoneSupervisor | None:
        """Open ``path`` with the first phone's backend, read its IMEI/ICCID, release it; the match."""
        async with self._probe_lock:
            probe = self.backend_factory(phones[0].phone._replace(device=path), self.clock)
            try:
                await within(probe.start(), PROBE_TIMEOUT)
                identity = await within(probe.identity(), PROBE_TIMEOUT)
            except (ModemError, LinkError, TimeoutError, OSError) as exc:
                log.info("%s is not a modem we can identify: %s", path, exc or type(exc).__name__)
                return None
            finally:
                with contextlib.suppress(ModemError, LinkError, TimeoutError, OSError):
                    await within(probe.stop(), PROBE_TIMEOUT)
        for sup in phones:
            p = sup.phone
            if (p.imei and p.imei == identity.imei) or (p.iccid and p.iccid == identity.iccid):
                return sup
        log.info(
            "%s is a modem (IMEI %s, ICCID %s) no phone is configured for",
            path,
            identity.imei,
            identity.iccid,
        )
        return None

    async def _place_unplaced(self) -> None:
        """At start-up: phones configured only by IMEI/ICCID are looked for on the serial ports."""
        if any(not s.phone.device and s.phone.enabled for s in self.supervisors.values()):
            await self.attach(None)

    async def enable_phone(self, phone_id: int) -> bool:
        """Undo a reliability auto-disable (kept across restarts until then). False: unknown or
        disabled in the config (only the config can enable those)."""
        sup = self.supervisors.get(phone_id)
        if sup is None or not sup.phone.enabled:
            return False
        async with self.db.transaction() as conn:
            await phone_store.set_enabled(conn, phone_id)
        sup.enable()
        await sup.persist_status()
        self.wake_sender()
        return True

    async def disable_phone(self, phone_id: int, reason: str | None = None) -> bool:
        """Stop sending with this phone (receiving goes on) until :meth:`enable_phone`; kept across
        restarts like a reliability auto-disable. False: unknown phone."""
        sup = self.supervisors.get(phone_id)
        if sup is None:
            return False
        if not sup.phone.enabled:
            return True  # disabled in the config already, and that wins
        reason = reason or "disabled by the owner"
        async with self.db.transaction() as conn:
            await phone_store.set_disabled(conn, phone_id, at=self.clock.time(), reason=reason)
        sup.disable(reason)
        await sup.persist_status()
        return True

    def metrics(self) -> list[Sample]:
        """The daemon's own counters and gauges (the API adds what it reads from the store)."""
        counters = dict(self.ctx.counters) if self.ctx is not None else {}
        backlog = self.dispatcher.backlog() if self.dispatcher is not None else 0
        connected = sum(s.link is PhoneState.CONNECTED for s in self.supervisors.values())
        out = [
            Sample("outbox_backlog", backlog),
            Sample("phones_configured", len(self.supervisors)),
            Sample("phones_connected", connected),
        ]
        out += [
            Sample(name, counters.get(name, 0))
            for name in (
                "received_total",
                "sent_total",
                "sent_failed_total",
                "sent_skipped_total",
                "calls_total",
            )
        ]
        attempts = self.dispatcher.attempts_total() if self.dispatcher is not None else {}
        out += [
            Sample("deliveries_total", attempts.get(result, 0), (("result", result.value),))
            for result in AttemptResult
        ]
        degraded = hasattr(self, "db") and self.db.health.degraded
        out.append(Sample("storage_degraded", int(degraded), help="1 while the database cannot take writes"))
        for pid, sup in sorted(self.supervisors.items()):
            labels = (("phone", str(pid)),)
            garbage = MODEM_GARBAGE[pid]
            out.append(Sample("modem_garbage_lines_total", garbage, labels, help="garbage lines from modems"))
            held = sup.held
            out.append(Sample("held_messages", held, labels, help="messages kept on the SIM while degraded"))
        return out

    def storage_status(self) -> str | None:
        """Why the store is degraded (None: it is not)."""
        return self.db.health.reason if hasattr(self, "db") else None

    # --- life cycle ----------------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        """SIGHUP: reload the configuration once ready (a signal before that waits for it)."""
        self._reload.set()

    def status_line(self) -> str:
        phones = ", ".join(f"{pid}:{s.status().state}" for pid, s in sorted(self.supervisors.items()))
        backlog = self.dispatcher.backlog() if self.dispatcher is not None else 0
        line = f"phones {phones or 'none'}; webhook backlog {backlog}"
        degraded = self.storage_status()
        if degraded is not None:
            held = sum(s.held for s in self.supervisors.values())
            line = f"DEGRADED: {degraded}; {held} message(s) kept on the SIM; sending paused; {line}"
        return line

    async def run(self) -> None:
        """Run until :meth:`request_stop`; raises what made a part fail (the process then exits non-zero)
        and :class:`StorageFault` when the database cannot be used (exit 78). :attr:`exit_code` says
        how a stop the daemon decided itself should end."""
        cfg = self.config
        # First of all: one daemon per database (nothing touched before we own it).
        self.lock.acquire()
        session: aiohttp.ClientSession | None = None
        runner: Any = None
        db: Database | None = None
        try:
            db = await self._open_store()
            if db is None:
                return
            self.db = db
            db.health.subscribe(self._storage_changed)
            watch = StorageWatch(
                db, self.clock, on_recovered=self._storage_recovered, on_stop=self._stop_with
            )
            self.ctx = ctx = PhoneContext(
                db=db,
                sink=EventSink(cfg.daemon.api_key, self.clock),
                clock=self.clock,
                user_id=cfg.daemon.user_id,
                sms_stop=cfg.sms_stop.enabled,
                stop_reply=cfg.sms_stop.reply,
                templating=cfg.api.templating,
                multipart_timeout=cfg.daemon.multipart_timeout,
                wake_dispatcher=self.wake_dispatcher,
                wake_sender=self.wake_sender,
            )
            session = aiohttp.ClientSession()
            transports: dict[str, Transport] = {}
            if cfg.mqtt is not None and self._mqtt_target is not None:
                self.mqtt = self._make_mqtt(cfg.mqtt, self._mqtt_target, ctx.sink)
                transports["mqtt"] = self.mqtt.deliver
            self.dispatcher = Dispatcher(
                db, session, cfg.delivery, clock=self.clock, api_key=cfg.daemon.api_key, transports=transports
            )
            for p in cfg.phones:
                self.supervisors[p.id] = PhoneSupervisor(
                    p,
                    self.backend_factory(p, self.clock),
                    ctx,
                    on_connected=self.wake_sender,
                    rebuild=lambda phone: self.backend_factory(phone, self.clock),
                )
            # A reliability auto-disable survives restarts (the owner re-enables it on purpose).
            for phone_id, reason in (await phone_store.disabled_phones(db)).items():
                sup = self.supervisors.get(phone_id)
                if sup is not None and sup.phone.enabled:
                    sup.disable(reason or "disabled by the reliability check")
            self.sender = Sender(ctx, self.supervisors)
            interrupted = await recover_interrupted_sends(ctx)
            closed = await close_dangling_calls(ctx)
            if interrupted or closed:
                log.warning(
                    "recovered after an unclean stop: %d send(s) now unknown, %d call(s) closed",
                    interrupted,
                    closed,
                )
            async with asyncio.TaskGroup() as tg:
                tasks: list[asyncio.Task[Any]] = [
                    tg.create_task(self.dispatcher.run(), name="dispatcher"),
                    tg.create_task(
                        reliability_loop(ctx, lambda: self.config.reliability, self.supervisors),
                        name="reliability",
                    ),
                    tg.create_task(housekeeping_loop(ctx), name="housekeeping"),
                    tg.create_task(self.notifier.watchdog_loop(db.answers), name="watchdog"),
                    tg.create_task(watch.run(), name="storage"),
                ]
                for pid, sup in self.supervisors.items():
                    tasks.append(tg.create_task(sup.run(), name=f"phone-{pid}"))
                sender_task = tg.create_task(self.sender.run(), name="sender")
                tasks.append(sender_task)
                if cfg.api.enabled:
                    from .api.server import start_api

                    runner = await start_api(self, cfg.api.listen, clock=self.clock)
                    self.api_url = _api_url(cfg.api.listen, runner)
                firsts = [asyncio.ensure_future(s.first_attempt.wait()) for s in self.supervisors.values()]
                if firsts:
                    _, pending = await asyncio.wait(firsts, timeout=READY_WAIT)
                    for waiter in pending:
                        waiter.cancel()
                self.notifier.ready(self.status_line())
                self.ready.set()
                log.info(
                    "raspisms-daemon ready: %s%s",
                    self.status_line(),
                    f"; API on {self.api_url}" if self.api_url else "",
                )
                tasks.append(tg.create_task(self._status_loop(), name="status"))
                tasks.append(tg.create_task(self._place_unplaced(), name="place-phones"))
                tasks.append(tg.create_task(self._reload_loop(), name="reload"))
                if self.mqtt is not None:
                    # After READY: the phones have had their first try, so the link knows whether this
                    # gateway can take shared jobs before it subscribes.
                    tasks.append(tg.create_task(self.mqtt.run(), name="mqtt"))
                await self._stop.wait()

                log.info("stopping")
                self.notifier.stopping("stopping")
                if runner is not None:
                    await runner.cleanup()  # no new work from the API
                    runner = None
                self.sender.stop_soon()
                with contextlib.suppress(TimeoutError):
                    await within(asyncio.shield(sender_task), SENDER_GRACE)
                for t in tasks:
                    t.cancel()
        finally:
            if runner is not None:
                await runner.cleanup()
            if session is not None:
                await session.close()
            if db is not None:
                await db.close()
            self.lock.release()
            self.notifier.close()
            log.info("stopped")

    async def _open_store(self) -> Database | None:
        """Open the database and bring the config's webhooks and phones into it. A transient storage
        fault (disk full) is waited out here, degraded (None: stopped meanwhile); a fatal one is raised."""
        cfg = self.config
        said = False
        while True:
            db: Database | None = None
            try:
                db = await open_database(cfg.daemon.database)
                now = self.clock.time()
                async with db.transaction() as conn:
                    await sync_config_webhooks(conn, cfg.webhooks, now=now)
                    if cfg.mqtt is not None:
                        self._mqtt_target = await mqtt_store.sync_target(conn, cfg.mqtt.url, now=now)
                    else:
                        await mqtt_store.disable_target(conn)
                    # Deliveries claimed by a previous process that died (SIGKILL, power cut) would wait
                    # out their lease (minutes); one daemon owns this file (the lock), so they are due
                    # again now.
                    released = await release_stale_leases(conn, now=now)
                    await phone_store.sync_config_phones(conn, cfg.phones)
                if released:
                    log.info("%d webhook deliveries interrupted by the last stop are due again", released)
                return db
            except StorageFault as fault:
                if db is not None:
                    await db.close()
                if not fault.transient:
                    raise
                if not said:
                    # READY, so that systemd's start timeout does not kill a daemon waiting for its disk;
                    # the modems' messages wait on their SIMs meanwhile.
                    status = f"DEGRADED: {fault}; waiting for the disk before starting"
                    log.error("%s (trying again every %.0f s)", status, CHECK_INTERVAL)
                    self.notifier.ready(status)
                    said = True
            except BaseException:
                if db is not None:
                    await db.close()
                raise
            with contextlib.suppress(TimeoutError):
                await within(self._stop.wait(), CHECK_INTERVAL)
            if self._stop.is_set():
                return None

    def _make_mqtt(self, mqtt: MqttConfig, target: int, sink: EventSink) -> MqttLink:
        """The broker link (aiomqtt is imported here only: a daemon without [mqtt] never loads it)."""
        from .mqtt.link import MqttLink
        from .mqtt.topics import gateway_name

        return MqttLink(
            mqtt,
            db=self.db,
            clock=self.clock,
            gateway=gateway_name(mqtt.gateway, socket.gethostname()),
            sink=sink,
            target_id=target,
            phones=self._phone_views,
            templating=self.config.api.templating,
            user_id=self.config.daemon.user_id,
            wake_sender=self.wake_sender,
            wake_dispatcher=self.wake_dispatcher,
            publish_timeout=self.config.delivery.timeout,
        )

    def _phone_views(self) -> list[PhoneView]:
        views = []
        for _, sup in sorted(self.supervisors.items()):
            st = sup.status()
            views.append(
                PhoneView(
                    id=st.id,
                    name=st.name,
                    state=st.state,
                    available=sup.can_send,
                    signal=st.signal,
                    operator=st.operator,
                    registration=st.registration,
                )
            )
        return views

    # --- storage trouble -------------------------------------------------------------------------------

    def _storage_changed(self, fault: StorageFault | None) -> None:
        self.notifier.status(self.status_line())

    def _stop_with(self, exit_code: int) -> None:
        self.exit_code = exit_code
        self.request_stop()

    async def _storage_recovered(self) -> None:
        """Writes work again: what waited on the SIMs is taken in, sending and deliveries go on."""
        for sup in list(self.supervisors.values()):
            await sup.retake_held()
        self.wake_sender()
        self.wake_dispatcher()

    # --- reload ------------------------------------------------------------------------------------------

    async def _reload_loop(self) -> None:
        while True:
            await self._reload.wait()
            self._reload.clear()
            await self.reload()

    async def reload(self) -> bool:
        """Read the config file again and apply what can change while running (:mod:`.reload`).
        A config with errors is refused as a whole (each problem logged), the running one kept."""
        path = self.config.path
        self.notifier.reloading("reloading the configuration")
        try:
            if path is None:
                log.error("reload: the configuration was not read from a file; nothing to reload")
                return False
            try:
                new = load_config(path)
            except ConfigError as exc:
                for problem in exc.problems:
                    log.error("reload refused, the running configuration stays: config error: %s", problem)
                return False
            plan = plan_reload(self.config, new)
            try:
                async with self.db.transaction() as conn:
                    await sync_config_webhooks(conn, plan.config.webhooks, now=self.clock.time())
            except (StoreError, StorageFault) as exc:
                log.error("reload refused, the running configuration stays: %s", exc)
                return False
            set_log_level(plan.config.daemon.log_level)
            for phone in plan.config.phones:
                sup = self.supervisors.get(phone.id)
                if sup is not None:
                    sup.reconfigure(phone)
            self.config = plan.config
            for warning in new.warnings:
                log.warning("config: %s", warning)
            log.info("configuration reloaded from %s: %s", path, ", ".join(plan.applied) or "nothing changed")
            for key in plan.needs_restart:
                log.warning("reload: %s changed; it takes effect at the next restart", key)
            self.wake_dispatcher()
            self.wake_sender()
            return True
        finally:
            self.notifier.ready(self.status_line())

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(STATUS_INTERVAL)  # a cadence in real time, like the watchdog's
            self.notifier.status(self.status_line())


def _api_url(listen: str, runner: Any) -> str:
    """The API's base URL (the actual port when ``listen`` asked for port 0)."""
    if isinstance(parse_listen(listen), UnixListen):
        return listen
    for address in getattr(runner, "addresses", ()):
        if isinstance(address, tuple):
            host, port = address[:2]
            return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    return f"http://{listen}"
