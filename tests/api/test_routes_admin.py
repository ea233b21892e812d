"""Our own routes: webhooks CRUD, deliveries with attempts and replay, phones, attach, /metrics."""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import pytest
from prometheus_client.parser import text_string_to_metric_families

from raspisms_daemon.webhooks import events
from raspisms_daemon.webhooks.events import WEBHOOK_TYPES
from tests.helpers.dispatch_process import emit_event
from tests.helpers.tls import make_pki

from .conftest import API_KEY, Api


async def add_hook(api: Api, name: str = "inbox", **extra: object) -> dict[str, object]:
    status, body, text = await api.call(
        "POST", "/api/webhooks/", json={"name": name, "url": "http://127.0.0.1:9/h", **extra}
    )
    assert status == 201, text
    return cast(dict[str, object], body["response"])  # JSON


async def enqueue(api: Api, n: int = 1) -> list[int]:
    ids: list[int] = []
    async with api.daemon.db.transaction() as conn:
        for i in range(n):
            body = events.send_sms_status_change(id=i + 1, status="delivered")
            ids += await emit_event(conn, API_KEY, "send_sms_status_change", body, at=1_700_000_000 + i)
    return ids


# --- webhooks -------------------------------------------------------------------------------------


async def test_webhook_create_list_get_delete(api: Api) -> None:
    hook = await add_hook(api, types=["receive_sms", "inbound_call"], format="json", flavor="raspisms")
    assert {k: hook[k] for k in ("name", "url", "types", "format", "flavor", "enabled", "source")} == {
        "name": "inbox",
        "url": "http://127.0.0.1:9/h",
        "types": ["inbound_call", "receive_sms"],
        "format": "json",
        "flavor": "raspisms",
        "enabled": True,
        "source": "api",
    }
    status, body, _ = await api.call("GET", "/api/webhooks/")
    assert status == 200 and [h["name"] for h in body["response"]] == ["inbox"]
    status, body, _ = await api.call("GET", "/api/webhooks/inbox/")
    assert status == 200 and body["response"]["url"] == "http://127.0.0.1:9/h"
    status, body, _ = await api.call("DELETE", "/api/webhooks/inbox/")
    assert status == 200 and body["response"] == {"removed": "inbox", "pending_dropped": 0}
    status, body, _ = await api.call("GET", "/api/webhooks/inbox/")
    assert status == 404 and body["error"] == 512
    status, body, _ = await api.call("DELETE", "/api/webhooks/inbox/")
    assert status == 404 and "no webhook named 'inbox'" in body["message"]


async def test_webhook_form_post_types_all_and_comma_list(api: Api) -> None:
    status, body, _ = await api.call(
        "POST", "/api/webhooks/", data={"name": "a", "url": "https://h/x", "types": "all"}
    )
    assert status == 201 and body["response"]["types"] == sorted(WEBHOOK_TYPES)
    status, body, _ = await api.call(
        "POST",
        "/api/webhooks/",
        data={"name": "b", "url": "https://h/x", "types": "send_sms,phone_reliability"},
    )
    assert status == 201 and body["response"]["types"] == ["phone_reliability", "send_sms"]


@pytest.mark.parametrize(
    ("payload", "status", "code", "fragment"),
    [
        ({"name": "x", "url": "ftp://h/x"}, 400, 2, "scheme 'ftp' is not allowed"),
        ({"name": "x", "url": "file:///etc/passwd"}, 400, 2, "scheme 'file' is not allowed"),
        ({"name": "x", "url": "h.example/x"}, 400, 2, "no scheme"),
        ({"name": "x", "url": "javascript:alert(1)"}, 400, 2, "not allowed"),
        ({"name": "x", "url": "http:///x"}, 400, 2, "no host"),
        ({"url": "http://h/"}, 400, 4, "name is required"),
        ({"name": "x"}, 400, 4, "url is required"),
        ({"name": "x", "url": "http://h/", "types": ["recieve_sms"]}, 400, 2, "unknown webhook type"),
        ({"name": "x", "url": "http://h/", "format": "xml"}, 400, 2, "form or json"),
        ({"name": "x", "url": "http://h/", "enabled": "perhaps"}, 400, 2, "enabled must be a boolean"),
        # A name must stay addressable as /api/webhooks/{name}/ (and as a CLI word): the config's rule.
        ({"name": "a/b", "url": "http://h/"}, 400, 2, "webhook name 'a/b' refused"),
        ({"name": "my hook", "url": "http://h/"}, 400, 2, "1-64 letters"),
    ],
)
async def test_webhook_create_refusals(
    api: Api, payload: dict[str, object], status: int, code: int, fragment: str
) -> None:
    got, body, text = await api.call("POST", "/api/webhooks/", json=payload)
    assert got == status and body["error"] == code and fragment in body["message"], text
    _, listing, _ = await api.call("GET", "/api/webhooks/")
    assert listing["response"] == []


async def test_webhook_create_with_a_ca_file_or_verify_no(api: Api, tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    hook = await add_hook(api, "private", url="https://10.0.0.2/h", ca_file=str(pki.ca_cert))
    assert (hook["ca_file"], hook["verify"]) == (str(pki.ca_cert), True)
    status, body, _ = await api.call(
        "POST", "/api/webhooks/", data={"name": "insecure", "url": "https://10.0.0.3/h", "verify": "no"}
    )
    assert status == 201 and (body["response"]["ca_file"], body["response"]["verify"]) == (None, False)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"url": "https://h/", "ca_file": "/nonexistent/ca.pem"}, "ca_file: cannot read /nonexistent/ca.pem"),
        ({"url": "https://h/", "ca_file": "relative.pem"}, "ca_file must be an absolute path"),
        ({"url": "https://h/", "ca_file": "/etc"}, "ca_file: /etc is not a file"),
        ({"url": "http://h/", "ca_file": "/etc/hostname"}, "ca_file is for https:// URLs only"),
        ({"url": "http://h/", "verify": False}, "verify = no is for https:// URLs only"),
        ({"url": "https://h/", "verify": "maybe"}, "verify must be a boolean"),
    ],
)
async def test_webhook_create_refuses_tls_settings_that_cannot_work(
    api: Api, extra: dict[str, object], fragment: str
) -> None:
    got, body, text = await api.call("POST", "/api/webhooks/", json={"name": "x", **extra})
    assert got == 400 and body["error"] == 2 and fragment in body["message"], text
    _, listing, _ = await api.call("GET", "/api/webhooks/")
    assert listing["response"] == []


async def test_webhook_duplicate_name_is_409(api: Api) -> None:
    await add_hook(api)
    status, body, _ = await api.call("POST", "/api/webhooks/", json={"name": "inbox", "url": "http://h/"})
    assert status == 409 and body["error"] == 8 and "already exists" in body["message"]


async def test_webhook_disable_enable_wakes_the_dispatcher(api: Api) -> None:
    await add_hook(api)
    status, body, _ = await api.call("POST", "/api/webhooks/inbox/disable")
    assert status == 200 and body["response"]["enabled"] is False
    assert body["response"]["disabled_reason"] == "disabled through the API"
    assert api.daemon.dispatcher_wakes == 0
    status, body, _ = await api.call("POST", "/api/webhooks/inbox/enable")
    assert (
        status == 200 and body["response"]["enabled"] is True and body["response"]["disabled_reason"] is None
    )
    assert api.daemon.dispatcher_wakes == 1
    for action in ("enable", "disable"):
        status, body, _ = await api.call("POST", f"/api/webhooks/nope/{action}")
        assert status == 404 and body["error"] == 512


async def test_webhook_delete_reports_dropped_pending(api: Api) -> None:
    await add_hook(api)
    await enqueue(api, 3)
    status, body, _ = await api.call("DELETE", "/api/webhooks/inbox")
    assert status == 200 and body["response"]["pending_dropped"] == 3


# --- deliveries -----------------------------------------------------------------------------------


async def test_deliveries_list_filters_and_detail_with_attempts(api: Api) -> None:
    await add_hook(api)
    await add_hook(api, "other", types=["receive_sms"])
    ids = await enqueue(api, 2)
    assert len(ids) == 2  # only "inbox" takes send_sms_status_change
    async with api.daemon.db.transaction() as conn:  # a failed attempt, as the dispatcher records it
        await conn.execute(
            "INSERT INTO delivery_attempt (outbox_id, at, status, error, duration_ms) VALUES (?, ?, ?, ?, ?)",
            (ids[0], 1_700_000_100.0, 503, None, 12.5),
        )
        await conn.execute("UPDATE outbox SET state = 'dead', attempts = 1 WHERE id = ?", (ids[0],))
    status, body, _ = await api.call("GET", "/api/deliveries/")
    assert status == 200 and [d["id"] for d in body["response"]] == ids[::-1]
    status, body, _ = await api.call("GET", "/api/deliveries/?state=dead")
    assert [d["id"] for d in body["response"]] == [ids[0]]
    status, body, _ = await api.call("GET", "/api/deliveries/?state=pending&webhook=inbox&limit=1")
    assert [d["id"] for d in body["response"]] == [ids[1]]
    status, body, _ = await api.call("GET", "/api/deliveries/?webhook=other")
    assert body["response"] == []
    status, body, _ = await api.call("GET", f"/api/deliveries/{ids[0]}/")
    detail = body["response"]
    assert status == 200 and detail["state"] == "dead" and detail["webhook"] == "inbox"
    assert detail["body"] == {"id": 1, "status": "success"} and detail["type"] == "send_sms_status_change"
    assert detail["attempts_log"] == [
        {"at": 1_700_000_100.0, "status": 503, "error": None, "duration_ms": 12.5, "local": False}
    ]


@pytest.mark.parametrize(
    ("path", "status", "fragment"),
    [
        ("/api/deliveries/?state=lost", 400, "state must be one of: pending, delivered, dead"),
        ("/api/deliveries/?limit=0", 400, "limit"),
        ("/api/deliveries/?limit=x", 400, "limit"),
        ("/api/deliveries/?limit=5000", 400, "at most 1000"),
        ("/api/deliveries/999/", 404, "no delivery with id 999"),
        ("/api/deliveries/abc/", 400, "positive integer"),
    ],
)
async def test_deliveries_bad_requests(api: Api, path: str, status: int, fragment: str) -> None:
    got, body, _ = await api.call("GET", path)
    assert got == status and fragment in body["message"]


async def test_replay_keeps_the_random_id_and_wakes_the_dispatcher(api: Api) -> None:
    await add_hook(api)
    (did,) = await enqueue(api)
    _, before, _ = await api.call("GET", f"/api/deliveries/{did}/")
    async with api.daemon.db.transaction() as conn:
        await conn.execute("UPDATE outbox SET state = 'dead', attempts = 10 WHERE id = ?", (did,))
    status, body, _ = await api.call("POST", f"/api/deliveries/{did}/replay")
    assert status == 200
    replayed = body["response"]
    assert replayed["state"] == "pending" and replayed["attempts"] == 0
    assert replayed["random_id"] == before["response"]["random_id"]
    assert replayed["timestamp"] == before["response"]["timestamp"]
    assert api.daemon.dispatcher_wakes == 1
    status, body, _ = await api.call("POST", "/api/deliveries/4242/replay")
    assert status == 404 and body["error"] == 512


# --- phones and attach ----------------------------------------------------------------------------


async def test_phones_is_the_live_status(api: Api) -> None:
    status, body, _ = await api.call("GET", "/api/phones/")
    assert status == 200 and [p["id"] for p in body["response"]] == [1, 2]
    huawei = body["response"][0]
    assert huawei == {**api.daemon.phones[0]._asdict(), "last_seen": "2026-01-02T03:04:05+00:00"}
    assert body["response"][1]["last_seen"] is None and body["response"][1]["state"] == "disconnected"


async def test_phone_disable_then_enable_answer_the_phones_new_status(api: Api) -> None:
    status, body, _ = await api.call("POST", "/api/phones/2/disable/", data={"reason": "swap SIM"})
    assert status == 200 and body["error"] == 0
    assert (body["response"]["id"], body["response"]["state"]) == (2, "disabled")
    assert body["response"]["disabled_reason"] == "swap SIM"
    status, body, _ = await api.call("POST", "/api/phones/2/enable")
    assert status == 200 and body["response"]["state"] == "connected"
    status, body, _ = await api.call("POST", "/api/phones/1/disable")  # no reason given
    assert status == 200 and body["response"]["disabled_reason"] == "disabled through the API"


async def test_enabling_a_phone_disabled_in_the_config_is_refused_with_409(api: Api) -> None:
    api.daemon._set(2, state="disabled", disabled_reason="disabled in the config")
    status, body, _ = await api.call("POST", "/api/phones/2/enable/")
    assert status == 409 and body["error"] == 2
    assert "[phone:2] enabled = no" in body["message"]
    assert api.daemon.phones[1].state == "disabled"


@pytest.mark.parametrize(
    ("path", "status", "fragment"),
    [("/api/phones/3/enable/", 404, "no phone with id 3"), ("/api/phones/0x1/disable/", 400, "positive")],
)
async def test_phone_actions_on_unknown_or_malformed_ids(
    api: Api, path: str, status: int, fragment: str
) -> None:
    got, body, _ = await api.call("POST", path)
    assert got == status and fragment in body["message"]
    assert [p.state for p in api.daemon.phones] == ["connected", "disconnected"]  # nothing changed


async def test_attach(api: Api) -> None:
    status, body, _ = await api.call("POST", "/api/daemon/attach", json={"device": "/dev/ttyUSB0"})
    assert status == 200 and body["response"] == {"device": "/dev/ttyUSB0", "phones": [1]}
    status, body, _ = await api.call("POST", "/api/daemon/attach", json={"device": None})
    assert status == 200 and body["response"]["phones"] == [1]
    status, body, _ = await api.call("POST", "/api/daemon/attach")  # no body = any device
    assert status == 200
    assert api.daemon.attached == ["/dev/ttyUSB0", None, None]
    for bad in ({"device": 5}, {"device": ""}):
        status, body, _ = await api.call("POST", "/api/daemon/attach", json=bad)
        assert status == 400 and "device must be a device path or null" in body["message"]


async def test_attach_is_bounded_in_time(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from raspisms_daemon.api import routes_admin

    monkeypatch.setattr(routes_admin, "ATTACH_TIMEOUT", 0.05)
    api.daemon.attach_delay = 5.0
    status, body, _ = await api.call("POST", "/api/daemon/attach", json={"device": None})
    assert status == 504 and "did not finish" in body["message"]


# --- metrics --------------------------------------------------------------------------------------


async def test_metrics_parse_as_prometheus_text_without_a_key(api: Api) -> None:
    await add_hook(api)
    await add_hook(api, "off", enabled=False)
    await enqueue(api, 2)
    status, _, text = await api.call("GET", "/metrics", auth=False)
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}

    def value(metric: str, /, **labels: str) -> float:
        for family in families.values():
            for s in family.samples:
                if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items()):
                    return s.value
        raise AssertionError(f"no sample {metric} {labels}")

    assert families["raspisms_received"].type == "counter"  # the parser strips _total from counters
    assert value("raspisms_received_total") == 3 and value("raspisms_sent_total") == 2
    assert value("raspisms_deliveries_total", result="dead") == 1
    assert families["raspisms_up"].type == "gauge" and value("raspisms_up") == 1
    assert value("raspisms_phone_connected", phone="1", name="huawei") == 1
    assert value("raspisms_phone_connected", phone="2") == 0
    assert value("raspisms_phone_signal", phone="1") == 17
    assert all(s.labels["phone"] != "2" for s in families["raspisms_phone_signal"].samples)  # unknown signal
    assert value("raspisms_outbox_pending") == 2
    assert (
        value("raspisms_outbox_rows", state="pending") == 2
        and value("raspisms_outbox_rows", state="dead") == 0
    )
    assert (
        value("raspisms_webhooks", enabled="true") == 1 and value("raspisms_webhooks", enabled="false") == 1
    )
    assert not any(math.isnan(s.value) for f in families.values() for s in f.samples)


async def test_metrics_label_values_are_escaped(api: Api) -> None:
    api.daemon.phones[0] = api.daemon.phones[0]._replace(name='evil "name"\\\nnext')
    status, _, text = await api.call("GET", "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    names = {s.labels["name"] for s in families["raspisms_phone_connected"].samples}
    assert 'evil "name"\\\nnext' in names


# --- reads never see a transaction in progress ----------------------------------------------------


async def test_lists_and_metrics_do_not_see_rows_of_a_transaction_still_open(api: Api) -> None:
    """Another coroutine (a modem taking in an SMS, say) is inside a transaction on the shared
    connection: what it wrote may still be rolled back, so no API read may show it yet."""
    await add_hook(api)
    db = api.daemon.db
    async with db.transaction() as conn:
        body = events.send_sms_status_change(id=1, status="delivered")
        await emit_event(conn, API_KEY, "send_sms_status_change", body, at=1_700_000_000)
        await conn.execute(
            "INSERT INTO webhook (name, url, types, format, enabled, source, created_at) "
            "SELECT 'uncommitted', url, types, format, 1, source, created_at FROM webhook"
        )
        await conn.execute(
            "INSERT INTO scheduled (at, text, state, created_at) VALUES (0, 'uncommitted', 'pending', 0)"
        )
        # The hazard itself, on the shared connection: the open transaction's rows are visible there.
        assert len(await db.fetchall("SELECT id FROM outbox")) == 1

        _, body, _ = await api.call("GET", "/api/deliveries/")
        assert body["response"] == []
        _, body, _ = await api.call("GET", "/api/webhooks/")
        assert [h["name"] for h in body["response"]] == ["inbox"]
        status, _, _ = await api.call("GET", "/api/webhooks/uncommitted/")
        assert status == 404
        _, body, _ = await api.call("GET", "/api/list/scheduled/")
        assert body["response"] == []
        _, body, _ = await api.call("GET", "/healthz")
        assert body["backlog"] == 0
        _, _, text = await api.call("GET", "/metrics")
        assert "raspisms_outbox_pending 0" in text and 'raspisms_outbox_rows{state="pending"} 0' in text
    _, body, _ = await api.call("GET", "/api/deliveries/")
    assert len(body["response"]) == 1  # committed: now every read sees it
    _, body, _ = await api.call("GET", "/api/list/scheduled/")
    assert [s["text"] for s in body["response"]] == ["uncommitted"]


async def test_the_sms_stop_list_is_listed_added_to_and_removed_from(api: Api) -> None:
    status, body, _ = await api.call("GET", "/api/smsstop/")
    assert status == 200 and body["response"] == []
    status, body, _ = await api.call("POST", "/api/smsstop/", json={"number": "+33612345678"})
    assert status == 201 and body["response"] == {"added": "+33612345678"}
    status, body, _ = await api.call("POST", "/api/smsstop/", json={"number": "+33612345678"})
    assert status == 409 and "already" in body["message"]
    status, body, _ = await api.call("GET", "/api/smsstop/")
    (entry,) = body["response"]
    assert (entry["number"], entry["id_phone"], entry["skipped"]) == ("+33612345678", None, 0)
    assert entry["at"].endswith("+00:00")  # ISO 8601 in the daemon's zone (the fixture's is UTC)
    status, body, _ = await api.call("DELETE", "/api/smsstop/%2B33612345678/")
    assert status == 200 and body["response"] == {"removed": "+33612345678"}
    status, body, _ = await api.call("DELETE", "/api/smsstop/%2B33612345678/")
    assert status == 404 and "%2B" in body["message"]


async def test_a_webhook_with_an_unknown_flavor_is_refused(api: Api) -> None:
    status, body, _ = await api.call(
        "POST", "/api/webhooks/", json={"name": "x", "url": "http://127.0.0.1:9/h", "flavor": "php"}
    )
    assert status == 400 and "flavor must be documented or raspisms" in body["message"]
