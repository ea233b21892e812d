"""SIGHUP (`systemctl reload`) under a stream of inbound SMS and API sends: each reload says
RELOADING=1 then READY=1, a new webhook and log level take effect, a broken config is refused with its
section and key while the running one stays, a key that needs a restart is named; the daemon never
stops, and nothing is lost or sent twice."""

from __future__ import annotations

import asyncio
import random
import signal
from pathlib import Path

import pytest

from raspisms_daemon.simulator import Simulator
from tests.helpers.daemon_process import API_KEY, daemon_process, poll_until, write_config
from tests.helpers.ledger import Ledger, api_sends, inbound
from tests.helpers.receiver import FaultyReceiver
from tests.test_systemd import NotifySocket


@pytest.mark.timeout(150)
async def test_sighup_reloads_under_load_and_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(11)
    rx, audit = FaultyReceiver(API_KEY), FaultyReceiver(API_KEY)
    await rx.start()
    await audit.start()
    sim = Simulator(tmp_path / "modem", capacity=400)
    await sim.start()
    notify = NotifySocket(str(tmp_path / "notify"))
    ledger = Ledger("hup")

    def config(*, audit_hook: bool, extra: dict[str, dict[str, object]] | None = None) -> None:
        hooks: list[dict[str, object]] = [{"name": "test", "url": rx.url}]
        if audit_hook:
            hooks.append({"name": "audit", "url": audit.url, "types": "receive_sms"})
        write_config(
            tmp_path / "config.ini",
            database=tmp_path / "daemon.sqlite3",
            api_listen=f"unix:{tmp_path / 'api.sock'}",
            phones=[{"id": 1, "device": str(sim.link)}],
            webhooks=hooks,
            extra=extra,
        )

    def reloads() -> int:
        return sum(1 for _, f in notify.messages if f.get("RELOADING") == "1")

    try:
        async with daemon_process(
            tmp_path, sims=[sim], rx_url=rx.url, env={"NOTIFY_SOCKET": notify.address}
        ) as daemon:
            assert daemon.proc is not None
            traffic = asyncio.gather(
                inbound(sim, ledger, 120, pace=0.03, rng=rng),
                api_sends(daemon, ledger, 60, pace=0.06, rng=rng),
            )
            steps = [
                dict(audit_hook=True, extra={"daemon": {"log_level": "debug"}}),  # taken at once
                dict(audit_hook=True, extra={"delivery": {"timeout": "soon"}}),  # refused as a whole
                dict(audit_hook=True, extra={"api": {"listen": "127.0.0.1:1"}}),  # needs a restart
                dict(audit_hook=True),
            ]
            for n, step in enumerate(steps, start=1):
                await asyncio.sleep(rng.uniform(0.3, 0.8))
                config(**step)  # type: ignore[arg-type]
                daemon.proc.send_signal(signal.SIGHUP)
                await poll_until(lambda n=n: reloads() >= n, within=10)  # type: ignore[misc]
            for _ in range(5):  # a burst of signals: coalesced or not, never fatal
                daemon.proc.send_signal(signal.SIGHUP)
            await traffic
            await rx.wait_for(lambda: ledger.complete(rx), 60)
            # The audit webhook added by the first reload got what arrived after it.
            assert audit.deliveries and all(d.type == "receive_sms" for d in audit.deliveries)
            assert daemon.proc.returncode is None
            assert await daemon.stop() == 0
            log = daemon.log.read_text()
    finally:
        notify.close()
        await sim.stop()
        await rx.stop()
        await audit.stop()
    assert "reload refused, the running configuration stays: config error: [delivery] timeout" in log
    assert "[api] listen changed; it takes effect at the next restart" in log
    assert "DEBUG" in log  # log_level = debug took effect without a restart
    ordered = [k for _, f in notify.messages for k in ("RELOADING", "READY") if f.get(k) == "1"]
    after_start = ordered[ordered.index("READY") + 1 :]
    assert after_start[:8] == ["RELOADING", "READY"] * 4, after_start  # each reload ends with READY=1
    assert "Traceback" not in log
    verdict = ledger.verdict(rx, sim)
    print(f"SIGHUP under load: {verdict}; {reloads()} reloads")
    assert verdict.clean, verdict
