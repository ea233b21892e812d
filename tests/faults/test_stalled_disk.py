"""The disk stops answering syncs while the daemon runs (an SD card that hangs): the thread every message
is taken in through waits in fsync, the event loop still runs. The daemon stops pinging systemd's
watchdog, so that systemd restarts it after WatchdogSec instead of leaving a daemon that answers
``/healthz`` but takes nothing in; once the disk answers again the pings resume and nothing is lost."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from pathlib import Path

import pytest

from raspisms_daemon.simulator import Simulator
from tests.helpers.daemon_process import API_KEY, daemon_process
from tests.helpers.ledger import Ledger, api_sends, inbound
from tests.helpers.powercut_fs import mounted
from tests.helpers.receiver import FaultyReceiver
from tests.test_systemd import NotifySocket

WATCHDOG_USEC = 1_000_000  # systemd would restart a daemon silent this long (a ping every 0.5 s)


@pytest.mark.timeout(180)
async def test_a_disk_that_stops_syncing_stops_the_watchdog_pings_and_nothing_is_lost(tmp_path: Path) -> None:
    rng = random.Random(11)
    rx = FaultyReceiver(API_KEY)
    await rx.start()
    sim = Simulator(tmp_path / "modem")
    await sim.start()
    notify = NotifySocket(str(tmp_path / "notify"))
    ledger = Ledger("stall")
    env = {"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    try:
        with mounted(tmp_path / "fs") as fs:
            database = fs.mountpoint / "daemon.sqlite3"
            async with daemon_process(
                tmp_path, sims=[sim], rx_url=rx.url, database=database, env=env
            ) as daemon:
                await inbound(sim, ledger, 3, pace=0.05, rng=rng)
                await rx.wait_for(lambda: ledger.complete(rx), 30)
                await asyncio.sleep(1.5)  # a few pings of a healthy daemon

                await fs.freeze_syncs()
                frozen_at = time.monotonic()
                sends = asyncio.ensure_future(api_sends(daemon, ledger, 3, pace=0.05, rng=rng))
                await inbound(sim, ledger, 3, pace=0.05, rng=rng)  # their commits wait in fsync
                await asyncio.sleep(3 * WATCHDOG_USEC / 1e6)
                status, _ = await daemon.request("GET", "/healthz")
                assert status in (200, 503)  # the event loop answers all along …
                await fs.thaw_syncs()
                thawed_at = time.monotonic()
                await sends

                await rx.wait_for(lambda: ledger.complete(rx), 60)
                await asyncio.sleep(1.0)  # pings again
                assert await daemon.stop() == 0
    finally:
        notify.close()
        await sim.stop()
        await rx.stop()

    pings = notify.watchdog_times()
    before = [t for t in pings if t < frozen_at]
    assert len(before) >= 2 and max(b - a for a, b in itertools.pairwise(before)) < WATCHDOG_USEC / 1e6
    silent = max(b - a for a, b in itertools.pairwise(pings))
    assert silent > WATCHDOG_USEC / 1e6, pings  # … but systemd's deadline passed: it would restart us
    assert [t for t in pings if t > thawed_at], "the pings resume once the disk answers"
    log = daemon.log.read_text()
    assert f"the database has not answered for {WATCHDOG_USEC / 2e6:g} s" in log, daemon.log_tail()
    assert "the database answers again" in log, daemon.log_tail()
    assert "Traceback" not in log
    verdict = ledger.verdict(rx, sim)
    assert verdict.clean, verdict
