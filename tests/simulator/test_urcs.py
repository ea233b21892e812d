"""URCs on their own: holding them while the link is reserved, and their wording, without a pty."""

from __future__ import annotations

import pytest

from raspisms_daemon.simulator.line import LineDiscipline
from raspisms_daemon.simulator.modem import Call, Cnmi, ModemState, Settings
from raspisms_daemon.simulator.personality import profile_for
from raspisms_daemon.simulator.urcs import (
    Noise,
    UrcGate,
    direct_delivery,
    ring_lines,
    routes_directly,
    stored_indication,
)


def gate() -> tuple[UrcGate, LineDiscipline, list[bytes]]:
    written: list[bytes] = []
    line = LineDiscipline(echo=lambda: False, deaf=lambda: False)
    return UrcGate(line, written.append), line, written


def modem(personality: str = "generic") -> ModemState:
    return ModemState(
        profile_for(personality),
        pin=None,
        imei="867000000000001",
        imsi="208150000000001",
        iccid="8933150000000000001",
        operator="SIMNET",
        capacity=30,
        smsc="+33612000000",
        rssi=17,
        last_mr=0,
    )


def test_a_urc_goes_straight_out_while_the_link_is_free() -> None:
    urcs, _, written = gate()
    urcs.send('+CMTI: "SM",1')
    urcs.send("+CMT: ,20", "0791")
    assert written == [b'\r\n+CMTI: "SM",1\r\n', b"\r\n+CMT: ,20\r\n0791\r\n"]


def test_urcs_wait_while_the_client_types_and_come_out_in_order_on_release() -> None:
    urcs, line, written = gate()
    list(line.feed(b"AT+C"))
    urcs.send("RING")
    urcs.send("^RSSI:17")
    assert written == []
    list(line.feed(b"SQ\r"))
    urcs.release()
    assert written == [b"\r\nRING\r\n", b"\r\n^RSSI:17\r\n"]


def test_urcs_wait_at_the_pdu_prompt() -> None:
    urcs, line, written = gate()
    line.prompt(20)
    urcs.send("RING")
    assert written == []


def test_urcs_wait_while_an_answer_is_held_back() -> None:
    urcs, _, written = gate()
    with urcs.holding():
        with urcs.holding():
            urcs.send("RING")
        urcs.send("RING")
        assert written == []
    urcs.release()
    assert written == [b"\r\nRING\r\n"] * 2


def test_clear_drops_what_was_held() -> None:
    urcs, line, written = gate()
    line.prompt(20)
    urcs.send("RING")
    line.reset()
    urcs.clear()
    urcs.release()
    assert written == []


@pytest.mark.parametrize(
    ("cnmi", "sms", "report"),
    [
        ((1, 1, 0, 0, 0), '+CMTI: "SM",3', None),
        ((2, 1, 0, 2, 0), '+CMTI: "SM",3', '+CDSI: "SM",3'),
        ((2, 3, 0, 2, 0), '+CMTI: "SM",3', '+CDSI: "SM",3'),
        ((2, 2, 0, 1, 0), None, None),  # handed over directly instead
        ((0, 1, 0, 2, 0), None, None),  # mode 0: indications kept in the modem
    ],
)
def test_cnmi_decides_which_stored_messages_are_announced(
    cnmi: Cnmi, sms: str | None, report: str | None
) -> None:
    assert stored_indication("deliver", 3, "SM", cnmi) == sms
    assert stored_indication("status_report", 3, "SM", cnmi) == report


@pytest.mark.parametrize(
    ("cnmi", "sms", "report"),
    [((2, 2, 0, 1, 0), True, True), ((1, 1, 0, 2, 0), False, False), ((0, 2, 0, 1, 0), False, False)],
)
def test_cnmi_decides_which_messages_are_handed_over_without_storing(
    cnmi: Cnmi, sms: bool, report: bool
) -> None:
    assert routes_directly("deliver", cnmi) is sms
    assert routes_directly("status_report", cnmi) is report


def test_a_direct_delivery_announces_the_tpdu_length_without_the_smsc() -> None:
    pdu = "07913316020000F0" + "00" * 20  # a 7-octet SMSC address, then 20 octets
    assert direct_delivery("deliver", pdu) == ("+CMT: ,20", pdu)
    assert direct_delivery("status_report", pdu) == ("+CDS: 20", pdu)


def test_a_ring_follows_crc_and_clip() -> None:
    call = Call("+33611111111")
    assert ring_lines(call, Settings()) == ["RING"]
    assert ring_lines(call, Settings(crc=True, clip=True)) == [
        "+CRING: VOICE",
        '+CLIP: "+33611111111",145,,,,0',
    ]
    assert ring_lines(Call("0611111111"), Settings(clip=True))[1] == '+CLIP: "0611111111",129,,,,0'


def test_huawei_noise_is_on_until_curc_0_and_every_third_line_is_a_boot() -> None:
    huawei = modem("huawei")
    noise = Noise(huawei, forced=None)
    assert noise.possible and noise.on()
    assert [noise.next_line() for _ in range(3)] == ["^RSSI:17", "^RSSI:17", "^BOOT:20952812,0,0,0,72"]
    huawei.settings.curc = 0
    assert not noise.on()


def test_forced_noise_overrides_the_personality_and_curc() -> None:
    generic = modem()
    assert not Noise(generic, forced=None).possible
    forced = Noise(generic, forced=True)
    assert forced.possible and forced.on()
    huawei = modem("huawei")
    silenced = Noise(huawei, forced=False)
    assert not silenced.possible and not silenced.on()
