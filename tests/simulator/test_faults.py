"""Faults: which are in effect (no pty), and what a client sees of each on the real pty."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from raspisms_daemon.gsm.pdu import DeliverPdu, decode, encode_submit
from raspisms_daemon.simulator import SimulatorError
from raspisms_daemon.simulator.faults import FAULTS, Faults, fault_name, garbage
from tests.helpers.simulator import SerialPeer, simulated_modem

pytestmark = pytest.mark.timeout(30)

SENDER = "+33611111111"
BROKEN = "07913316020000F0040B9133"  # cut in the middle of the originating address


async def quiet(peer: SerialPeer) -> None:
    await peer.command("ATE0")
    assert await peer.command("AT+CMEE=1") == ["OK"]


def test_a_fault_is_named_by_what_precedes_its_count() -> None:
    names = [fault_name(kind) for kind in ("error:3", "drop_urcs", "unplug")]
    assert names == ["error", "drop_urcs", "unplug"]
    with pytest.raises(SimulatorError, match=r"unknown fault 'meltdown' \(choose from unplug, replug"):
        fault_name("meltdown")
    assert "garbage" in FAULTS


def test_counts_default_to_one_and_bad_counts_are_refused() -> None:
    faults = Faults()
    faults.apply("error")
    faults.apply("drop_urcs:4")
    assert (faults.errors_pending, faults.drop_urcs) == (1, 4)
    faults.apply("error:-2")
    assert faults.errors_pending == 0
    with pytest.raises(SimulatorError, match="bad count in 'drop_urcs:x'"):
        faults.apply("drop_urcs:x")
    assert faults.drop_urcs == 4


def test_the_active_faults_are_listed_in_a_fixed_order() -> None:
    faults = Faults()
    for kind in ("drop_urcs:2", "sms_error", "error:3", "stall", "unplug"):
        faults.apply(kind)
    assert faults.active() == ["unplugged", "stalled", "error:3", "sms_error", "drop_urcs:2"]
    faults.apply("replug")  # unplugging powers the firmware down: the stall goes with it
    assert faults.active() == ["error:3", "sms_error", "drop_urcs:2"]
    faults.apply("garbage")  # nothing to remember
    assert faults.active() == ["error:3", "sms_error", "drop_urcs:2"]


def test_counted_faults_are_used_up_one_at_a_time() -> None:
    faults = Faults()
    faults.apply("error:2")
    faults.apply("sms_error")
    faults.apply("drop_urcs:1")
    assert [faults.take_error() for _ in range(3)] == [True, True, False]
    assert [faults.take_sms_error() for _ in range(2)] == [True, False]
    assert [faults.take_lost_urc() for _ in range(2)] == [True, False]
    assert faults.active() == []


def test_unstall_ends_a_stall() -> None:
    faults = Faults()
    faults.apply("stall")
    faults.apply("unstall")
    assert not faults.stalled


def test_garbage_is_nuls_and_high_bytes() -> None:
    junk = garbage()
    assert junk.startswith(b"\x00\xff\x80") and junk.endswith(b"\x00\xfe")
    assert all(b >= 0x80 for b in junk[3:-2])


async def test_unplug_hangs_up_the_client_and_replug_keeps_storage(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim:
        await sim.inject_sms(SENDER, "kept")
        peer = SerialPeer(sim.link)
        await peer.open()
        await peer.command("ATE0")
        await sim.fault("unplug")
        assert not sim.link.exists()
        assert "unplugged" in sim.state()["faults"]
        with pytest.raises(ConnectionError):
            await peer.next_line(timeout=2)
        peer.close()
        await sim.fault("replug")
        assert sim.link.exists()
        async with SerialPeer(sim.link) as again:
            lines = await again.command("AT+CMGR=1")
            assert lines[0].startswith("+CMGR:")  # settings survive too: echo still off
            message = decode(lines[1])
            assert isinstance(message, DeliverPdu) and message.text == "kept"


async def test_stall_ignores_everything_but_a_full_reset(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        await peer.command("AT+CMEE=1")
        await sim.fault("stall")
        with pytest.raises(TimeoutError):
            await peer.command("AT", timeout=0.3)
        peer.write("AT+CFUN=1,1\r")
        await peer.expect(r"^\+CPIN: READY$", timeout=2)  # generic boot URC
        assert sim.state()["faults"] == []
        assert await peer.command("AT") == ["AT", "OK"]  # defaults again: echo back on
        assert sim.state()["settings"]["cmee"] == 0


async def test_unstall_resumes_answering(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        await sim.fault("stall")
        with pytest.raises(TimeoutError):
            await peer.command("AT", timeout=0.3)
        await sim.fault("unstall")
        peer.buffer.clear()
        assert await peer.command("AT") == ["OK"]


async def test_replug_clears_a_stall(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim:
        await sim.fault("stall")
        await sim.fault("replug")
        assert sim.state()["faults"] == []
        async with SerialPeer(sim.link) as peer:
            assert await peer.command("AT", timeout=2) == ["AT", "OK"]


async def test_garbage_on_the_line_does_not_stop_the_modem_answering(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        await sim.fault("garbage")
        await asyncio.sleep(0.1)
        junk = bytes(peer.buffer)
        assert b"\x00" in junk and any(b >= 0x80 for b in junk)
        peer.buffer.clear()
        assert await peer.command("AT") == ["OK"]


async def test_error_fault_answers_the_next_n_commands_with_errors(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        await peer.command("AT+CMEE=1")
        await sim.fault("error:2")
        assert sim.state()["faults"] == ["error:2"]
        assert await peer.command("AT") == ["+CMS ERROR: 500"]
        assert await peer.command("AT+CSQ") == ["+CMS ERROR: 500"]
        assert await peer.command("AT") == ["OK"]


async def test_sms_error_fault_fails_the_next_cmgs_with_38(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        await peer.command("AT+CMEE=1")
        await sim.fault("sms_error")
        part = encode_submit("+33622222222", "hi")[0]
        assert (await peer.send_pdu(part.tpdu_length, part.hex))[-1] == "+CMS ERROR: 38"
        assert (await peer.send_pdu(part.tpdu_length, part.hex))[-1] == "OK"
        assert len(sim.state()["sent"]) == 1


async def test_drop_urcs_loses_the_next_n_cmti_but_keeps_the_messages(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await quiet(peer)
        await sim.fault("drop_urcs:2")
        assert sim.state()["faults"] == ["drop_urcs:2"]
        lost = [*await sim.inject_sms(SENDER, "lost 1"), *await sim.inject_sms(SENDER, "lost 2")]
        shown = await sim.inject_sms(SENDER, "announced")
        line, skipped = await peer.expect(r"^\+CMTI:")
        assert line == f'+CMTI: "SM",{shown[0]}'
        assert skipped == []  # the two before it were never written
        assert sim.state()["faults"] == []
        assert [s["index"] for s in sim.state()["stored"]] == [*lost, *shown]
        listed = await peer.command("AT+CMGL=4")
        assert len([x for x in listed if x.startswith("+CMGL:")]) == 3


async def test_drop_urcs_without_count_drops_one_and_also_drops_cdsi(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await quiet(peer)
        assert await peer.command("AT+CNMI=2,1,0,2,0") == ["OK"]
        await sim.fault("drop_urcs")
        index = await sim.inject_raw_pdu(BROKEN, kind="status_report")
        assert sim.state()["faults"] == []
        second = await sim.inject_raw_pdu(BROKEN, kind="status_report")
        line, skipped = await peer.expect(r"^\+CDSI:")
        assert (line, skipped) == (f'+CDSI: "SM",{second}', [])
        assert [s["index"] for s in sim.state()["stored"]] == [index, second]
