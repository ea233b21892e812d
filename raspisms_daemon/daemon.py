"""The wiring: builds the whole daemon from a :class:`~raspisms_daemon.config.Config` and runs it.

This is the one place that creates long-lived tasks. They all belong to one ``TaskGroup``: the webhook
dispatcher, one supervisor per phone, the sender, the reliability and housekeeping jobs, the systemd
watchdog and status line. Start-up order: database (migrations) → config webhooks and phones into the
store → recovery of what a crash interrupted (sends left ``sending``, calls left open) → tasks → local
API → ``READY=1``. Shutdown (:meth:`Daemon.request_stop`, SIGTERM/SIGINT): ``STOPPING=1``, the API stops
taking requests, the sender finishes the SMS in hand, then every task is cancelled (transactions in
flight commit or roll back as a whole; undelivered webhooks stay in the outbox for the next start).

:class:`Daemon` implements the API server's ``DaemonControl``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import glob
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import aiohttp

from .api.metrics import Sample
from .clock import Clock, SystemClock
from .config import Config, PhoneConfig, UnixListen, parse_listen
from .errors import LinkError, ModemError
from .gsm.modem import ModemBackend
from .gsm.policy import RefusedPins
from .logs import register_secret
from .phones.calls import close_dangling_calls
from .phones.context import PhoneContext
from .phones.jobs import housekeeping_loop
from .phones.reliability_job import reliability_loop
from .phones.sender import Sender, recover_interrupted_sends
from .phones.supervisor import PhoneState, PhoneStatus, PhoneSupervisor
from .store import phones as phone_store
from .store.db import Database, open_database
from .store.outbox import release_stale_leases
from .store.webhooks import sync_config_webhooks
from .systemd import Notifier
from .webhooks.dispatcher import Dispatcher
from .webhooks.emit import EventSink
from .webhooks.results import AttemptResult

__all__ = ["BackendFactory", "Daemon", "make_backend"]

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
        self.clock: Clock = clock or SystemClock()
        # One memory of refused PINs for every backend built from here on: a phone's rebuilt backend must
        # not spend another of its SIM's three tries.
        pins = RefusedPins()
        self.backend_factory = backend_factory or functools.partial(make_backend, refused_pins=pins)
        self.notifier = notifier or Notifier.from_env()
        self.supervisors: dict[int, PhoneSupervisor] = {}
        self.dispatcher: Dispatcher | None = None
        self.sender: Sender | None = None
        self.ctx: PhoneContext | None = None
        self.api_url: str | None = None
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
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
            probe = self.backend_factory(replace(phones[0].phone, device=path), self.clock)
            try:
                await asyncio.wait_for(probe.start(), PROBE_TIMEOUT)
                identity = await asyncio.wait_for(probe.identity(), PROBE_TIMEOUT)
            except (ModemError, LinkError, TimeoutError, OSError) as exc:
                log.info("%s is not a modem we can identify: %s", path, exc or type(exc).__name__)
                return None
            finally:
                with contextlib.suppress(ModemError, LinkError, TimeoutError, OSError):
                    await asyncio.wait_for(probe.stop(), PROBE_TIMEOUT)
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
        return out

    # --- life cycle ----------------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    def status_line(self) -> str:
        phones = ", ".join(f"{pid}:{s.status().state}" for pid, s in sorted(self.supervisors.items()))
        backlog = self.dispatcher.backlog() if self.dispatcher is not None else 0
        return f"phones {phones or 'none'}; webhook backlog {backlog}"

    async def run(self) -> None:
        """Run until :meth:`request_stop`; raises what made a part fail (the process then exits non-zero)."""
        cfg = self.config
        api_key = cfg.daemon.api_key
        self.db = db = await open_database(cfg.daemon.database)
        session: aiohttp.ClientSession | None = None
        runner: Any = None
        try:
            now = self.clock.time()
            async with db.transaction() as conn:
                await sync_config_webhooks(conn, cfg.webhooks, now=now)
                # Deliveries claimed by a previous process that died (SIGKILL, power cut) would wait out
                # their lease (minutes); one daemon owns this file, so they are due again now.
                released = await release_stale_leases(conn, now=now)
                if released:
                    log.info("%d webhook deliveries interrupted by the last stop are due again", released)
                for p in cfg.phones:
                    await phone_store.upsert(
                        conn,
                        id=p.id,
                        name=p.name,
                        backend=p.backend,
                        device=p.device,
                        enabled=p.enabled,
                        group=p.group,
                        priority=p.priority,
                    )
            self.ctx = ctx = PhoneContext(
                db=db,
                sink=EventSink(api_key, self.clock),
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
            self.dispatcher = Dispatcher(db, session, cfg.delivery, clock=self.clock, api_key=api_key)
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
                        reliability_loop(ctx, cfg.reliability, self.supervisors), name="reliability"
                    ),
                    tg.create_task(housekeeping_loop(ctx), name="housekeeping"),
                    tg.create_task(self.notifier.watchdog_loop(), name="watchdog"),
                ]
                for pid, sup in self.supervisors.items():
                    tasks.append(tg.create_task(sup.run(), name=f"phone-{pid}"))
                sender_task = tg.create_task(self.sender.run(), name="sender")
                tasks.append(sender_task)
                if cfg.api.enabled:
                    from .api.server import start_api

                    runner = await start_api(self, cfg.api.listen, clock=self.clock)
                    self.api_url = _api_url(cfg.api.listen, runner)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        asyncio.gather(*(s.first_attempt.wait() for s in self.supervisors.values())),
                        READY_WAIT,
                    )
                self.notifier.ready(self.status_line())
                self.ready.set()
                log.info(
                    "raspisms-daemon ready: %s%s",
                    self.status_line(),
                    f"; API on {self.api_url}" if self.api_url else "",
                )
                tasks.append(tg.create_task(self._status_loop(), name="status"))
                tasks.append(tg.create_task(self._place_unplaced(), name="place-phones"))
                await self._stop.wait()

                log.info("stopping")
                self.notifier.stopping("stopping")
                if runner is not None:
                    await runner.cleanup()  # no new work from the API
                    runner = None
                self.sender.stop_soon()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(sender_task), SENDER_GRACE)
                for t in tasks:
                    t.cancel()
        finally:
            if runner is not None:
                await runner.cleanup()
            if session is not None:
                await session.close()
            await db.close()
            self.notifier.close()
            log.info("stopped")

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
