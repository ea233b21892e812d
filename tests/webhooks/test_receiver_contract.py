"""What receivers see: every delivery passes RaspiSMS's documented check and the standardwebhooks library.

Real dispatcher → real aiohttp receiver on 127.0.0.1, both wire formats.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from raspisms_daemon import __version__
from raspisms_daemon.store import webhooks as wh
from raspisms_daemon.store.db import Database
from raspisms_daemon.webhooks import events, signing
from raspisms_daemon.webhooks.receiver import VerifyingReceiver
from tests.helpers.dispatch_process import emit_event, fast_delivery, running_dispatcher
from tests.helpers.receiver import FaultyReceiver, raspisms_documented_check

API_KEY = "my-raspisms-api-key"

EVENTS = [
    (
        "receive_sms",
        events.receive_sms(
            id=1, at="2026-01-02 03:04:05", origin="+33612345678", destination=1, text="Héllo 👋 & = + %"
        ),
    ),
    (
        "send_sms",
        events.send_sms(
            id=2,
            at="2026-01-02 03:04:05",
            status="unknown",
            origin=1,
            destination="+33612345678",
            text="out",
            originating_scheduled=9,
            tag="",
        ),
    ),
    ("send_sms_status_change", events.send_sms_status_change(id=2, status="delivered")),
    (
        "inbound_call",
        events.inbound_call(
            id=3,
            id_user=1,
            id_phone=1,
            uid="c1",
            start="2026-01-02 03:04:05",
            end=None,
            origin="+33612345678",
        ),
    ),
    (
        "phone_reliability",
        events.phone_reliability(
            reliability_type="failed", id_phone=1, period=120, total=30, unreliable=4, rate=0.133
        ),
    ),
]


@pytest.mark.parametrize("flavor", events.WEBHOOK_FLAVORS)
@pytest.mark.parametrize("fmt", ["form", "json"])
async def test_every_event_type_passes_both_checks_in_both_formats_and_flavors(
    db: Database, fmt: str, flavor: str
) -> None:
    rx = FaultyReceiver(API_KEY)
    await rx.start()
    try:
        async with db.transaction() as conn:
            await wh.add_webhook(conn, "rx", rx.url, format=fmt, flavor=flavor, now=0.0)
            for type_, body in EVENTS:
                await emit_event(conn, API_KEY, type_, body, at=1_767_000_000)
        async with running_dispatcher(db, fast_delivery(), API_KEY):
            await rx.wait_for_acknowledged(len(EVENTS))
        assert len(rx.requests) == len(EVENTS)
        for req in rx.requests:
            assert req.ours is not None, req.ours_reason
            assert req.documented_ok, "RaspiSMS's documented check refused it"
            assert req.library_ok, req.library_reason
            assert req.headers["User-Agent"] == f"raspisms-daemon/{__version__}"
            assert req.headers["webhook-id"] == req.ours.random_id
            assert req.ours.format == fmt
            expected_ctype = "application/json" if fmt == "json" else "application/x-www-form-urlencoded"
            assert req.headers["Content-Type"].startswith(expected_ctype)
            assert req.ours.timestamp == 1_767_000_000  # the event's time, not the attempt's
        assert {(r.ours.type, json.dumps(r.ours.body, sort_keys=True)) for r in rx.requests if r.ours} == {
            (t, json.dumps(events.flavored(t, b, flavor), sort_keys=True)) for t, b in EVENTS
        }
    finally:
        await rx.stop()


@pytest.mark.parametrize("fmt", ["form", "json"])
async def test_standardwebhooks_rejects_a_tampered_body(db: Database, fmt: str) -> None:
    rx = FaultyReceiver(API_KEY)
    await rx.start()
    try:
        async with db.transaction() as conn:
            await wh.add_webhook(conn, "rx", rx.url, format=fmt, now=0.0)
            await emit_event(conn, API_KEY, EVENTS[0][0], EVENTS[0][1], at=1_767_000_000)
        async with running_dispatcher(db, fast_delivery(), API_KEY):
            await rx.wait_for_acknowledged(1)
        req = rx.requests[0]
        library = Webhook(signing.whsec(API_KEY))
        library.verify(req.raw_body, req.headers, json_parse=False)  # the original passes
        tampered = req.raw_body.replace(b"33612345678", b"33699999999")
        assert tampered != req.raw_body
        with pytest.raises(WebhookVerificationError):
            library.verify(tampered, req.headers, json_parse=False)
        # RaspiSMS's own signature does not cover the body, which is why the header exists:
        fields = json.loads(tampered) if fmt == "json" else None
        if fields is not None:
            assert raspisms_documented_check(API_KEY, fields)
        # and our verifying receiver refuses the tampered body too
        ours, reason = VerifyingReceiver(API_KEY).verify(req.headers, tampered)
        assert ours is None and reason is not None and "mismatch" in reason
    finally:
        await rx.stop()


async def test_verifying_receiver_refuses_a_wrong_key_with_401_and_hands_good_ones_to_its_callback(
    db: Database,
) -> None:
    seen: list[str] = []
    good = VerifyingReceiver(API_KEY, on_delivery=lambda d: seen.append(d.random_id))
    wrong = VerifyingReceiver("another-key")
    await good.start()
    await wrong.start()
    try:
        async with db.transaction() as conn:
            await wh.add_webhook(conn, "good", good.url, now=0.0)
            await wh.add_webhook(conn, "wrong", wrong.url, now=0.0)
            await emit_event(conn, API_KEY, EVENTS[2][0], EVENTS[2][1], at=1_767_000_000)
        async with running_dispatcher(db, fast_delivery(schedule=(0.0,)), API_KEY):
            for _ in range(200):
                row = await db.fetchone("SELECT COUNT(*) FROM outbox WHERE state != 'pending'")
                if row is not None and row[0] == 2:
                    break
                await asyncio.sleep(0.02)
        assert [d.random_id for d in good.deliveries] == seen and len(seen) == 1
        assert wrong.deliveries == [] and len(wrong.rejected) == 1
        assert "webhook_signature" in wrong.rejected[0][0]
        states = {
            r[0]: (r[1], r[2])
            for r in await db.fetchall(
                "SELECT w.name, o.state, o.last_status FROM outbox o JOIN webhook w ON w.id = o.webhook_id"
            )
        }
        assert states == {"good": ("delivered", 200), "wrong": ("dead", 401)}
    finally:
        await good.stop()
        await wrong.stop()


def _signed_json_request(timestamp: object) -> tuple[dict[str, str], bytes]:
    random_id = signing.new_random_id(1_767_000_000)
    raw = json.dumps(
        {
            "webhook_timestamp": timestamp,
            "webhook_type": "send_sms_status_change",
            "webhook_random_id": random_id,
            "webhook_signature": signing.raspisms_signature(API_KEY, random_id),
            "body": {"id": 2, "status": "delivered"},
        }
    ).encode()
    return {"Content-Type": "application/json"}, raw


@pytest.mark.parametrize("timestamp", [None, [1], {"t": 1}])
def test_verify_reports_a_non_numeric_json_timestamp_as_malformed_instead_of_raising(
    timestamp: object,
) -> None:
    headers, raw = _signed_json_request(timestamp)
    delivery, reason = VerifyingReceiver(API_KEY).verify(headers, raw)
    assert delivery is None and reason is not None and reason.startswith("malformed webhook")


def test_verify_accepts_captured_headers_in_a_plain_dict_whatever_their_case() -> None:
    _, raw = _signed_json_request(1_767_000_000)
    random_id = json.loads(raw)["webhook_random_id"]
    captured = {"content-type": "application/json"}
    for name, value in signing.standard_headers(API_KEY, random_id, 1_767_000_000, raw).items():
        captured[name.title()] = value  # Webhook-Id, as a proxy or a capture tool may spell it
    delivery, reason = VerifyingReceiver(API_KEY).verify(captured, raw, now=1_767_000_000)
    assert reason is None and delivery is not None and delivery.random_id == random_id
