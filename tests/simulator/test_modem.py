"""The modem's state on its own: storage, the sent log, settings and SIM across resets."""

from __future__ import annotations

from typing import Any

import pytest

from raspisms_daemon.gsm.pdu import SubmitPdu, decode, encode_submit
from raspisms_daemon.simulator.modem import Call, ModemState, SimulatorError, number_type, tpdu_length
from raspisms_daemon.simulator.personality import profile_for


def modem(personality: str = "generic", **kwargs: Any) -> ModemState:
    identity: dict[str, Any] = {
        "pin": None,
        "imei": "867000000000001",
        "imsi": "208150000000001",
        "iccid": "8933150000000000001",
        "operator": "SIMNET",
        "capacity": 3,
        "smsc": "+33612000000",
        "rssi": 20,
        "last_mr": 0,
    }
    return ModemState(profile_for(personality), **{**identity, **kwargs})


@pytest.mark.parametrize(("personality", "first"), [("generic", 1), ("huawei", 0)])
def test_messages_fill_slots_from_the_personality_first_index_until_full(
    personality: str, first: int
) -> None:
    state = modem(personality)
    assert [state.file("00", "deliver") for _ in range(3)] == [first, first + 1, first + 2]
    with pytest.raises(SimulatorError, match=r"storage full \(3/3 used\)"):
        state.check_room(1)
    state.delete(first + 1)
    state.check_room(1)
    assert state.file("00", "status_report") == first + 1


def test_a_multipart_message_needs_room_for_every_part() -> None:
    state = modem()
    state.file("00", "deliver")
    state.check_room(2)
    with pytest.raises(SimulatorError, match="storage full"):
        state.check_room(3)


def test_only_the_personality_storage_and_mt_hold_messages() -> None:
    huawei = modem("huawei")
    huawei.file("00", "deliver")
    assert [huawei.used(mem) for mem in ("ME", "MT", "SM")] == [1, 1, 0]
    sim800 = modem("sim800")
    assert sim800.holds("SM_P") and not sim800.holds("ME_P")


def test_an_index_outside_the_storage_is_none() -> None:
    state = modem("huawei")
    assert [state.index_arg(text) for text in ("0", "2", "3", "-1")] == [0, 2, None, None]


def test_each_deletion_is_logged_and_handed_to_the_hook() -> None:
    state = modem()
    seen: list[dict[str, Any]] = []
    state.on_delete = seen.append
    index = state.file("0011", "status_report")
    state.delete(index)
    [entry] = state.deleted
    assert {k: entry[k] for k in ("storage", "index", "kind", "pdu")} == {
        "storage": "SM",
        "index": index,
        "kind": "status_report",
        "pdu": "0011",
    }
    assert seen == [entry] and seen[0] is not entry  # the hook gets a copy
    assert state.slots == {}


def test_sim800_pads_shown_pdus_to_the_sim_record() -> None:
    state = modem("sim800")
    slot = state.slots[state.file("0011", "deliver")]
    assert state.shown_pdu(slot) == "0011" + "FF" * 173
    generic = modem()
    assert generic.shown_pdu(generic.slots[generic.file("0011", "deliver")]) == "0011"


def test_the_sent_log_counts_tp_mr_from_last_mr_and_wraps() -> None:
    state = modem(last_mr=254)
    part = encode_submit("+33622222222", "hi")[0]
    submit = decode(part.hex)
    assert isinstance(submit, SubmitPdu)
    assert [state.record_sent(part.hex.lower(), submit) for _ in range(3)] == [255, 0, 1]
    assert state.sent[0] == {"pdu": part.hex.upper(), "mr": 255, "number": "+33622222222", "text": "hi"}


def test_report_modes_are_checked() -> None:
    state = modem()
    state.set_reports("failed", 2)
    assert (state.reports_mode, state.reports_delay) == ("failed", 2.0)
    with pytest.raises(SimulatorError, match="unknown report mode"):
        state.set_reports("lost", 0)
    with pytest.raises(SimulatorError, match=">= 0"):
        state.set_reports("none", -1)
    assert state.reports_mode == "failed"


def test_cnmi_values_the_personality_refuses_are_not_applied() -> None:
    quectel = modem("quectel")
    assert not quectel.set_cnmi((2, 1, 0, 2, 0))  # the EC25 has no ds=2
    assert not quectel.set_cnmi((4, 1, 0, 0, 0))
    assert not quectel.set_cnmi((2, 1))
    assert quectel.set_cnmi((2, 1, 0, 1, 0))
    assert quectel.settings.cnmi == (2, 1, 0, 1, 0)


def test_power_on_restores_settings_and_relocks_the_sim_but_keeps_storage() -> None:
    state = modem(pin="1234")
    state.sim_state, state.pin_attempts = "READY", 1
    state.settings.echo = False
    state.file("00", "deliver")
    state.power_on()
    assert state.settings.echo and state.settings.mems == ("SM", "SM", "SM")
    assert (state.sim_state, state.pin_attempts) == ("SIM PIN", 3)
    assert len(state.slots) == 1
    assert not state.registered()


def test_the_storage_a_fresh_modem_reports_is_the_personality_default() -> None:
    assert modem("sim800").settings.mems == ("SM_P", "SM_P", "SM_P")


def test_ending_a_call_wakes_its_ring_loop_once() -> None:
    state = modem()
    call = state.call = Call("+33611111111")
    assert state.end_call() is call and call.ended.is_set()
    assert state.end_call() is None


def test_tpdu_length_leaves_out_the_smsc_and_number_type_tells_international_numbers() -> None:
    assert tpdu_length("07913316020000F0" + "00" * 20) == 20
    assert tpdu_length("00" + "00" * 5) == 5  # no SMSC address: only its length octet
    assert (number_type("+33611111111"), number_type("0611111111")) == (145, 129)
