"""Phone numbers as RaspiSMS's API takes them: libphonenumber with no default region (only
international numbers pass), strict per-country validation, E.164 out. Pure: no I/O.

RaspiSMS 3.9.5 ``Tool::parse_phone`` (controllers/internals/Tool.php:29-49) does exactly this with
giggsey/libphonenumber-for-php; here it is the Python port of the same library (``phonenumbers``, in
its ``phonenumberslite`` packaging: the same metadata without the geocoder and carrier data). It is
imported on first use: the daemon that never validates a number never pays for it.
"""

from __future__ import annotations

__all__ = ["parse_phone"]


def parse_phone(number: str) -> str | None:
    """``number`` in E.164 (``+33612345678``) when it is a valid international number, else None.

    ``"+33 6 12 34 56 78"`` → ``"+33612345678"``; ``"0612345678"`` (no country) → None, as RaspiSMS.
    """
    import phonenumbers  # lazily: its metadata costs memory the idle daemon does not need

    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
