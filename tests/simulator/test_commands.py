"""The firmware's answers on their own: AtCommands on a ModemState, no pty, no event loop."""

from __future__ import annotations

from typing import Any

import pytest

from raspisms_daemon.simulator.commands import AtCommands, Reply, split_commands
from raspisms_daemon.simulator.modem import Call, ModemState
from raspisms_daemon.simulator.personality import profile_for


class Firmware:
    """AtCommands with the effects it asks for recorded instead of carried out."""

    def __init__(self, personality: str = "generic", **kwargs: Any) -> None:
        identity: dict[str, Any] = {
            "pin": None,
            "imei": "867000000000001",
            "imsi": "208150000000001",
            "iccid": "8933150000000000001",
            "operator": "SIMNET",
            "capacity": 30,
            "smsc": "+33612000000",
            "rssi": 20,
            "last_mr": 0,
        }
        self.modem = ModemState(profile_for(personality), **{**identity, **kwargs})
        self.urcs: list[str] = []
        self.reboots = 0
        self.commands = AtCommands(self.modem, urc_soon=self.urcs.append, reboot=self._reboot)

    def _reboot(self) -> None:
        self.reboots += 1

    def lines(self, body: str) -> list[str]:
        """The answer to ``AT<body>`` as a client reads it: record lines, then the final result."""
        reply = self.commands.run(body)
        return [line for record in reply.records for line in record] + [reply.final]


@pytest.mark.parametrize(
    ("body", "commands"),
    [
        ("E0V1+CMGF=0;+CNMI?", ["E0", "V1", "+CMGF=0", "+CNMI?"]),
        ('+CPMS="SM;ME","SM";+CSQ', ['+CPMS="SM;ME","SM"', "+CSQ"]),  # ; inside quotes
        ("&F&D2S0=0;e1", ["&F", "&D2", "S0=0", "E1"]),
        ("D+33611111111;", ["D+33611111111;"]),  # dial takes the rest of the line
        ("", []),
    ],
)
def test_a_command_line_splits_into_its_commands(body: str, commands: list[str]) -> None:
    assert split_commands(body) == commands


def test_a_command_line_with_a_stray_character_is_an_error() -> None:
    with pytest.raises(ValueError, match="unexpected"):
        split_commands("+CSQ;!")
    assert Firmware().lines("+CSQ;!") == ["ERROR"]


def test_the_commands_of_a_line_answer_in_turn_and_the_first_failure_ends_it() -> None:
    fw = Firmware()
    assert fw.lines("+CGMI;+CGMM") == ["RaspiSMS", "Virtual GSM Modem", "OK"]
    assert fw.lines("E0;+NOSUCH;E1") == ["ERROR"]
    assert fw.modem.settings.echo is False  # E0 ran, E1 never did


def test_a_reset_runs_only_after_the_answer_and_not_when_the_line_fails() -> None:
    fw = Firmware()
    reply = fw.commands.run("+CFUN=1,1")
    assert (reply.final, fw.reboots) == ("OK", 0)
    for after in reply.after:
        after()
    assert fw.reboots == 1
    assert fw.commands.run("+CFUN=1,1;+NOSUCH").after == []


def test_cmgs_opens_the_prompt_and_the_rest_of_the_line_waits() -> None:
    fw = Firmware()
    reply = fw.commands.run("+CMGS=20;+CSQ")
    assert (reply.prompt, reply.records) == (20, [])
    assert fw.lines("+CMGS=5") == ["ERROR"]  # shorter than any SMS-SUBMIT
    fw.modem.settings.cmee = 1
    assert fw.lines("+CMGS=165") == ["+CMS ERROR: 304"]


@pytest.mark.parametrize(
    ("cmee", "cme", "cms"),
    [
        (0, "ERROR", "ERROR"),
        (1, "+CME ERROR: 16", "+CMS ERROR: 321"),
        (2, "+CME ERROR: incorrect password", "+CMS ERROR: 321"),
    ],
)
def test_errors_are_worded_as_cmee_asks(cmee: int, cme: str, cms: str) -> None:
    fw = Firmware()
    fw.modem.settings.cmee = cmee
    assert (fw.commands.cme(16), fw.commands.cms(321)) == (cme, cms)


def test_bad_arguments_answer_operation_not_allowed() -> None:
    fw = Firmware()
    assert fw.lines("+CMEE=1") == ["OK"]
    assert fw.lines("+CMGR=abc") == ["+CME ERROR: 3"]
    assert fw.lines("+CREG=7") == ["+CME ERROR: 3"]


def test_unlocking_the_sim_schedules_the_registration_urcs_the_client_asked_for() -> None:
    fw = Firmware(pin="1234")
    assert fw.lines("+CMEE=1;+CREG=1;+CGREG=2") == ["OK"]
    assert fw.lines("+CIMI") == ["+CME ERROR: 11"]
    assert fw.lines("+CMGL=4") == ["+CMS ERROR: 311"]
    assert fw.lines('+CPIN="1234"') == ["OK"]
    assert fw.urcs == ["+CREG: 1", '+CGREG: 1,"1A2B","C3D4"']
    assert fw.lines("+CIMI") == ["208150000000001", "OK"]


def test_three_wrong_pins_lock_the_sim_to_its_puk() -> None:
    fw = Firmware(pin="1234")
    fw.modem.settings.cmee = 1
    assert [fw.lines('+CPIN="0000"')[-1] for _ in range(3)] == ["+CME ERROR: 16"] * 3
    assert fw.lines("+CPIN?") == ["+CPIN: SIM PUK", "OK"]
    assert fw.lines('+CPIN="1234"') == ["+CME ERROR: 12"]
    assert fw.urcs == []


def test_reading_marks_a_message_read_and_cmgl_lists_by_status() -> None:
    fw = Firmware()
    pdu = "07913316020000F0" + "00" * 20
    first = fw.modem.file(pdu, "deliver")
    second = fw.modem.file(pdu, "deliver")
    assert fw.lines(f"+CMGR={first}") == ["+CMGR: 0,,20", pdu, "OK"]
    assert fw.lines("+CMGL=0") == [f"+CMGL: {second},0,,20", pdu, "OK"]
    assert fw.lines("+CMGL=0") == ["OK"]  # listing unread ones marked them read too
    assert len(fw.lines("+CMGL=4")) == 5


def test_cmgd_deletes_one_message_or_every_read_one() -> None:
    fw = Firmware()
    one, two, three = (fw.modem.file("0011", "deliver") for _ in range(3))
    assert fw.lines(f"+CMGD={one}") == ["OK"]
    assert fw.lines(f"+CMGD={one}") == ["OK"]  # already gone: nothing more happens
    fw.lines(f"+CMGR={two}")
    assert fw.lines("+CMGD=1,1") == ["OK"]  # flag 1: every read message
    assert list(fw.modem.slots) == [three]
    assert [entry["index"] for entry in fw.modem.deleted] == [one, two]
    assert fw.lines("+CMGD=?") == [f"+CMGD: ({three}),(0-4)", "OK"]


def test_sim800_answers_an_empty_slot_with_a_bare_ok_where_others_refuse() -> None:
    assert Firmware("sim800").lines("+CMGR=1") == ["OK"]
    generic = Firmware()
    generic.modem.settings.cmee = 1
    assert generic.lines("+CMGR=1") == ["+CMS ERROR: 321"]


def test_ata_answers_a_ringing_call_and_ath_ends_it() -> None:
    fw = Firmware()
    assert fw.lines("A") == ["NO CARRIER"]
    call = fw.modem.call = Call("0612345678")
    assert fw.lines("+CLCC") == ['+CLCC: 1,1,4,0,0,"0612345678",129', "OK"]
    assert fw.lines("A") == ["OK"]
    assert call.state == "active"
    assert fw.lines("+CLCC") == ['+CLCC: 1,1,0,0,0,"0612345678",129', "OK"]
    assert fw.lines("H") == ["OK"]
    assert fw.modem.call is None and call.ended.is_set()


def test_atz_restores_the_power_on_settings() -> None:
    fw = Firmware()
    fw.lines("E0;+CMEE=2;+CNMI=2,2,0,1,0")
    assert fw.lines("Z") == ["OK"]
    assert fw.modem.settings.echo and fw.modem.settings.cmee == 0
    assert fw.lines("+CNMI?") == ["+CNMI: 1,1,0,0,0", "OK"]


def test_huawei_only_commands_are_refused_by_other_personalities() -> None:
    assert Firmware("huawei").lines("^CURC?") == ["^CURC: 1", "OK"]
    assert Firmware("generic").lines("^CURC?") == ["ERROR"]
    assert Firmware("quectel").lines("^PORTSEL=1") == ["ERROR"]


def test_ati_and_identity_come_from_the_personality() -> None:
    assert Firmware("quectel").lines("I") == ["Quectel", "EC25", "Revision: EC25EFAR06A06M4G", "OK"]
    assert Firmware("huawei").lines("^ICCID?") == ["^ICCID: 8933150000000000001", "OK"]
    assert Firmware("sim800", imei="867000000000042").lines("+GSN") == ["867000000000042", "OK"]


def test_a_reply_on_the_wire_can_carry_a_line_after_each_record() -> None:
    reply = Reply([["+CMGL: 1,0,,20", "AB"], ["+CMGL: 2,0,,20", "CD"]])
    assert reply.encode() == b"\r\n+CMGL: 1,0,,20\r\nAB\r\n\r\n+CMGL: 2,0,,20\r\nCD\r\n\r\nOK\r\n"
    noise = iter(["^RSSI:20", "^BOOT:1"])
    assert reply.encode(lambda: next(noise)) == (
        b"\r\n+CMGL: 1,0,,20\r\nAB\r\n\r\n^RSSI:20\r\n\r\n+CMGL: 2,0,,20\r\nCD\r\n\r\n^BOOT:1\r\n\r\nOK\r\n"
    )


@pytest.mark.parametrize(
    ("form", "line"),
    [
        ("groups", '+CPMS: ("SM","ME","MT"),("SM","ME","MT"),("SM","ME","MT")'),
        ("spaced", '+CPMS: ( "SM" , "ME" , "MT" ) , ( "SM" , "ME" , "MT" ) , ( "SM" , "ME" , "MT" )'),
        ("flat", '+CPMS: "SM","SM","SM"'),
        ("mixed", '+CPMS: ("SM","ME","MT"),"SM",("SM","ME","MT")'),
        ("nested", '+CPMS: (("SM","ME","MT"),("SM"))'),
    ],
)
def test_cpms_test_answer_comes_in_each_form_real_modems_use(form: str, line: str) -> None:
    assert Firmware(cpms_form=form).lines("+CPMS=?") == [line, "OK"]


@pytest.mark.parametrize(
    ("form", "body", "final"),
    [
        ("groups", '+CPMS="ME","MT","SM"', "OK"),
        ("flat", '+CPMS="SM","SM","SM"', "OK"),
        ("flat", '+CPMS="ME"', "+CMS ERROR: 302"),  # flat offers the SIM alone
        ("mixed", '+CPMS="ME","SM","MT"', "OK"),
        ("mixed", '+CPMS="ME","ME"', "+CMS ERROR: 302"),  # the bare item offers one storage
        ("nested", '+CPMS="ME","SM"', "OK"),
        ("nested", '+CPMS="SM","SM","SM"', "+CMS ERROR: 302"),  # two parameters only
    ],
)
def test_each_storage_parameter_takes_only_what_it_offers(form: str, body: str, final: str) -> None:
    firmware = Firmware(cpms_form=form)
    firmware.modem.settings.cmee = 1
    assert firmware.lines(body)[-1] == final


def test_wavecom_answers_cpin_without_ok_and_offers_two_storage_parameters() -> None:
    wavecom = Firmware("wavecom")
    assert wavecom.lines("+CPIN?") == ["+CPIN: READY", ""]  # no final result code
    assert wavecom.commands.run("+CPIN?").encode() == b"\r\n+CPIN: READY\r\n"
    assert wavecom.lines("+CPMS=?") == ['+CPMS: (("SM","BM","SR"),("SM"))', "OK"]
    assert wavecom.lines('+CPMS="SM","SM","SR"') == ["ERROR"]  # as python-gsmmodem's fixture answers
    assert wavecom.lines('+CPMS="SM","SM"') == ["+CPMS: 0,30,0,30", "OK"]
    assert Firmware().lines("+CPIN?") == ["+CPIN: READY", "OK"]
