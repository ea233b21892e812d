"""The phone supervisor with a real simulator, a real AT backend and a real SQLite file: what the unit
tests cannot show (the SIM's own state, unplugging, attach, the PIN)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from raspisms_daemon.config import Config
from raspisms_daemon.simulator import Simulator
from raspisms_daemon.store.db import open_database
from tests.helpers.daemon_process import poll_until, running_daemon
from tests.helpers.simulator import simulated_modem

_wait = poll_until


async def test_a_message_already_taken_in_is_deleted_but_not_emitted_again(tmp_path: Path) -> None:
    async def pretend_taken_in_before_a_crash(sims: list[Simulator], config: Config) -> None:
        (index,) = await sims[0].inject_sms("+33612345678", "committed before the crash")
        stored = sims[0].state()["stored"][0]
        db = await open_database(config.daemon.database)
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO taken_in (id_phone, storage, sim_index, pdu, kind, taken_at) "
                "VALUES (1, ?, ?, ?, 'sms', ?)",
                (stored["storage"], index, stored["pdu"].upper(), time.time()),
            )
        await db.close()

    async with running_daemon(tmp_path, before_start=pretend_taken_in_before_a_crash) as env:
        await _wait(lambda: not env.sims[0].state()["stored"])
        await env.sims[0].inject_sms("+33612345678", "a new one")
        (d,) = await env.wait_type("receive_sms")
        assert d.body["text"] == "a new one"
        await asyncio.sleep(0.3)
        assert len(env.of_type("receive_sms")) == 1


async def test_two_phones_one_unplugged_and_replugged_while_the_other_keeps_receiving(tmp_path: Path) -> None:
    async with running_daemon(tmp_path, phones=2) as env:
        a, b = env.sims
        await a.fault("unplug")
        await _wait(lambda: env.daemon.supervisors[1].status().state == "disconnected")
        for i in range(5):
            await b.inject_sms("+33600000002", f"on b {i}")
        await a.inject_sms("+33600000001", "while unplugged")  # stays on the SIM until the modem is back
        await env.wait_type("receive_sms", 5)
        assert {d.body["destination"] for d in env.of_type("receive_sms")} == {2}
        await a.fault("replug")
        await env.daemon.attach(str(a.link))
        ds = await env.wait_type("receive_sms", 6, within=20)
        assert [d.body["text"] for d in ds if d.body["destination"] == 1] == ["while unplugged"]
        await _wait(lambda: env.daemon.supervisors[1].status().state == "connected")
        await _wait(lambda: not a.state()["stored"] and not b.state()["stored"])


async def test_a_modem_plugged_in_after_start_is_picked_up_on_attach(tmp_path: Path) -> None:
    late = tmp_path / "late-modem"
    async with running_daemon(tmp_path, phone_overrides={"device": str(late)}) as env:
        sup = env.daemon.supervisors[1]
        assert sup.status().state == "disconnected"
        async with simulated_modem(tmp_path, name="late-modem") as sim:
            assert await env.daemon.attach(str(late)) == [1]
            await poll_until(lambda: sup.status().state == "connected", within=10)
            assert sup.status().imei == sim.imei
            await sim.inject_sms("+33612345678", "hello, late modem")
            (d,) = await env.wait_type("receive_sms")
            assert d.body["text"] == "hello, late modem"


async def test_a_phone_configured_by_imei_is_found_on_the_device_udev_reports(tmp_path: Path) -> None:
    async with running_daemon(tmp_path, phone_overrides={"device": "", "imei": "867000000000001"}) as env:
        sup = env.daemon.supervisors[1]
        assert sup.status().state == "disconnected"
        async with simulated_modem(tmp_path, name="other", imei="867000000000999") as other:
            assert await env.daemon.attach(str(other.link)) == []  # a modem, but not ours
        assert await env.daemon.attach(str(env.sims[0].link)) == [1]
        await poll_until(lambda: sup.status().state == "connected", within=15)
        assert sup.status().device == str(env.sims[0].link)
        await env.sims[0].inject_sms("+33612345678", "found by IMEI")
        (d,) = await env.wait_type("receive_sms")
        assert d.body["text"] == "found by IMEI"


async def test_attaching_the_device_of_a_phone_found_by_imei_moves_that_phone_and_no_other(
    tmp_path: Path,
) -> None:
    not_yet = tmp_path / "not-plugged-yet"
    per_phone = {1: {"device": "", "imei": "867000000000001"}, 2: {"device": str(not_yet)}}
    async with running_daemon(tmp_path, phones=2, per_phone=per_phone) as env:
        by_imei, fixed = env.daemon.supervisors[1], env.daemon.supervisors[2]
        assert await env.daemon.attach(str(env.sims[0].link)) == [1]
        assert by_imei.phone.device == str(env.sims[0].link)
        assert fixed.phone.device == str(not_yet)  # the phone with its own path stays where it is
        await poll_until(lambda: by_imei.status().state == "connected", within=15)
        assert fixed.status().state == "disconnected"


async def test_a_sim_refusing_the_pin_stops_the_phone_after_one_try_and_says_why(tmp_path: Path) -> None:
    async with running_daemon(
        tmp_path, sim_overrides={"pin": "1234"}, phone_overrides={"pin": "0000"}
    ) as env:
        sup = env.daemon.supervisors[1]
        await _wait(lambda: sup.error is not None)
        await asyncio.sleep(0.5)  # a retry, if any, would spend another try now
        status = sup.status()
        assert status.state == "disconnected"
        assert "+CME ERROR: 16" in str(status.error)
        # One wrong PIN spent, two tries left: the SIM is not on its way to PUK.
        assert env.sims[0].state()["settings"]["pin_attempts"] == 2
