"""The RaspiSMS-compatible routes: POST/DELETE /api/scheduled/, GET /api/list/{type}/[{page}/]."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from .conftest import Api, scheduled_row

ENVELOPE_KEYS = {"error", "message", "response", "next", "prev"}


async def post(
    api: Api, payload: dict[str, object], *, form: bool = False
) -> tuple[int, dict[str, object], str]:
    if form:
        return await api.call("POST", "/api/scheduled/", data=payload)
    return await api.call("POST", "/api/scheduled/", json=payload)


async def test_post_scheduled_json_answers_the_id_and_wakes_the_sender(api: Api) -> None:
    status, body, _ = await post(
        api,
        {
            "text": "Hello",
            "numbers": ["+33612345678", "0033 6 11 11 11 11"],
            "at": "2030-01-02 03:04:05",
            "id_phone": 1,
            "flash": True,
            "tag": "t1",
        },
    )
    assert status == 201
    assert body == {"error": 0, "message": None, "response": body["response"], "next": None, "prev": None}
    sid = body["response"]
    assert isinstance(sid, int)
    assert api.daemon.sender_wakes == 1
    row = await scheduled_row(api.daemon.db, sid)
    assert row is not None
    assert row["text"] == "Hello" and row["numbers"] == ["+33612345678", "+33611111111"]
    assert row["at"] == "2030-01-02 03:04:05" and row["id_phone"] == 1 and row["flash"] == 1
    assert row["tag"] == "t1" and row["id_user"] == 1


async def test_post_scheduled_form_like_raspisms_clients(api: Api) -> None:
    # RaspiSMS clients post numbers[] repeated, or one comma list; at omitted means now.
    before = time.time()
    status, body, _ = await api.call(
        "POST",
        "/api/scheduled/",
        data=[("text", "Hi"), ("numbers[]", "+33600000001"), ("numbers[]", "+33600000002"), ("id_phone", "")],
    )
    assert status == 201
    row = await scheduled_row(api.daemon.db, body["response"])
    assert row is not None and row["numbers"] == ["+33600000001", "+33600000002"] and row["id_phone"] is None
    at = datetime.strptime(row["at"], "%Y-%m-%d %H:%M:%S").timestamp()
    assert before - 1 <= at <= time.time() + 1
    status, body, _ = await post(api, {"text": "Hi", "numbers": "+33600000001,+33600000003"}, form=True)
    assert status == 201 and isinstance(body["response"], int)
    row = await scheduled_row(api.daemon.db, body["response"])
    assert row is not None and row["numbers"] == ["+33600000001", "+33600000003"]


async def test_post_scheduled_without_trailing_slash(api: Api) -> None:
    status, _, _ = await api.call("POST", "/api/scheduled", json={"text": "x", "numbers": ["+33600000001"]})
    assert status == 201


@pytest.mark.parametrize(
    ("payload", "code", "fragment"),
    [
        ({"numbers": ["+33600000001"]}, 4, "text"),
        ({"text": "", "numbers": ["+33600000001"]}, 4, "text"),
        ({"text": "x"}, 4, "at least one valid number"),
        ({"text": "x", "numbers": []}, 4, "at least one valid number"),
        ({"text": "x", "numbers": ["+33600000001", "call me"]}, 2, "invalid phone number 'call me'"),
        ({"text": "x", "numbers": [{"n": 1}]}, 2, "list of strings"),
        ({"text": "x", "numbers": ["+33600000001"], "at": "tomorrow"}, 2, 'format "Y-m-d H:i:s"'),
        ({"text": "x", "numbers": ["+33600000001"], "at": "2030-02-30 10:00:00"}, 2, 'format "Y-m-d H:i:s"'),
        ({"text": "x", "numbers": ["+33600000001"], "at": 12345}, 2, 'format "Y-m-d H:i:s"'),
        ({"text": "x", "numbers": ["+33600000001"], "id_phone": 99}, 2, "unknown phone id 99"),
        ({"text": "x", "numbers": ["+33600000001"], "id_phone": "abc"}, 2, "id_phone must be an integer"),
        ({"text": "x", "numbers": ["+33600000001"], "flash": "maybe"}, 2, "flash must be a boolean"),
        ({"text": "x", "numbers": ["+33600000001"], "mms": True}, 2, "mms is not supported"),
        ({"text": "x", "numbers": ["+33600000001"], "contacts": [1]}, 2, "contacts are not supported"),
        ({"text": 5, "numbers": ["+33600000001"]}, 2, "text must be a string"),
        ({"text": "x", "numbers": ["+33600000001"], "tag": "t" * 300}, 2, "tag is too long"),
        ({"text": "x" * 10_001, "numbers": ["+33600000001"]}, 2, "too long"),
    ],
)
async def test_post_scheduled_bad_requests(
    api: Api, payload: dict[str, object], code: int, fragment: str
) -> None:
    status, body, text = await post(api, payload)
    assert status == 400, text
    assert set(body) == ENVELOPE_KEYS and body["error"] == code and body["response"] is None
    assert isinstance(body["message"], str) and fragment in body["message"]
    assert "Traceback" not in text
    assert api.daemon.sender_wakes == 0


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


async def test_delete_scheduled(api: Api) -> None:
    _, body, _ = await post(api, {"text": "bye", "numbers": ["+33600000001"], "at": "2030-01-01 00:00:00"})
    sid = body["response"]
    status, _, text = await api.call("DELETE", f"/api/scheduled/{sid}/")
    assert status == 204 and text == ""  # RaspiSMS: DELETE success is 204
    assert api.daemon.sender_wakes == 2
    status, page, _ = await api.call("GET", "/api/list/scheduled/")
    assert sid not in [r["id"] for r in page["response"]]
    # Already cancelled, unknown and malformed ids: RaspiSMS's CANNOT_DELETE (32) / INVALID_PARAMETER.
    for target, code in [(sid, 32), (424242, 32)]:
        status, body, _ = await api.call("DELETE", f"/api/scheduled/{target}/")
        assert status == 400 and body["error"] == code and "Cannot delete" in body["message"]
    status, body, _ = await api.call("DELETE", "/api/scheduled/abc/")
    assert status == 400 and body["error"] == 2 and "id must be an integer" in body["message"]


async def test_list_scheduled_paging_25_per_page_with_next_and_prev(api: Api) -> None:
    for i in range(27):
        status, _, _ = await post(
            api, {"text": f"m{i}", "numbers": ["+33600000001"], "at": f"2030-01-01 00:00:{i:02d}"}
        )
        assert status == 201
    status, first, _ = await api.call("GET", "/api/list/scheduled/")
    assert status == 200 and set(first) == ENVELOPE_KEYS and first["error"] == 0
    assert [r["text"] for r in first["response"]] == [f"m{i}" for i in range(25)]
    assert first["prev"] is None and first["next"] == f"{api.base}/api/list/scheduled/1/"
    row = first["response"][0]
    assert row["numbers"] == ["+33600000001"] and row["at"] == "2030-01-01 00:00:00"
    status, second, _ = await api.call("GET", first["next"].removeprefix(api.base))
    assert status == 200 and [r["text"] for r in second["response"]] == ["m25", "m26"]
    assert second["next"] is None and second["prev"] == f"{api.base}/api/list/scheduled/0/"
    status, empty, _ = await api.call("GET", "/api/list/scheduled/7")
    assert status == 200 and empty["response"] == [] and empty["next"] is None


async def test_list_received_and_sended_with_raspisms_fields(api: Api) -> None:
    async with api.daemon.db.transaction() as conn:  # fixture rows, as the phone supervisor writes them
        await conn.execute(
            "INSERT INTO received (at, text, origin, id_phone) VALUES (?,?,?,?)",
            (datetime(2026, 5, 6, 7, 8, 9).timestamp(), "yo", "+33612345678", 1),
        )
        await conn.execute(
            "INSERT INTO sended (at, text, destination, id_phone, status, state) VALUES (?,?,?,?,?,?)",
            (datetime(2026, 5, 6, 7, 8, 10).timestamp(), "re", "+33612345678", 1, "delivered", "sent"),
        )
    status, body, _ = await api.call("GET", "/api/list/received/")
    assert status == 200
    (row,) = body["response"]
    assert {k: row[k] for k in ("at", "text", "origin", "id_phone")} == {
        "at": "2026-05-06 07:08:09",
        "text": "yo",
        "origin": "+33612345678",
        "id_phone": 1,
    }
    status, body, _ = await api.call("GET", "/api/list/sended/0/")
    (row,) = body["response"]
    assert (
        row["status"] == "delivered"
        and row["destination"] == "+33612345678"
        and row["at"] == "2026-05-06 07:08:10"
    )


async def test_list_phone_and_call(api: Api) -> None:
    status, body, _ = await api.call("GET", "/api/list/phone/")
    assert status == 200 and [p["id"] for p in body["response"]] == [1, 2]
    assert body["response"][0]["device"] == "/dev/ttyUSB0"
    status, body, _ = await api.call("GET", "/api/list/call/")
    assert status == 200 and body["response"] == []


async def test_list_unknown_type_and_bad_page(api: Api) -> None:
    status, body, _ = await api.call("GET", "/api/list/contact/")
    assert status == 404 and body["error"] == 2
    assert "entry_type must be one of : sended, received, scheduled, phone, call." in body["message"]
    status, body, _ = await api.call("GET", "/api/list/sended/-1/")
    assert status == 400 and body["error"] == 2 and "page" in body["message"]
    status, body, _ = await api.call("GET", "/api/list/sended/two/")
    assert status == 400 and body["error"] == 2
