"""Receivers that answer 200 with a giant (400 MB, chunked) or an endless body, under inbound SMS: the
daemon reads a small prefix of each answer, closes that connection, records the delivery as done at its
first attempt, and its memory stays flat (the peak RSS of the daemon process, from /proc); nothing lost,
nothing sent twice."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from raspisms_daemon.simulator import Simulator
from tests.helpers.daemon_process import API_KEY, daemon_process, poll_until
from tests.helpers.ledger import Ledger, inbound
from tests.helpers.process_memory import peak_rss_kib, reset_peak_rss
from tests.helpers.receiver import FaultyReceiver, Flood

MB = 1024 * 1024
SMS = 8
GROWTH_LIMIT_KIB = 10 * 1024  # what a delivery may add to the daemon's peak RSS, for all of them


def outbox_rows(database: Path) -> list[tuple[str, int]]:
    """``(state, attempts)`` of every outbox row, read as another process would."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT state, attempts FROM outbox")]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("size", [400 * MB, None], ids=["400MB-chunked", "endless"])
async def test_a_giant_or_endless_body_is_cut_after_a_prefix_and_memory_stays_flat(
    tmp_path: Path, size: int | None
) -> None:
    rng = random.Random(16)
    rx = FaultyReceiver(API_KEY, default=Flood(200, size))
    await rx.start()
    sim = Simulator(tmp_path / "modem", capacity=100)
    await sim.start()
    ledger = Ledger("flood")
    database = tmp_path / "daemon.sqlite3"
    try:
        # A timeout long enough that reading the whole 400 MB would fit in it: only the prefix rule
        # keeps the memory down, not the clock.
        async with daemon_process(
            tmp_path, sims=[sim], rx_url=rx.url, extra={"delivery": {"timeout": "20s"}}
        ) as daemon:
            assert daemon.proc is not None
            pid = daemon.proc.pid
            before = reset_peak_rss(pid)
            await inbound(sim, ledger, SMS, pace=0.01, rng=rng)
            await rx.wait_for(lambda: ledger.complete(rx), 60)
            await poll_until(
                lambda: len(rows := outbox_rows(database)) >= SMS and all(s == "delivered" for s, _ in rows),
                within=60,
            )
            await poll_until(lambda: len(rx.flooded) == len(rx.requests), within=30)
            peak = peak_rss_kib(pid)
            rows = outbox_rows(database)
            assert await daemon.stop() == 0
            log = daemon.log.read_text()
    finally:
        await sim.stop()
        await rx.stop()
    growth = peak - before
    print(
        f"{'endless' if size is None else f'{size // MB} MB'} bodies, {len(rows)} deliveries: daemon RSS "
        f"{before / 1024:.1f} MB before, peak {peak / 1024:.1f} MB (+{growth / 1024:.1f} MB)"
    )
    assert [attempts for _, attempts in rows] == [1] * len(rows)  # delivered at the first attempt
    assert all(f.hung_up for f in rx.flooded), rx.flooded  # the daemon closed each body unread
    assert growth < GROWTH_LIMIT_KIB, f"peak RSS grew by {growth} KiB"
    assert "Traceback" not in log
    verdict = ledger.verdict(rx, sim)
    assert verdict.clean, verdict
