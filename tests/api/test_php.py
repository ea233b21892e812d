"""PHP's reading of a request, where RaspiSMS's API depends on it (PHP's parse_str / $_POST rules)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspisms_daemon.api.decoding import Malformed
from raspisms_daemon.api.limits import MAX_DEPTH
from raspisms_daemon.api.php import INT_MAX, INT_MIN, falsy, float_cast, int_cast, parse_form, values_of
from tests.helpers.machine import needs

BIG = "99999999999999999999"


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("a", "1")], {"a": "1"}),
        ([("a", "1"), ("a", "2")], {"a": "2"}),  # a repeated plain name keeps its last value
        ([("a[]", "1"), ("a[]", "2")], {"a": {0: "1", 1: "2"}}),
        ([("a[1]", "x"), ("a[0]", "y"), ("a[]", "z")], {"a": {1: "x", 0: "y", 2: "z"}}),  # insertion order
        (
            [("n[0][number]", "+1"), ("n[0][data]", "{}"), ("n[1][number]", "+2")],
            {"n": {0: {"number": "+1", "data": "{}"}, 1: {"number": "+2"}}},
        ),
        ([("a[x]", "1"), ("a[-1]", "2"), ("a[01]", "3")], {"a": {"x": "1", -1: "2", "01": "3"}}),
        ([("a", "s"), ("a[]", "t")], {"a": {0: "t"}}),  # an array replaces a scalar
        ([("a[b", "1")], {"a[b": "1"}),  # no closing bracket: a plain name
        ([("[x]", "1")], {"[x]": "1"}),
    ],
)
def test_parse_form_builds_phps_arrays(pairs: list[tuple[str, str]], expected: dict[str, object]) -> None:
    assert parse_form(pairs) == expected


@pytest.mark.parametrize(
    ("value", "is_falsy"),
    [
        *[(None, True), ("", True), ("0", True), ({}, True), ([], True), (0, True), (False, True)],
        *[("0.0", False), (" ", False), ("false", False), ({0: ""}, False), (1, False)],
    ],
)
def test_falsy_is_phps_truthiness(value: object, is_falsy: bool) -> None:
    assert falsy(value) is is_falsy


INT_CASTS = [
    ("12", 12),
    ("12abc", 12),
    (" 7", 7),
    ("-3", -3),
    ("abc", 0),
    ("", 0),
    ("\u0663", 0),  # ٣: PHP reads ASCII digits only
    ("9223372036854775807", INT_MAX),
    ("9223372036854775808", INT_MAX),  # past 64 bits PHP saturates
    (BIG, INT_MAX),
    ("-" + BIG, INT_MIN),
    ("9" * 308, INT_MAX),
    ("9" * 309, 0),  # not even a double holds it: PHP says 0
    ("-" + "9" * 5000, 0),
    ("0" * 5000 + "42", 42),
    ("1e3", 1000),  # a float in the string: PHP reads it as one (7.1 on)
    ("1.9", 1),
]


@pytest.mark.parametrize(("text", "value"), INT_CASTS)
def test_int_cast_is_phps(text: str, value: int) -> None:
    assert int_cast(text) == value


FLOAT_CASTS = [
    ("12.5", 12.5),
    (" 12.5%", 12.5),
    ("1e3x", 1000.0),
    (".5", 0.5),
    ("-2", -2.0),
    ("abc", 0.0),
    ("", 0.0),
    ("nan", 0.0),  # Python's float() reads it; PHP does not, and NaN compares as nothing
    ("inf", 0.0),
    ("1_0", 1.0),  # Python's float() reads 10
    ("1e999", float("inf")),
]


@pytest.mark.parametrize(("text", "value"), FLOAT_CASTS)
def test_float_cast_is_phps(text: str, value: float) -> None:
    assert float_cast(text) == value


@needs(shutil.which("php"), "php", "php-cli")
def test_float_cast_agrees_with_php_itself() -> None:
    texts = [t for t, _ in FLOAT_CASTS if t != "1e999"] + ["+5", "\t-0012.5x", "0x1A", "1e", "-.5e1"]
    script = "echo json_encode(array_map(fn($s) => (float) $s, json_decode(stream_get_contents(STDIN))));"
    php = subprocess.run(
        ["php", "-r", script], input=json.dumps(texts), capture_output=True, text=True, check=True
    )
    assert [float_cast(t) for t in texts] == json.loads(php.stdout)


@needs(shutil.which("php"), "php", "php-cli")
def test_int_cast_agrees_with_php_itself() -> None:
    """The outside oracle: PHP's own ``(int)`` of each string (php-cli, 64 bits)."""
    texts = [t for t, _ in INT_CASTS] + ["+5", "\t-0012x", "0x1A", " \n 8", "--1", "1e", ".5e1", "-1.9"]
    texts += ["9223372036854775806", "-9223372036854775808", "9.3e18", "-9.3e18", "1e308", "1e309", "9" * 400]
    script = "echo json_encode(array_map(fn($s) => (int) $s, json_decode(stream_get_contents(STDIN))));"
    php = subprocess.run(
        ["php", "-r", script], input=json.dumps(texts), capture_output=True, text=True, check=True
    )
    assert [int_cast(t) for t in texts] == json.loads(php.stdout)


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("a[5]", "x"), ("a[]", "y")], {"a": {5: "x", 6: "y"}}),
        ([("a[-5]", "x"), ("a[]", "y")], {"a": {-5: "x", -4: "y"}}),
        ([("a[]", "x"), ("a", "s"), ("a[]", "y")], {"a": {0: "y"}}),  # a new array counts from 0
        ([(f"a[{BIG}]", "x"), ("a[]", "y")], {"a": {BIG: "x", 0: "y"}}),  # past 64 bits: a string key
        ([("a[9223372036854775807]", "x")], {"a": {INT_MAX: "x"}}),
    ],
)
def test_parse_form_appends_where_php_does(pairs: list[tuple[str, str]], expected: dict[str, object]) -> None:
    assert parse_form(pairs) == expected


def test_parse_form_appends_forty_thousand_in_order() -> None:
    form = parse_form([("numbers[]", str(i)) for i in range(40_000)])
    assert list(form["numbers"].items()) == [(i, str(i)) for i in range(40_000)]


def test_parse_form_refuses_a_name_nested_past_the_bound() -> None:
    assert parse_form([("a" + "[x]" * (MAX_DEPTH - 1), "1")])
    with pytest.raises(Malformed, match=f"nested more than {MAX_DEPTH} deep"):
        parse_form([("a" + "[x]" * 100_000, "1")])


@settings(max_examples=300)
@given(st.lists(st.tuples(st.text(alphabet="ab[]0-9", max_size=12), st.text(max_size=3)), max_size=20))
def test_parse_form_of_any_names_is_an_array_or_malformed(pairs: list[tuple[str, str]]) -> None:
    try:
        form = parse_form(pairs)
    except Malformed:
        return
    assert isinstance(form, dict)


def test_values_of_wraps_a_scalar_and_lists_an_array() -> None:
    assert values_of(None) == [] and values_of("x") == ["x"] and values_of({3: "a", 1: "b"}) == ["a", "b"]
    assert values_of(["j"]) == ["j"]
