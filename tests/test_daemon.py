"""The wired daemon in process: simulator (real pty) → Daemon → outbox → real verifying receiver."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from raspisms_daemon.simulator import Simulator
from raspisms_daemon.store import scheduled as scheduled_store
from tests.helpers.daemon_process import poll_until, running_daemon


async def _sim_empty(sim: Simulator) -> None:
    await poll_until(lambda: not sim.state()["stored"])


async def test_a_received_sms_becomes_one_signed_receive_sms_and_leaves_the_sim(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as env:
        await env.sims[0].inject_sms("+33612345678", "Hello from the simulator")
        (d,) = await env.wait_type("receive_sms")
        assert d.body["origin"] == "+33612345678"
        assert d.body["text"] == "Hello from the simulator"
        assert d.body["destination"] == 1
        await _sim_empty(env.sims[0])
        row = await env.daemon.db.fetchone("SELECT * FROM received")
        assert row is not None and row["id"] == d.body["id"]


async def test_a_multipart_sms_with_emoji_is_one_receive_sms_with_the_whole_text(tmp_path: Path) -> None:
    text = "Multipart 🎉 " + "x" * 150 + " end ✅"
    async with running_daemon(tmp_path) as env:
        indexes = await env.sims[0].inject_sms("+33612345678", text)
        assert len(indexes) > 1
        (d,) = await env.wait_type("receive_sms")
        assert d.body["text"] == text
        await _sim_empty(env.sims[0])
        assert await env.daemon.db.fetchall("SELECT * FROM multipart_part") == []
        await asyncio.sleep(0.5)
        assert len(env.of_type("receive_sms")) == 1


async def test_a_scheduled_sms_is_sent_once_then_its_delivery_report_changes_its_status(
    tmp_path: Path,
) -> None:
    async with running_daemon(tmp_path) as env:
        sid = await scheduled_store.create(
            env.daemon.db,
            text="Door opened",
            numbers=["+33698765432"],
            now=env.daemon.clock.time(),
            tag="door",
        )
        env.daemon.wake_sender()
        (sent,) = await env.wait_type("send_sms")
        assert sent.body["status"] == "unknown" and sent.body["originating_scheduled"] == sid
        assert sent.body["tag"] == "door" and sent.body["origin"] == 1
        (change,) = await env.wait_type("send_sms_status_change")
        assert change.body == {"id": sent.body["id"], "status": "success"}  # documented flavor
        assert [s["number"] for s in env.sims[0].state()["sent"]] == ["+33698765432"]
        row = await env.daemon.db.fetchone("SELECT status, state FROM sended")
        assert row is not None and (row["status"], row["state"]) == ("delivered", "sent")
        sch = await env.daemon.db.fetchone("SELECT state FROM scheduled WHERE id = ?", (sid,))
        assert sch is not None and sch["state"] == "done"


async def test_a_failed_report_ends_the_sms_failed(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as env:
        env.sims[0].set_reports("failed")
        await scheduled_store.create(
            env.daemon.db, text="x", numbers=["0698765432"], now=env.daemon.clock.time()
        )
        env.daemon.wake_sender()
        (change,) = await env.wait_type("send_sms_status_change")
        assert change.body["status"] == "failed"


async def test_a_transient_cms_error_is_retried_and_the_sms_sent_once(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as env:
        assert env.daemon.sender is not None  # built once the daemon runs
        env.daemon.sender.retry_delays = (0.05, 0.05, 0.05)
        await env.sims[0].fault("sms_error")  # the next AT+CMGS answers +CMS ERROR: 38
        await scheduled_store.create(
            env.daemon.db, text="retry", numbers=["+33698765432"], now=env.daemon.clock.time()
        )
        env.daemon.wake_sender()
        (sent,) = await env.wait_type("send_sms")
        assert sent.body["status"] == "unknown"
        assert len(env.sims[0].state()["sent"]) == 1
        row = await env.daemon.db.fetchone("SELECT attempts FROM sended")
        assert row is not None and row["attempts"] == 2


async def test_a_call_is_announced_at_the_first_ring_and_hung_up_after_n_rings(tmp_path: Path) -> None:
    async with running_daemon(tmp_path, phone_overrides={"hangup_calls": 2}) as env:
        await env.sims[0].ring("+33611111111")
        (call,) = await env.wait_type("inbound_call", within=10)
        assert call.body["origin"] == "+33611111111" and call.body["end"] is None
        async with asyncio.timeout(10):
            while True:
                row = await env.daemon.db.fetchone("SELECT end, rings FROM call")
                if row is not None and row["end"] is not None:
                    break
                await asyncio.sleep(0.05)
        assert row["rings"] >= 2
        assert env.sims[0].state()["call"] is None


async def test_a_json_format_webhook_carries_the_same_fields_with_body_as_an_object(tmp_path: Path) -> None:
    async with running_daemon(tmp_path, webhook_format="json") as env:
        await env.sims[0].inject_sms("+33612345678", "as JSON")
        (d,) = await env.wait_type("receive_sms")
        assert d.format == "json" and d.body["text"] == "as JSON"
        (req,) = [r for r in env.rx.requests if r.random_id == d.random_id]
        assert req.headers["Content-Type"].startswith("application/json")
        assert req.library_ok and req.documented_ok


@pytest.mark.parametrize("personality", ["huawei", "quectel", "sim800"])
async def test_each_modem_personality_receives_sends_and_reports(tmp_path: Path, personality: str) -> None:
    text = "Quirks 🎛️ " + "y" * 80
    async with running_daemon(tmp_path, personality=personality) as env:
        await env.sims[0].inject_sms("+33612345678", text)
        (d,) = await env.wait_type("receive_sms")
        assert d.body["text"] == text
        await scheduled_store.create(
            env.daemon.db, text="out", numbers=["+33698765432"], now=env.daemon.clock.time()
        )
        env.daemon.wake_sender()
        (change,) = await env.wait_type("send_sms_status_change", within=15)
        assert change.body["status"] == "success"
        await _sim_empty(env.sims[0])
