"""One phone on the gammu backend: libgammu's own AT driver talks to the simulator, through the daemon."""

from __future__ import annotations

from pathlib import Path

import pytest

from raspisms_daemon.store import scheduled as scheduled_store
from tests.helpers.daemon_process import poll_until, running_daemon
from tests.helpers.machine import import_or_skip

import_or_skip("gammu", "python-gammu", "python3-gammu")


@pytest.mark.timeout(120)
async def test_receive_send_and_report_through_libgammus_at_driver(tmp_path: Path) -> None:
    async with running_daemon(
        tmp_path, phone_overrides={"backend": "gammu", "gammu_connection": "at", "poll_interval": 0.3}
    ) as env:
        assert env.daemon.supervisors[1].status().state == "connected"
        await env.sims[0].inject_sms("+33612345678", "via libgammu ✅")
        (d,) = await env.wait_type("receive_sms", within=30)
        assert d.body["text"] == "via libgammu ✅" and d.body["origin"] == "+33612345678"
        await poll_until(lambda: not env.sims[0].state()["stored"], within=30)
        await scheduled_store.create(
            env.daemon.db, text="sent by libgammu", numbers=["+33698765432"], now=env.daemon.clock.time()
        )
        env.daemon.wake_sender()
        (sent,) = await env.wait_type("send_sms", within=30)
        assert sent.body["status"] == "unknown"
        assert [s["text"] for s in env.sims[0].state()["sent"]] == ["sent by libgammu"]
        (change,) = await env.wait_type("send_sms_status_change", within=30)
        assert change.body == {"id": sent.body["id"], "status": "success"}
