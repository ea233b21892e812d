"""Crash chaos: SMS keep arriving while the daemon is SIGKILLed and restarted at random.

What must hold: every SMS reaches the receiver as ``receive_sms`` (a duplicate only ever with the same
random id), the SIM ends empty, and no message was deleted from the SIM before its commit — checked at
the very moment of each ``AT+CMGD`` by reading the daemon's database (the ``taken_in`` row must be
there already).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from raspisms_daemon.simulator import Simulator
from tests.helpers.daemon_process import API_KEY, daemon_process, poll_until
from tests.helpers.receiver import FaultyReceiver, Stall
from tests.helpers.simulator import simulated_modem

N_SMS = 200
N_KILLS = 10


def _text(i: int) -> str:
    if i % 5 == 0:  # a fifth are multipart, with emoji (UCS-2, 67 characters per part)
        return f"chaos {i} 🎉 " + "long message " * 8 + f"end {i}"
    return f"chaos {i}"


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_sigkill_at_random_loses_nothing_and_never_deletes_before_commit(tmp_path: Path) -> None:
    rng = random.Random(20261126)
    rx = FaultyReceiver(API_KEY)
    await rx.start()
    sim = Simulator(tmp_path / "modem", capacity=600)
    db_path = tmp_path / "daemon.sqlite3"
    premature: list[tuple[int, str]] = []

    def check_committed(entry: dict[str, Any]) -> None:
        # Runs inside AT+CMGD, before the daemon gets its OK: the commit must already be there.
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute(
                "SELECT 1 FROM taken_in WHERE sim_index = ? AND upper(pdu) = upper(?)",
                (entry["index"], entry["pdu"]),
            ).fetchone()
        conn.close()
        if row is None:
            premature.append((entry["index"], entry["pdu"]))

    sim.on_delete = check_committed
    for attr, value in {"ring_interval": 0.1, "reboot_delay": 0.1, "send_delay": 0.0}.items():
        setattr(sim, attr, value)
    await sim.start()
    try:
        async with daemon_process(tmp_path, sims=[sim], rx_url=rx.url) as daemon:

            async def inject() -> None:
                for i in range(N_SMS):
                    await sim.inject_sms(f"+3361000{i:04d}", _text(i))
                    await asyncio.sleep(rng.uniform(0.0, 0.12))

            injector = asyncio.create_task(inject())
            for _ in range(N_KILLS):
                await asyncio.sleep(rng.uniform(0.3, 1.5))
                daemon.kill()
                await daemon.wait()
                await daemon.start(phones_connected=1)
            await injector

            expected = {_text(i) for i in range(N_SMS)}

            def got() -> set[str]:
                return {d.body["text"] for d in rx.deliveries if d.type == "receive_sms"}

            await rx.wait_for(lambda: got() >= expected, 40)
            await poll_until(lambda: not sim.state()["stored"], within=20)
            await daemon.stop()
    finally:
        await sim.stop()
        await rx.stop()

    by_text: dict[str, set[str]] = defaultdict(set)
    for d in rx.deliveries:
        if d.type == "receive_sms":
            by_text[d.body["text"]].add(d.random_id)
    assert set(by_text) == expected, "an SMS was lost or an unknown one appeared"
    doubled = {t: ids for t, ids in by_text.items() if len(ids) > 1}
    assert not doubled, f"emitted twice (different random ids): {doubled}"
    assert premature == [], f"deleted before its commit: {premature}"
    assert len(sim.state()["deleted"]) >= N_SMS  # every part went through AT+CMGD (checked above, one by one)
    with sqlite3.connect(tmp_path / "daemon.sqlite3") as conn:
        texts = [r[0] for r in conn.execute("SELECT text FROM received")]
    conn.close()
    assert sorted(texts) == sorted(expected), "a received row is missing or doubled"


@pytest.mark.timeout(60)
async def test_a_webhook_in_flight_when_the_daemon_is_killed_is_delivered_soon_after_the_restart(
    tmp_path: Path,
) -> None:
    rx = FaultyReceiver(API_KEY)
    await rx.start()
    try:
        async with (
            simulated_modem(tmp_path) as sim,
            daemon_process(tmp_path, sims=[sim], rx_url=rx.url) as daemon,
        ):
            rx.plan(Stall(30))  # the first POST hangs: its row is claimed (leased) when the daemon dies
            await sim.inject_sms("+33612345678", "in flight")
            await rx.wait_for_requests(1, 10)
            daemon.kill()
            await daemon.wait()
            await daemon.start(phones_connected=1)
            # not after the lease (minutes): at once
            await rx.wait_for(lambda: any(d.body.get("text") == "in flight" for d in rx.deliveries), 10)
    finally:
        await rx.stop()
    ids = {r.random_id for r in rx.requests}
    assert len(ids) == 1, "the retry must carry the same random id"
