"""No statement the daemon runs for a message reads a whole table that grows with the history.

``sended``, ``received``, ``outbox``, ``scheduled_number``, ``sended_part``, ``call`` … keep a row per
message for as long as the gateway lives (RaspiSMS's history), so a statement that scans one of them
costs more with every SMS ever handled: a Pi's gateway slows down month after month, inside the write
transaction that every message waits for. The daemon runs for real (simulated modem, verifying
receiver); every statement its two connections execute while SMS come in, go out, are reported and
announced, then while it stops, is traced (``sqlite3`` trace callback: the statement with its values),
then planned with ``EXPLAIN QUERY PLAN`` on the same file.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

from raspisms_daemon.store import scheduled as scheduled_store
from tests.helpers.daemon_process import running_daemon

# One row per configured webhook or phone: bounded by the config file, not by the traffic.
BOUNDED = {"webhook", "phone"}
PLANNED = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "REPLACE")


async def traced_traffic(tmp_path: Path) -> list[str]:
    seen: list[str] = []
    async with running_daemon(tmp_path) as env:
        db, sim = env.daemon.db, env.sims[0]
        await db.conn.set_trace_callback(seen.append)
        await db.reads.conn.set_trace_callback(seen.append)
        sim.set_reports("delivered")
        await sim.inject_sms("+33612345678", "hello")
        await sim.inject_sms("+33612345678", "a long one 🎉 " * 12)  # multipart: parts kept, then joined
        await sim.inject_sms("+33611111111", "STOP")  # SMS STOP: its sends are skipped from now on
        await env.wait_type("receive_sms", n=3)
        numbers = [f"+3369876543{i}" for i in range(4)] + ["+33611111111"]
        await scheduled_store.create(db, text="door", numbers=numbers, now=env.daemon.clock.time())
        env.daemon.wake_sender()
        await env.wait_type("send_sms_status_change", n=4, within=20)
        await sim.ring("+33622222222")
        await env.wait_type("inbound_call", within=10)
        await asyncio.sleep(0.5)  # the last rows delivered and their attempts recorded
    return list(dict.fromkeys(seen))  # the stop's statements too


def scans(conn: sqlite3.Connection, sql: str) -> list[str]:
    # The trace prints a float infinity as Inf, which SQL does not read back.
    sql = sql.replace("-Inf", "-1e999").replace("Inf", "1e999")
    plan = conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
    return [
        detail
        for *_, detail in plan
        if detail.startswith("SCAN ") and detail.split()[1] not in BOUNDED
    ]


async def test_no_statement_of_the_message_paths_scans_a_table_that_grows_with_the_history(
    tmp_path: Path,
) -> None:
    statements = await traced_traffic(tmp_path)
    planned = [s for s in statements if s.lstrip().split(None, 1)[0].upper() in PLANNED]
    assert len(planned) > 50, "the traffic ran too few statements to say anything"
    with contextlib.closing(sqlite3.connect(tmp_path / "daemon.sqlite3")) as conn:
        found = {sql: s for sql in planned if (s := scans(conn, sql))}
    assert found == {}
