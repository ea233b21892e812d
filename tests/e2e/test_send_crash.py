"""A send interrupted by SIGKILL at each step ends with no double send and a truthful status.

Steps: (1) the ``sending`` row is committed and AT+CMGS is on the wire but the modem (stalled) has not
taken the PDU; (2) the modem has accepted the SMS (it is in the simulator's "sent") and answers
``+CMGS``; (3) the SMS is recorded and announced, its delivery report not yet in.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests.helpers.daemon_process import API_KEY, DaemonProcess, daemon_process, poll_until
from tests.helpers.receiver import FaultyReceiver
from tests.helpers.simulator import simulated_modem


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute(sql).fetchall()
    conn.close()
    return rows


async def _schedule(daemon: DaemonProcess) -> None:
    status, body = await daemon.request(
        "POST", "/api/scheduled/", json={"text": "once", "numbers": ["+33698765432"]}
    )
    assert status == 201, body


@pytest.mark.parametrize("step", ["before_pdu", "after_cmgs", "before_report"])
@pytest.mark.timeout(90)
async def test_sigkill_during_a_send_never_sends_twice_and_tells_the_truth(tmp_path: Path, step: str) -> None:
    db = tmp_path / "daemon.sqlite3"
    rx = FaultyReceiver(API_KEY)
    await rx.start()
    try:
        async with (
            simulated_modem(tmp_path) as sim,
            daemon_process(tmp_path, sims=[sim], rx_url=rx.url) as daemon,
        ):
            if step == "before_pdu":
                await sim.fault("stall")
                await _schedule(daemon)
                await poll_until(lambda: _rows(db, "SELECT state FROM sended") == [("sending",)], within=10)
                await asyncio.sleep(0.1)  # AT+CMGS is written; the modem does not answer
            elif step == "after_cmgs":
                sim.send_delay = 0.3
                await _schedule(daemon)
                await poll_until(lambda: bool(sim.state()["sent"]), within=10, every=0.005)
            else:
                sim.set_reports("delivered", delay=3.0)
                await _schedule(daemon)
                await rx.wait_for(lambda: any(d.type == "send_sms" for d in rx.deliveries), 10)
            daemon.kill()
            await daemon.wait()
            if step == "before_pdu":
                await sim.fault("unstall")
            sim.send_delay = 0.0
            await daemon.start(phones_connected=1)
            await rx.wait_for(lambda: any(d.type == "send_sms" for d in rx.deliveries), 15)
            if step == "before_report":
                await rx.wait_for(lambda: any(d.type == "send_sms_status_change" for d in rx.deliveries), 15)
            await asyncio.sleep(1.5)  # time enough for a wrong re-send to show up
            sent = sim.state()["sent"]
            await daemon.stop()
    finally:
        await rx.stop()

    assert len(sent) == (0 if step == "before_pdu" else 1), f"sent {len(sent)} times"
    rows = _rows(db, "SELECT state, status FROM sended")
    assert len(rows) == 1
    send_sms = {d.random_id: d.body for d in rx.deliveries if d.type == "send_sms"}
    assert len(send_sms) == 1, "send_sms emitted more than once"
    (body,) = send_sms.values()
    assert body["status"] == "unknown"  # the modem accepted it, or we cannot know whether it did
    if step == "before_report":
        assert rows == [("sent", "delivered")]
        changes = [d.body for d in rx.deliveries if d.type == "send_sms_status_change"]
        assert changes and all(c == {"id": body["id"], "status": "success"} for c in changes)
    else:
        state, status = rows[0]
        assert state == "sent" and status in ("unknown", "delivered")
        if step == "before_pdu":
            assert status == "unknown"
    assert _rows(db, "SELECT state FROM scheduled") == [("done",)]
