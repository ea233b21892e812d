"""The daemon and its database file, in process on simulators, a real SQLite file and a verifying
receiver: one daemon per database; a full disk keeps SMS on the SIM, says why and recovers by itself;
a deleted file is written back; a corrupt one stops the daemon with 78 naming it."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections import defaultdict
from pathlib import Path

import aiohttp
import pytest

from raspisms_daemon.daemon import EX_TEMPFAIL, Daemon
from raspisms_daemon.store.db import open_database
from raspisms_daemon.store.faults import FaultKind, StorageFault
from tests.helpers.daemon_process import DaemonEnv, poll_until, running_daemon
from tests.helpers.small_fs import fill, small_tmpfs


async def healthz(env: DaemonEnv) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(f"{env.daemon.api_url}/healthz") as resp:
        return resp.status, await resp.json()


def received_texts(env: DaemonEnv) -> dict[str, set[str]]:
    """Text → the random ids it was delivered under (more than one id = taken in twice)."""
    out: dict[str, set[str]] = defaultdict(set)
    for d in env.of_type("receive_sms"):
        out[d.body["text"]].add(d.random_id)
    return out


async def test_a_second_daemon_on_the_same_database_stops_before_touching_it(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as env:
        second = Daemon(env.config)
        with pytest.raises(StorageFault) as refused:
            await second.run()
        assert refused.value.kind is FaultKind.IN_USE
        assert f"database {env.config.daemon.database} in use by PID {os.getpid()}" in str(refused.value)
        # Stopped at the lock: no database opened, no lease released, no task, no phone.
        assert not hasattr(second, "db") and second.dispatcher is None and not second.supervisors
        await env.sims[0].inject_sms("+33612345678", "the first one works on")
        await env.wait_type("receive_sms")


async def test_a_full_disk_keeps_sms_on_the_sim_says_why_and_recovers_by_itself(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "small", size="8m") as small:
        database = small / "daemon.sqlite3"
        async with running_daemon(tmp_path, api=True, daemon_overrides={"database": database}) as env:
            sim, health = env.sims[0], env.daemon.db.health
            filler = fill(small)
            texts: list[str] = []
            for i in range(100):  # until a commit needs a block the disk no longer has
                texts.append(f"disk full {i} " + "x" * 120)
                await sim.inject_sms("+33612345678", texts[-1])
                await poll_until(lambda: health.degraded or texts[-1] in received_texts(env), within=10)
                if health.degraded:
                    break
            assert health.fault is not None and health.fault.kind is FaultKind.FULL
            for i in range(3):  # while degraded: nothing taken in, nothing deleted from the SIM
                texts.append(f"while full {i}")
                await sim.inject_sms("+33612345678", texts[-1])
            await poll_until(lambda: sum(s.held for s in env.daemon.supervisors.values()) >= 3)
            assert len(sim.state()["stored"]) >= 3
            status, body = await healthz(env)
            assert status == 503 and body["status"] == "degraded"
            assert "disk full" in str(body["reason"]) and str(database) in str(body["reason"])
            assert env.daemon.status_line().startswith("DEGRADED: ")

            filler.unlink()  # the disk has room again: no restart, no person needed
            await poll_until(lambda: not health.degraded, within=15)
            await env.rx.wait_for(lambda: set(received_texts(env)) >= set(texts), 20)
            await poll_until(lambda: not sim.state()["stored"], within=10)
            status, body = await healthz(env)
            assert status == 200 and body["status"] == "ok"
    delivered = received_texts(env)
    assert set(delivered) == set(texts), "an SMS was lost"
    assert all(len(ids) == 1 for ids in delivered.values()), "an SMS was taken in twice"


async def test_a_database_deleted_while_running_is_written_back_and_the_daemon_restarts(
    tmp_path: Path,
) -> None:
    async with running_daemon(tmp_path) as env:
        sim, database = env.sims[0], env.config.daemon.database
        await sim.inject_sms("+33612345678", "before the rm")
        await env.wait_type("receive_sms")
        os.unlink(database)
        await sim.inject_sms("+33612345678", "after the rm")
        await asyncio.wait_for(env.task, 20)  # the daemon stops by itself …
        assert env.daemon.exit_code == EX_TEMPFAIL  # … to be restarted on the written-back file
        stored = [m for m in sim.state()["stored"]]
    assert len(stored) == 1  # "after the rm" was never deleted from the SIM: the next start takes it in
    db = await open_database(database)
    try:
        texts = [r[0] for r in await db.fetchall("SELECT text FROM received")]
    finally:
        await db.close()
    assert "before the rm" in texts


async def test_a_corrupt_index_stops_the_daemon_with_78_naming_the_file(tmp_path: Path) -> None:
    database = tmp_path / "daemon.sqlite3"
    await (await open_database(database)).close()
    with sqlite3.connect(database) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = [
            r[0]
            for r in conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE tbl_name = 'outbox' AND type = 'index'"
            )
        ]
    conn.close()
    with open(database, "r+b") as f:  # noqa: ASYNC230 - a test writing a few bytes before the start
        for root in roots:
            f.seek((root - 1) * page_size)
            f.write(b"\xff" * 16)  # no valid b-tree page starts like this
    with pytest.raises(StorageFault) as stopped:  # what `run` turns into exit 78, see tests/faults
        async with running_daemon(tmp_path):
            pass
    assert stopped.value.kind is FaultKind.CORRUPT and stopped.value.fatal
    assert str(database) in str(stopped.value)
