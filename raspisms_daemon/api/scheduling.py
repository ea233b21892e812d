"""Reading a request to schedule an SMS the way RaspiSMS 3.9.5 reads it (``Api::post_scheduled``,
controllers/publics/Api.php:382-655): the same fields, the same checks in the same order, the same
error codes and texts. Pure: no I/O; the route stores what this returns.

Then, what RaspiSMS does only when it sends (controllers/internals/Scheduled.php:568-640), done here
once per request so that a bad template is a 400 rather than an SMS that silently never leaves:
duplicate numbers are dropped (the first one stays, with its data), the text is rendered for each
number with its data when templating is on, and a number whose text renders blank is kept as skipped.

Where RaspiSMS would accept a request that sends nothing, this refuses it: a blank text (error 4), a
text that renders blank for every number (error 2). A request holds at most ``MAX_NUMBERS`` numbers
(error 2, counted before any is checked). Everything here is linear in the numbers; the route runs it
in a thread, as checking 10 000 numbers with libphonenumber takes about a second.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from ..dates import parse_date
from ..numbers import parse_phone
from ..store.scheduled import NewNumber
from ..templating import TemplateFailure, render
from ..texts import blank
from .decoding import Malformed, decimal_id, json_value
from .envelope import ApiError, Code, raspisms_error
from .limits import MAX_NUMBERS
from .php import Upload, falsy, values_of

__all__ = [
    "BLANK_TEXT",
    "MAX_TAG",
    "SKIPPED_EMPTY",
    "TEXT_LIMIT",
    "ScheduledRequest",
    "bad_date",
    "check_text",
    "destinations",
    "id_among",
    "read_scheduled",
]

TEXT_LIMIT = 1000  # RaspiSMS's SMS_LENGTH_LIMIT (models/Scheduled.php:16), counted on the template
MAX_TAG = 255  # RaspiSMS's sended.tag column
SKIPPED_EMPTY = "empty text"  # scheduled_number.skipped: the text renders blank for this number
BLANK_TEXT = "text (it is blank: nothing would be sent)"
_FALSE_WORDS = frozenset({"false", "no", "off"})


class ScheduledRequest(NamedTuple):
    text: str
    at: str | None  # "Y-m-d H:i:s" in the daemon's time zone; None: now
    numbers: list[NewNumber]
    id_phone: int | None
    id_phone_group: int | None
    flash: bool
    tag: str | None


def read_scheduled(
    params: dict[str, Any], *, phones: Collection[int], groups: Collection[int], templating: bool
) -> ScheduledRequest:
    """The SMS a ``POST /api/scheduled/`` asks for; raises ApiError (400) as RaspiSMS answers."""
    invalid = Code.INVALID_PARAMETER
    at = params.get("at")
    if falsy(at):
        at = None  # RaspiSMS: now
    text = params.get("text")
    if falsy(text):
        raise raspisms_error(Code.MISSING_PARAMETER, "text")
    if at is not None and not isinstance(at, str):
        raise raspisms_error(invalid, " : at must be a string.")
    if not isinstance(text, str):
        raise raspisms_error(invalid, " : text must be a string.")
    check_text(text)
    if at is not None and not _is_date(at):
        raise bad_date("at")
    if _bool(params.get("mms")):
        # RaspiSMS's answer when MMS are off in the user's settings: GSM modems send none.
        raise raspisms_error(invalid, "mms is set to true, but mms are disabled in settings.")
    csv_rows = _csv_rows(params.get("numbers_csv"))
    items = _number_items(params.get("numbers"))
    given = len(items) + (len(csv_rows) - 1 if csv_rows else 0)  # the CSV's header holds no number
    if given > MAX_NUMBERS:
        raise raspisms_error(
            invalid,
            f"numbers : at most {MAX_NUMBERS} numbers in one request ({given} given); "
            "send them in several requests.",
        )
    numbers = _csv_numbers(csv_rows)
    for raw, data in items:
        number = parse_phone(raw) if isinstance(raw, str) else None
        if number is None:
            continue  # RaspiSMS drops an invalid number silently
        if data is None or not _is_json(data):
            raise raspisms_error(invalid, "number data must be a valid json or leave not set.")
        numbers.append((number, data))
    for key in ("contacts", "groups", "conditional_groups"):
        if not falsy(params.get(key)):
            raise raspisms_error(
                invalid,
                f"{key} : raspisms-daemon has no contacts, groups or conditional groups; send the numbers "
                "instead (numbers[i][number], with numbers[i][data] for the template's contact.*).",
            )
    if not numbers:
        raise raspisms_error(
            Code.MISSING_PARAMETER,
            "You must specify at least one valid number, contact, group or conditional_group.",
        )
    raw_phone, raw_group = params.get("id_phone"), params.get("id_phone_group")
    if not falsy(raw_phone) and not falsy(raw_group):
        raise raspisms_error(
            invalid,
            "id_phone, id_phone_group : "
            "You must specify at most one of id_phone or id_phone_group, not both.",
        )
    id_phone = id_among(raw_phone, phones)
    if id_phone == 0:
        raise raspisms_error(
            invalid, "id_phone : You must specify an id_phone number among thoses of user phones."
        )
    id_group = id_among(raw_group, groups)
    if id_group == 0:
        raise raspisms_error(
            invalid,
            "id_phone_group : You must specify an id_phone_group number among thoses of user phone groups.",
        )
    tag = params.get("tag")
    if tag is not None and (not isinstance(tag, str) or len(tag) > MAX_TAG):
        raise raspisms_error(invalid, f" : tag must be a string of at most {MAX_TAG} characters.")
    return ScheduledRequest(
        text=text,
        at=at,
        numbers=destinations(text, numbers, templating=templating),
        id_phone=id_phone,
        id_phone_group=id_group,
        flash=_bool(params.get("flash")),
        tag=tag,
    )


def destinations(
    text: str, numbers: Sequence[tuple[str, str]], *, templating: bool, status: int = 400
) -> list[NewNumber]:
    """``(E.164 number, JSON data)`` pairs → the rows to store: duplicates dropped (the first stays),
    the text rendered per number, blank texts skipped; a template error, or a text blank for every
    number, is an ApiError. Linear in the numbers."""
    out: list[NewNumber] = []
    seen: set[str] = set()
    for number, data in numbers:
        if number in seen:
            continue
        seen.add(number)
        rendered = text
        if templating:
            try:
                rendered = render(text, json_value(data), {"number": number})
            except (TemplateFailure, Malformed) as exc:
                raise raspisms_error(
                    Code.INVALID_PARAMETER, f"text : template error for {number}: {exc}", status=status
                ) from None
        skipped = SKIPPED_EMPTY if blank(rendered) else None
        out.append(NewNumber(number, data, None if rendered == text else rendered, skipped))
    if out and all(n.skipped for n in out):
        raise raspisms_error(
            Code.INVALID_PARAMETER,
            "text : it renders blank for every number: nothing would be sent.",
            status=status,
        )
    return out


def check_text(text: str, *, status: int = 400) -> None:
    """The checks of a text string that ``POST /api/scheduled/`` and ``GET /api/send-sms/`` share: not
    blank (ours, error 4), at most ``TEXT_LIMIT`` characters (RaspiSMS's, error 2). Each route checks
    first that a text is there, as RaspiSMS does on that route: the two word it differently."""
    if blank(text):
        raise raspisms_error(Code.MISSING_PARAMETER, BLANK_TEXT, status=status)
    if len(text) > TEXT_LIMIT:
        raise raspisms_error(
            Code.INVALID_PARAMETER, f" : text must be less than {TEXT_LIMIT} char.", status=status
        )


def bad_date(key: str, *, status: int = 400) -> ApiError:
    """RaspiSMS's answer to a date it cannot read."""
    return raspisms_error(
        Code.INVALID_PARAMETER, f'{key} must be a date of format "Y-m-d H:i:s".', status=status
    )


def _number_items(value: Any) -> list[tuple[Any, str | None]]:
    """``numbers`` as scalar, ``numbers[]``, ``numbers[i]``, ``numbers[i][number]`` +
    ``numbers[i][data]`` (a JSON string), or a JSON list of strings or ``{number, data}`` objects."""
    out: list[tuple[Any, str | None]] = []
    for item in values_of(value):
        if isinstance(item, dict):
            data = item.get("data", "[]")
            if isinstance(data, dict | list) and not isinstance(value, dict):
                data = json.dumps(data, ensure_ascii=False)  # a JSON body may send the data as an object
            out.append((item.get("number"), data if isinstance(data, str) else None))
        else:
            out.append((item if isinstance(item, str) else None, "[]"))
    return out


def _csv_rows(upload: Any) -> list[tuple[int, list[str]]] | None:
    """``numbers_csv`` (RaspiSMS's ``Scheduled::parse_csv_numbers_file``) as ``(line number, cells)``
    rows, the header line first; None when there is no file."""
    if not isinstance(upload, Upload):
        return None
    import csv  # here: only a CSV upload needs it

    try:
        lines = csv.reader(io.StringIO(upload.content.decode("utf-8-sig")))
        return [(line_nb, line) for line_nb, line in enumerate(lines, start=1) if line]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise raspisms_error(Code.INVALID_PARAMETER, f"csv : {exc}") from None


def _csv_numbers(rows: list[tuple[int, list[str]]] | None) -> list[tuple[str, str]]:
    """The CSV's numbers: after the header, one number per line in the first column, the other columns
    its data (keys without non-word characters, empty values left out). Unlike ``numbers``, an invalid
    number refuses the request."""
    if rows is None:
        return []
    invalid = Code.INVALID_PARAMETER
    out: list[tuple[str, str]] = []
    head = rows[0][1] if rows else []
    for line_nb, line in rows[1:]:
        cells = (line + [""] * len(head))[: len(head)]
        number = parse_phone(cells[0])
        if number is None:
            raise raspisms_error(
                invalid, f"csv : Erreur à la ligne {line_nb} colonne 1, numéro de téléphone invalide."
            )
        pairs = zip(head[1:], cells[1:], strict=True)
        data = {re.sub(r"\W", "", key): value for key, value in pairs if value != ""}
        out.append((number, json.dumps(data, ensure_ascii=False) if data else "[]"))
    if not out:
        raise raspisms_error(invalid, "csv : no valid number in csv file.")
    return out


def _is_json(data: str) -> bool:
    """RaspiSMS's ``null !== json_decode($data)`` (and, as everywhere, no lone surrogate, no deep
    nesting: :func:`.decoding.json_value`)."""
    try:
        return json_value(data) is not None
    except Malformed:
        return False


def _is_date(text: str) -> bool:
    try:
        parse_date(text)
    except ValueError:
        return False
    return True


def _bool(value: Any) -> bool:
    """RaspiSMS casts with PHP's ``(bool)``; here "false", "no" and "off" are false as well."""
    if isinstance(value, str) and value.strip().lower() in _FALSE_WORDS:
        return False
    return not falsy(value)


def id_among(value: Any, known: Collection[int]) -> int | None:
    """None when empty (PHP ``empty()``: any phone); the id when it is one of ``known``; 0 otherwise."""
    if falsy(value):
        return None
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value if value in known else 0
    if isinstance(value, str):
        number = decimal_id(value.strip())  # ASCII digits only: "٣" is not 3 (PHP's (int) says 0)
        return number if number is not None and number in known else 0
    return 0
