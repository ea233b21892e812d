"""The pure AT parser: responses, prompt, URCs (also inside responses), garbage, state machine."""

from __future__ import annotations

import pytest

from raspisms_daemon.errors import AtProtocolError
from raspisms_daemon.gsm.at_protocol import (
    MAX_LINE,
    TRANSITIONS,
    AtParser,
    Event,
    Garbage,
    ParserState,
    Prompt,
    Response,
    Result,
    ResultKind,
    Trigger,
    Urc,
    command_prefix,
    parse_clip,
    parse_cmgl,
    parse_cmgr,
    parse_cmgs,
    parse_cpms_test,
    parse_creg,
    parse_csq,
    parse_storage_index,
    redact,
    redact_bytes,
    split_args,
)


def feed(parser: AtParser, data: bytes) -> list[Event]:
    parser.receive_data(data)
    return parser.events()


def run(command: str, data: bytes) -> list[Event]:
    parser = AtParser()
    parser.start_command(command)
    return feed(parser, data)


def test_ok_response_with_info_lines_and_echo_skipped() -> None:
    events = run("AT+CGMI", b"AT+CGMI\r\r\nhuawei\r\n\r\nOK\r\n")
    assert events == [Response("AT+CGMI", ("huawei",), Result(ResultKind.OK))]


def test_a_response_without_echo_keeps_its_info_lines() -> None:
    assert run("AT+CSQ", b"\r\n+CSQ: 21,99\r\n\r\nOK\r\n") == [
        Response("AT+CSQ", ("+CSQ: 21,99",), Result(ResultKind.OK))
    ]


@pytest.mark.parametrize(
    ("line", "result"),
    [
        (b"ERROR", Result(ResultKind.ERROR)),
        (b"+CME ERROR: 10", Result(ResultKind.CME_ERROR, 10)),
        (b"+CMS ERROR: 500", Result(ResultKind.CMS_ERROR, 500)),
        (b"+CME ERROR: SIM not inserted", Result(ResultKind.CME_ERROR, None, "SIM not inserted")),
        (b"COMMAND NOT SUPPORT", Result(ResultKind.ERROR)),
    ],
)
def test_error_results_are_typed(line: bytes, result: Result) -> None:
    assert run("AT+CNMI=2,1,0,2,0", b"\r\n" + line + b"\r\n") == [Response("AT+CNMI=2,1,0,2,0", (), result)]


def test_no_carrier_ends_a_dial_but_is_a_urc_otherwise() -> None:
    assert run("ATD+33612345678;", b"\r\nNO CARRIER\r\n") == [
        Response("ATD+33612345678;", (), Result(ResultKind.NO_CARRIER))
    ]
    parser = AtParser()
    parser.start_command("AT+CSQ")
    events = feed(parser, b"\r\nNO CARRIER\r\n+CSQ: 3,99\r\nOK\r\n")
    assert events == [
        Urc("NO CARRIER", "", "NO CARRIER"),
        Response("AT+CSQ", ("+CSQ: 3,99",), Result(ResultKind.OK)),
    ]
    assert feed(AtParser(), b"\r\nBUSY\r\n") == [Urc("BUSY", "", "BUSY")]


def test_cmgl_pdu_lines_belong_to_the_response_and_rssi_noise_does_not_corrupt_it() -> None:
    events = run(
        "AT+CMGL=4",
        b"\r\n+CMGL: 0,1,,23\r\n07911326\r\n^RSSI: 18\r\n+CMGL: 3,0,,24\r\n0791AA\r\n\r\n^RSSI: 19\r\nOK\r\n",
    )
    assert events == [
        Urc("^RSSI", "18", "^RSSI: 18"),
        Urc("^RSSI", "19", "^RSSI: 19"),
        Response(
            "AT+CMGL=4", ("+CMGL: 0,1,,23", "07911326", "+CMGL: 3,0,,24", "0791AA"), Result(ResultKind.OK)
        ),
    ]
    assert isinstance(events[2], Response)
    assert parse_cmgl(events[2].lines) == [(0, 1, "07911326"), (3, 0, "0791AA")]


def test_urcs_between_info_line_and_ok_keep_the_response_intact() -> None:
    events = run("AT+CGSN", b'\r\n867000000000001\r\n\r\n+CMTI: "ME",0\r\n\r\nOK\r\n')
    assert events == [
        Urc("+CMTI", '"ME",0', '+CMTI: "ME",0'),
        Response("AT+CGSN", ("867000000000001",), Result(ResultKind.OK)),
    ]


def test_prompt_is_its_own_token_and_cmgs_reference_is_an_info_line() -> None:
    parser = AtParser()
    parser.start_command("AT+CMGS=23")
    assert feed(parser, b"AT+CMGS=23\r\r\n> ") == [Prompt()]
    assert parser.state is ParserState.PROMPT
    parser.pdu_sent("0011AA")
    # mypy keeps the narrowing to PROMPT from above across pdu_sent(), which changes the state.
    assert parser.state is ParserState.COMMAND  # type: ignore[comparison-overlap]
    # An echoing modem repeats the PDU and Ctrl-Z; that is not part of the answer.
    assert feed(parser, b"0011AA\x1a\r\n+CMGS: 12\r\n\r\nOK\r\n") == [
        Response("AT+CMGS=23", ("+CMGS: 12",), Result(ResultKind.OK))
    ]
    assert parser.state is ParserState.IDLE


def test_prompt_split_across_reads_waits_for_the_space() -> None:
    parser = AtParser()
    parser.start_command("AT+CMGS=23")
    assert feed(parser, b"\r\n>") == []
    assert feed(parser, b" ") == [Prompt()]


def test_prompt_is_not_recognised_for_commands_that_have_none() -> None:
    parser = AtParser()
    parser.start_command("AT")
    assert feed(parser, b"> \r\nOK\r\n") == [Response("AT", (">",), Result(ResultKind.OK))]


def test_a_cms_error_after_the_pdu_ends_the_send_with_its_code() -> None:
    parser = AtParser()
    parser.start_command("AT+CMGS=23")
    assert feed(parser, b"\r\n> ") == [Prompt()]
    parser.pdu_sent()
    assert feed(parser, b"\r\n+CMS ERROR: 38\r\n") == [
        Response("AT+CMGS=23", (), Result(ResultKind.CMS_ERROR, 38))
    ]


def test_two_line_urcs_carry_their_pdu_line_even_inside_a_response() -> None:
    assert feed(AtParser(), b"\r\n+CMT: ,23\r\n0791AABB\r\n") == [Urc("+CMT", ",23", "+CMT: ,23", "0791AABB")]
    assert feed(AtParser(), b"\r\n+CDS: 25\r\n0791aabb\r\n") == [Urc("+CDS", "25", "+CDS: 25", "0791AABB")]
    events = run("AT+CSQ", b"\r\n+CDS: 25\r\n0791AABB\r\n+CSQ: 5,99\r\nOK\r\n")
    assert events == [
        Urc("+CDS", "25", "+CDS: 25", "0791AABB"),
        Response("AT+CSQ", ("+CSQ: 5,99",), Result(ResultKind.OK)),
    ]


def test_two_line_urc_without_its_pdu_line_is_reported_as_garbage() -> None:
    events = feed(AtParser(), b"+CMT: ,23\r\nRING\r\n")
    assert events == [Garbage(b"+CMT: ,23", "+CMT without its PDU line"), Urc("RING", "", "RING")]


def test_creg_answers_the_query_but_is_a_urc_otherwise() -> None:
    assert run("AT+CREG?", b'\r\n+CREG: 2,1,"1A2B","0C3D"\r\nOK\r\n') == [
        Response("AT+CREG?", ('+CREG: 2,1,"1A2B","0C3D"',), Result(ResultKind.OK))
    ]
    events = run("AT+CREG?", b"\r\n+CREG: 1\r\n+CREG: 2,5\r\nOK\r\n")
    assert events == [
        Urc("+CREG", "1", "+CREG: 1"),
        Response("AT+CREG?", ("+CREG: 2,5",), Result(ResultKind.OK)),
    ]
    assert run("AT+CSQ", b'+CREG: 1,"1A2B","0C3D"\r\nOK\r\n')[0] == Urc(
        "+CREG", '1,"1A2B","0C3D"', '+CREG: 1,"1A2B","0C3D"'
    )


def test_cpin_ready_is_an_answer_to_cpin_query_and_a_urc_after_reset() -> None:
    assert run("AT+CPIN?", b"\r\n+CPIN: READY\r\n\r\nOK\r\n") == [
        Response("AT+CPIN?", ("+CPIN: READY",), Result(ResultKind.OK))
    ]
    assert feed(AtParser(), b"\r\n+CPIN: READY\r\n\r\nSMS Ready\r\nCall Ready\r\n^BOOT:1,0,0,0,72\r\n") == [
        Urc("+CPIN", "READY", "+CPIN: READY"),
        Urc("SMS READY", "", "SMS Ready"),
        Urc("CALL READY", "", "Call Ready"),
        Urc("^BOOT", "1,0,0,0,72", "^BOOT:1,0,0,0,72"),
    ]


def test_ring_clip_cring_and_cend_are_urcs_outside_a_command() -> None:
    assert feed(
        AtParser(), b'\r\nRING\r\n\r\n+CLIP: "+33612345678",145,,,,0\r\n+CRING: VOICE\r\n^CEND:1,0,104,16\r\n'
    ) == [
        Urc("RING", "", "RING"),
        Urc("+CLIP", '"+33612345678",145,,,,0', '+CLIP: "+33612345678",145,,,,0'),
        Urc("+CRING", "VOICE", "+CRING: VOICE"),
        Urc("^CEND", "1,0,104,16", "^CEND:1,0,104,16"),
    ]


def test_lines_outside_a_command_that_match_nothing_are_garbage() -> None:
    assert feed(AtParser(), b"\r\nOK\r\n\x01\x02zz\r\nhello\r\n") == [
        Garbage(b"OK", "result code with no command in flight"),
        Garbage(b"\x01\x02zz", "unprintable line"),
        Garbage(b"hello", "unexpected line"),
    ]


def test_nul_and_high_bytes_do_not_crash() -> None:
    parser = AtParser()
    events = feed(parser, b"\x00\x00\xff\xfe\x80\r\n\x00RING\x00\r\n")
    assert events[0] == Garbage(b"\xff\xfe\x80", "unprintable line")
    assert events[1] == Urc("RING", "", "RING")


def test_line_noise_inside_a_response_is_garbage_not_an_info_line() -> None:
    events = run("AT+CSQ", b"\r\n\x00\xff\x80\xc3\x00\xfe\r\n+CSQ: 20,99\r\nOK\r\n")
    assert events == [
        Garbage(b"\xff\x80\xc3\x00\xfe", "unprintable line"),
        Response("AT+CSQ", ("+CSQ: 20,99",), Result(ResultKind.OK)),
    ]
    # UTF-8 (an operator name) is text, not noise.
    cops = run("AT+COPS?", '+COPS: 0,0,"Orange Réunion"\r\nOK\r\n'.encode())[0]
    assert isinstance(cops, Response) and cops.lines == ('+COPS: 0,0,"Orange Réunion"',)


def test_over_long_line_is_cut_and_reported_as_garbage() -> None:
    parser = AtParser()
    events = feed(parser, b"A" * (MAX_LINE + 10) + b"\r\nRING\r\n")
    assert events == [
        Garbage(b"A" * MAX_LINE, "over-long line without CRLF"),
        Garbage(b"A" * 10, "over-long line (continued)"),
        Urc("RING", "", "RING"),
    ]


def test_echo_after_an_escape_byte_is_still_the_echo() -> None:
    # ESC (sent to leave a stale prompt) is echoed too, glued to the next command's echo.
    assert run("AT", b"\x1bAT\r\r\nOK\r\n") == [Response("AT", (), Result(ResultKind.OK))]


def test_echo_is_skipped_only_once() -> None:
    # "AT" echoed, then a modem that (oddly) prints "AT" as an info line: the second one is kept.
    assert run("AT", b"AT\r\r\nAT\r\nOK\r\n") == [Response("AT", ("AT",), Result(ResultKind.OK))]


def test_late_result_after_cancel_is_garbage_not_the_next_answer() -> None:
    parser = AtParser()
    parser.start_command("AT+CSQ")
    parser.cancel_command()
    assert parser.state is ParserState.IDLE
    assert feed(parser, b"\r\nOK\r\n") == [Garbage(b"OK", "result code with no command in flight")]


def test_events_are_pulled_lazily_so_caller_state_changes_apply_to_following_bytes() -> None:
    parser = AtParser()
    parser.start_command("AT+CMGS=10")
    parser.receive_data(b"\r\n> \r\n+CMGS: 7\r\nOK\r\n")
    assert parser.next_event() == Prompt()
    parser.pdu_sent()
    assert parser.next_event() == Response("AT+CMGS=10", ("+CMGS: 7",), Result(ResultKind.OK))
    assert parser.next_event() is None


# -- the state machine ------------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(ParserState))
@pytest.mark.parametrize("trigger", [Trigger.START, Trigger.PDU_SENT, Trigger.CANCEL])
def test_illegal_transitions_raise_and_leave_the_state_unchanged(
    state: ParserState, trigger: Trigger
) -> None:
    parser = AtParser()
    if state is not ParserState.IDLE:
        parser.start_command("AT+CMGS=5")
    if state is ParserState.PROMPT:
        feed(parser, b"> ")
    assert parser.state is state
    call = {
        Trigger.START: lambda: parser.start_command("AT"),
        Trigger.PDU_SENT: parser.pdu_sent,
        Trigger.CANCEL: parser.cancel_command,
    }[trigger]
    if (state, trigger) in TRANSITIONS:
        call()
        assert parser.state is TRANSITIONS[(state, trigger)]
    else:
        command = parser.command
        with pytest.raises(AtProtocolError):
            call()
        assert parser.state is state
        assert parser.command == command


def test_the_transition_table_is_exactly_the_documented_machine() -> None:
    assert TRANSITIONS == {
        (ParserState.IDLE, Trigger.START): ParserState.COMMAND,
        (ParserState.COMMAND, Trigger.PROMPT_SEEN): ParserState.PROMPT,
        (ParserState.PROMPT, Trigger.PDU_SENT): ParserState.COMMAND,
        (ParserState.COMMAND, Trigger.FINAL): ParserState.IDLE,
        (ParserState.PROMPT, Trigger.FINAL): ParserState.IDLE,
        (ParserState.COMMAND, Trigger.CANCEL): ParserState.IDLE,
        (ParserState.PROMPT, Trigger.CANCEL): ParserState.IDLE,
    }


def test_final_result_in_prompt_state_ends_the_command() -> None:
    parser = AtParser()
    parser.start_command("AT+CMGS=5")
    assert feed(parser, b"> \r\nERROR\r\n") == [Prompt(), Response("AT+CMGS=5", (), Result(ResultKind.ERROR))]
    with pytest.raises(AtProtocolError):
        parser.pdu_sent()
    assert parser.state is ParserState.IDLE


# -- info-line helpers ------------------------------------------------------------------------------


def test_command_prefix_is_the_extended_name_or_none_for_basic_commands() -> None:
    assert command_prefix("AT+CMGL=4") == "+CMGL"
    assert command_prefix("AT^ICCID?") == "^ICCID"
    assert command_prefix("at+qccid") == "+QCCID"
    assert command_prefix("ATE0") is None


def test_split_args_handles_quotes_and_empty_fields() -> None:
    assert split_args('"SM",3,,"a,b"') == ["SM", "3", "", "a,b"]


def test_info_line_parsers_read_index_pdu_mr_signal_registration_and_caller() -> None:
    assert parse_storage_index('"SM",3') == ("SM", 3)
    assert parse_storage_index('"ME",0') == ("ME", 0)
    assert parse_storage_index('"SM"') is None
    assert parse_cmgr(("+CMGR: 0,,23", "0791AAFF")) == "0791AAFF"
    assert parse_cmgr(()) is None
    assert parse_cmgs(("+CMGS: 12",)) == 12
    assert parse_cmgs(()) is None
    assert parse_csq("21,99") == 21
    assert parse_csq("99,99") is None
    assert parse_creg('2,1,"1A2B","0C3D"', query=True) == "home"
    assert parse_creg("5", query=False) == "roaming"
    assert parse_creg('1,"1A2B","0C3D"', query=False) == "home"
    assert parse_clip('"+33612345678",145,,,,0') == "+33612345678"
    assert parse_clip('"33612345678",145') == "+33612345678"
    assert parse_clip('"",128') is None
    assert parse_cpms_test(('+CPMS: ("SM","ME"),("SM","ME"),("SM")',)) == [["SM", "ME"], ["SM", "ME"], ["SM"]]


def test_redact_hides_pins_and_puks() -> None:
    assert redact('AT+CPIN="1234"') == "AT+CPIN=****"
    assert redact('AT+CPIN="12345678","4321"') == "AT+CPIN=****"
    assert redact("AT+CPIN?") == "AT+CPIN?"
    assert redact_bytes(b'AT+CPIN="1234"\rAT\r') == b"AT+CPIN=****\rAT\r"
