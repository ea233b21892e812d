"""The disk fills up under traffic (the database on a small tmpfs): the daemon does not die, keeps SMS
on the SIM, pauses sending, says why (/healthz 503, sd_notify STATUS), and once space is freed goes on
by itself: nothing lost, nothing sent twice."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from raspisms_daemon.simulator import Simulator
from tests.helpers.daemon_process import API_KEY, daemon_process, poll_until
from tests.helpers.ledger import Ledger, api_sends, inbound
from tests.helpers.receiver import FaultyReceiver
from tests.helpers.small_fs import fill, small_tmpfs
from tests.test_systemd import NotifySocket


@pytest.mark.timeout(150)
async def test_a_full_disk_degrades_the_daemon_and_it_recovers_by_itself(tmp_path: Path) -> None:
    rng = random.Random(5)
    rx = FaultyReceiver(API_KEY)
    await rx.start()
    sim = Simulator(tmp_path / "modem", capacity=400)
    await sim.start()
    notify = NotifySocket(str(tmp_path / "notify"))
    ledger = Ledger("full")
    try:
        with small_tmpfs(tmp_path / "small", size="8m") as small:
            database = small / "daemon.sqlite3"
            async with daemon_process(
                tmp_path, sims=[sim], rx_url=rx.url, database=database, env={"NOTIFY_SOCKET": notify.address}
            ) as daemon:
                assert daemon.proc is not None
                await asyncio.gather(
                    inbound(sim, ledger, 20, pace=0.01, rng=rng),
                    api_sends(daemon, ledger, 10, pace=0.01, rng=rng),
                )
                filler = fill(small)
                traffic = asyncio.gather(
                    inbound(sim, ledger, 60, pace=0.03, rng=rng),
                    api_sends(daemon, ledger, 30, pace=0.05, rng=rng),
                )
                degraded: list[object] = []

                async def health() -> None:
                    status, body = await daemon.request("GET", "/healthz")
                    if status == 503:
                        degraded.append(body)

                async with asyncio.timeout(60):
                    while not degraded:
                        await health()
                        await asyncio.sleep(0.1)
                (body,) = degraded[:1]
                assert isinstance(body, dict) and body["status"] == "degraded"
                assert "disk full" in body["reason"] and str(database) in body["reason"]
                await poll_until(
                    lambda: any("DEGRADED: " in f.get("STATUS", "") for _, f in notify.messages), within=20
                )
                await traffic
                await asyncio.sleep(1.0)  # degraded a while longer, messages waiting on the SIM
                assert daemon.proc.returncode is None  # never ended by the full disk
                filler.unlink()
                await rx.wait_for(lambda: ledger.complete(rx), 60)
                await poll_until(lambda: not sim.state()["stored"], within=20)
                status, body = await daemon.request("GET", "/healthz")
                assert status == 200, body
                assert await daemon.stop() == 0
                log = daemon.log.read_text()
    finally:
        notify.close()
        await sim.stop()
        await rx.stop()
    assert "Traceback" not in log and "never retrieved" not in log
    verdict = ledger.verdict(rx, sim)
    print(f"disk full: {verdict}; API sends refused while degraded: {dict(ledger.refused)}")
    assert verdict.clean, verdict
    assert set(ledger.refused) <= {503}  # "cannot store now", never a 500
