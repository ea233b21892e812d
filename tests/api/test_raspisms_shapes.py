"""The request shapes RaspiSMS 3.9.5 accepts, each with the answer RaspiSMS gives, against our API.

Every row cites where RaspiSMS decides its answer: ``Api.php`` is
RaspbianFrance/raspisms@5e2b030:controllers/publics/Api.php (tag v3.9.5), other paths are in the same
repository; ``doc:`` rows are the examples of RaspiSMS's API documentation
(RaspbianFrance/raspisms-documentation@fac2cd9:source/_code_examples/api/, shown by
source/developpers/api/overview.rst). ``raspisms`` is RaspiSMS's answer (HTTP status, ``error`` code,
exact ``message``; ``error`` None: RaspiSMS answers an HTML page, not its JSON). Where we answer
otherwise on purpose, ``ours`` says what we answer and ``why``; README.md lists the same differences.

Not applicable here: ``auth-suspended-user`` (Api.php:112-121, 403 error 16): the daemon has one user,
the config's, and it cannot be suspended.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from raspisms_daemon.store import scheduled as scheduled_store

from .conftest import API_KEY, Api

INVALID = "You have specified an invalid parameter : "
MISSING = "One require parameter is missing : "
BAD_KEY = (
    'Invalid API Key. Please provide a valid API key as GET or POST parameter "api_key" '
    'or a HTTP "X-Api-Key".'
)
WRONG_KEY = "ffffffffffffffffffffffffffffffff"
KEY_HEADER = {"X-Api-Key": API_KEY}
NO_CONTACTS = (
    "{key} : raspisms-daemon has no contacts, groups or conditional groups; send the numbers instead "
    "(numbers[i][number], with numbers[i][data] for the template's contact.*)."
)


@dataclass(frozen=True)
class Answer:
    status: int
    error: int | None  # the envelope's error code; None: no JSON envelope
    message: str | None = None  # exact, when given


Check = Callable[[Api, Any, dict[str, Any]], Awaitable[None]]
Seed = Callable[[Api], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Shape:
    id: str
    cite: str
    method: str
    path: str
    raspisms: Answer
    ours: Answer | None = None  # a deliberate difference
    why: str = ""
    query: list[tuple[str, str]] | None = None
    form: list[tuple[str, str]] | None = None
    json: dict[str, Any] | None = None
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # multipart: name → (file name, bytes)
    headers: dict[str, str] = field(default_factory=lambda: dict(KEY_HEADER))
    seed: Seed | None = None  # rows the request needs; returns values for {placeholders} in path
    check: Check | None = None  # what the answer must also hold (stored rows, response shape)


# --- checks ---------------------------------------------------------------------------------------


async def stored(api: Api, sid: int) -> list[tuple[str, str, str | None]]:
    """``(number, data, rendered text)`` of a scheduled SMS, in order."""
    return [
        (r["number"], r["data"], r["text"]) for r in await scheduled_store.number_rows(api.daemon.db, [sid])
    ]


def numbers_are(*expected: str) -> Check:
    async def check(api: Api, body: Any, seeded: dict[str, Any]) -> None:
        assert isinstance(body["response"], int)
        assert [n for n, _, _ in await stored(api, body["response"])] == list(expected)

    return check


def texts_are(*expected: tuple[str, str]) -> Check:
    async def check(api: Api, body: Any, seeded: dict[str, Any]) -> None:
        rows = await stored(api, body["response"])
        assert [(n, t) for n, _, t in rows] == list(expected)

    return check


async def is_scheduled_id(api: Api, body: Any, seeded: dict[str, Any]) -> None:
    sid = body["response"]
    assert isinstance(sid, int) and await scheduled_store.get(api.daemon.db, sid) is not None


async def empty_list(api: Api, body: Any, seeded: dict[str, Any]) -> None:
    assert body["response"] == [] and body["next"] is None and body["prev"] is None


def link(api: Api, path: str) -> str:
    return f"{api.base}{path}?api_key={API_KEY}"


def ids_and_links(expected: range, next_path: str | None, prev_path: str | None) -> Check:
    async def check(api: Api, body: Any, seeded: dict[str, Any]) -> None:
        assert [r["id"] for r in body["response"]] == list(expected)
        assert body["next"] == (None if next_path is None else link(api, next_path))
        assert body["prev"] == (None if prev_path is None else link(api, prev_path))

    return check


# --- seeds ----------------------------------------------------------------------------------------


async def seed_sended(api: Api, n: int = 30, *, tag: str | None = None, at: float = 1_675_300_000.0) -> None:
    async with api.daemon.db.transaction() as conn:
        for i in range(n):
            await conn.execute(
                "INSERT INTO sended (at, text, destination, id_phone, status, state, tag) "
                "VALUES (?,?,?,?,?,?,?)",
                (at + i, f"s{i}", "+33612345678", 1 + i % 2, "failed" if i % 3 else "unknown", "sent", tag),
            )


async def seed_30_sended(api: Api) -> dict[str, Any]:
    await seed_sended(api)
    return {}


async def seed_80_received(api: Api) -> dict[str, Any]:
    async with api.daemon.db.transaction() as conn:
        for i in range(80):
            await conn.execute(
                "INSERT INTO received (at, text, origin, id_phone) VALUES (?,?,?,1)",
                (1e9 + i, f"r{i}", "+33612345678"),
            )
    return {}


async def seed_130_scheduled(api: Api) -> dict[str, Any]:
    for i in range(130):
        await scheduled_store.create(api.daemon.db, text=f"m{i}", numbers=["+33612345678"], now=1e9, at=2e9)
    return {}


async def seed_one_scheduled(api: Api) -> dict[str, Any]:
    sid = await scheduled_store.create(api.daemon.db, text="later", numbers=["+33612345678"], now=1e9, at=2e9)
    return {"sid": sid}


async def seed_tagged(api: Api) -> dict[str, Any]:
    await seed_sended(api, 4, tag="campaign-feb", at=1_675_300_000.0)  # 2023-02-02, in the range
    await seed_sended(api, 2, tag="other", at=1_675_300_000.0)
    await seed_sended(api, 3, tag="campaign-mar", at=1_678_000_000.0)  # 2023-03-05, out of it
    return {}


async def seed_may(api: Api) -> dict[str, Any]:
    await seed_sended(api, 6, at=1_682_935_200.0)  # 2023-05-01 10:00 UTC
    return {}


async def seed_invalid(api: Api) -> dict[str, Any]:
    async with api.daemon.db.transaction() as conn:
        for number, statuses in (("+33600000001", "ffff"), ("+33600000002", "ffdd"), ("+33600000003", "ff")):
            for st in statuses:
                status = {"f": "failed", "d": "delivered"}[st]
                await conn.execute(
                    "INSERT INTO sended (at, text, destination, id_phone, status, state) "
                    "VALUES (1e9, 'x', ?, 1, ?, 'sent')",
                    (number, status),
                )
    return {}


async def phone_2_disabled(api: Api) -> dict[str, Any]:
    await api.daemon.disable_phone(2, "disabled through the API")
    return {}


# --- checks for the other routes ------------------------------------------------------------------


async def usage_all(api: Api, body: Any, seeded: dict[str, Any]) -> None:
    assert body["response"] == {"total": 30, "phones_volumes": {"1": 15, "2": 15}}


async def usage_feb_campaign(api: Api, body: Any, seeded: dict[str, Any]) -> None:
    assert body["response"] == {"total": 4, "phones_volumes": {"1": 2, "2": 2}}


async def stats_may(api: Api, body: Any, seeded: dict[str, Any]) -> None:
    assert body["response"] == [
        # RaspiSMS's order: day, phone, then status in its ENUM's order (unknown, delivered, failed).
        {"at_ymd": "2023-05-01", "id_phone": 1, "status": "unknown", "nb": 1},
        {"at_ymd": "2023-05-01", "id_phone": 1, "status": "failed", "nb": 2},
    ]
    assert list(body["response"][0]) == ["at_ymd", "id_phone", "status", "nb"]


async def invalid_numbers(api: Api, body: Any, seeded: dict[str, Any]) -> None:
    assert body["response"] == [
        {
            "destination": "+33600000001",
            "total_sms_sent": 4,
            "failed_percentage": "1.00",
            "unknown_percentage": "0.00",
        },
        {
            "destination": "+33600000002",
            "total_sms_sent": 4,
            "failed_percentage": "0.50",
            "unknown_percentage": "0.00",
        },
    ]
    assert body["next"] is None and body["prev"] is None


async def phone_rows(api: Api, body: Any, seeded: dict[str, Any]) -> None:
    rows = body["response"]
    assert [r["id"] for r in rows] == [1, 2]
    keys = [
        "id",
        "id_user",
        "adapter",
        "adapter_data",
        "name",
        "priority",
        "created_at",
        "updated_at",
        "status",
    ]
    assert list(rows[0])[: len(keys)] == keys  # RaspiSMS's columns first, in its order
    assert [(r["adapter"], r["status"], r["id_phone_group"]) for r in rows] == [
        ("at", "unavailable", 1),
        ("at", "unavailable", None),
    ]


async def phone_1_disabled(api: Api, body: Any, seeded: dict[str, Any]) -> None:
    await body_is({"response": "disabled"})(api, body, seeded)
    assert next(p for p in api.daemon.phones if p.id == 1).state == "disabled"


async def envelope_is_exactly(api: Api, body: Any, seeded: dict[str, Any]) -> None:
    assert body == {"error": 0, "message": None, "response": [], "next": None, "prev": None}


def body_is(expected: dict[str, Any]) -> Check:
    async def check(api: Api, body: Any, seeded: dict[str, Any]) -> None:
        assert body == expected and list(body) == list(expected)

    return check


async def no_body(api: Api, body: Any, seeded: dict[str, Any]) -> None:
    assert body is None
    assert await scheduled_store.get(api.daemon.db, seeded["sid"]) is not None  # kept, cancelled
    assert (await scheduled_store.get(api.daemon.db, seeded["sid"])).state == "cancelled"  # type: ignore[union-attr]


CSV = (  # RaspbianFrance/raspisms-documentation@fac2cd9:source/_code_examples/sms/sms_csv.csv
    b"0,lastname,firstname,birthdate,gender,vip\n"
    b'"+33612345678",Doe,John,1990-10-22,male,1\n'
    b'"+33612345679",Doe,Jane,1992-08-15,female,0\n'
)

SHAPES: list[Shape] = [
    # --- authentication (Api.php:87-121) ---------------------------------------------------------
    Shape(
        "auth-get-param",
        "Api.php:89-92",
        "GET",
        "/api/list/contact/",
        Answer(200, 0),
        query=[("api_key", API_KEY)],
        headers={},
        check=envelope_is_exactly,
    ),
    Shape(
        "auth-post-field",
        "Api.php:89-92",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        form=[("api_key", API_KEY), ("text", "Hi"), ("numbers", "+33612345678")],
        headers={},
        check=numbers_are("+33612345678"),
    ),
    Shape("auth-header", "Api.php:89-92", "GET", "/api/list/contact/", Answer(200, 0)),
    Shape("auth-missing", "Api.php:89-108", "GET", "/api/list/contact/", Answer(401, 1, BAD_KEY), headers={}),
    Shape(
        "auth-wrong-get",
        "Api.php:89-108",
        "GET",
        "/api/list/contact/",
        Answer(401, 1, BAD_KEY),
        query=[("api_key", WRONG_KEY)],
        headers={},
    ),
    Shape(
        "auth-wrong-get-valid-header",
        "Api.php:89 (the first key present wins)",
        "GET",
        "/api/list/contact/",
        Answer(401, 1, BAD_KEY),
        query=[("api_key", WRONG_KEY)],
    ),
    Shape(
        "auth-empty-get-valid-header",
        "Api.php:89-97 (an empty api_key is present, then falsy)",
        "GET",
        "/api/list/contact/",
        Answer(401, 1, BAD_KEY),
        query=[("api_key", "")],
    ),
    # --- POST /api/scheduled/ (Api.php:382-655) ----------------------------------------------------
    Shape(
        "sched-numbers-scalar",
        "Api.php:391,398,538-563",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        form=[("text", "Mon SMS"), ("numbers", "+33612345678")],
        check=numbers_are("+33612345678"),
    ),
    Shape(
        "sched-numbers-brackets",
        "Api.php:391,538-563",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        form=[("text", "Hi"), ("numbers[]", "+33612345678"), ("numbers[]", "+33612345679")],
        check=numbers_are("+33612345678", "+33612345679"),
    ),
    Shape(
        "sched-numbers-indexed",
        "Api.php:391,538-563 (what http_build_query, Guzzle and axios/qs send)",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        form=[("text", "Hi"), ("numbers[0]", "+33612345678"), ("numbers[1]", "+33612345679")],
        check=numbers_are("+33612345678", "+33612345679"),
    ),
    Shape(
        "sched-numbers-repeated-no-brackets",
        "Api.php:391,398 (PHP keeps the last value of a repeated plain name)",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        form=[("text", "Hi"), ("numbers", "+33612345678"), ("numbers", "+33612345679")],
        check=numbers_are("+33612345679"),
    ),
    Shape(
        "sched-numbers-with-data-templating",
        "Api.php:538-563; controllers/internals/Scheduled.php:571-580,620-634",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        form=[
            ("text", "Hello {{ contact.name }}"),
            ("numbers[0][number]", "+33612345678"),
            ("numbers[0][data]", '{"name":"John"}'),
            ("numbers[1][number]", "+33612345679"),
            ("numbers[1][data]", '{"name":"Jane"}'),
        ],
        check=texts_are(("+33612345678", "Hello John"), ("+33612345679", "Hello Jane")),
    ),
    Shape(
        "sched-json-body",
        "Api.php:384-445 (PHP does not read a JSON body into $_POST)",
        "POST",
        "/api/scheduled/",
        Answer(400, 4, MISSING + "text"),
        ours=Answer(201, 0),
        why="a JSON body is accepted too (an extension the daemon always had), with the same fields",
        json={
            "text": "Hello {{ contact.name }}",
            "numbers": [{"number": "+33612345678", "data": '{"name":"John"}'}],
        },
        check=texts_are(("+33612345678", "Hello John")),
    ),
    Shape(
        "sched-numbers-mixed-invalid",
        "Api.php:538-550; controllers/internals/Tool.php:29-49",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        form=[
            ("text", "Hi"),
            ("numbers[]", "+33612345678"),
            ("numbers[]", "0612345678"),
            ("numbers[]", "abc"),
            ("numbers[]", "+33 6 12 34 56 79"),
        ],
        check=numbers_are("+33612345678", "+33612345679"),
    ),
    Shape(
        "sched-numbers-all-invalid",
        "Api.php:538-573",
        "POST",
        "/api/scheduled/",
        Answer(
            400,
            4,
            MISSING + "You must specify at least one valid number, contact, group or conditional_group.",
        ),
        form=[("text", "Hi"), ("numbers[]", "0612345678"), ("numbers[]", "abc")],
    ),
    Shape(
        "sched-numbers-comma-string",
        "Api.php:398,543 (no comma splitting)",
        "POST",
        "/api/scheduled/",
        Answer(
            400,
            4,
            MISSING + "You must specify at least one valid number, contact, group or conditional_group.",
        ),
        form=[("text", "Hi"), ("numbers", "+33612345678,+33612345679")],
    ),
    Shape(
        "sched-text-1001",
        "Api.php:467-475; models/Scheduled.php:16",
        "POST",
        "/api/scheduled/",
        Answer(400, 2, INVALID + " : text must be less than 1000 char."),
        form=[("text", "é" * 1001), ("numbers", "+33612345678")],
    ),
    Shape(
        "sched-text-1000",
        "Api.php:467 (mb_strlen > 1000: 1000 characters pass)",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        form=[("text", "é" * 1000), ("numbers", "+33612345678")],
        check=is_scheduled_id,
    ),
    Shape(
        "sched-text-array",
        "Api.php:457-465",
        "POST",
        "/api/scheduled/",
        Answer(400, 2, INVALID + " : text must be a string."),
        form=[("text[]", "x"), ("numbers", "+33612345678")],
    ),
    Shape(
        "sched-text-empty",
        "Api.php:385,432-445",
        "POST",
        "/api/scheduled/",
        Answer(400, 4, MISSING + "text"),
        form=[("text", ""), ("numbers", "+33612345678")],
    ),
    Shape(
        "sched-text-zero",
        "Api.php:437 (PHP truthiness)",
        "POST",
        "/api/scheduled/",
        Answer(400, 4, MISSING + "text"),
        form=[("text", "0"), ("numbers", "+33612345678")],
    ),
    Shape(
        "sched-at-bad-format",
        "Api.php:477-485; controllers/internals/Tool.php:199-204",
        "POST",
        "/api/scheduled/",
        Answer(400, 2, INVALID + 'at must be a date of format "Y-m-d H:i:s".'),
        form=[("text", "Hi"), ("numbers", "+33612345678"), ("at", "2024-01-01 10:00")],
    ),
    Shape(
        "sched-params-in-query-string",
        "Api.php:384-445 (post_scheduled reads $_POST only)",
        "POST",
        "/api/scheduled/",
        Answer(400, 4, MISSING + "text"),
        query=[("text", "Hi"), ("numbers", "+33612345678")],
    ),
    Shape(
        "sched-contacts",
        "Api.php:392,399,565; controllers/internals/Scheduled.php:108-118",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        ours=Answer(400, 2, INVALID + NO_CONTACTS.format(key="contacts")),
        why="the daemon has no address book: sending to contacts would send nothing",
        form=[
            ("text", "Hi {{ contact.firstname }}"),
            ("contacts[]", "11"),
            ("contacts[]", "12"),
            ("id_phone", "1"),
            ("at", "2030-06-17 17:30:25"),
        ],
    ),
    Shape(
        "sched-groups-and-conditional-groups",
        "Api.php:393-394,400-401; controllers/internals/Scheduled.php:120-142,553-565",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        ours=Answer(400, 2, INVALID + NO_CONTACTS.format(key="groups")),
        why="the daemon has no address book: sending to groups would send nothing",
        form=[("text", "Hi"), ("groups", "5"), ("conditional_groups[]", "7")],
    ),
    Shape(
        "sched-unknown-contact-only",
        "Api.php:565; controllers/internals/Scheduled.php:109-116",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        ours=Answer(400, 2, INVALID + NO_CONTACTS.format(key="contacts")),
        why="RaspiSMS answers an id for an SMS that will never be sent; we say why instead",
        form=[("text", "Hi"), ("contacts[]", "999")],
    ),
    Shape(
        "sched-id-phone-unknown",
        "Api.php:585-599",
        "POST",
        "/api/scheduled/",
        Answer(
            400, 2, INVALID + "id_phone : You must specify an id_phone number among thoses of user phones."
        ),
        form=[("text", "Hi"), ("numbers", "+33612345678"), ("id_phone", "999")],
    ),
    Shape(
        "sched-id-phone-not-numeric",
        "Api.php:585-599 (an int-typed get_for_user: RaspiSMS's TypeError is an HTML 500)",
        "POST",
        "/api/scheduled/",
        Answer(500, None),
        ours=Answer(
            400, 2, INVALID + "id_phone : You must specify an id_phone number among thoses of user phones."
        ),
        why="a JSON error rather than a crash page",
        form=[("text", "Hi"), ("numbers", "+33612345678"), ("id_phone", "abc")],
    ),
    Shape(
        "sched-id-phone-group",
        "Api.php:601-615; controllers/internals/Scheduled.php:689-694",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        form=[("text", "Hi"), ("numbers", "+33612345678"), ("id_phone_group", "1")],
        check=is_scheduled_id,
    ),
    Shape(
        "sched-id-phone-group-unknown",
        "Api.php:601-615",
        "POST",
        "/api/scheduled/",
        Answer(
            400,
            2,
            INVALID
            + "id_phone_group : You must specify an id_phone_group number among thoses of user phone groups.",
        ),
        form=[("text", "Hi"), ("numbers", "+33612345678"), ("id_phone_group", "999")],
    ),
    Shape(
        "sched-id-phone-and-group",
        "Api.php:575-583",
        "POST",
        "/api/scheduled/",
        Answer(
            400,
            2,
            INVALID
            + "id_phone, id_phone_group : "
            + "You must specify at most one of id_phone or id_phone_group, not both.",
        ),
        form=[("text", "Hi"), ("numbers", "+33612345678"), ("id_phone", "1"), ("id_phone_group", "1")],
    ),
    Shape(
        "sched-number-data-invalid-json",
        "Api.php:552-560",
        "POST",
        "/api/scheduled/",
        Answer(400, 2, INVALID + "number data must be a valid json or leave not set."),
        form=[("text", "Hi"), ("numbers[0][number]", "+33612345678"), ("numbers[0][data]", "{not json")],
    ),
    Shape(
        "sched-duplicates",
        "controllers/internals/Scheduled.php:103-106,596-613 (sent once, the first occurrence wins)",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        form=[
            ("text", "Hi {{ contact.n }}"),
            ("numbers[0][number]", "+33612345678"),
            ("numbers[0][data]", '{"n":"first"}'),
            ("numbers[1][number]", "+33 6 12 34 56 78"),
            ("numbers[1][data]", '{"n":"second"}'),
        ],
        check=texts_are(("+33612345678", "Hi first")),
    ),
    Shape(
        "sched-tag-sms-stop",
        "controllers/internals/Scheduled.php:606; models/SmsStop.php:16",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        form=[("text", "Hi"), ("numbers", "+33612345678"), ("tag", "SMS_STOP")],
        check=is_scheduled_id,
    ),
    Shape(
        "sched-template-error",
        "controllers/internals/Scheduled.php:628-631 (a Twig error drops the SMS silently)",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        ours=Answer(
            400,
            2,
            INVALID + "text : template error for +33612345678: TemplateSyntaxError (line 1): "
            "unexpected end of template, expected 'end of print statement'.",
        ),
        why="an SMS that silently never leaves is worse than a 400 saying why",
        form=[("text", "Hi {{ contact.name"), ("numbers", "+33612345678")],
    ),
    Shape(
        "doc-post-scheduled1",
        "doc: post_scheduled1.curl",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        form=[("text", "Mon SMS d'exemple"), ("numbers", "+33612345678")],
        check=numbers_are("+33612345678"),
    ),
    Shape(
        "doc-post-scheduled3-mms",
        "doc: post_scheduled3.curl; Api.php:490-498",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        ours=Answer(400, 2, INVALID + "mms is set to true, but mms are disabled in settings."),
        why="GSM modems send no MMS: RaspiSMS's own answer when MMS are off in the user's settings",
        form=[("text", "Mon SMS d'exemple"), ("numbers", "+33612345678"), ("mms", "1")],
        files={"medias[]": ("example1.png", b"\x89PNG\r\n")},
    ),
    Shape(
        "doc-post-scheduled4-csv",
        "doc: post_scheduled4.curl + sms_csv.csv; Api.php:500-536; "
        "controllers/internals/Scheduled.php:316-371",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        form=[("text", "Bonjour {{contact.firstname}}")],
        files={"numbers_csv": ("sms_csv.csv", CSV)},
        check=texts_are(("+33612345678", "Bonjour John"), ("+33612345679", "Bonjour Jane")),
    ),
    Shape(
        "doc-post-scheduled4-csv-bad-number",
        "Api.php:500-536; controllers/internals/Scheduled.php:346-349",
        "POST",
        "/api/scheduled/",
        Answer(400, 2, INVALID + "csv : Erreur à la ligne 2 colonne 1, numéro de téléphone invalide."),
        form=[("text", "Hi"), ("numbers", "+33612345678")],
        files={"numbers_csv": ("sms_csv.csv", b"number,name\n0612345678,Jo\n")},
    ),
    Shape(
        "doc-post-scheduled5",
        "doc: post_scheduled5.curl",
        "POST",
        "/api/scheduled/",
        Answer(201, 0),
        form=[
            ("text", "Bonjour {{contact.firstname}}"),
            ("numbers[0][number]", "+33612345678"),
            ("numbers[0][data]", '{"firstname":"John", "lastname":"Doe"}'),
            ("numbers[1][number]", "+33612345679"),
            ("numbers[1][data]", '{"firstname":"Jane", "lastname":"Doe"}'),
        ],
        check=texts_are(("+33612345678", "Bonjour John"), ("+33612345679", "Bonjour Jane")),
    ),
    Shape(
        "doc-raspisms-prefix",
        "doc: post_phone2.curl (http://127.0.0.1/raspisms/api/…); env.php.dist:5,10",
        "POST",
        "/raspisms/api/scheduled/",
        Answer(201, 0),
        form=[("text", "Hi"), ("numbers", "+33612345678")],
        check=is_scheduled_id,
    ),
    # --- GET /api/send-sms/ (Api.php:318-362) ------------------------------------------------------
    Shape(
        "sendsms-ok",
        "Api.php:318-362; doc: get_send-sms.curl",
        "GET",
        "/api/send-sms/",
        Answer(200, 0),
        query=[("api_key", API_KEY), ("text", "Mon SMS d'exemple"), ("to", "+33612345678")],
        headers={},
        check=numbers_are("+33612345678"),
    ),
    Shape(
        "sendsms-plus-not-encoded",
        "Api.php:320-332",
        "GET",
        "/api/send-sms/",
        Answer(404, 4, MISSING + "to "),
        query=[("to", " 33612345678"), ("text", "Hi")],
    ),
    Shape(
        "sendsms-missing-both",
        "Api.php:324-332",
        "GET",
        "/api/send-sms/",
        Answer(404, 4, MISSING + "to text"),
    ),
    Shape(
        "sendsms-unknown-phone",
        "Api.php:336-355; controllers/internals/Scheduled.php:58-67",
        "GET",
        "/api/send-sms/",
        Answer(404, 8, "Cannot create a new entry."),
        query=[("to", "+33612345678"), ("text", "Hi"), ("id_phone", "999")],
    ),
    # --- GET /api/list/… (Api.php:135-242) ---------------------------------------------------------
    Shape(
        "list-sended-first-page",
        "Api.php:135-242; models/StandardModel.php:78-89",
        "GET",
        "/api/list/sended/",
        Answer(200, 0),
        seed=seed_30_sended,
        check=ids_and_links(range(1, 26), "/api/list/sended/after/25/", None),
    ),
    Shape(
        "list-received-page-2",
        "Api.php:152-154,227-237; controllers/internals/StandardController.php:85-88",
        "GET",
        "/api/list/received/2/",
        Answer(200, 0),
        seed=seed_80_received,
        check=ids_and_links(range(51, 76), "/api/list/received/after/75/", "/api/list/received/before/51/"),
    ),
    Shape(
        "list-scheduled-after",
        "Api.php:135,157-167,227-237; models/StandardModel.php:80-82",
        "GET",
        "/api/list/scheduled/after/100/",
        Answer(200, 0),
        seed=seed_130_scheduled,
        check=ids_and_links(
            range(101, 126), "/api/list/scheduled/after/125/", "/api/list/scheduled/before/101/"
        ),
    ),
    Shape(
        "list-sended-before",
        "models/StandardModel.php:84-86; Api.php:227-237",
        "GET",
        "/api/list/sended/before/20/",
        Answer(200, 0),
        seed=seed_30_sended,
        check=ids_and_links(range(1, 20), "/api/list/sended/after/19/", "/api/list/sended/before/1/"),
    ),
    Shape(
        "list-contact-before",
        "models/StandardModel.php:84-86; Api.php:227-237",
        "GET",
        "/api/list/contact/before/50/",
        Answer(200, 0),
        check=empty_list,  # no address book: always empty
    ),
    Shape(
        "list-invalid-type",
        "Api.php:137-147",
        "GET",
        "/api/list/foo/",
        Answer(
            404,
            2,
            INVALID
            + "entry_type must be one of : sended, received, scheduled, contact, group, conditional_group, "
            "phone, phone_group, media.",
        ),
        ours=Answer(
            404,
            2,
            INVALID
            + "entry_type must be one of : sended, received, scheduled, contact, group, conditional_group, "
            "phone, phone_group, media, call.",
        ),
        why="the message also names the daemon's own list type, call",
    ),
    Shape(
        "list-group",
        "models/Group.php:28-91; Api.php:183-189",
        "GET",
        "/api/list/group/",
        Answer(200, 0),
        check=empty_list,
    ),
    Shape("list-phone", "Api.php:191-202", "GET", "/api/list/phone/", Answer(200, 0), check=phone_rows),
    Shape(
        "list-phone-group-after-bug",
        "models/PhoneGroup.php:47-63 (SQL error: an HTML 500)",
        "GET",
        "/api/list/phone_group/after/0/",
        Answer(500, None),
        ours=Answer(200, 0),
        why="the cursor routes work for phone groups too",
        check=ids_and_links(range(1, 2), None, None),  # after 0: no prev, as RaspiSMS's truthiness has it
    ),
    # --- DELETE ------------------------------------------------------------------------------------
    Shape(
        "delete-scheduled-ok",
        "Api.php:664-682; descartes/ApiController.php:69-72 (Apache drops a 204's body)",
        "DELETE",
        "/api/scheduled/{sid}/",
        Answer(204, None),
        seed=seed_one_scheduled,
        check=no_body,
    ),
    Shape(
        "delete-scheduled-missing",
        "Api.php:667-676",
        "DELETE",
        "/api/scheduled/999/",
        Answer(400, 32, "Cannot delete this entry."),
    ),
    Shape(
        "delete-scheduled-not-numeric",
        "Api.php:664 ((int) 'abc' = 0); descartes/Router.php:252-282",
        "DELETE",
        "/api/scheduled/abc/",
        Answer(400, 32, "Cannot delete this entry."),
    ),
    Shape(
        "doc-delete-scheduled-no-slash",
        "doc: delete_scheduled.curl; descartes/Router.php:101-104 (the last / is optional)",
        "DELETE",
        "/api/scheduled/{sid}",
        Answer(204, None),
        seed=seed_one_scheduled,
        check=no_body,
    ),
    Shape(
        "delete-phone-route-shadowed",
        "routes.php:238-249; descartes/Router.php:88-121,201-205 (an HTML 500)",
        "DELETE",
        "/api/phone/1/",
        Answer(500, None),
        ours=Answer(405, 2),
        why="a JSON error; phones come from the config, so the API deletes none",
    ),
    # --- usage and statistics ----------------------------------------------------------------------
    Shape(
        "usage-all",
        "Api.php:253-310",
        "GET",
        "/api/usage/",
        Answer(200, 0),
        seed=seed_30_sended,
        check=usage_all,
    ),
    Shape(
        "usage-dates-tag",
        "Api.php:255-300; models/Sended.php:192-215; doc: usage.curl",
        "GET",
        "/api/usage/",
        Answer(200, 0),
        query=[("start", "2023-02-01 00:00:00"), ("end", "2023-02-28 00:00:00"), ("tag", "campaign%")],
        seed=seed_tagged,
        check=usage_feb_campaign,
    ),
    Shape(
        "usage-bad-start",
        "Api.php:261-271",
        "GET",
        "/api/usage/",
        Answer(404, 2, INVALID + 'start must be a date of format "Y-m-d H:i:s".'),
        query=[("start", "2023-02-01")],
    ),
    Shape(
        "stats-ok",
        "Api.php:1188-1248; models/Sended.php:307-339; doc: sms_status.curl",
        "GET",
        "/api/stats/sms-status/",
        Answer(200, 0),
        query=[("start", "2023-05-01"), ("end", "2023-05-02"), ("id_phone", "1")],
        seed=seed_may,
        check=stats_may,
    ),
    Shape(
        "stats-missing-end",
        "Api.php:1194-1202",
        "GET",
        "/api/stats/sms-status/",
        Answer(404, 4, MISSING + "start and end date are required."),
        query=[("start", "2023-05-01")],
    ),
    Shape(
        "stats-unknown-phone",
        "Api.php:1214-1224",
        "GET",
        "/api/stats/sms-status/",
        Answer(404, 2, INVALID + "phone with id 9 does not exists."),
        query=[("start", "2023-05-01"), ("end", "2023-05-02"), ("id_phone", "9")],
    ),
    Shape(
        "invalid-numbers-ok",
        "Api.php:1260-1312; models/Sended.php:352-378",
        "GET",
        "/api/invalid_number/",
        Answer(200, 0),
        query=[("volume", "4"), ("percent_failed", "50"), ("percent_unknown", "0")],
        seed=seed_invalid,
        check=invalid_numbers,
    ),
    Shape(
        # PHP's (float) reads no "nan": 0 %, so every number over the volume is listed (never a 500)
        "invalid-numbers-nan-is-zero",
        "Api.php:1260-1312",
        "GET",
        "/api/invalid_number/",
        Answer(200, 0),
        query=[("volume", "4"), ("percent_failed", "nan"), ("percent_unknown", "nan")],
        seed=seed_invalid,
        check=invalid_numbers,
    ),
    Shape(
        "invalid-numbers-missing",
        "Api.php:1264-1276",
        "GET",
        "/api/invalid_number/",
        Answer(404, 4, MISSING + "volume, percent_failed and percent_unknown are required."),
        query=[("volume", "5")],
    ),
    # --- phones ------------------------------------------------------------------------------------
    Shape(
        "phone-status-recheck",
        "Api.php:1080-1140; doc: update_phone_status.curl",
        "POST",
        "/api/phone/1/status",
        Answer(201, 0),
        check=body_is({"error": 0, "message": None, "response": "available", "next": None, "prev": None}),
    ),
    Shape(
        "phone-status-recheck-unknown",
        "Api.php:1084-1092",
        "POST",
        "/api/phone/999/status/",
        Answer(400, 128, "Cannot update this entry : "),
    ),
    Shape(
        "phone-status-recheck-disabled",
        "Api.php:1094-1101",
        "POST",
        "/api/phone/2/status/",
        Answer(
            400,
            128,
            "Cannot update this entry : "
            "Phone have been manually disabled, you need to re-enable it manually.",
        ),
        seed=phone_2_disabled,
    ),
    Shape(
        "phone-status-force-ok",
        "Api.php:1148-1176 (a partial envelope)",
        "POST",
        "/api/phone/1/status/force/",
        Answer(201, None),
        form=[("status", "disabled")],
        check=phone_1_disabled,
    ),
    Shape(
        "phone-status-force-bad-value",
        "Api.php:1152-1159",
        "POST",
        "/api/phone/1/status/force/",
        Answer(400, 2, INVALID + ' "status" must be "disabled" or "available".'),
        form=[("status", "foo")],
        check=body_is({"error": 2, "message": INVALID + ' "status" must be "disabled" or "available".'}),
    ),
    Shape(
        "phone-status-force-unknown-phone",
        "Api.php:1161-1169",
        "POST",
        "/api/phone/999/status/force/",
        Answer(400, 128, "Cannot update this entry : "),
        form=[("status", "available")],
        check=body_is({"error": 128, "message": "Cannot update this entry : "}),
    ),
]


async def _request(api: Api, shape: Shape, path: str) -> tuple[int, Any, str]:
    kwargs: dict[str, Any] = {"headers": shape.headers, "auth": False}
    if shape.query is not None:
        kwargs["params"] = shape.query
    if shape.json is not None:
        kwargs["json"] = shape.json
    elif shape.files:
        form = aiohttp.FormData()
        for name, value in shape.form or []:
            form.add_field(name, value)
        for name, (filename, content) in shape.files.items():
            form.add_field(name, content, filename=filename)
        kwargs["data"] = form
    elif shape.form is not None:
        kwargs["data"] = shape.form
    return await api.call(shape.method, path, **kwargs)


@pytest.mark.parametrize("shape", SHAPES, ids=[s.id for s in SHAPES])
async def test_a_raspisms_request_shape_gets_raspismss_answer(api: Api, shape: Shape) -> None:
    seeded = await shape.seed(api) if shape.seed is not None else {}
    status, body, text = await _request(api, shape, shape.path.format(**seeded))
    expected = shape.ours or shape.raspisms
    assert status == expected.status, text
    if expected.error is not None:
        assert isinstance(body, dict) and body.get("error") == expected.error, text
        if not shape.path.endswith("/status/force/"):  # RaspiSMS answers that route with a partial envelope
            assert list(body) == ["error", "message", "response", "next", "prev"], text
    if expected.message is not None:
        assert body["message"] == expected.message
    if shape.check is not None:
        await shape.check(api, body, seeded)


def test_every_difference_says_why_and_differs() -> None:
    for shape in SHAPES:
        if shape.ours is not None:
            assert shape.why and shape.ours != shape.raspisms, shape.id
        else:
            assert not shape.why, shape.id
    assert len({s.id for s in SHAPES}) == len(SHAPES)
