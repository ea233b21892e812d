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
    StorageChoice,
    Trigger,
    Urc,
    choose_storage,
    command_prefix,
    ends_on_info_line,
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
    listed = [(e.index, e.stat, e.pdu, e.problem) for e in parse_cmgl(events[2].lines)]
    assert listed == [(0, 1, "07911326", None), (3, 0, "0791AA", None)]


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
    entry = parse_cmgr(("+CMGR: 0,,23", "0791AAFF"))
    assert entry is not None and (entry.stat, entry.pdu, entry.problem) == (0, "0791AAFF", None)
    assert parse_cmgr(()) is None
    assert parse_cmgs(("+CMGS: 12",)) == 12
    assert parse_cmgs(()) is None
    assert parse_csq("21,99") == 21
    assert parse_csq("99,99") is None
    assert parse_creg('2,1,"1A2B","0C3D"') == "home"
    assert parse_creg("5") == "roaming"
    assert parse_creg('1,"1A2B","0C3D"') == "home"
    assert parse_clip('"+33612345678",145,,,,0') == "+33612345678"
    assert parse_clip('"33612345678",145') == "+33612345678"
    assert parse_clip('"",128') is None
    assert parse_cpms_test(('+CPMS: ("SM","ME"),("SM","ME"),("SM")',)) == [["SM", "ME"], ["SM", "ME"], ["SM"]]


def test_redact_hides_pins_and_puks() -> None:
    assert redact('AT+CPIN="1234"') == "AT+CPIN=****"
    assert redact('AT+CPIN="12345678","4321"') == "AT+CPIN=****"
    assert redact("AT+CPIN?") == "AT+CPIN?"
    assert redact_bytes(b'AT+CPIN="1234"\rAT\r') == b"AT+CPIN=****\rAT\r"


def test_motorola_modem_error_with_a_number_is_a_final_result() -> None:
    assert run("AT+CMGS=23", b"\r\nMODEM ERROR: 5\r\n") == [
        Response("AT+CMGS=23", (), Result(ResultKind.MODEM_ERROR, 5))
    ]
    assert not Result(ResultKind.MODEM_ERROR, 5).ok
    # Without a number it is text, as ModemManager reads it: an info line, the command goes on.
    assert run("AT+CSQ", b"\r\nMODEM ERROR: apple\r\nOK\r\n") == [
        Response("AT+CSQ", ("MODEM ERROR: apple",), Result(ResultKind.OK))
    ]


def test_an_answer_without_result_code_ends_on_its_info_line_when_the_caller_says_so() -> None:
    parser = AtParser()
    parser.start_command("AT+CPIN?")
    assert not parser.has_info_line and parser.end_on_info_line() is None  # nothing in yet
    assert feed(parser, b"\r\n+CPIN: READY\r\n") == []  # Wavecom: no OK follows
    assert parser.has_info_line
    response = parser.end_on_info_line()
    assert response == Response("AT+CPIN?", ("+CPIN: READY",), Result(ResultKind.INFO_LINE))
    assert response.result.ok and parser.state is ParserState.IDLE
    # An OK that comes after all is a stray result code, never the next command's.
    assert feed(parser, b"\r\nOK\r\n") == [Garbage(b"OK", "result code with no command in flight")]


@pytest.mark.parametrize("command", ["AT+CSQ", "AT+CPIN=1234", "AT+CREG?"])
def test_other_commands_never_end_on_their_info_line(command: str) -> None:
    parser = AtParser()
    parser.start_command(command)
    feed(parser, b"\r\n+CSQ: 9,99\r\n+CPIN: READY\r\n+CREG: 2,1\r\n")
    assert not ends_on_info_line(command)
    assert parser.end_on_info_line() is None and parser.state is ParserState.COMMAND


@pytest.mark.parametrize(
    ("line", "offered"),
    [
        ('+CPMS: ("SM","ME"),("SM","ME"),("SM")', [["SM", "ME"], ["SM", "ME"], ["SM"]]),
        ('+CPMS: ("SM", "ME"), ("SM", "ME"), ("SM", "ME")', [["SM", "ME"]] * 3),
        ('+CPMS: "ME","MT","SM"', [["ME"], ["MT"], ["SM"]]),  # flat: one storage per parameter
        ('+CPMS: ("ME","MT"),"ME",("SM")', [["ME", "MT"], ["ME"], ["SM"]]),  # mixed
        ('+CPMS:  (  "ME" , "MT" ) ,  "ME" , ( "SM" )', [["ME", "MT"], ["ME"], ["SM"]]),
        ('+CPMS: (("SM","BM","SR"),("SM"))', [["SM", "BM", "SR"], ["SM"]]),  # nested, two parameters
        ('+CPMS: (ME", "SR"), ("ME", "SR"), ("ME")', [["ME", "SR"], ["ME", "SR"], ["ME"]]),  # broken quote
        ("+CPMS: (),,(  )", [[], [], []]),
        ("+CPMS: ", []),
        ("OK", []),
    ],
)
def test_cpms_test_answers_are_read_in_every_form(line: str, offered: list[list[str]]) -> None:
    assert parse_cpms_test((line,)) == offered


@pytest.mark.parametrize(
    ("offered", "mems", "sweep"),
    [
        ([["SM", "ME", "MT"]] * 3, ("SM", "SM", "SM"), {"SM", "ME"}),
        ([["ME", "MT"], ["ME", "SM", "MT"], ["SM", "MT"]], ("ME", "ME", "SM"), {"ME", "SM"}),
        ([["ME"], ["MT"], ["SM"]], ("ME", "MT", "SM"), {"ME", "SM"}),
        ([["SM", "BM", "SR"], ["SM"]], ("SM", "SM"), {"SM"}),  # two parameters only
        ([["ME", "SR"], ["ME", "SR"], ["ME"]], ("ME", "ME", "ME"), {"ME"}),
        ([[], [], []], ("SM", "SM", "SM"), {"SM"}),  # offers nothing: try the SIM
        ([], ("SM", "SM", "SM"), {"SM"}),
    ],
)
def test_the_storage_chosen_is_one_each_parameter_offers(
    offered: list[list[str]], mems: tuple[str, ...], sweep: set[str]
) -> None:
    choice = choose_storage(offered)
    assert choice == StorageChoice(mems, frozenset(sweep))
    assert (choice.primary, choice.incoming) == (mems[0], mems[-1])


@pytest.mark.parametrize(
    ("args", "state"),
    [
        ("3", "denied"),  # URC <stat>
        ("1,3", "denied"),  # answer <n>,<stat>
        ('2,1,"1A2B","0C3D"', "home"),  # answer <n>,<stat>,<lac>,<ci>
        ('1,"CE00","00005449"', "home"),  # URC <stat>,<lac>,<ci>
        ("1,84CD,00D30156", "home"),  # unquoted hex location
        ('2,5,"0502","0404736D"', "roaming"),  # URC that still carries <n> (Sony-Ericsson MD400)
        ("2,1,000B,2816, B, C2816", "home"),  # Samsung S8500 Wave URC
        ("2,,", "searching"),  # URC <stat> with empty location
        ("1,0001,0010,0", "home"),  # URC with an all-digit location
        ("2, 0001, 00000100, 7", "searching"),
        ("1, 2, 0001, 00000100, 7", "searching"),  # <n> first, all digits
        ('002,001,"18d8","ffff"', "home"),  # leading zeros
        ('002,0011,"0f0d","14c3"', "unknown"),  # stat 11: attached for RLOS only
        ('6,"8B37","0A265185",7', "home"),  # registered for SMS only
        ("2,10,ebbd,f025", "roaming"),
        ("", None),
    ],
)
def test_registration_is_read_from_the_fields_whoever_asked(args: str, state: str | None) -> None:
    assert parse_creg(args) == state


def test_malformed_stored_messages_are_listed_with_their_lines_and_why() -> None:
    odd = "079100F40D1101000F001000B917118336058F300001954747A0E4ACF41F27298CDCE83C6EF371B0402814020"
    good = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
    entries = parse_cmgl(
        [
            "+CMGL: 17,3,35", odd,  # odd number of hex digits (a Pantech)
            "+CMGL: 2,1,,24", good + '"',  # a stray quote after the PDU
            "+CMGL: 3,1,,24", "AFSDLF SDKFJ", good,  # a junk line before the PDU
            "+CMGL: 4,1,,24", "0BD04259303784=96p331",  # no PDU in the line
            "+CMGL: 5,1,,24",  # no line at all
            "+CMGL: 6,1,,147 " + good,  # the PDU on the header line
        ]
    )  # fmt: skip
    assert [(e.index, e.pdu, e.problem) for e in entries] == [
        (17, "", "the PDU line has an odd number of hex digits (89)"),
        (2, good, None),
        (3, good, None),
        (4, "", "no hex PDU in '0BD04259303784=96p331'"),
        (5, "", "no PDU line"),
        (6, good, None),
    ]
    raws = [odd, good + '"', "AFSDLF SDKFJ\n" + good, "0BD04259303784=96p331", "", good]
    assert [e.raw for e in entries] == raws
    text_mode = parse_cmgr(['+CMGR: "REC READ","+393312345678",,"16/05/10,10:33:08+08"', "Test message"])
    assert text_mode is not None and (text_mode.pdu, text_mode.raw) == ("", "Test message")
    assert text_mode.problem == "no hex PDU in 'Test message'"


def test_digits_of_other_scripts_are_text_not_numbers() -> None:
    # str.isdigit() takes "²" and "٣", which int() refuses or reads: a modem's numbers are ASCII.
    assert run("AT+CSQ", "\r\n+CME ERROR: ²\r\n".encode()) == [
        Response("AT+CSQ", (), Result(ResultKind.CME_ERROR, None, "²"))
    ]
    assert parse_csq("²,99") is None and parse_storage_index('"SM",²') is None
    assert parse_creg("²") is None
