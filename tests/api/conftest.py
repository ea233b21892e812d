"""A real API server on 127.0.0.1 (port 0) over a real SQLite file, with a small test double of the daemon."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from raspisms_daemon.api.guard import GUARD, ConnectionGuard
from raspisms_daemon.api.limits import ConnectionLimits
from raspisms_daemon.api.metrics import Sample
from raspisms_daemon.api.server import start_api
from raspisms_daemon.clock import ManualClock
from raspisms_daemon.config import Config, parse_config
from raspisms_daemon.dates import format_date
from raspisms_daemon.phones.supervisor import PhoneStatus
from raspisms_daemon.store import phones as phone_store
from raspisms_daemon.store import scheduled as scheduled_store
from raspisms_daemon.store.db import Database, open_database

API_KEY = "test-api-key-0123456789abcdef"


class FakeDaemon:
    """The daemon side of the contract (DaemonControl), recording what the API asked of it."""

    def __init__(self, db: Database, config: Config) -> None:
        self.db = db
        self.config = config
        self.phones: list[PhoneStatus] = [
            PhoneStatus(
                id=1,
                name="huawei",
                backend="at",
                device="/dev/ttyUSB0",
                state="connected",
                disabled_reason=None,
                error=None,
                imei="356938035643809",
                iccid=None,
                operator="Orange F",
                signal=17,
                registration="home",
                last_seen=1_767_323_045.0,  # 2026-01-02 03:04:05 UTC
            ),
            PhoneStatus(
                id=2,
                name="sim800",
                backend="at",
                device="/dev/ttyUSB1",
                state="disconnected",
                disabled_reason=None,
                error=None,
                imei=None,
                iccid=None,
                operator=None,
                signal=None,
                registration=None,
                last_seen=None,
            ),
        ]
        self.sender_wakes = 0
        self.dispatcher_wakes = 0
        self.attached: list[str | None] = []
        self.attach_delay = 0.0
        self.attach_gate: asyncio.Event | None = None  # when set, attach waits for it
        self.extra_metrics = [
            Sample("received_total", 3),
            Sample("sent_total", 2),
            Sample("outbox_backlog", 1),
            Sample("deliveries_total", 1, (("result", "dead"),)),
        ]
        self.fail_phone_status = False

    def phone_status(self) -> list[PhoneStatus]:
        if self.fail_phone_status:
            raise RuntimeError("secret internal detail: /var/lib/raspisms SELECT * FROM phone")
        return self.phones

    def wake_sender(self) -> None:
        self.sender_wakes += 1

    def wake_dispatcher(self) -> None:
        self.dispatcher_wakes += 1

    async def attach(self, device: str | None) -> list[int]:
        self.attached.append(device)
        await asyncio.sleep(self.attach_delay)
        if self.attach_gate is not None:
            await self.attach_gate.wait()
        return [1] if device in (None, "/dev/ttyUSB0") else []

    def _set(self, phone_id: int, **changes: Any) -> bool:
        for i, phone in enumerate(self.phones):
            if phone.id == phone_id:
                self.phones[i] = phone._replace(**changes)
                return True
        return False

    async def enable_phone(self, phone_id: int) -> bool:
        phone = next((p for p in self.phones if p.id == phone_id), None)
        if phone is None or phone.disabled_reason == "disabled in the config":
            return False
        return self._set(phone_id, state="connected", disabled_reason=None)

    async def disable_phone(self, phone_id: int, reason: str | None = None) -> bool:
        return self._set(phone_id, state="disabled", disabled_reason=reason)

    def metrics(self) -> list[Sample]:
        return list(self.extra_metrics)


async def scheduled_row(db: Database, scheduled_id: int) -> dict[str, Any] | None:
    """A scheduled SMS as a dict, its ``at`` as the API shows it (the fixture's clock is UTC)."""
    sch = await scheduled_store.get(db, scheduled_id)
    if sch is None:
        return None
    numbers = (await scheduled_store.numbers_of(db, [scheduled_id]))[scheduled_id]
    at = format_date(ManualClock().local(sch.at))
    return {**sch._asdict(), "at": at, "numbers": numbers}


@dataclass
class Api:
    base: str
    session: aiohttp.ClientSession
    daemon: FakeDaemon
    headers: dict[str, str] = field(default_factory=lambda: {"X-Api-Key": API_KEY})
    clock: ManualClock = field(default_factory=ManualClock)
    address: tuple[str, int] = ("127.0.0.1", 0)
    guard: ConnectionGuard | None = None

    async def call(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> tuple[int, Any, str]:
        """(status, parsed JSON or None, raw text)."""
        headers = dict(self.headers if auth else {}, **kwargs.pop("headers", {}))
        async with asyncio.timeout(10):
            async with self.session.request(method, self.base + path, headers=headers, **kwargs) as resp:
                text = await resp.text()
                # Whatever the route and the outcome, no Python internals ever reach a client.
                assert "Traceback" not in text and 'File "/' not in text, text
                try:
                    body = await resp.json(content_type=None) if text else None
                except ValueError:
                    body = None
                return resp.status, body, text


@contextlib.asynccontextmanager
async def api_server(tmp_path: Path, *, limits: ConnectionLimits | None = None) -> AsyncIterator[Api]:
    """The API on 127.0.0.1 (a free port) over a fresh database; its clock is a ManualClock (UTC)."""
    config = parse_config(
        f"[daemon]\napi_key = {API_KEY}\ndatabase = {tmp_path / 'db.sqlite3'}\n"
        "[phone:1]\ndevice = /dev/ttyUSB0\ngroup = 1\n[phone:2]\ndevice = /dev/ttyUSB1\n"
    )
    db = await open_database(config.daemon.database)
    async with db.transaction() as conn:
        await phone_store.sync_config_phones(conn, config.phones)
    daemon = FakeDaemon(db, config)
    clock = ManualClock(time.time())  # dates in UTC
    runner = await start_api(daemon, "127.0.0.1:0", clock=clock, limits=limits)
    host, port = runner.addresses[0][:2]
    session = aiohttp.ClientSession()
    try:
        guard = runner.app[GUARD]
        yield Api(f"http://{host}:{port}", session, daemon, clock=clock, address=(host, port), guard=guard)
    finally:
        await session.close()
        await runner.cleanup()
        await db.close()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with api_server(tmp_path) as served:
        yield served
