"""Slowloris: more connections to the API than the daemon has descriptors (it runs under
RLIMIT_NOFILE = 128, as LimitNOFILE= would set it), each sending half a request head or nothing and
then waiting, re-opened as the daemon closes them, under a stream of inbound SMS and API sends.
``/healthz`` answers throughout, no webhook delivery fails with "Too many open files", the API holds no
more descriptors than its budget, and nothing is lost or sent twice."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from raspisms_daemon.api.limits import ConnectionLimits, connection_cap
from raspisms_daemon.simulator import Simulator
from tests.helpers.daemon_process import API_KEY, DaemonProcess, daemon_process, poll_until
from tests.helpers.ledger import Ledger, api_sends, inbound
from tests.helpers.receiver import FaultyReceiver

NOFILE = 128
FLOOD = 300  # connections held at once: more than the daemon's descriptors
HALF_HEAD = b"POST /api/scheduled/ HTTP/1.1\r\nHost: x\r\nContent-Type: applic"


@dataclass
class Flood:
    opened: int = 0
    held: list[socket.socket] = field(default_factory=list)

    async def keep(self, path: Path, stop: asyncio.Event) -> None:
        """``FLOOD`` connections at the API socket, half of them having sent half a head; those the
        daemon closes are opened again, ten every 20 ms."""
        while not stop.is_set():
            self.held = [s for s in self.held if _open(s)]
            for _ in range(min(10, FLOOD - len(self.held))):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.setblocking(False)
                try:
                    s.connect(str(path))
                    if self.opened % 2:
                        s.send(HALF_HEAD)
                except OSError:  # the listen backlog is full: later
                    s.close()
                    break
                self.opened += 1
                self.held.append(s)
            await asyncio.sleep(0.02)
        for s in self.held:
            s.close()


def _open(s: socket.socket) -> bool:
    try:
        if s.recv(1, socket.MSG_PEEK) == b"":
            s.close()
            return False
    except BlockingIOError:
        return True
    except OSError:
        s.close()
        return False
    return True


@dataclass
class Probes:
    """``/healthz`` asked every 200 ms on a new connection, as a monitor does; a probe fails when no
    200 came within 5 s (a full listen backlog, which refuses a connect at once, is tried again within
    those 5 s)."""

    results: list[bool] = field(default_factory=list)
    most_files: int = 0

    async def run(self, daemon: DaemonProcess, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.results.append(await self._one(daemon))
            self.most_files = max(self.most_files, daemon.open_files())
            await asyncio.sleep(0.2)

    @staticmethod
    async def _one(daemon: DaemonProcess) -> bool:
        try:
            async with asyncio.timeout(5):
                while True:
                    try:
                        status, _ = await daemon.request("GET", "/healthz")
                        return status == 200
                    except aiohttp.ClientConnectorError:
                        await asyncio.sleep(0.02)
        except (TimeoutError, aiohttp.ClientError, OSError):
            return False


@pytest.mark.timeout(240)
async def test_slowloris_beyond_the_descriptor_limit_leaves_healthz_and_deliveries_working(
    tmp_path: Path,
) -> None:
    rng = random.Random(16)
    rx = FaultyReceiver(API_KEY)
    await rx.start()
    sim = Simulator(tmp_path / "modem", capacity=400)
    await sim.start()
    ledger = Ledger("loris")
    flood, probes, stop = Flood(), Probes(), asyncio.Event()
    cap = connection_cap(NOFILE)
    try:
        async with daemon_process(tmp_path, sims=[sim], rx_url=rx.url, nofile=NOFILE) as daemon:
            idle_files = daemon.open_files()
            attackers = asyncio.gather(flood.keep(daemon.api_socket, stop), probes.run(daemon, stop))
            await poll_until(lambda: flood.opened >= NOFILE + 50, within=30)  # past the descriptors
            await asyncio.gather(
                inbound(sim, ledger, 100, pace=0.05, rng=rng),
                api_sends(daemon, ledger, 40, pace=0.1, rng=rng),
            )
            with contextlib.suppress(TimeoutError):  # the verdict below says what is missing
                await rx.wait_for(lambda: ledger.complete(rx), 60)
            stop.set()
            await attackers
            _, metrics = await daemon.request("GET", "/metrics")
            assert await daemon.stop() == 0
            log = daemon.log.read_text(errors="replace")
    finally:
        stop.set()
        await sim.stop()
        await rx.stop()
    verdict = ledger.verdict(rx, sim)
    evicted = re.search(r'api_connections_closed_total\{reason="evicted_idle"\} (\d+)', str(metrics))
    print(
        f"slowloris ({FLOOD} held, {flood.opened} opened, RLIMIT_NOFILE {NOFILE}, cap {cap}): {verdict}; "
        f"/healthz {sum(probes.results)} of {len(probes.results)} answered; descriptors {idle_files} idle, "
        f"{probes.most_files} at most; {evicted.group(1) if evicted else '?'} idle connections closed"
    )
    assert "Too many open files" not in log
    assert probes.results and all(probes.results), probes.results
    assert f"(at most {cap} connections)" in log
    # The API's share: its connections and as many accepted at once (the backlog), plus the
    # dispatcher's connections to the receiver coming and going.
    assert probes.most_files <= idle_files + cap + ConnectionLimits(cap).backlog + 16
    assert evicted is not None and int(evicted.group(1)) > 0  # the flood did reach the cap
    assert "Traceback" not in log
    assert verdict.clean, verdict
