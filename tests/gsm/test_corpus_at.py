"""The AT parser and its info-line parsers against what other projects assert (tests/data/corpus).

Every recorded answer goes through :class:`AtParser` as bytes (echo, bare CRs, URCs and all), then
through the info-line parser the backend uses for it. Where we differ on purpose the case is in
DIFFERENCES with our value (asserted too) and the reason; values we do not produce are in
NOT_COMPARED, with the reason. The replays through the backend itself are in test_corpus_replay.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from raspisms_daemon.errors import PduError
from raspisms_daemon.gsm.at_protocol import (
    AtParser,
    Event,
    ParserState,
    Prompt,
    Response,
    ResultKind,
    StoredPdu,
    Urc,
    choose_storage,
    parse_clip,
    parse_cmgl,
    parse_cmgr,
    parse_cmgs,
    parse_cpin,
    parse_cpms_test,
    parse_creg,
    parse_csq,
    parse_storage_index,
    split_args,
)
from raspisms_daemon.gsm.pdu import DeliverPdu, StatusReportPdu, SubmitPdu, decode
from raspisms_daemon.gsm.policy import SimStatus, decide_pin, sim_status_from_cpin

from .test_corpus_codec import load

LISTINGS = load("at_listings")
RESPONSES = load("at_responses")

# 27.007 <stat> (as ModemManager's state names it) and the registration the daemon reports for it.
REGISTRATION = {
    0: "unregistered", 1: "home", 2: "searching", 3: "denied", 4: "unknown", 5: "roaming",
    6: "home", 7: "roaming", 8: "unknown", 9: "home", 10: "roaming", 11: "unknown",
}  # fmt: skip
# ModemManager's lock names where the daemon's SIM states mean the same.
MM_LOCK = {"SIM_PIN": "pin", "SIM_PUK": "puk", "UNKNOWN": "refused"}
# python-gsmmodem's exception for a locked SIM and no PIN, and the CME code the daemon stops with.
PGM_PIN_ERROR = {"PinRequiredError": 11}


@dataclass(frozen=True)
class Difference:
    # The asserted keys we differ on, each with our value or a function of the source's value giving
    # ours (asserted too); WHOLE: the message is unreadable to us.
    ours: dict[str, Any]
    why: str


WHOLE = "*"


def _unreadable(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry | {"unreadable": True} for entry in entries]


PANTECH = (
    "a PDU line of an odd number of hex digits is listed as unreadable and, on the SIM, kept raw as "
    "UndecodableSms and its slot freed: where the digit went missing cannot be known (design choice; "
    "ModemManager returns the line as the PDU)"
)
BARE_ERROR = (
    "'+CME ERROR:' / '+CMS ERROR:' with nothing after the colon still ends the command as a refusal: "
    "waiting for a timeout gains nothing (design choice; ModemManager waits for more)"
)
CALL_STATE = (
    "NO CARRIER, BUSY, NO ANSWER and NO DIALTONE end only a dial (ATD/ATA); after any other command "
    "they are call-state URCs (NO CARRIER ends a call) and the command waits for its own result "
    "(design choice; ModemManager's serial parser takes them as final everywhere)"
)
TEXT_MODE = (
    "a text-mode answer (the daemon works in PDU mode only): no PDU to read, so it is listed as "
    "unreadable and kept raw (design choice; gammu and python-gsmmodem read text mode too)"
)
TRUNCATED = (
    "the SUBMIT's user data is 3 octets short of its TP-UDL: refused whole and kept raw, as a text cut "
    "short would look complete (design choice; gammu decodes what is there)"
)

DIFFERENCES: dict[str, Difference] = {
    "mm-cmgl-response-pantech": Difference({"entries": _unreadable}, PANTECH),
    "mm-cmgl-response-pantech-multiple": Difference({"entries": _unreadable}, PANTECH),
    "mm-parse-error-tests-7": Difference({"mm_final_found": True, "mm_is_error": True}, BARE_ERROR),
    "mm-parse-error-tests-11": Difference({"mm_final_found": True, "mm_is_error": True}, BARE_ERROR),
    **{
        f"mm-parse-error-tests-{n}": Difference({"mm_final_found": False, "mm_is_error": False}, CALL_STATE)
        for n in range(18, 26)
    },
    "gammu-cmgr-ok-41": Difference({"gammu_parses": False}, TRUNCATED),
    "gammu-cmgr-text-mode-fallback": Difference({WHOLE: True}, TEXT_MODE),
    "pgm-cmgr-text-mode-status-report": Difference({WHOLE: True}, TEXT_MODE),
    "gammu-at-cpms-samsung-j700": Difference(
        {key: dict.fromkeys(["ME", "SM", "SR"], False) for key in ("gammu_read", "gammu_save")},
        "'+CPMS: ' lists nothing: the daemon tries the SIM alone (AT+CPMS=\"SM\"…), where gammu assumes "
        "ME and SM both (design choice: a storage the modem never named is not assumed)",
    ),
    "pgm-cpms-4-storages": Difference(
        {"python_gsmmodem_then_sends": 'AT+CPMS="SM","SM","SM"'},
        "the SIM is preferred over the phone memory where both are offered, as on every other modem "
        "(design choice; python-gsmmodem prefers ME)",
    ),
    "gammu-at-creg-corner-mismatched-quotes": Difference(
        {"gammu_error": "ERR_NONE"},
        "a registration line with a broken quote still gives its <stat> (home here): nothing in it "
        "is worth refusing the answer over (design choice; gammu fails with ERR_MOREMEMORY)",
    ),
    "mm-cpin-3": Difference(
        {"mm_lock": "SIM_PUK"},
        "SIM PUK2 is read as a PUK lock and the start stops (the shared SIM policy, policy.py); "
        "ModemManager names a distinct SIM_PUK2 lock, and 27.007 lets the MT work on",
    ),
    "mm-cpin-5": Difference({"mm_lock": "SIM_PUK"}, "as mm-cpin-3"),
    "mm-cpin-7": Difference(
        {"mm_lock": "not ready"},
        "a network personalisation lock is a code the daemon never types: the start is refused as "
        "'SIM not ready' and retried (policy.py), where ModemManager names the lock",
    ),
    "pgm-csq-ok-only": Difference(
        {"python_gsmmodem_raises": None},
        "an OK without a +CSQ line is no signal reading, and no error: the modem answered, it is alive "
        "(design choice; python-gsmmodem raises CommandError)",
    ),
}

NOT_COMPARED: dict[str, str] = {
    "lac": "the location is not used", "ci": "the location is not used",
    "mm_access_tech": "the access technology is not used",
    "mm_regex_index": "which of ModemManager's regular expressions matched",
    "mm_state": "the <stat> it names is compared",
    "prefix_expected": "how ModemManager was called",
    "python_gsmmodem": "the <stat> it describes is compared",
    "gammu_error_code": "the number of gammu_error",
    "gammu_reply_state_default": "gammu without its per-phone CPINNoOK switch: the daemon needs none",
    "gammu_error_default": "gammu without its per-phone CPINNoOK switch: the daemon needs none",
    "fixture_answer": "what python-gsmmodem's fixture answers next",
    "fixture_only": "an answer only python-gsmmodem's fixture gives",
    "python_gsmmodem_sms_read_supported": "python-gsmmodem's own switch; the daemon tries the SIM anyway",
    "sim_used": "AT+CPMS? is never read: the backend sets the storages itself",
    "sim_size": "AT+CPMS? is never read",
    "first": "AT+CMGD=? is never asked: the backend deletes the index a listing gave",
    "last": "AT+CMGD=? is never asked",
    "gammu_legacy_scan": "AT+CMGD=? is never asked",
    "cancelling_call_after": "call handling is the call tracker's (tests/gsm/test_call_tracker.py)",
    "python_gsmmodem_status": "<stat> is not used (every stored message is taken in)",
    "gammu_location": "gammu's own numbering", "gammu_then": "what gammu asks next",
    "sms_messages": "WAP push / MMS notifications are delivered as received SMS, not interpreted",
    "decoded_parts": "WAP push / MMS notifications are not interpreted",
    "mms_sender": "MMS notifications are not interpreted",
    "mms_title": "MMS notifications are not interpreted",
    "mms_address": "MMS notifications are not interpreted",
    "mms_size": "MMS notifications are not interpreted",
}  # fmt: skip
# mem1/mem2 of an AT+CPMS? read answer are storage names, not lists: never read (see sim_used).
NOT_COMPARED_FOR = {"AT+CPMS?": {"mem1", "mem2"}}


# -- replaying an answer through the parser --------------------------------------------------------


@dataclass
class Replay:
    events: list[Event]
    response: Response | None
    ended_on_info_line: bool
    final_appended: bool


def replay(command: str | None, raw: str) -> Replay:
    """Feed ``raw`` to a parser with ``command`` in flight (None: idle, for URCs). A last line without
    its line end gets one (some sources give a URC bare); where the source gives the info text without
    its final result (ModemManager's strings), OK is appended; where the answer ends on its info line,
    the parser is told so, as the transport does after its silence."""
    parser = AtParser()
    if command is not None:
        parser.start_command(command.replace("<n>", "1" if "CMGR" in command else "23"))
    events: list[Event] = []

    def pump(data: bytes) -> None:
        parser.receive_data(data)
        while (event := parser.next_event()) is not None:
            events.append(event)
            if isinstance(event, Prompt):
                parser.pdu_sent()

    pump(raw.encode("latin-1") + (b"" if raw.endswith(("\r", "\n")) else b"\r\n"))
    ended = appended = False
    if parser.state is not ParserState.IDLE:
        response = parser.end_on_info_line()
        if response is not None:
            events.append(response)
            ended = True
        else:
            pump(b"\r\nOK\r\n")
            appended = True
    responses = [e for e in events if isinstance(e, Response)]
    return Replay(events, responses[0] if responses else None, ended, appended)


def _urcs(run: Replay) -> list[Urc]:
    return [e for e in run.events if isinstance(e, Urc)]


def _lines(run: Replay) -> tuple[str, ...]:
    return run.response.lines if run.response is not None else ()


def _registration_args(case: dict[str, Any], run: Replay) -> str | None:
    if case["command"] is None:
        urc = next((u for u in _urcs(run) if u.name == case["expect"]["kind"]), None)
        return urc.args if urc is not None else None
    line = next((line for line in _lines(run) if ":" in line), None)
    return line.split(":", 1)[1] if line is not None else None


def _sim_state(case: dict[str, Any], run: Replay) -> str:
    if run.response is None or not run.response.result.ok:
        return "refused"
    status = parse_cpin(run.response.lines) or ""
    return sim_status_from_cpin(status).value


def _decoded(pdu: str) -> dict[str, Any]:
    try:
        msg = decode(pdu)
    except PduError:
        return {"decodes": False}
    got: dict[str, Any] = {
        "decodes": True,
        "number": msg.number,
        "smsc": msg.smsc,
        "type": {DeliverPdu: "deliver", SubmitPdu: "submit", StatusReportPdu: "status_report"}[type(msg)],
    }
    if isinstance(msg, DeliverPdu | SubmitPdu):
        got["text"] = msg.text
    if isinstance(msg, StatusReportPdu):
        got |= {"mr": msg.mr, "delivered": msg.outcome == "delivered"}
        got |= {"scts": msg.scts.isoformat(), "discharge": msg.discharge.isoformat()}
    return got


def _entry(e: StoredPdu) -> dict[str, Any]:
    if e.problem is not None:
        return {"index": e.index, "stat": e.stat, "pdu": e.raw, "unreadable": True}
    return {"index": e.index, "stat": e.stat, "pdu": e.pdu}


def observe_listing(case: dict[str, Any]) -> dict[str, Any]:
    run = replay(case["command"], case["raw"])
    lines = _lines(run)
    got: dict[str, Any] = {}
    if run.response is not None and run.response.result.kind is not ResultKind.OK:
        got["cms_error"] = run.response.result.code
    if case["command"].startswith("AT+CMGL"):
        entries = parse_cmgl(lines)
        got["entries"] = [_entry(e) for e in entries]
        got["messages"] = len(entries)
        if entries:
            got |= {"index": entries[0].index, "stat": entries[0].stat}
            got["gammu_parses_header"] = entries[0].index is not None
        return got
    entry = parse_cmgr(lines)
    got["empty"] = entry is None
    if entry is None:
        return got
    got["stat"] = entry.stat
    if entry.problem is not None:
        return got | {"unreadable": True, "gammu_parses": False}
    got["pdu"] = entry.pdu
    decoded = _decoded(entry.pdu)
    got |= decoded
    got["gammu_parses"] = decoded["decodes"]
    return got


def observe_response(case: dict[str, Any]) -> dict[str, Any]:
    expect, command = case["expect"], case["command"]
    if command is None and ("result" in expect or "mm_final_found" in expect):
        command = "AT"  # a final result code: the answer to some command in flight
    run = replay(command, case["raw"])
    lines = _lines(run)
    got: dict[str, Any] = {}
    if run.response is not None:
        result = run.response.result
        got["result"] = result.kind.value
        got["code"] = result.code
        got["mm_final_found"] = not run.final_appended and not run.ended_on_info_line
        got["mm_is_error"] = not result.ok if got["mm_final_found"] else False
        got["final_result"] = None if run.ended_on_info_line else result.kind.value
        # gammu with CPINNoOK: the answer ends on its info line, as a success.
        got["gammu_reply_state_when_CPINNoOK"] = "AT_Reply_OK" if result.ok else "AT_Reply_Error"
        got["gammu_error_when_CPINNoOK"] = "ERR_NONE" if result.ok else "error"
    if "stat" in expect:
        args = _registration_args(case, run)
        got["gammu_parses"] = True
        state = parse_creg(args) if args is not None else None
        got["stat"] = expect["stat"] if state == REGISTRATION[expect["stat"]] else state
        got["gammu_error"] = "ERR_NONE" if state is not None else "no state"
        if case["command"] is None:
            got["kind"] = _urcs(run)[0].name if _urcs(run) else None
        else:
            got["kind"] = lines[0].split(":", 1)[0] if lines else None
    elif command is not None and command.startswith("AT+CREG"):  # gammu's captures: no <stat> asserted
        args = _registration_args(case, run)
        got["gammu_parses"] = run.response is not None and run.response.result.ok
        state = parse_creg(args) if args is not None else None
        got["gammu_error"] = "ERR_NONE" if state is not None or args is None else "no state"
    if command == "AT+CPMS=?":
        offered = parse_cpms_test(lines)
        for i, mem in enumerate(("mem1", "mem2", "mem3")):
            got[mem] = offered[i] if i < len(offered) else None
        for key, at in (("gammu_read", 0), ("gammu_save", 1)):
            names = offered[at] if at < len(offered) else []
            got[key] = {name: name in names for name in ("ME", "SM", "SR")}
        got["gammu_accepts"] = bool(offered)
        mems = choose_storage(offered).mems
        got["python_gsmmodem_then_sends"] = "AT+CPMS=" + ",".join(f'"{m}"' for m in mems)
    if command == "AT+CPIN?":
        ours = _sim_state(case, run)
        got["mm_lock"] = next((mm for mm, state in MM_LOCK.items() if state == ours), ours)
        got["pin_state"] = parse_cpin(lines)
        status = sim_status_from_cpin(parse_cpin(lines) or "")
        decision = decide_pin(status, "", None, refused_before=False)
        got["python_gsmmodem_raises_without_pin"] = next(
            (name for name, code in PGM_PIN_ERROR.items() if decision.error and decision.error.code == code),
            None,
        )
    if "rssi" in expect or "python_gsmmodem_raises" in expect:
        csq = next((line.split(":", 1)[1] for line in lines if line.startswith("+CSQ")), None)
        rssi = parse_csq(csq) if csq is not None else None
        got["rssi"] = -1 if rssi is None else rssi  # python-gsmmodem writes "unknown" as -1
        got["python_gsmmodem_raises"] = None
    if "memory" in expect:
        where = parse_storage_index(_urcs(run)[0].args) if _urcs(run) else None
        got["memory"], got["index"] = where if where else (None, None)
    if "mr" in expect:
        got["mr"] = parse_cmgs(lines)
    clips = [u for u in _urcs(run) if u.name == "+CLIP"]
    if clips:
        got["number"] = parse_clip(clips[0].args)
        got["type"] = int(split_args(clips[0].args)[1])
        got["gammu_handles_without_error"] = True
    with_pdu = [(u, u.pdu) for u in _urcs(run) if u.pdu is not None]
    got["delivered_to_handler"] = bool(with_pdu)
    got["received"] = len(with_pdu)
    got["gammu_dispatch_error"] = "ERR_NONE"
    if with_pdu:
        urc, pdu = with_pdu[0]
        got["pdu"] = pdu
        got["length"] = int(split_args(urc.args)[-1])
        got["type"] = _decoded(pdu)["type"]
    return got


def _compare(case: dict[str, Any], ours: dict[str, Any]) -> None:
    skipped = set(NOT_COMPARED) | NOT_COMPARED_FOR.get(case["command"] or "", set())
    if "result" in case["expect"]:
        skipped.add("gammu_error")  # gammu's name for the result code and number, which are compared
    expected = {k: v for k, v in case["expect"].items() if k not in skipped}
    difference = DIFFERENCES.get(case["id"])
    if difference is not None and WHOLE in difference.ours:
        assert ours.get("unreadable") is True
        return
    if difference is not None:
        assert set(difference.ours) <= set(expected), "a listed difference names asserted keys"
        for key, value in difference.ours.items():
            mine = value(expected[key]) if callable(value) else value
            assert ours.get(key, "not observed") == mine
            expected[key] = mine
    assert {k: ours.get(k, "not observed") for k in expected} == expected
    if not expected and case["command"] is not None:
        assert ours.get("result") == "OK"  # nothing of it is read, yet it is one whole answer


@pytest.mark.parametrize("case", LISTINGS, ids=[c["id"] for c in LISTINGS])
def test_stored_message_answers_are_read_as_the_source_asserts(case: dict[str, Any]) -> None:
    _compare(case, observe_listing(case))


@pytest.mark.parametrize("case", RESPONSES, ids=[c["id"] for c in RESPONSES])
def test_answers_and_urcs_are_read_as_the_source_asserts(case: dict[str, Any]) -> None:
    _compare(case, observe_response(case))


def test_every_listed_difference_is_a_case_of_the_corpus() -> None:
    assert set(DIFFERENCES) <= {c["id"] for c in LISTINGS + RESPONSES}


@pytest.mark.parametrize("case", LISTINGS + RESPONSES, ids=[c["id"] for c in LISTINGS + RESPONSES])
def test_every_answer_fed_one_byte_at_a_time_gives_the_same_events(case: dict[str, Any]) -> None:
    whole = replay(case["command"], case["raw"])
    parser = AtParser()
    if case["command"] is not None:
        parser.start_command(case["command"].replace("<n>", "1" if "CMGR" in case["command"] else "23"))
    events: list[Event] = []
    for byte in case["raw"].encode("latin-1"):
        parser.receive_data(bytes([byte]))
        while (event := parser.next_event()) is not None:
            events.append(event)
            if isinstance(event, Prompt):
                parser.pdu_sent()
    appended = [e for e in whole.events if e not in events]
    # Only what the replay added after the source's bytes (its OK, or the end on the info line) differs.
    assert events == whole.events[: len(events)]
    assert len(appended) <= 1


def test_wavecom_cpin_answer_ends_on_its_info_line_and_unlocks_nothing() -> None:
    (case,) = [c for c in RESPONSES if c["id"] == "pgm-cpin-wavecom-no-ok"]
    run = replay(case["command"], case["raw"])
    assert run.ended_on_info_line and run.response is not None
    assert run.response.result.ok and parse_cpin(run.response.lines) == "READY"
    assert sim_status_from_cpin("READY") is SimStatus.READY
