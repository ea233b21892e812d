"""An in-process daemon for tests: the real :class:`~raspisms_daemon.daemon.Daemon` on real simulators,
a real SQLite file and a real verifying receiver, all on one event loop.

    async with running_daemon(tmp_path, phones=1) as env:
        await env.sims[0].inject_sms("+33612345678", "hi")
        await env.rx.wait_for(lambda: env.of_type("receive_sms"))
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import aiohttp

from raspisms_daemon.config import (
    ApiConfig,
    Config,
    DaemonConfig,
    DeliveryConfig,
    PhoneConfig,
    ReliabilityConfig,
    WebhookConfig,
)
from raspisms_daemon.daemon import Daemon
from raspisms_daemon.simulator import Simulator
from raspisms_daemon.webhooks.receiver import ReceivedDelivery
from tests.helpers.receiver import FaultyReceiver
from tests.helpers.simulator import simulated_modem

__all__ = [
    "API_KEY",
    "DaemonEnv",
    "DaemonProcess",
    "daemon_process",
    "poll_until",
    "running_daemon",
    "write_config",
]

API_KEY = "test-key-0123456789abcdef0123456789"


async def poll_until(predicate: Callable[[], bool], within: float = 10.0, every: float = 0.05) -> None:
    """Wait until ``predicate()`` holds (state owned by another party: a simulator, a database)."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling someone else's state, no event to wait on
            await asyncio.sleep(every)


@dataclass
class DaemonEnv:
    daemon: Daemon
    sims: list[Simulator]
    rx: FaultyReceiver
    config: Config
    task: asyncio.Task[None]
    extra: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type: str) -> list[ReceivedDelivery]:
        return [d for d in self.rx.deliveries if d.type == type]

    async def wait_type(self, type: str, n: int = 1, within: float = 10.0) -> list[ReceivedDelivery]:
        await self.rx.wait_for(lambda: len(self.of_type(type)) >= n, within)
        return self.of_type(type)


@contextlib.asynccontextmanager
async def running_daemon(
    tmp_path: Path,
    *,
    phones: int = 1,
    personality: str = "generic",
    phone_overrides: dict[str, Any] | None = None,
    reliability: ReliabilityConfig | None = None,
    daemon_overrides: dict[str, Any] | None = None,
    api: bool = False,
    before_start: Callable[[list[Simulator], Config], Awaitable[None]] | None = None,
    webhook_format: str = "form",
    sim_overrides: dict[str, Any] | None = None,
    per_phone: dict[int, dict[str, Any]] | None = None,
    extra_webhooks: tuple[WebhookConfig, ...] = (),
    config_overrides: dict[str, Any] | None = None,
) -> AsyncIterator[DaemonEnv]:
    """``before_start(sims, config)`` runs once the simulators are up, before the daemon starts;
    ``sim_overrides`` are Simulator arguments (``pin=…``) for every simulated modem; ``per_phone``
    overrides some phones' config by id (after ``phone_overrides``); ``extra_webhooks`` are added to
    the verifying receiver's; ``config_overrides`` replace whole sections (``sms_stop=…``)."""
    rx = FaultyReceiver(API_KEY)
    await rx.start()
    async with contextlib.AsyncExitStack() as stack:
        sims = [
            await stack.enter_async_context(
                simulated_modem(
                    tmp_path,
                    personality,
                    name=f"modem{i + 1}",
                    **{"imei": f"86700000000000{i + 1}", **(sim_overrides or {})},
                )
            )
            for i in range(phones)
        ]
        phone_cfgs = tuple(
            PhoneConfig(
                id=i + 1,
                name=f"phone{i + 1}",
                device=str(sim.link),
                send_rate=6000.0,
                sweep_interval=2.0,
                liveness_interval=2.0,
            )._replace(**{**(phone_overrides or {}), **(per_phone or {}).get(i + 1, {})})
            for i, sim in enumerate(sims)
        )
        config = Config(
            daemon=DaemonConfig(database=tmp_path / "daemon.sqlite3", api_key=API_KEY)._replace(
                **(daemon_overrides or {})
            ),
            api=ApiConfig(enabled=api, listen="127.0.0.1:0"),
            delivery=DeliveryConfig(schedule=(0.0, 0.2, 0.5, 1.0), jitter=0.0),
            reliability=reliability or ReliabilityConfig(),
            webhooks=(WebhookConfig("test", rx.url, format=webhook_format), *extra_webhooks),
            phones=phone_cfgs,
        )
        config = config._replace(**(config_overrides or {}))
        if before_start is not None:
            await before_start(sims, config)
        daemon = Daemon(config)
        task = asyncio.create_task(daemon.run(), name="daemon-under-test")
        try:
            ready = asyncio.create_task(daemon.ready.wait())
            done, _ = await asyncio.wait({ready, task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                task.result()  # raises what broke the start-up
            assert ready in done, "daemon not ready within 30 s"
            yield DaemonEnv(daemon, sims, rx, config, task)
        finally:
            daemon.request_stop()
            try:
                await asyncio.wait_for(task, 30)
            finally:
                await rx.stop()


# --- the daemon as a real process -------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


def write_config(
    path: Path,
    *,
    database: Path,
    api_listen: str,
    phones: list[dict[str, Any]],
    webhooks: list[dict[str, Any]],
    api_key: str = API_KEY,
    extra: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """An INI file as a user writes it; ``phones`` items need ``id`` and ``device``, ``webhooks`` ``name``
    and ``url``; ``extra`` adds keys to fixed sections (``{"delivery": {"schedule": "0, 1s"}}``)."""
    sections: dict[str, dict[str, Any]] = {
        "daemon": {"database": database, "api_key": api_key, "log_level": "info"},
        "api": {"listen": api_listen},
        "delivery": {"schedule": "0, 200ms, 500ms, 1s, 2s", "jitter": 0},
    }
    for name, keys in (extra or {}).items():
        sections.setdefault(name, {}).update(keys)
    for hook in webhooks:
        sections[f"webhook:{hook['name']}"] = {k: v for k, v in hook.items() if k != "name"}
    for phone in phones:
        keys = {"send_rate": 6000, "sweep_interval": "2s", "liveness_interval": "2s", **phone}
        sections[f"phone:{keys.pop('id')}"] = keys
    lines: list[str] = []
    for name, keys in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {v}" for k, v in keys.items()]
        lines.append("")
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path


class DaemonProcess:
    """``python -m raspisms_daemon run -c CONFIG`` as a subprocess, with SIGKILL/restart helpers.

    The API listens on a unix socket in the test's tmp dir, so parallel tests never fight over ports.
    """

    def __init__(
        self,
        config: Path,
        api_socket: Path,
        *,
        api_key: str = API_KEY,
        log: Path | None = None,
        env: dict[str, str] | None = None,
        nofile: int | None = None,
    ) -> None:
        self.env = dict(env or {})  # extra environment (NOTIFY_SOCKET for the sd_notify test)
        self.nofile = nofile  # RLIMIT_NOFILE (soft and hard) for the daemon, as LimitNOFILE= sets it
        self.config = config
        self.api_socket = api_socket
        self.api_key = api_key
        self.log = log or config.with_suffix(".log")
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self, *, phones_connected: int | None = None, within: float = 30.0) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("NOTIFY_SOCKET", None)
        env.update(self.env)
        with open(self.log, "ab") as log:  # noqa: ASYNC230 - a local file, opened once per start
            log.write(f"\n===== start {self.starts} =====\n".encode())
            log.flush()
            limit = ["prlimit", f"--nofile={self.nofile}:{self.nofile}", "--"] if self.nofile else []
            self.proc = await asyncio.create_subprocess_exec(
                *limit,
                sys.executable,
                "-m",
                "raspisms_daemon",
                "run",
                "-c",
                str(self.config),
                cwd=REPO,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
            )
        self.starts += 1
        await self.wait_ready(phones_connected=phones_connected, within=within)

    def session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(path=str(self.api_socket)),
            headers={"X-Api-Key": self.api_key},
            timeout=aiohttp.ClientTimeout(total=10),
        )

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.session() as s, s.request(method, f"http://daemon{path}", **kwargs) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text) if text else None
            except ValueError:
                return resp.status, text

    async def wait_ready(
        self, *, phones_connected: int | None = None, within: float = 30.0
    ) -> dict[str, Any]:
        """Until /healthz answers (and that many phones are connected); fails if the process died."""
        assert self.proc is not None
        async with asyncio.timeout(within):
            while True:
                if self.proc.returncode is not None:
                    raise AssertionError(f"daemon exited {self.proc.returncode}; log:\n{self.log_tail()}")
                try:
                    status, body = await self.request("GET", "/healthz")
                    if status == 200 and (
                        phones_connected is None or body["phones"]["connected"] >= phones_connected
                    ):
                        return cast(dict[str, Any], body)  # JSON
                except (aiohttp.ClientError, OSError):
                    pass
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as when the power is pulled."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    async def wait(self, within: float = 30.0) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), within)

    async def stop(self, within: float = 30.0) -> int:
        """SIGTERM and wait (graceful shutdown)."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await self.wait(within)

    def open_files(self) -> int:
        """How many descriptors the process holds now."""
        assert self.proc is not None
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


@contextlib.asynccontextmanager
async def daemon_process(
    tmp_path: Path,
    *,
    sims: list[Simulator],
    rx_url: str,
    phone_overrides: list[dict[str, Any]] | None = None,
    webhook_overrides: dict[str, Any] | None = None,
    extra: dict[str, dict[str, Any]] | None = None,
    start: bool = True,
    database: Path | None = None,
    env: dict[str, str] | None = None,
    nofile: int | None = None,
) -> AsyncIterator[DaemonProcess]:
    """A configured daemon process on these simulators, delivering to ``rx_url``; killed at the end.
    ``database`` defaults to ``tmp_path/daemon.sqlite3``; ``env`` is extra environment; ``nofile`` its
    descriptor limit."""
    sock = tmp_path / "api.sock"
    phones = [
        {"id": i + 1, "device": str(sim.link), **((phone_overrides or [{}] * len(sims))[i])}
        for i, sim in enumerate(sims)
    ]
    cfg = write_config(
        tmp_path / "config.ini",
        database=database or tmp_path / "daemon.sqlite3",
        api_listen=f"unix:{sock}",
        phones=phones,
        webhooks=[{"name": "test", "url": rx_url, **(webhook_overrides or {})}],
        extra=extra,
    )
    proc = DaemonProcess(cfg, sock, env=env, nofile=nofile)
    try:
        if start:
            await proc.start(phones_connected=len(sims))
        yield proc
    finally:
        if proc.proc is not None and proc.proc.returncode is None:
            proc.kill()
            await proc.wait()
