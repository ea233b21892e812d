"""The modem simulator, driven through pyserial on its real pty exactly as a USB modem is."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from raspisms_daemon.gsm.pdu import DeliverPdu, StatusReportPdu, decode, encode_submit
from raspisms_daemon.simulator import Simulator, SimulatorError, control_path, control_request
from tests.helpers.simulator import SerialPeer, simulated_modem

pytestmark = pytest.mark.timeout(30)

ALL = ["generic", "huawei", "quectel", "sim800"]
STORAGE = {"generic": "SM", "huawei": "ME", "quectel": "SM", "sim800": "SM"}
FIRST = {"generic": 1, "huawei": 0, "quectel": 0, "sim800": 1}
SENDER = "+33611111111"


async def init(peer: SerialPeer, personality: str) -> None:
    """The AT backend's init sequence (docs/design.md §5), ds=1 where the modem refuses ds=2."""
    assert (await peer.command("AT"))[-1] == "OK"
    assert (await peer.command("ATE0"))[-1] == "OK"
    for command in ("AT+CMEE=1", "AT+CPIN?", "AT+CMGF=0", "AT+CLIP=1", "AT+CREG=2"):
        lines = await peer.command(command)
        assert lines[-1] == "OK", (command, lines)
    cnmi = await peer.command("AT+CNMI=2,1,0,2,0")
    if personality == "quectel":
        assert cnmi[-1] == "+CMS ERROR: 303"
        assert (await peer.command("AT+CNMI=2,1,0,1,0"))[-1] == "OK"
    else:
        assert cnmi[-1] == "OK"
    if personality == "huawei":
        assert (await peer.command("AT^CURC=0"))[-1] == "OK"


@pytest.mark.parametrize("personality", ALL)
async def test_init_sequence_and_identity_per_personality(tmp_path: Path, personality: str) -> None:
    async with simulated_modem(tmp_path, personality, imei="867000000000042") as sim:
        async with SerialPeer(sim.link) as peer:
            echoed = await peer.command("AT")
            assert echoed == ["AT", "OK"]  # echo is on by default
            await init(peer, personality)
            assert await peer.command("AT+CGSN") == ["867000000000042", "OK"]
            assert await peer.command("AT+CIMI") == ["208150000000001", "OK"]
            assert (await peer.command("AT+CGMI"))[0] == sim.profile.manufacturer
            iccid = {
                "generic": ("AT+CCID", "+CCID: 8933150000000000001"),
                "sim800": ("AT+CCID", "8933150000000000001"),
                "quectel": ("AT+QCCID", "+QCCID: 8933150000000000001"),
                "huawei": ("AT^ICCID?", "^ICCID: 8933150000000000001"),
            }[personality]
            assert await peer.command(iccid[0]) == [iccid[1], "OK"]
            assert await peer.command("AT+CREG?") == ['+CREG: 2,1,"1A2B","C3D4"', "OK"]
            cops = await peer.command("AT+COPS?")
            assert cops[0].startswith('+COPS: 0,0,"SIMNET"')
            assert (await peer.command("AT+NOSUCHTHING"))[-1] == "ERROR"


async def test_unknown_iccid_command_of_another_brand_is_refused(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, "quectel") as sim, SerialPeer(sim.link) as peer:
        assert (await peer.command("AT^ICCID?"))[-1] == "ERROR"
        assert (await peer.command("AT+CCID"))[-1] == "ERROR"


@pytest.mark.parametrize("personality", ALL)
@pytest.mark.parametrize(
    "text",
    ["hello world", "x" * 200 + " end", "emoji 😀 and ünïcode €"],
    ids=["single", "multipart", "emoji"],
)
async def test_injected_sms_announced_by_cmti_and_read_back_by_cmgr(
    tmp_path: Path, personality: str, text: str
) -> None:
    async with simulated_modem(tmp_path, personality) as sim, SerialPeer(sim.link) as peer:
        await init(peer, personality)
        indexes = await sim.inject_sms(SENDER, text)
        assert indexes[0] == FIRST[personality]
        parts: list[DeliverPdu] = []
        for index in indexes:
            line, _ = await peer.expect(r"^\+CMTI:")
            assert line == f'+CMTI: "{STORAGE[personality]}",{index}'
        for index in indexes:
            lines = await peer.command(f"AT+CMGR={index}")
            assert lines[0].startswith("+CMGR: 0,,")
            assert lines[-1] == "OK"
            if personality == "sim800":
                assert lines[1].endswith("FFFF")  # SIM800 pads PDUs to the SIM record size
            message = decode(lines[1])
            assert isinstance(message, DeliverPdu)
            assert message.number == SENDER
            parts.append(message)
        if len(parts) > 1:
            assert {p.concat.seq for p in parts if p.concat} == set(range(1, len(parts) + 1))
            assert len({p.concat.ref for p in parts if p.concat}) == 1
        assert "".join(p.text for p in parts) == text
        # +CMGR marked them read; +CMGL=4 still lists them, +CMGL=0 (unread) no longer does.
        listed = await peer.command("AT+CMGL=4")
        assert [line for line in listed if line.startswith("+CMGL:")] == [
            line for line in listed if line.startswith("+CMGL:") and ",1,," in line
        ]
        assert len([line for line in listed if line.startswith("+CMGL:")]) == len(indexes)
        assert await peer.command("AT+CMGL=0") == ["OK"]


async def test_multipart_messages_get_a_new_reference_each_time(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim:
        first = await sim.inject_sms(SENDER, "a" * 300)
        second = await sim.inject_sms(SENDER, "b" * 300)
        stored = {s["index"]: decode(s["pdu"]) for s in sim.state()["stored"]}
        concats = {
            i: m.concat for i, m in stored.items() if isinstance(m, DeliverPdu) and m.concat is not None
        }
        refs = {concats[i].ref for i in first}, {concats[i].ref for i in second}
        assert len(refs[0]) == 1 and len(refs[1]) == 1 and refs[0] != refs[1]


async def test_cmgd_deletes_and_storage_keeps_messages_until_then(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, capacity=3) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        await peer.command("AT+CNMI=0,0,0,0,0")  # no +CMTI in the way of the answers
        await sim.inject_sms(SENDER, "one")
        await sim.inject_sms(SENDER, "two")
        assert (await peer.command("AT+CPMS?"))[0] == '+CPMS: "SM",2,3,"SM",2,3,"SM",2,3'
        assert await peer.command("AT+CMGD=1") == ["OK"]
        assert [s["index"] for s in sim.state()["stored"]] == [2]
        await sim.inject_sms(SENDER, "three")
        await sim.inject_sms(SENDER, "four")
        with pytest.raises(SimulatorError, match="storage full"):
            await sim.inject_sms(SENDER, "five")
        assert (await peer.command("AT+CMGR=9"))[-1] == "ERROR"  # CMEE=0: no code
        await peer.command("AT+CMEE=1")
        assert (await peer.command("AT+CMGR=9"))[-1] == "+CMS ERROR: 321"
        assert await peer.command("AT+CMGD=1,4") == ["OK"]
        assert sim.state()["stored"] == []


async def test_cnmi_mt2_hands_sms_over_directly_without_storing(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        await peer.command("AT+CNMI=2,2,0,1,0")
        assert await sim.inject_sms(SENDER, "direct") == []
        header, _ = await peer.expect(r"^\+CMT:")
        pdu = await peer.next_line()
        message = decode(pdu)
        assert isinstance(message, DeliverPdu) and message.text == "direct"
        assert header == f"+CMT: ,{len(bytes.fromhex(pdu)) - 1 - bytes.fromhex(pdu)[0]}"
        assert sim.state()["stored"] == []


async def send(peer: SerialPeer, number: str, text: str) -> list[int]:
    mrs = []
    for part in encode_submit(number, text, concat_ref=7):
        lines = await peer.send_pdu(part.tpdu_length, part.hex)
        assert lines[-1] == "OK", lines
        mrs.append(int(lines[-2].removeprefix("+CMGS: ")))
    return mrs


@pytest.mark.parametrize("delay", [0.3, (0.3, 0.4)], ids=["seconds", "range"])
async def test_the_network_answers_cmgs_no_sooner_than_the_send_delay(
    tmp_path: Path, delay: float | tuple[float, float]
) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        sim.send_delay = delay
        await init(peer, "generic")
        start = time.monotonic()
        await send(peer, "+33622222222", "to the SMSC and back")
        assert time.monotonic() - start >= 0.3  # a busy machine only makes it later
        assert len(sim.state()["sent"]) == 1


@pytest.mark.parametrize("personality", ALL)
async def test_cmgs_records_the_pdu_and_report_follows_cnmi_routing(tmp_path: Path, personality: str) -> None:
    async with simulated_modem(tmp_path, personality) as sim, SerialPeer(sim.link) as peer:
        await init(peer, personality)
        [mr] = await send(peer, "+33622222222", "hello out there")
        sent = sim.state()["sent"]
        assert [(s["mr"], s["number"], s["text"]) for s in sent] == [(mr, "+33622222222", "hello out there")]
        if personality == "quectel":  # ds=1: the report comes directly, nothing stored
            header, _ = await peer.expect(r"^\+CDS:")
            pdu = await peer.next_line()
            assert header == f"+CDS: {len(pdu) // 2 - 1 - int(pdu[:2], 16)}"  # TPDU length
            assert sim.state()["stored"] == []
        else:  # ds=2: stored, then +CDSI
            line, _ = await peer.expect(r"^\+CDSI:")
            index = int(line.rsplit(",", 1)[1])
            assert line == f'+CDSI: "{STORAGE[personality]}",{index}'
            lines = await peer.command(f"AT+CMGR={index}")
            assert lines[0].startswith("+CMGR: 0,,")
            pdu = lines[1]
            assert sim.state()["stored"][0]["kind"] == "status_report"
        report = decode(pdu)
        assert isinstance(report, StatusReportPdu)
        assert (report.mr, report.number, report.outcome) == (mr, "+33622222222", "delivered")


async def test_reports_can_fail_come_late_or_not_come_at_all(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        await peer.command("AT+CNMI=2,1,0,1,0")
        sim.set_reports("failed", delay=0.3)
        loop = asyncio.get_running_loop()
        started = loop.time()
        [mr] = await send(peer, "+33622222222", "will fail")
        await peer.expect(r"^\+CDS:")
        assert loop.time() - started >= 0.25
        report = decode(await peer.next_line())
        assert isinstance(report, StatusReportPdu) and report.outcome == "failed" and report.mr == mr
        sim.set_reports("none")
        await send(peer, "+33622222222", "silence")
        with pytest.raises(TimeoutError):
            await peer.expect(r"^\+CDS", timeout=0.4)


async def test_mr_counts_up_per_part_and_wraps(tmp_path: Path) -> None:
    # Start near the wrap to see it.
    async with simulated_modem(tmp_path, last_mr=254) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        sim.set_reports("none")
        mrs = await send(peer, "+33622222222", "z" * 400)
        assert mrs == [255, 0, 1]


async def test_cmgs_with_wrong_length_or_garbage_is_refused_with_304(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        await peer.command("AT+CMEE=1")
        part = encode_submit("+33622222222", "hi")[0]
        assert (await peer.send_pdu(part.tpdu_length + 1, part.hex))[-1] == "+CMS ERROR: 304"
        assert (await peer.send_pdu(10, "00ZZNOTHEX"))[-1] == "+CMS ERROR: 304"
        assert sim.state()["sent"] == []


async def test_escape_at_the_prompt_cancels_the_send(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        assert (await peer.command("AT+CMGS=15"))[-1] == "> "
        peer.write(b"0011\x1b")
        assert await peer.response() == ["OK"]
        assert sim.state()["sent"] == []
        assert await peer.command("AT") == ["OK"]


async def test_commands_split_across_writes_and_several_in_one_write(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        peer.write(b"AT+CG")
        await asyncio.sleep(0.05)
        peer.write(b"SN\r")
        assert await peer.response() == [sim.imei, "OK"]
        peer.write(b"AT+CSQ\rAT+CGMI;+CGMM\r")
        assert await peer.response() == ["+CSQ: 20,99", "OK"]
        assert await peer.response() == [sim.profile.manufacturer, sim.profile.model, "OK"]


async def test_pin_is_required_and_a_wrong_one_gives_cme_16(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, pin="1234") as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        await peer.command("AT+CMEE=1")
        assert await peer.command("AT+CPIN?") == ["+CPIN: SIM PIN", "OK"]
        assert (await peer.command("AT+CMGL=4"))[-1] == "+CMS ERROR: 311"
        assert await peer.command('AT+CPIN="0000"') == ["+CME ERROR: 16"]
        assert await peer.command('AT+CPIN="1234"') == ["OK"]
        assert await peer.command("AT+CPIN?") == ["+CPIN: READY", "OK"]


@pytest.mark.parametrize("personality", ALL)
async def test_call_rings_with_clip_and_ends_when_the_caller_hangs_up(
    tmp_path: Path, personality: str
) -> None:
    async with simulated_modem(tmp_path, personality) as sim, SerialPeer(sim.link) as peer:
        await init(peer, personality)
        await sim.ring("+33633333333", ring_seconds=0.35)
        rings = 0
        while True:
            line = await peer.next_line(timeout=2)
            if line == "RING":
                rings += 1
                assert await peer.next_line() == '+CLIP: "+33633333333",145,,,,0'
            else:
                break
        assert rings >= 2  # ring_interval is 0.1 s in tests
        assert line == ("^CEND:1,0,104,16" if personality == "huawei" else "NO CARRIER")
        assert sim.state()["call"] is None


async def test_crc_rings_as_cring_clcc_lists_the_call_and_ath_ends_it(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        await peer.command("AT+CRC=1")
        await sim.ring("0612345678")
        line, _ = await peer.expect("CRING")
        assert line == "+CRING: VOICE"
        clcc = await peer.command("AT+CLCC")
        assert clcc[-1] == "OK"
        assert '+CLCC: 1,1,4,0,0,"0612345678",129' in clcc
        assert (await peer.command("ATH"))[-1] == "OK"
        assert sim.state()["call"] is None
        with pytest.raises(TimeoutError):
            await peer.expect("RING|NO CARRIER", timeout=0.3)
        assert [line for line in await peer.command("AT+CLCC") if line.startswith("+CLCC")] == []


async def test_end_call_after_answer_gives_no_carrier(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        await sim.ring(SENDER)
        await peer.expect("RING")
        assert (await peer.command("ATA"))[-1] == "OK"
        await sim.end_call()
        await peer.expect("^NO CARRIER$")


async def test_a_silent_end_of_call_stops_the_rings_without_an_end_urc(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        ctl = control_path(sim.link)
        await peer.command("ATE0")
        await sim.ring(SENDER)
        await peer.expect("RING")
        assert await control_request(ctl, {"op": "end_call", "silent": True}) == {"ok": True}
        assert sim.state()["call"] is None
        # Three ring intervals: no end URC at all (RINGs sent before the end may still be read).
        with pytest.raises(TimeoutError):
            await peer.expect("NO CARRIER", timeout=0.3)
        with pytest.raises(TimeoutError):
            await peer.expect("RING", timeout=0.3)  # and no more rings
        assert await peer.command("AT+CLCC") == ["OK"]  # no call listed


async def test_huawei_noise_comes_periodically_and_inside_responses(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, "huawei", noise=True) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        await peer.command("AT^CURC=0")  # noise=True keeps it on regardless
        await sim.inject_sms(SENDER, "one")
        await sim.inject_sms(SENDER, "two")
        lines = await peer.command("AT+CMGL=4")
        cmgl = [i for i, line in enumerate(lines) if line.startswith("+CMGL:")]
        noise = [i for i, line in enumerate(lines) if line.startswith(("^RSSI", "^BOOT"))]
        assert len(cmgl) == 2 and lines[-1] == "OK"
        assert any(cmgl[0] < i < cmgl[1] for i in noise)  # between records
        assert any(i == len(lines) - 2 for i in noise)  # before the final OK
        await asyncio.sleep(0.5)
        await peer.expect(r"^\^(RSSI|BOOT)")  # and between commands, periodically


async def test_huawei_curc_0_silences_default_noise(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, "huawei") as sim, SerialPeer(sim.link) as peer:
        assert sim.state()["settings"]["noise"] is True
        await peer.command("ATE0")
        await peer.command("AT^CURC=0")
        peer.buffer.clear()
        await asyncio.sleep(0.5)
        assert await peer.command("AT+CSQ") == ["+CSQ: 20,99", "OK"]


@pytest.mark.parametrize(
    ("personality", "boot"),
    [("sim800", ["RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"]),
     ("quectel", ["RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE"])],
)
async def test_reset_emits_boot_urcs_and_restores_defaults(
    tmp_path: Path, personality: str, boot: list[str]
) -> None:
    async with simulated_modem(tmp_path, personality) as sim, SerialPeer(sim.link) as peer:
        await init(peer, personality)
        await sim.inject_sms(SENDER, "survives")
        await peer.expect("CMTI")
        assert await peer.command("AT+CFUN=1,1") == ["OK"]
        assert [await peer.next_line(timeout=2) for _ in boot] == boot
        assert sim.state()["settings"]["cnmi"] == [1, 1, 0, 0, 0]
        assert len(sim.state()["stored"]) == 1


async def test_clients_can_open_and_close_the_tty_repeatedly_without_losing_state(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim:
        for round_ in range(3):
            async with SerialPeer(sim.link) as peer:
                await sim.inject_sms(SENDER, f"round {round_}")
                await peer.expect("CMTI")
                assert (await peer.command("AT"))[-1] == "OK"
        # URCs written while nobody listens are lost, like on a real port, and never replayed later.
        await sim.inject_sms(SENDER, "nobody listening")
        async with SerialPeer(sim.link) as peer:
            assert await peer.command("AT") == ["AT", "OK"]
            assert b"CMTI" not in peer.buffer
        assert len(sim.state()["stored"]) == 4


async def test_a_given_timestamp_keeps_its_quarter_hour_zone_and_an_alphanumeric_sender(
    tmp_path: Path,
) -> None:
    when = datetime(2024, 3, 1, 12, 30, 0, tzinfo=timezone(timedelta(hours=5, minutes=45)))
    async with simulated_modem(tmp_path) as sim:
        [index] = await sim.inject_sms("SHOP", "alphanumeric sender", scts=when)
        message = decode(sim.state()["stored"][0]["pdu"])
        assert isinstance(message, DeliverPdu)
        assert message.number == "SHOP" and message.scts == when and index == 1


async def test_stop_removes_the_link_and_leaves_no_task(tmp_path: Path) -> None:
    sim = Simulator(tmp_path / "modem", "huawei")
    await sim.start()
    await sim.ring(SENDER)
    before = {t for t in asyncio.all_tasks() if t.get_name().startswith("simulator-")}
    assert before
    await sim.stop()
    await sim.stop()
    assert not sim.link.is_symlink()
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("simulator-") and not t.done()]


async def test_urcs_wait_until_a_command_line_being_typed_is_answered(tmp_path: Path) -> None:
    # libgammu types one byte per millisecond; a URC in the middle of its echo used to break it.
    async with simulated_modem(tmp_path, "huawei", noise=True, fast={"noise_interval": 0.01}) as sim:
        async with SerialPeer(sim.link) as peer:
            for byte in b"AT+CSQ":
                peer.write(bytes([byte]))
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.05)
            assert b"AT+CSQ" in peer.buffer  # URCs held back: the echo arrives whole
            assert not peer.buffer.endswith(b"\r\n")
            peer.write(b"\r")
            lines = await peer.response()
            assert "AT+CSQ" in lines
            assert "+CSQ: 20,99" in lines and lines[-1] == "OK"


async def test_bad_arguments_get_an_error_and_the_modem_keeps_serving(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE")  # no value means 0: echo off
        await peer.command("AT+CMEE=1")
        assert await peer.command("AT+CMGR=abc") == ["+CME ERROR: 3"]
        assert await peer.command('AT+CPMS="XX"') == ["+CMS ERROR: 302"]
        assert await peer.command("AT+CMGF=1") == ["+CMS ERROR: 303"]  # PDU mode only
        assert await peer.command("AT+CMGF=?") == ["+CMGF: (0)", "OK"]
        assert await peer.command("AT+CSQ") == ["+CSQ: 20,99", "OK"]


async def test_only_the_personality_storage_holds_messages(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, "huawei") as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        await peer.command("AT^CURC=0")
        await peer.command("AT+CNMI=0,0,0,0,0")
        await sim.inject_sms(SENDER, "in ME")
        assert (await peer.command('AT+CPMS="SM","SM","SM"'))[0] == "+CPMS: 0,30,0,30,0,30"
        assert await peer.command("AT+CMGL=4") == ["OK"]
        assert (await peer.command('AT+CPMS="ME","ME","ME"'))[0] == "+CPMS: 1,30,1,30,1,30"
        assert (await peer.command("AT+CMGL=4"))[0].startswith("+CMGL: 0,0,,")


async def test_cnmi_mode_0_sends_no_indications_but_stores(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        assert await peer.command("AT+CNMI=0,2,0,2,0") == ["OK"]
        assert await peer.command("AT+CNMI?") == ["+CNMI: 0,2,0,2,0", "OK"]
        assert await sim.inject_sms(SENDER, "quiet") == [1]  # mt=2 without mode: stored, not +CMT
        await send(peer, "+33622222222", "report me")
        await asyncio.sleep(0.2)
        assert await peer.command("AT+CSQ") == ["+CSQ: 20,99", "OK"]  # no URC came before it
        assert [s["kind"] for s in sim.state()["stored"]] == ["deliver", "status_report"]


async def test_cr_only_line_endings_reach_the_wire(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, line_endings="cr") as sim, SerialPeer(sim.link) as peer:
        peer.write("ATE0\r")
        assert await peer.read_until("OK\r") == b"ATE0\r\rOK\r"  # the echo, then the answer
        peer.write("AT+CSQ\r")
        answer = await peer.read_until("OK\r")
        assert answer == b"\r+CSQ: 20,99\r\rOK\r" and b"\n" not in answer
        sim.send_urc('+CMTI: "SM",4')
        assert await peer.read_until('"SM",4\r') == b'\r+CMTI: "SM",4\r'


async def test_a_recorded_answer_is_given_once_exactly_as_captured(tmp_path: Path) -> None:
    capture = '+CMGL: 17,3,35\r\n079100F40D11\r\n"junk\r\nOK\r\n'
    async with simulated_modem(tmp_path, line_endings="cr") as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        sim.answer_once(" at+cmgl=4 ", capture)
        peer.write("AT+CMGL=4\r")
        assert await peer.read_until("OK\r\n") == capture.encode()  # CR LF kept: as captured
        assert await peer.command("AT+CMGL=4") == ["OK"]  # used up: the firmware answers again
        assert list(sim.state()["heard"])[-2:] == ["AT+CMGL=4", "AT+CMGL=4"]
        with pytest.raises(SimulatorError, match="not a command line"):
            sim.answer_once("CMGL=4", "OK")


async def test_urcs_sent_on_request_wait_for_the_answer_being_written(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        await peer.command("ATE0")
        heard: list[str] = []
        sim.on_command = heard.append
        sim.send_urc('+CREG: 2,5,"0502","0404736D"', "+CGREG: 1")
        assert await peer.next_line() == '+CREG: 2,5,"0502","0404736D"'
        assert await peer.next_line() == "+CGREG: 1"
        await peer.command('AT+CPIN="1234"')
        assert heard == ["AT+CPIN=****"] and sim.state()["heard"][-1] == "AT+CPIN=****"
        with pytest.raises(SimulatorError, match="no line"):
            sim.send_urc()


async def test_unknown_forms_and_line_endings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SimulatorError, match="AT\\+CPMS=\\? form"):
        Simulator(tmp_path / "modem", cpms_form="curly")
    with pytest.raises(SimulatorError, match="line endings"):
        Simulator(tmp_path / "modem", line_endings="lf")
