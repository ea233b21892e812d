"""PHP's ``trim()`` as RaspiSMS applies it to texts: its default set is " \\t\\n\\r\\0\\x0B" (the PHP
manual, https://www.php.net/manual/en/function.trim.php), no Unicode space."""

from __future__ import annotations

import pytest

from raspisms_daemon.texts import blank, trim


@pytest.mark.parametrize(
    ("text", "trimmed"),
    [
        (" \t\n\r\0\x0bstop\x0b\0\r\n\t ", "stop"),
        ("\xa0stop\xa0", "\xa0stop\xa0"),  # a no-break space is not PHP's to strip
        ("\u3000", "\u3000"),
        ("a b", "a b"),
    ],
)
def test_trim_strips_phps_six_characters_and_nothing_else(text: str, trimmed: str) -> None:
    assert trim(text) == trimmed


@pytest.mark.parametrize(("text", "is_blank"), [("", True), (" \t\n\r\0\x0b", True), ("\xa0", False)])
def test_a_text_is_blank_when_trim_leaves_nothing(text: str, is_blank: bool) -> None:
    assert blank(text) is is_blank
