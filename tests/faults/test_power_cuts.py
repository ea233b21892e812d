"""Power cuts: the database on a file system that keeps unsynced data apart (tests/helpers/powercut_fs.py,
LazyFS's semantics); ten times, at random moments under a stream of inbound SMS and API sends, the
daemon is SIGKILLed and every byte it had not fsynced is dropped, then it starts again. At the end:
no inbound SMS lost, no acknowledged send lost, none sent twice, and the database intact."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

import pytest

from raspisms_daemon.simulator import Simulator
from tests.helpers.daemon_process import API_KEY, daemon_process, poll_until
from tests.helpers.ledger import Ledger, api_sends, inbound
from tests.helpers.powercut_fs import mounted
from tests.helpers.receiver import FaultyReceiver

POWER_CUTS = 10


@pytest.mark.timeout(420)
async def test_ten_power_cuts_under_traffic_lose_nothing_and_send_nothing_twice(tmp_path: Path) -> None:
    rng = random.Random(20261201)
    rx = FaultyReceiver(API_KEY)
    await rx.start()
    sim = Simulator(tmp_path / "modem", capacity=800)
    await sim.start()
    ledger = Ledger("cut")
    try:
        with mounted(tmp_path / "fs") as fs:
            database = fs.mountpoint / "daemon.sqlite3"
            async with daemon_process(tmp_path, sims=[sim], rx_url=rx.url, database=database) as daemon:
                traffic = asyncio.gather(
                    inbound(sim, ledger, 300, pace=0.025, rng=rng),
                    api_sends(daemon, ledger, 200, pace=0.04, rng=rng),
                )
                for _ in range(POWER_CUTS):
                    await asyncio.sleep(rng.uniform(0.2, 1.0))
                    daemon.kill()  # the power goes: no clean-up …
                    await daemon.wait()
                    await fs.clear_cache()  # … and whatever was not fsynced is gone
                    await daemon.start(phones_connected=1)
                await traffic
                await rx.wait_for(lambda: ledger.complete(rx), 90)
                await poll_until(lambda: not sim.state()["stored"], within=30)
                # A clean stop checkpoints the WAL through the FUSE file system: slow on a loaded machine.
                assert await daemon.stop(within=120) == 0, daemon.log_tail()
            with sqlite3.connect(database) as conn:
                integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            conn.close()
    finally:
        await sim.stop()
        await rx.stop()
    assert integrity == "ok"
    verdict = ledger.verdict(rx, sim)
    print(f"{POWER_CUTS} power cuts: {verdict}")
    assert verdict.clean, verdict
    assert verdict.injected >= 300 and verdict.acknowledged >= 100  # enough traffic to mean something
