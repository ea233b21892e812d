"""Strict decoding of what a client sends (pure): tables of the cases that used to reach the database
as "�" or a 500, then properties over any bytes: a value or :class:`Malformed`, nothing else."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspisms_daemon.api.decoding import Malformed, json_value, text, urlencoded
from raspisms_daemon.api.limits import MAX_DEPTH, MAX_FORM_FIELDS


@pytest.mark.parametrize(
    ("data", "charset", "pairs"),
    [
        (b"a=1&b=%C3%A9", "utf-8", [("a", "1"), ("b", "é")]),
        ("a=caf\u00e9", "utf-8", [("a", "café")]),  # raw UTF-8 already decoded (a query string)
        (b"a=x+y&b&c=", "utf-8", [("a", "x y"), ("b", ""), ("c", "")]),  # as PHP: + is a space, b is ""
        (b"a=%E9", "iso-8859-1", [("a", "é")]),
        (b"numbers%5B%5D=%2B33612345678", "utf-8", [("numbers[]", "+33612345678")]),
        (b"a=%EF%BF%BD", "utf-8", [("a", "\ufffd")]),  # a U+FFFD the client meant is taken
        (b"", "utf-8", []),
    ],
)
def test_urlencoded_reads_what_php_reads(
    data: bytes | str, charset: str, pairs: list[tuple[str, str]]
) -> None:
    assert urlencoded(data, charset) == pairs


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"text=\xff\xfe", "text: not valid UTF-8 text"),
        (b"text=%FF%FE%80", "text: not valid UTF-8 text"),
        (b"text=%ED%A0%80", "text: not valid UTF-8 text"),  # an encoded surrogate is not UTF-8
        (b"text=caf%E9", "text: not valid UTF-8 text"),  # Latin-1 sent as UTF-8
        (b"a%FF=1", "a form field name is not valid UTF-8: a\\xff"),
        (b"ok=1&t%C3%A9xt=%C0%80", "téxt: not valid UTF-8 text"),  # an overlong NUL
    ],
)
def test_urlencoded_refuses_bytes_that_are_not_text_naming_the_field(data: bytes, message: str) -> None:
    with pytest.raises(Malformed) as raised:
        urlencoded(data)
    assert str(raised.value) == message


def test_urlencoded_bounds_the_fields_and_the_charset() -> None:
    assert len(urlencoded(b"&".join([b"a=1"] * MAX_FORM_FIELDS))) == MAX_FORM_FIELDS
    with pytest.raises(Malformed, match=f"more than {MAX_FORM_FIELDS} fields"):
        urlencoded(b"&".join([b"a=1"] * (MAX_FORM_FIELDS + 1)))
    with pytest.raises(Malformed, match="unknown charset 'klingon'"):
        urlencoded(b"a=1", "klingon")


def test_text_refuses_a_lone_surrogate() -> None:
    assert text("fine 😀", "f") == "fine 😀"
    with pytest.raises(Malformed, match="f: not valid UTF-8 text"):
        text("a\ud800", "f")


def nested(depth: int) -> Any:
    """``depth`` lists, one in the other."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'"\\ud800"', "holds a lone surrogate (\\ud800)"),
        (b'{"\\udc00": 1}', "holds a lone surrogate (\\udc00)"),
        (b"[" * 100_000, f"nested more than {MAX_DEPTH} deep"),
        (json.dumps(nested(MAX_DEPTH + 1)).encode(), f"nested more than {MAX_DEPTH} deep"),
        (b"NaN", "NaN is not a JSON number"),
        (b"[-Infinity]", "-Infinity is not a JSON number"),
        (b"1e400", "1e400 is out of range"),
        (b"1" * 5000, "not valid JSON (Exceeds the limit"),
        (b"\xff", "not valid JSON (not UTF-8: invalid start byte at byte 0)"),
        (b"{", "not valid JSON (Expecting property name"),
    ],
)
def test_json_value_refuses_what_no_text_or_number_can_hold(raw: bytes, message: str) -> None:
    with pytest.raises(Malformed) as raised:
        json_value(raw)
    assert message in str(raised.value)


def test_json_value_takes_surrogate_pairs_and_the_deepest_allowed() -> None:
    assert json_value(b'"\\ud83d\\ude00"') == "😀"
    assert json_value(json.dumps(nested(MAX_DEPTH))) == nested(MAX_DEPTH)


# --- properties over any input ---------------------------------------------------------------------


def _no_surrogate(value: str) -> bool:
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)


@settings(max_examples=400)
@given(st.binary(max_size=200), st.sampled_from(["utf-8", "iso-8859-1", "ascii"]))
def test_urlencoded_of_any_bytes_is_valid_text_or_malformed(data: bytes, charset: str) -> None:
    try:
        pairs = urlencoded(data, charset)
    except Malformed:
        return
    assert all(_no_surrogate(name) and _no_surrogate(value) for name, value in pairs)


text_values = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)


@settings(max_examples=200)
@given(st.lists(st.tuples(text_values, text_values), max_size=10))
def test_urlencoded_reads_back_what_a_client_encodes(pairs: list[tuple[str, str]]) -> None:
    assert urlencoded(urlencode(pairs).encode()) == pairs


@settings(max_examples=400)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=100)))
def test_json_value_of_anything_is_a_value_without_surrogates_or_malformed(raw: bytes | str) -> None:
    try:
        value = json_value(raw)
    except Malformed:
        return
    assert _no_surrogate(json.dumps(value, ensure_ascii=False))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | text_values,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text_values, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200)
@given(json_values)
def test_json_value_reads_back_any_json_a_client_writes(value: Any) -> None:
    assert json_value(json.dumps(value)) == value
