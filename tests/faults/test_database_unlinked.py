"""The database file deleted while the daemon runs under traffic: the daemon stops deleting from the
SIM at once, writes the file back from the copy it still has open, and exits 75 so that systemd starts
it again on it; after that restart nothing is lost and nothing was sent twice."""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import pytest

from raspisms_daemon.daemon import EX_TEMPFAIL
from raspisms_daemon.simulator import Simulator
from tests.helpers.daemon_process import API_KEY, daemon_process
from tests.helpers.ledger import Ledger, api_sends, inbound
from tests.helpers.receiver import FaultyReceiver


@pytest.mark.timeout(150)
async def test_a_deleted_database_is_written_back_and_nothing_is_lost(tmp_path: Path) -> None:
    rng = random.Random(7)
    rx = FaultyReceiver(API_KEY)
    await rx.start()
    sim = Simulator(tmp_path / "modem", capacity=400)
    await sim.start()
    ledger = Ledger("unlinked")
    database = tmp_path / "daemon.sqlite3"
    try:
        async with daemon_process(tmp_path, sims=[sim], rx_url=rx.url) as daemon:
            traffic = asyncio.gather(
                inbound(sim, ledger, 80, pace=0.03, rng=rng),
                api_sends(daemon, ledger, 40, pace=0.05, rng=rng),
            )
            await asyncio.sleep(1.0)
            os.unlink(database)  # as `rm /var/lib/raspisms-daemon/raspisms.sqlite3` would
            assert await daemon.wait(within=20) == EX_TEMPFAIL
            log = daemon.log.read_text()
            assert "deleted while in use: written back" in log, daemon.log_tail()
            assert database.exists()
            await daemon.start(phones_connected=1)  # what Restart=on-failure does
            await traffic
            await rx.wait_for(lambda: ledger.complete(rx), 60)
            assert await daemon.stop() == 0
    finally:
        await sim.stop()
        await rx.stop()
    assert "Traceback" not in daemon.log.read_text()
    verdict = ledger.verdict(rx, sim)
    print(f"database unlinked: {verdict}; API sends not taken while it restarted: {dict(ledger.refused)}")
    assert verdict.clean, verdict
