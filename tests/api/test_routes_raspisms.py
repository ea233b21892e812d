"""The RaspiSMS routes beyond the request-shape table (test_raspisms_shapes.py): our JSON extension,
templating on and off, links that work as given, dates as RaspiSMS shows them."""

from __future__ import annotations

import aiohttp
import pytest

from raspisms_daemon.store import scheduled as scheduled_store

from .conftest import API_KEY, Api, scheduled_row

ENVELOPE_KEYS = ["error", "message", "response", "next", "prev"]


async def post(api: Api, payload: dict[str, object]) -> tuple[int, dict[str, object], str]:
    return await api.call("POST", "/api/scheduled/", json=payload)


async def test_post_scheduled_json_answers_the_id_and_wakes_the_sender(api: Api) -> None:
    status, body, _ = await post(
        api,
        {
            "text": "Hello {{ contact.name|default('you') }}",
            "numbers": ["+33612345678", {"number": "+33 6 11 11 11 11", "data": {"name": "Ann"}}],
            "at": "2030-01-02 03:04:05",
            "id_phone": 1,
            "flash": True,
            "tag": "t1",
        },
    )
    assert status == 201
    assert body == {"error": 0, "message": None, "response": body["response"], "next": None, "prev": None}
    sid = body["response"]
    assert isinstance(sid, int) and api.daemon.sender_wakes == 1
    row = await scheduled_row(api.daemon.db, sid)
    assert row is not None and row["numbers"] == ["+33612345678", "+33611111111"]
    assert row["at"] == "2030-01-02 03:04:05" and row["id_phone"] == 1 and row["flash"] == 1
    assert row["tag"] == "t1" and row["id_user"] == 1
    rows = await scheduled_store.number_rows(api.daemon.db, [sid])
    assert [(r["data"], r["text"]) for r in rows] == [("[]", "Hello you"), ('{"name": "Ann"}', "Hello Ann")]


@pytest.mark.parametrize(
    ("flash", "stored"),
    [("1", 1), ("true", 1), ("on", 1), ("", 0), ("0", 0), ("false", 0), ("no", 0), ("off", 0)],
)
async def test_flash_false_words_mean_false(api: Api, flash: str, stored: int) -> None:
    status, body, _ = await api.call(
        "POST", "/api/scheduled/", data={"text": "x", "numbers": "+33612345678", "flash": flash}
    )
    assert status == 201
    row = await scheduled_row(api.daemon.db, body["response"])
    assert row is not None and row["flash"] == stored


async def test_without_templating_the_text_is_sent_as_written(api: Api) -> None:
    config = api.daemon.config
    api.daemon.config = config._replace(api=config.api._replace(templating=False))
    status, body, _ = await api.call(
        "POST",
        "/api/scheduled/",
        data=[
            ("text", "Hi {{ contact.name"),
            ("numbers[0][number]", "+33612345678"),
            ("numbers[0][data]", "{}"),
        ],
    )
    assert status == 201
    rows = await scheduled_store.number_rows(api.daemon.db, [body["response"]])
    assert [r["text"] for r in rows] == [None]  # None: the scheduled text as written


async def test_a_number_whose_text_renders_blank_is_kept_as_skipped(api: Api) -> None:
    status, body, _ = await api.call(
        "POST",
        "/api/scheduled/",
        data=[
            ("text", "{% if contact.vip %}VIP offer{% endif %}"),
            ("numbers[0][number]", "+33612345678"),
            ("numbers[0][data]", '{"vip": true}'),
            ("numbers[1][number]", "+33612345679"),
        ],
    )
    assert status == 201
    rows = await scheduled_store.number_rows(api.daemon.db, [body["response"]])
    assert [(r["number"], r["text"], r["skipped"]) for r in rows] == [
        ("+33612345678", "VIP offer", None),
        ("+33612345679", "", "empty text"),
    ]


@pytest.mark.parametrize(
    ("data", "ctype", "status", "fragment"),
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"[1, 2]", "application/json", 400, "must be an object"),
        (b"\xff\xfe", "application/json", 400, "not valid JSON"),
        (b"<xml/>", "application/xml", 415, "unsupported Content-Type"),
    ],
)
async def test_post_scheduled_unreadable_bodies(
    api: Api, data: bytes, ctype: str, status: int, fragment: str
) -> None:
    got, body, text = await api.call("POST", "/api/scheduled/", data=data, headers={"Content-Type": ctype})
    assert got == status and body["error"] == 2 and fragment in body["message"], text


async def test_next_and_prev_links_work_as_given_with_the_key_the_client_used(api: Api) -> None:
    for i in range(27):
        status, _, _ = await post(
            api, {"text": f"m{i}", "numbers": ["+33612345678"], "at": f"2030-01-01 00:00:{i:02d}"}
        )
        assert status == 201
    status, first, _ = await api.call("GET", "/api/list/scheduled/")  # authenticated with the header
    assert status == 200 and list(first) == ENVELOPE_KEYS
    assert [r["text"] for r in first["response"]] == [f"m{i}" for i in range(25)]
    last = first["response"][-1]["id"]
    assert (
        first["prev"] is None
        and first["next"] == f"{api.base}/api/list/scheduled/after/{last}/?api_key={API_KEY}"
    )
    row = first["response"][0]
    assert row["at"] == "2030-01-01 00:00:00" and [n["number"] for n in row["numbers"]] == ["+33612345678"]
    # The link as given, with no header: the key is in it.
    async with api.session.get(first["next"]) as resp:
        second = await resp.json()
    assert resp.status == 200 and [r["text"] for r in second["response"]] == ["m25", "m26"]
    assert second["next"] is None
    async with api.session.get(second["prev"]) as resp:
        back = await resp.json()
    assert [r["text"] for r in back["response"]] == [f"m{i}" for i in range(25)]
    status, empty, _ = await api.call("GET", "/api/list/scheduled/7")
    assert status == 200 and empty["response"] == [] and empty["next"] is None and empty["prev"] is None


async def test_links_keep_the_raspisms_prefix_the_client_used(api: Api) -> None:
    for i in range(25):
        await post(api, {"text": f"m{i}", "numbers": ["+33612345678"], "at": "2030-01-01 00:00:00"})
    status, body, _ = await api.call("GET", "/raspisms/api/list/scheduled/")
    assert status == 200 and body["next"].startswith(f"{api.base}/raspisms/api/list/scheduled/after/")


async def test_list_received_and_sended_show_raspisms_dates(api: Api) -> None:
    async with api.daemon.db.transaction() as conn:  # fixture rows, as the phone supervisor writes them
        await conn.execute(
            "INSERT INTO received (at, text, origin, id_phone) VALUES (?,?,?,?)",
            (1_778_051_289.0, "yo", "+33612345678", 1),
        )
        await conn.execute(
            "INSERT INTO sended (at, text, destination, id_phone, status, state) VALUES (?,?,?,?,?,?)",
            (1_778_051_290.0, "re", "+33612345678", 1, "delivered", "sent"),
        )
    status, body, _ = await api.call("GET", "/api/list/received/")
    assert status == 200
    (row,) = body["response"]
    assert (row["text"], row["origin"], row["id_phone"], row["id_user"], row["at"]) == (
        "yo",
        "+33612345678",
        1,
        1,
        "2026-05-06 07:08:09",
    )
    status, body, _ = await api.call("GET", "/api/list/sended/0/")
    (row,) = body["response"]
    assert (row["status"], row["destination"], row["at"], row["created_at"]) == (
        "delivered",
        "+33612345678",
        "2026-05-06 07:08:10",  # the fixture's clock is UTC
        "2026-05-06 07:08:10",
    )


async def test_list_call_is_ours_and_phone_group_lists_the_config_groups(api: Api) -> None:
    status, body, _ = await api.call("GET", "/api/list/call/")
    assert status == 200 and body["response"] == []
    status, body, _ = await api.call("GET", "/api/list/phone_group/")
    (group,) = body["response"]
    assert (group["id"], group["nb_phone"], [p["id"] for p in group["phones"]]) == (1, 1, [1])


async def test_a_negative_page_is_a_404_json_error(api: Api) -> None:
    status, body, _ = await api.call("GET", "/api/list/sended/-1/")
    assert status == 404 and body["error"] == 2 and "page" in body["message"]


async def test_routes_answer_without_the_trailing_slash(api: Api) -> None:
    status, _, _ = await api.call("POST", "/api/scheduled", json={"text": "x", "numbers": ["+33612345678"]})
    assert status == 201
    status, _, _ = await api.call("GET", "/api/usage")
    assert status == 200


async def test_a_multipart_form_is_read_like_an_urlencoded_one(api: Api) -> None:
    form = aiohttp.FormData()
    form.add_field("text", "Hi {{ contact.n }}")
    form.add_field("numbers[0][number]", "+33612345678")
    form.add_field("numbers[0][data]", '{"n": 1}')
    status, body, _ = await api.call("POST", "/api/scheduled/", data=form)
    assert status == 201
    rows = await scheduled_store.number_rows(api.daemon.db, [body["response"]])
    assert [r["text"] for r in rows] == ["Hi 1"]
