"""No statement the daemon runs for a message reads a whole table that grows with the history.

``sended``, ``received``, ``outbox``, ``scheduled_number``, ``sended_part``, ``call``, ``mqtt_job`` …
keep a row per message for as long as the gateway lives (RaspiSMS's history), so a statement that scans
one of them costs more with every SMS ever handled: a Pi's gateway slows down month after month, inside
the write transaction that every message waits for. The daemon runs for real (simulated modem,
verifying receiver, a real Mosquitto for the MQTT path); every statement its two connections execute
while SMS come in, go out, are reported and announced, then while it stops, is traced (``sqlite3``
trace callback: the statement with its values), then planned with ``EXPLAIN QUERY PLAN`` on the same
file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

import aiomqtt

from raspisms_daemon.config import MqttConfig
from raspisms_daemon.store import scheduled as scheduled_store
from tests.helpers.daemon_process import DaemonEnv, poll_until, running_daemon
from tests.helpers.mosquitto import mosquitto, needs_mosquitto, subscriber

# One row per configured webhook or phone: bounded by the config file, not by the traffic.
BOUNDED = {"webhook", "phone"}
PLANNED = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "REPLACE")


async def trace(env: DaemonEnv, seen: list[str]) -> None:
    await env.daemon.db.conn.set_trace_callback(seen.append)
    await env.daemon.db.reads.conn.set_trace_callback(seen.append)


def scans(db: Path, statements: list[str]) -> dict[str, list[str]]:
    """Each statement that scans a table other than the bounded ones, with those lines of its plan."""
    found: dict[str, list[str]] = {}
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for sql in dict.fromkeys(statements):
            if sql.lstrip().split(None, 1)[0].upper() not in PLANNED:
                continue
            # The trace prints a float infinity as Inf, which SQL does not read back.
            plan = conn.execute(f"EXPLAIN QUERY PLAN {sql.replace('Inf', '1e999')}").fetchall()
            bad = [d for *_, d in plan if d.startswith("SCAN ") and d.split()[1] not in BOUNDED]
            if bad:
                found[sql] = bad
    return found


async def test_no_statement_of_the_message_paths_scans_a_table_that_grows_with_the_history(
    tmp_path: Path,
) -> None:
    seen: list[str] = []
    async with running_daemon(tmp_path) as env:
        await trace(env, seen)
        sim = env.sims[0]
        sim.set_reports("delivered")
        await sim.inject_sms("+33612345678", "hello")
        await sim.inject_sms("+33612345678", "a long one 🎉 " * 12)  # multipart: parts kept, then joined
        await sim.inject_sms("+33611111111", "STOP")  # SMS STOP: its sends are skipped from now on
        await env.wait_type("receive_sms", n=3)
        numbers = [f"+3369876543{i}" for i in range(4)] + ["+33611111111"]
        await scheduled_store.create(env.daemon.db, text="door", numbers=numbers, now=env.daemon.clock.time())
        env.daemon.wake_sender()
        await env.wait_type("send_sms_status_change", n=4, within=20)
        await sim.ring("+33622222222")
        await env.wait_type("inbound_call", within=10)
        await asyncio.sleep(0.5)  # the last rows delivered and their attempts recorded
    assert sum(s.lstrip().upper().startswith(PLANNED) for s in seen) > 50, "too few statements to judge"
    assert scans(tmp_path / "daemon.sqlite3", seen) == {}


@needs_mosquitto
async def test_no_statement_of_the_mqtt_job_path_scans_a_table_that_grows_with_the_history(
    tmp_path: Path,
) -> None:
    seen: list[str] = []
    async with mosquitto(tmp_path) as broker, subscriber(broker, "raspisms/gw1/sent/#") as statuses:
        mqtt = MqttConfig(host="127.0.0.1", port=broker.port, gateway="gw1")
        async with running_daemon(tmp_path, config_overrides={"mqtt": mqtt}) as env:
            await poll_until(lambda: env.daemon.mqtt is not None and env.daemon.mqtt.connected, within=20)
            await trace(env, seen)
            env.sims[0].set_reports("delivered")
            async with aiomqtt.Client(
                "127.0.0.1", broker.port, identifier="jobs", protocol=aiomqtt.ProtocolVersion.V5
            ) as client:
                for i in range(3):
                    job = {"id": f"job-{i}", "to": "+33612345678", "text": f"job {i}"}
                    await client.publish("raspisms/gw1/send", json.dumps(job).encode(), qos=1)
                await client.publish("raspisms/gw1/send", json.dumps(job).encode(), qos=1)  # again
            await statuses.wait_for(
                lambda: sum(b'"delivered"' in p for _, p, _ in statuses.messages) >= 3, within=20
            )
            await asyncio.sleep(0.5)
    assert scans(tmp_path / "daemon.sqlite3", seen) == {}
