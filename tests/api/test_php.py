"""PHP's reading of a request, where RaspiSMS's API depends on it (PHP's parse_str / $_POST rules)."""

from __future__ import annotations

import pytest

from raspisms_daemon.api.php import falsy, int_cast, parse_form, values_of


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


@pytest.mark.parametrize(
    ("text", "value"), [("12", 12), ("12abc", 12), (" 7", 7), ("-3", -3), ("abc", 0), ("", 0)]
)
def test_int_cast_is_phps(text: str, value: int) -> None:
    assert int_cast(text) == value


def test_values_of_wraps_a_scalar_and_lists_an_array() -> None:
    assert values_of(None) == [] and values_of("x") == ["x"] and values_of({3: "a", 1: "b"}) == ["a", "b"]
    assert values_of(["j"]) == ["j"]
