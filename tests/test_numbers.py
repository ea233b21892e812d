"""Numbers as RaspiSMS's Tool::parse_phone takes them (RaspbianFrance/raspisms@5e2b030:
controllers/internals/Tool.php:29-49): libphonenumber, no default region, E.164 out."""

from __future__ import annotations

import pytest

from raspisms_daemon.numbers import parse_phone


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("+33612345678", "+33612345678"),
        ("+33 6 12 34 56 79", "+33612345679"),
        ("+33 (0)6 12 34 56 78", "+33612345678"),
        ("+1 650 253 0000", "+16502530000"),
        ("+44 7911 123456", "+447911123456"),
        ("0612345678", None),  # national: no default region, as RaspiSMS's API
        ("0033612345678", None),
        (" 33612345678", None),  # a raw "+" in a URL decodes to a space
        ("+3361234567", None),  # one digit short: libphonenumber's per-country rules
        ("+33612345678,+33612345679", None),  # no comma splitting
        ("abc", None),
        ("", None),
    ],
)
def test_only_valid_international_numbers_pass_in_e164(given: str, expected: str | None) -> None:
    assert parse_phone(given) == expected
