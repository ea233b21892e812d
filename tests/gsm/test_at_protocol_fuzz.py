"""Property tests: any bytes in any chunking → only the parser's own events, and the same ones."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from raspisms_daemon.errors import AtProtocolError
from raspisms_daemon.gsm.at_protocol import (
    AtParser,
    Event,
    Garbage,
    Prompt,
    Response,
    Urc,
    choose_storage,
    is_hex,
    parse_cmgl,
    parse_cmgr,
    parse_cpin,
    parse_cpms_test,
    parse_creg,
)

COMMANDS = [None, "AT", "AT+CMGL=4", "AT+CMGS=23", "AT+CREG?", "ATD123;", "AT+CSQ", "AT+CPIN?", "AT+CPMS=?"]

# Realistic fragments mixed with arbitrary bytes, so that the interesting paths are reached often.
FRAGMENTS = [
    b"\r\n", b"\r", b"\n", b"OK", b"ERROR", b"+CMS ERROR: 500", b"+CME ERROR: 10", b"> ", b">",
    b"+CMTI: \"SM\",3", b"+CMT: ,23", b"+CDS: 25", b"0791AABB", b"RING", b"NO CARRIER", b"^RSSI: 9",
    b"+CMGL: 1,0,,23", b"+CREG: 1", b"+CREG: 2,1", b"AT+CMGL=4", b"\x00", b"\xff", b"\x1a", b"A" * 700,
    b"MODEM ERROR: 5", b"MODEM ERROR: apple", b"+CPIN: READY", b'+CPMS: (("SM","BM"),("SM"))', b'"', b"(",
    b"+CMGR: 1,,147 0791AA", b"+CME ERROR:",
]  # fmt: skip

data_strategy = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=40)), max_size=30).map(
    b"".join
)


def _drain(parser: AtParser, chunks: list[bytes]) -> list[Event]:
    out = []
    for chunk in chunks:
        parser.receive_data(chunk)
        while (ev := parser.next_event()) is not None:
            assert isinstance(ev, Response | Prompt | Urc | Garbage)
            out.append(ev)
            if isinstance(ev, Prompt):
                parser.pdu_sent()
    # The transport's silence decision: end an answer on its info line once nothing more comes.
    ended = parser.end_on_info_line()
    if ended is not None:
        out.append(ended)
    return out


def _chunk(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks, last = [], 0
    for p in points:
        chunks.append(data[last:p])
        last = p
    chunks.append(data[last:])
    return chunks


@settings(max_examples=400, deadline=None)
@given(
    command=st.sampled_from(COMMANDS),
    data=data_strategy,
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=20),
)
def test_any_bytes_in_any_chunking_give_the_same_events(
    command: str | None, data: bytes, cuts: list[int]
) -> None:
    whole, chunked = AtParser(), AtParser()
    if command:
        whole.start_command(command)
        chunked.start_command(command)
    try:
        expected = _drain(whole, [data])
    except AtProtocolError:
        return  # the only error it may raise; nothing else escapes
    assert _drain(chunked, _chunk(data, cuts)) == expected
    # Byte-at-a-time is the harshest chunking.
    single = AtParser()
    if command:
        single.start_command(command)
    assert _drain(single, [data[i : i + 1] for i in range(len(data))]) == expected


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=5000))
def test_random_bytes_never_raise_anything_but_at_protocol_error(data: bytes) -> None:
    parser = AtParser()
    parser.start_command("AT+CMGS=10")
    try:
        _drain(parser, [data])
    except AtProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from([f.decode("latin-1") for f in FRAGMENTS]), st.text(max_size=60))))
def test_the_info_line_parsers_take_any_lines_without_raising(lines: list[str]) -> None:
    for entry in parse_cmgl(lines):
        assert entry.pdu == "" or is_hex(entry.pdu)
        assert (entry.problem is None) == bool(entry.pdu)
    read = parse_cmgr(lines)
    assert read is None or (read.problem is None) == bool(read.pdu)
    offered = parse_cpms_test(lines)
    assert all(name.isalnum() or "_" in name for group in offered for name in group)
    choice = choose_storage(offered)
    assert 2 <= len(choice.mems) <= 3 and choice.primary in choice.sweep
    for line in lines:
        assert parse_creg(line) in (None, "home", "roaming", "searching", "denied", "unregistered", "unknown")
        parse_cpin([line])
