"""The daemon runs out of file descriptors (its RLIMIT_NOFILE lowered under it with prlimit, as a flood
of idle API connections would do): webhook attempts fail with EMFILE ("Too many open files"), are logged
as local and do not count against the receiver — with a schedule of three attempts, not one delivery goes
dead however often it is tried — and once descriptors are free again every SMS is delivered at its first
counted attempt: nothing lost, nothing sent twice."""

from __future__ import annotations

import random
import resource
import sqlite3
from pathlib import Path

import pytest

from raspisms_daemon.simulator import Simulator
from tests.helpers.daemon_process import API_KEY, daemon_process, poll_until
from tests.helpers.ledger import Ledger, inbound
from tests.helpers.receiver import FaultyReceiver

SMS = 6
TRIES = 3  # the schedule's attempts: each delivery is tried at least that often while starved
# With stdin, stdout and stderr open, a soft limit of 3 makes every new descriptor fail, whichever the
# daemon closes meanwhile; those it holds (database, modem) stay usable.
STARVED = 3


def deliveries(database: Path) -> list[tuple[str, int, int, int]]:
    """``(state, counted attempts, attempts logged, local attempts logged)`` per outbox row."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT o.state, o.attempts, COUNT(a.id), COALESCE(SUM(a.local), 0) FROM outbox o "
            "LEFT JOIN delivery_attempt a ON a.outbox_id = o.id GROUP BY o.id"
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]


def local_errors(database: Path) -> list[str]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return [r[0] for r in conn.execute("SELECT error FROM delivery_attempt WHERE local = 1")]


@pytest.mark.timeout(150)
async def test_running_out_of_file_descriptors_consumes_no_delivery_attempt(tmp_path: Path) -> None:
    rng = random.Random(24)
    rx = FaultyReceiver(API_KEY)
    await rx.start()
    sim = Simulator(tmp_path / "modem", capacity=100)
    await sim.start()
    ledger = Ledger("nofile")
    database = tmp_path / "daemon.sqlite3"
    try:
        async with daemon_process(
            tmp_path, sims=[sim], rx_url=rx.url, extra={"delivery": {"schedule": "0, 200ms, 500ms"}}
        ) as daemon:
            assert daemon.proc is not None
            pid = daemon.proc.pid
            soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (STARVED, hard))
            try:
                await inbound(sim, ledger, SMS, pace=0.01, rng=rng)
                # Starved: every delivery is tried the schedule's worth of times, and more.
                await poll_until(
                    lambda: len(rows := deliveries(database)) >= SMS
                    and all(logged >= TRIES for _, _, logged, _ in rows),
                    within=60,
                )
            finally:
                resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
            await rx.wait_for(lambda: ledger.complete(rx), 60)
            await poll_until(lambda: all(row[0] == "delivered" for row in deliveries(database)), within=30)
            rows = deliveries(database)
            errors = local_errors(database)
            assert await daemon.stop() == 0
            log = daemon.log.read_text()
    finally:
        await sim.stop()
        await rx.stop()
    local = sum(row[3] for row in rows)
    print(f"out of descriptors: {len(rows)} deliveries, {local} local attempts not counted")
    assert [(state, counted) for state, counted, _, _ in rows] == [("delivered", 1)] * len(rows)
    assert local >= TRIES and all(logged == n_local + 1 for _, _, logged, n_local in rows)
    assert errors and all("Too many open files" in e for e in errors), errors
    assert "not counted against the receiver" in log
    verdict = ledger.verdict(rx, sim)
    assert verdict.clean, verdict
