"""Hostile and malformed requests against a real API server: each gets a 4xx JSON answer saying what
is wrong (never a 500, never "�" stored, never a misleading 413), and a big one is handled in linear
time without holding the event loop.

The answers that differ from what RaspiSMS 3.9.5 would give are in README.md's "RaspiSMS
compatibility" table (PHP takes undecodable bytes as they are, a blank text is accepted and never sent,
PHP's ``max_input_vars`` drops a form's fields past 1000 without a word)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from raspisms_daemon.api.limits import MAX_FORM_FIELDS, MAX_NUMBERS
from raspisms_daemon.store import scheduled as scheduled_store

from .conftest import Api

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}
NUMBER = "+33612345678"
BIG = "99999999999999999999"  # past 2^63 - 1


def numbers(n: int) -> list[str]:
    return [f"+336{i:08d}" for i in range(n)]


async def scheduled_count(api: Api) -> int:
    row = await api.daemon.db.fetchone("SELECT COUNT(*) FROM scheduled")
    assert row is not None
    return int(row[0])


async def create(api: Api, text: str = "hello") -> int:
    status, body, _ = await api.call("POST", "/api/scheduled/", json={"text": text, "numbers": [NUMBER]})
    assert status == 201
    return int(body["response"])


def multipart(field: str, value: bytes) -> dict[str, Any]:
    """A multipart form with ``numbers`` and a text field ``field`` holding ``value`` as it is."""
    boundary = b"b0undary"
    body = b"".join(
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (boundary, name, data)
        for name, data in ((b"numbers", NUMBER.encode()), (field.encode(), value))
    )
    return {
        "data": body + b"--%s--\r\n" % boundary,
        "headers": {"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"},
    }


# --- undecodable text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/api/scheduled/", {"data": b"text=\xff\xfe&numbers=%2B33612345678", "headers": FORM}, 400),
        ("POST", "/api/scheduled/", {"data": b"text=%FF%FE%80&numbers=%2B33612345678", "headers": FORM}, 400),
        ("POST", "/api/scheduled/", {"data": b"text=caf%E9&numbers=%2B33612345678", "headers": FORM}, 400),
        ("POST", "/api/scheduled/", multipart("text", b"caf\xe9"), 400),
        ("GET", "/api/send-sms/?to=%2B33612345678&text=%FF%FE%80", {}, 400),
    ],
    ids=["raw-bytes", "percent-encoded", "latin-1", "multipart", "query-string"],
)
async def test_bytes_that_are_not_utf8_are_a_400_naming_the_field_and_nothing_is_stored(
    api: Api, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    got, body, text = await api.call(method, path, **kwargs)
    assert got == status, text
    assert body["error"] == 2 and body["message"] == "text: not valid UTF-8 text"
    assert await scheduled_count(api) == 0


async def test_a_form_that_names_its_charset_is_read_in_it(api: Api) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=iso-8859-1"}
    status, body, _ = await api.call(
        "POST", "/api/scheduled/", data=b"text=caf%E9&numbers=%2B33612345678", headers=headers
    )
    assert status == 201
    row = await scheduled_store.get(api.daemon.db, body["response"])
    assert row is not None and row.text == "café"


@pytest.mark.parametrize(
    "payload",
    [
        b'{"text": "\\ud800", "numbers": ["+33612345678"]}',
        b'{"text": "a\\udfffb", "numbers": ["+33612345678"]}',
        b'{"text": "x", "numbers": ["+33612345678"], "\\ud800": 1}',
        b'{"text": "x", "numbers": [{"number": "+33612345678", "data": {"n": "\\ud800"}}]}',
    ],
    ids=["text", "low-surrogate", "key", "data"],
)
async def test_a_lone_surrogate_in_json_is_a_400(api: Api, payload: bytes) -> None:
    status, body, text = await api.call("POST", "/api/scheduled/", data=payload, headers=JSON)
    assert status == 400 and body["error"] == 2, text
    assert "lone surrogate" in body["message"] and "\\ud" in body["message"]
    assert await scheduled_count(api) == 0


async def test_a_lone_surrogate_in_a_numbers_data_string_is_refused_as_invalid_data(api: Api) -> None:
    status, body, _ = await api.call(
        "POST",
        "/api/scheduled/",
        data=[
            ("text", "Hi {{ contact.n }}"),
            ("numbers[0][number]", NUMBER),
            ("numbers[0][data]", '{"n": "\\ud800"}'),
        ],
    )
    assert status == 400
    assert (
        body["message"]
        == "You have specified an invalid parameter : number data must be a valid json or leave not set."
    )


async def test_a_surrogate_pair_is_one_character_and_is_taken(api: Api) -> None:
    status, body, _ = await api.call(
        "POST",
        "/api/scheduled/",
        data=b'{"text": "\\ud83d\\ude00", "numbers": ["+33612345678"]}',
        headers=JSON,
    )
    assert status == 201
    row = await scheduled_store.get(api.daemon.db, body["response"])
    assert row is not None and row.text == "😀"


# --- deep and huge JSON ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b', "numbers": ["+33612345678"]}',
        b'{"text": "x", "numbers": ["+33612345678"], "a": ' + b"[" * 65 + b"]" * 65 + b"}",
    ],
    ids=["100000-deep", "100000-deep-inside", "just-past-the-bound"],
)
async def test_json_nested_too_deep_is_a_400(api: Api, payload: bytes) -> None:
    status, body, text = await api.call("POST", "/api/scheduled/", data=payload, headers=JSON)
    assert status == 400 and body["message"] == "the body is JSON nested more than 64 deep", text


async def test_template_data_nested_within_the_bound_is_taken(api: Api) -> None:
    data: Any = "deep"
    for _ in range(60):
        data = {"d": data}
    status, _, text = await api.call(
        "POST", "/api/scheduled/", json={"text": "hi", "numbers": [{"number": NUMBER, "data": data}]}
    )
    assert status == 201, text


@pytest.mark.parametrize(
    "payload",
    [
        b'{"text": "x", "numbers": ["+33612345678"], "id_phone": 1' + b"0" * 5000 + b"}",
        b'{"text": "x", "numbers": ["+33612345678"], "id_phone": NaN}',
        b'{"text": "x", "numbers": ["+33612345678"], "id_phone": 1e400}',
    ],
    ids=["5000-digits", "NaN", "infinite"],
)
async def test_numbers_json_cannot_hold_are_a_400(api: Api, payload: bytes) -> None:
    status, body, text = await api.call("POST", "/api/scheduled/", data=payload, headers=JSON)
    assert status == 400 and body["message"].startswith("the body is not valid JSON"), text


# --- integers past 64 bits -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        # PHP's (int) saturates at PHP_INT_MAX: RaspiSMS deletes nothing and answers error 32 as here.
        ("DELETE", f"/api/scheduled/{BIG}/", 400, 32),
        ("DELETE", f"/api/scheduled/{'9' * 5000}/", 400, 32),
        ("GET", f"/api/list/sended/{BIG}/", 200, 0),
        ("GET", f"/api/list/scheduled/{'9' * 300}/", 200, 0),
        ("GET", f"/api/list/received/after/{BIG}/", 200, 0),
        ("GET", f"/api/list/scheduled/before/-{BIG}/", 200, 0),
        ("GET", f"/api/invalid_number/{BIG}/?volume=1&percent_failed=1&percent_unknown=1", 200, 0),
        ("GET", f"/api/invalid_number/?volume={BIG}&percent_failed=1&percent_unknown=1", 200, 0),
        ("GET", f"/api/stats/sms-status/?start=2020-01-01&end=2030-01-01&id_phone={BIG}", 404, 2),
        ("GET", f"/api/send-sms/?to=%2B33612345678&text=x&id_phone={BIG}", 404, 8),
        ("GET", f"/api/deliveries/{BIG}/", 404, 512),
        ("GET", f"/api/deliveries/{'1' * 5000}/", 404, 512),
        ("POST", f"/api/deliveries/{BIG}/replay", 404, 512),
        ("GET", f"/api/deliveries/?limit={BIG}", 400, 2),
        ("POST", f"/api/phones/{BIG}/enable", 404, 512),
        ("POST", f"/api/phone/{BIG}/status/", 400, 128),
    ],
)
async def test_integers_past_64_bits_in_ids_and_pages_are_answered_not_500(
    api: Api, method: str, path: str, status: int, error: int
) -> None:
    await create(api)
    got, body, text = await api.call(method, path)
    assert (got, body["error"]) == (status, error), text
    if got == 200 and "invalid_number" not in path:
        assert (body["response"], body["next"], body["prev"]) == ([], None, None)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"text": "x", "numbers": [NUMBER], "id_phone": 2**64}},
        {"data": {"text": "x", "numbers": NUMBER, "id_phone": BIG}},
        {"data": {"text": "x", "numbers": NUMBER, "id_phone_group": "9" * 5000}},
    ],
    ids=["json", "form", "form-group"],
)
async def test_a_phone_id_past_64_bits_is_an_unknown_phone(api: Api, kwargs: dict[str, Any]) -> None:
    status, body, text = await api.call("POST", "/api/scheduled/", **kwargs)
    assert status == 400 and body["error"] == 2 and "among thoses of user phone" in body["message"], text


# --- non-ASCII digits ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/api/deliveries/%D9%A3/", 400, 2),  # ٣, ARABIC-INDIC DIGIT THREE
        ("POST", "/api/deliveries/%D9%A1/replay", 400, 2),
        ("POST", "/api/phones/%D9%A1/enable", 400, 2),
        ("POST", "/api/phones/%EF%BC%91/disable", 400, 2),  # １, FULLWIDTH DIGIT ONE
        ("POST", "/api/phone/%D9%A1/status/", 400, 128),
        ("GET", "/api/send-sms/?to=%2B33612345678&text=x&id_phone=%D9%A1", 404, 8),
    ],
)
async def test_non_ascii_digits_are_no_id(api: Api, method: str, path: str, status: int, error: int) -> None:
    got, body, text = await api.call(method, path)
    assert (got, body["error"]) == (status, error), text
    assert api.daemon.phones[0].state == "connected"  # phone 1 was not touched


async def test_deleting_scheduled_by_a_non_ascii_digit_cancels_nothing(api: Api) -> None:
    ids = [await create(api) for _ in range(3)]
    status, body, _ = await api.call("DELETE", "/api/scheduled/%D9%A3/")  # ٣
    assert (status, body["error"]) == (400, 32)
    for sid in ids:
        row = await scheduled_store.get(api.daemon.db, sid)
        assert row is not None and row.state == "pending"


@pytest.mark.parametrize("field", ["id_phone", "id_phone_group"])
async def test_a_non_ascii_digit_is_no_phone_id_in_a_form(api: Api, field: str) -> None:
    status, body, text = await api.call(
        "POST", "/api/scheduled/", data={"text": "x", "numbers": NUMBER, field: "١"}
    )
    assert status == 400 and body["error"] == 2 and f"{field} : You must specify" in body["message"], text


# --- blank texts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [" ", "   ", " \t\r\n ", "\x0b"])
async def test_a_text_of_only_white_space_is_refused(api: Api, text: str) -> None:
    status, body, _ = await api.call("POST", "/api/scheduled/", data={"text": text, "numbers": NUMBER})
    assert (status, body["error"]) == (400, 4)
    assert body["message"] == "One require parameter is missing : text (it is blank: nothing would be sent)"
    status, body, _ = await api.call("GET", "/api/send-sms/", params={"to": NUMBER, "text": text})
    assert (status, body["error"]) == (404, 4)
    assert await scheduled_count(api) == 0


async def test_a_template_that_renders_blank_for_every_number_is_refused(api: Api) -> None:
    status, body, _ = await api.call(
        "POST", "/api/scheduled/", json={"text": "{{ contact.nothing }}  ", "numbers": numbers(3)}
    )
    assert (status, body["error"]) == (400, 2)
    assert body["message"].endswith("text : it renders blank for every number: nothing would be sent.")
    assert await scheduled_count(api) == 0


# --- big forms and many numbers --------------------------------------------------------------------


async def test_more_than_1000_form_fields_are_taken(api: Api) -> None:
    form = [("text", "hello"), *(("numbers[]", n) for n in numbers(1500))]
    status, body, text = await api.call("POST", "/api/scheduled/", data=form)
    assert status == 201, text
    stored = (await scheduled_store.numbers_of(api.daemon.db, [body["response"]]))[body["response"]]
    assert stored == numbers(1500)


async def test_as_many_numbers_as_the_bound_are_taken_from_a_form(api: Api) -> None:
    form = [("text", "hello"), *(("numbers[]", n) for n in numbers(MAX_NUMBERS))]
    status, body, text = await api.call("POST", "/api/scheduled/", data=form)
    assert status == 201, text
    stored = (await scheduled_store.numbers_of(api.daemon.db, [body["response"]]))[body["response"]]
    assert len(stored) == MAX_NUMBERS == len(set(stored))


@pytest.mark.parametrize("shape", ["json", "form", "csv", "csv-and-numbers"])
async def test_more_numbers_than_the_bound_is_a_400_saying_so(api: Api, shape: str) -> None:
    many = numbers(MAX_NUMBERS + 1)
    kwargs: dict[str, Any]
    if shape == "json":
        kwargs = {"json": {"text": "hello", "numbers": many}}
    elif shape == "form":
        kwargs = {"data": [("text", "hello"), *(("numbers[]", n) for n in many)]}
    else:
        rows = many if shape == "csv" else many[:-1]
        form = aiohttp.FormData()
        form.add_field("text", "hello")
        if shape == "csv-and-numbers":
            form.add_field("numbers", many[-1])
        form.add_field("numbers_csv", "number\n" + "\n".join(rows), filename="n.csv", content_type="text/csv")
        kwargs = {"data": form}
    status, body, text = await api.call("POST", "/api/scheduled/", **kwargs)
    assert (status, body["error"]) == (400, 2), text
    assert body["message"] == (
        f"You have specified an invalid parameter : numbers : at most {MAX_NUMBERS} numbers in one request "
        f"({MAX_NUMBERS + 1} given); send them in several requests."
    )


async def test_a_form_past_the_field_bound_is_a_400_saying_so_not_a_413(api: Api) -> None:
    body_bytes = b"text=x&" + b"&".join(b"f%d=1" % i for i in range(MAX_FORM_FIELDS))
    status, body, text = await api.call("POST", "/api/scheduled/", data=body_bytes, headers=FORM)
    assert (status, body["error"]) == (400, 2), text
    assert body["message"] == f"the form has more than {MAX_FORM_FIELDS} fields"


async def test_healthz_answers_while_a_request_with_the_most_numbers_is_handled(api: Api) -> None:
    """The numbers are checked (libphonenumber) and the template rendered for each away from the event
    loop: a /healthz sent once the big request is on the wire answers before it."""
    payload = json.dumps(
        {
            "text": "Hello {{ contact.name|default('you') }}",
            "numbers": [{"number": n, "data": {"name": f"n{i}"}} for i, n in enumerate(numbers(MAX_NUMBERS))],
        }
    ).encode()
    order: list[str] = []
    big_sent = asyncio.Event()

    async def big() -> None:
        async def body() -> Any:
            yield payload
            big_sent.set()

        status, _, text = await api.call("POST", "/api/scheduled/", data=body(), headers=JSON)
        assert status == 201, text
        order.append("big")

    async def healthz() -> None:
        await big_sent.wait()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            async with asyncio.timeout(10), session.get(api.base + "/healthz") as resp:
                assert resp.status == 200
        order.append("healthz")

    await asyncio.gather(big(), healthz())
    assert order == ["healthz", "big"]
