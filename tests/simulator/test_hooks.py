"""The simulator's public test hooks (raw PDUs, CNMI, deletion log, PIN attempts) and the
network registration commands libgammu needs (AT+CGREG, AT+CGATT, AT+COPS formats, AT+CCWA)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from raspisms_daemon.gsm.pdu import DeliverPdu, decode
from raspisms_daemon.simulator import SimulatorError
from tests.helpers.simulator import SerialPeer, simulated_modem

pytestmark = pytest.mark.timeout(30)

SENDER = "+33611111111"
BROKEN = "07913316020000F0040B9133"  # cut in the middle of the originating address


async def quiet(peer: SerialPeer) -> None:
    await peer.command("ATE0")
    assert await peer.command("AT+CMEE=1") == ["OK"]


async def test_inject_raw_pdu_stores_even_a_broken_pdu_and_announces_it(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, "huawei") as sim, SerialPeer(sim.link) as peer:
        await quiet(peer)
        assert await peer.command("AT^CURC=0") == ["OK"]
        index = await sim.inject_raw_pdu(BROKEN.lower())
        line, _ = await peer.expect(r"^\+CMTI:")
        assert line == f'+CMTI: "ME",{index}'
        assert index == 0  # Huawei counts from 0
        [stored] = sim.state()["stored"]
        assert (stored["index"], stored["pdu"], stored["kind"]) == (index, BROKEN, "deliver")
        lines = await peer.command(f"AT+CMGR={index}")
        assert lines[1:] == [BROKEN, "OK"]


async def test_inject_raw_pdu_refuses_what_is_not_hex_and_a_full_storage(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, capacity=1) as sim:
        with pytest.raises(SimulatorError, match="hexadecimal"):
            await sim.inject_raw_pdu("not hex")
        with pytest.raises(SimulatorError, match="empty"):
            await sim.inject_raw_pdu("")
        with pytest.raises(SimulatorError, match="unknown PDU kind"):
            await sim.inject_raw_pdu(BROKEN, kind="submit")
        assert await sim.inject_raw_pdu(BROKEN) == 1
        with pytest.raises(SimulatorError, match="storage full"):
            await sim.inject_raw_pdu(BROKEN)


async def test_set_cnmi_makes_the_modem_hand_sms_and_reports_over_directly(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await quiet(peer)
        sim.set_cnmi(2, 2, 0, 1, 0)
        assert await peer.command("AT+CNMI?") == ["+CNMI: 2,2,0,1,0", "OK"]
        assert await sim.inject_sms(SENDER, "direct") == []
        await peer.expect(r"^\+CMT: ,\d+$")
        message = decode(await peer.next_line())
        assert isinstance(message, DeliverPdu) and message.text == "direct"
        assert sim.state()["stored"] == []
        assert await peer.command("ATZ") == ["OK"]  # a reset restores the power-on settings (echo on)
        assert await peer.command("AT+CNMI?") == ["AT+CNMI?", "+CNMI: 1,1,0,0,0", "OK"]


async def test_set_cnmi_refuses_what_the_personality_refuses(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, "quectel") as sim:
        with pytest.raises(SimulatorError, match="refuses CNMI 2,1,0,2,0"):
            sim.set_cnmi(2, 1, 0, 2)  # the EC25 has no ds=2
        with pytest.raises(SimulatorError):
            sim.set_cnmi(4, 1)
        assert sim.state()["settings"]["cnmi"] == [1, 1, 0, 0, 0]


async def test_every_deletion_is_logged_with_time_storage_index_and_pdu(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, "huawei", noise=False) as sim, SerialPeer(sim.link) as peer:
        seen: list[dict[str, Any]] = []
        sim.on_delete = seen.append
        await quiet(peer)
        await peer.command("AT+CNMI=0,0,0,0,0")  # no +CMTI in the way of the answers
        first = (await sim.inject_sms(SENDER, "one"))[0]
        second = (await sim.inject_sms(SENDER, "two"))[0]
        report = await sim.inject_raw_pdu(BROKEN, kind="status_report")
        pdus = {s["index"]: s["pdu"] for s in sim.state()["stored"]}
        before = time.monotonic()
        assert await peer.command(f"AT+CMGD={second}") == ["OK"]
        assert await peer.command(f"AT+CMGD={second}") == ["OK"]  # already gone: nothing logged
        assert await peer.command("AT+CMGD=0,4") == ["OK"]  # everything left
        deleted = sim.state()["deleted"]
        assert [(d["storage"], d["index"], d["kind"], d["pdu"]) for d in deleted] == [
            ("ME", second, "deliver", pdus[second]),
            ("ME", first, "deliver", pdus[first]),
            ("ME", report, "status_report", BROKEN),
        ]
        assert before <= deleted[0]["at"] <= deleted[1]["at"] <= time.monotonic()
        assert seen == deleted  # the hook saw each one as it happened
        assert sim.state()["stored"] == []


async def test_pin_attempts_count_down_in_state_and_lock_to_puk(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, pin="1234") as sim, SerialPeer(sim.link) as peer:
        await quiet(peer)
        assert sim.state()["settings"]["pin_attempts"] == 3
        for left in (2, 1):
            assert await peer.command('AT+CPIN="0000"') == ["+CME ERROR: 16"]
            assert sim.state()["settings"]["pin_attempts"] == left
        assert await peer.command('AT+CPIN="0000"') == ["+CME ERROR: 16"]
        settings = sim.state()["settings"]
        assert (settings["sim"], settings["pin_attempts"]) == ("SIM PUK", 0)


async def test_cgreg_reports_packet_registration_like_creg(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await quiet(peer)
        assert await peer.command("AT+CGREG=?") == ["+CGREG: (0-2)", "OK"]
        assert await peer.command("AT+CGREG?") == ["+CGREG: 0,1", "OK"]
        assert await peer.command("AT+CGREG=2") == ["OK"]
        assert await peer.command("AT+CGREG?") == ['+CGREG: 2,1,"1A2B","C3D4"', "OK"]
        assert await peer.command("AT+CGREG=1") == ["OK"]
        assert await peer.command("AT+CGREG?") == ["+CGREG: 1,1", "OK"]
        assert await peer.command("AT+CGREG=3") == ["+CME ERROR: 3"]
        assert await peer.command("AT+CGATT?") == ["+CGATT: 1", "OK"]
        assert await peer.command("AT+CFUN=4") == ["OK"]  # radio off: neither registered nor attached
        assert await peer.command("AT+CGREG?") == ["+CGREG: 1,0", "OK"]
        assert await peer.command("AT+CGATT?") == ["+CGATT: 0", "OK"]


async def test_unlocking_the_sim_announces_creg_and_cgreg(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, pin="1234") as sim, SerialPeer(sim.link) as peer:
        await quiet(peer)
        assert await peer.command("AT+CGREG?") == ["+CGREG: 0,0", "OK"]
        assert await peer.command("AT+CREG=1;+CGREG=2") == ["OK"]
        assert await peer.command('AT+CPIN="1234"') == ["OK"]
        urcs = [await peer.next_line(), await peer.next_line()]
        assert sorted(urcs) == sorted(["+CREG: 1", '+CGREG: 1,"1A2B","C3D4"'])
        assert sim.state()["settings"]["sim"] == "READY"


@pytest.mark.parametrize("personality", ["generic", "quectel", "sim800"])
async def test_cops_answers_in_the_format_the_client_chose(tmp_path: Path, personality: str) -> None:
    async with (
        simulated_modem(tmp_path, personality, operator="Orange F") as sim,
        SerialPeer(sim.link) as peer,
    ):
        await quiet(peer)
        suffix = sim.profile.cops_suffix
        assert await peer.command("AT+COPS?") == [f'+COPS: 0,0,"Orange F"{suffix}', "OK"]
        assert await peer.command("AT+COPS=3,2") == ["OK"]
        assert await peer.command("AT+COPS?") == [f'+COPS: 0,2,"20815"{suffix}', "OK"]
        assert await peer.command("AT+COPS=3,1") == ["OK"]
        assert await peer.command("AT+COPS?") == [f'+COPS: 0,1,"Orange F"{suffix}', "OK"]
        assert await peer.command("AT+COPS=3,5") == ["+CME ERROR: 3"]
        assert await peer.command("AT+COPS=0") == ["OK"]  # automatic selection keeps the format
        assert (await peer.command("AT+COPS?"))[0].startswith("+COPS: 0,1,")
        assert await peer.command("AT+COPS=?") == [
            '+COPS: (2,"Orange F","Orange F","20815",2),,(0-4),(0-2)',
            "OK",
        ]


async def test_ccwa_is_accepted_and_queried_as_real_modems_do(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await quiet(peer)
        assert await peer.command("AT+CCWA=0") == ["OK"]
        assert await peer.command("AT+CCWA?") == ["+CCWA: 0", "OK"]
        assert await peer.command("AT+CCWA=1") == ["OK"]
        assert await peer.command("AT+CCWA?") == ["+CCWA: 1", "OK"]
        assert await peer.command("AT+CCWA=?") == ["+CCWA: (0,1)", "OK"]
        assert await peer.command("AT+CCWA=1,2") == ["+CCWA: 0,1", "OK"]
        assert await peer.command("AT+CCWA=2") == ["+CME ERROR: 3"]
        assert sim.state()["settings"]["sim"] == "READY"
