"""A second daemon on the same database, started while the first runs under traffic: it stops at once
with exit 78 and "database … in use by PID n", before touching a lease; the first goes on, and nothing
is lost or sent twice."""

from __future__ import annotations

import asyncio
import random
import re
from pathlib import Path

import pytest

from raspisms_daemon.simulator import Simulator
from tests.helpers.daemon_process import API_KEY, DaemonProcess, daemon_process, write_config
from tests.helpers.ledger import Ledger, api_sends, inbound
from tests.helpers.receiver import FaultyReceiver


@pytest.mark.timeout(120)
async def test_a_second_daemon_on_the_same_database_is_refused_and_the_first_loses_nothing(
    tmp_path: Path,
) -> None:
    rng = random.Random(3)
    rx = FaultyReceiver(API_KEY)
    await rx.start()
    sim = Simulator(tmp_path / "modem", capacity=400)
    await sim.start()
    ledger = Ledger("second")
    try:
        async with daemon_process(tmp_path, sims=[sim], rx_url=rx.url) as first:
            assert first.proc is not None
            traffic = asyncio.gather(
                inbound(sim, ledger, 60, pace=0.02, rng=rng), api_sends(first, ledger, 40, pace=0.03, rng=rng)
            )
            await asyncio.sleep(0.5)
            # Another config, another API socket and another modem path: only the database is shared.
            other = tmp_path / "other"
            other.mkdir()
            config = write_config(
                other / "config.ini",
                database=tmp_path / "daemon.sqlite3",
                api_listen=f"unix:{other / 'api.sock'}",
                phones=[{"id": 1, "device": str(tmp_path / "nowhere")}],
                webhooks=[{"name": "test", "url": rx.url}],
            )
            second = DaemonProcess(config, other / "api.sock", log=other / "second.log")
            with pytest.raises(AssertionError, match="daemon exited 78"):
                await second.start(within=30)
            log = second.log.read_text()
            assert re.search(rf"database \S+daemon\.sqlite3 in use by PID {first.proc.pid}\b", log), log
            assert "Traceback" not in log and "never retrieved" not in log
            assert "ready" not in log  # stopped before any task ran
            await traffic
            await rx.wait_for(lambda: ledger.complete(rx), 60)
            await first.stop()
    finally:
        await sim.stop()
        await rx.stop()
    verdict = ledger.verdict(rx, sim)
    print(f"second instance: {verdict}")
    assert verdict.clean, verdict
