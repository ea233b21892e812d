"""End to end, one test per webhook type: simulator → daemon process → signed POST → receiver.

Every body field is checked for presence, JSON type and value, per docs/design.md §3.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from raspisms_daemon.simulator import Simulator
from raspisms_daemon.webhooks.receiver import ReceivedDelivery
from tests.helpers.daemon_process import API_KEY, DaemonProcess, daemon_process, poll_until
from tests.helpers.receiver import FaultyReceiver
from tests.helpers.simulator import simulated_modem

DATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def _recent(value: str) -> None:
    assert DATE.match(value), value
    age = abs((datetime.now() - datetime.strptime(value, "%Y-%m-%d %H:%M:%S")).total_seconds())
    assert age < 120, f"{value} is not the local time of now"


def _fields(body: dict[str, object], spec: dict[str, type | tuple[type, ...]]) -> None:
    assert set(body) == set(spec), f"fields {sorted(body)} != {sorted(spec)}"
    for key, kind in spec.items():
        assert isinstance(body[key], kind) and not (kind is int and isinstance(body[key], bool)), (
            f"{key}={body[key]!r} is not {kind}"
        )


@pytest.fixture
async def rx() -> AsyncIterator[FaultyReceiver]:
    receiver = FaultyReceiver(API_KEY)
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    async with simulated_modem(tmp_path) as s:
        yield s


@pytest.fixture
async def daemon(tmp_path: Path, sim: Simulator, rx: FaultyReceiver) -> AsyncIterator[DaemonProcess]:
    async with daemon_process(
        tmp_path,
        sims=[sim],
        rx_url=rx.url,
        phone_overrides=[{"hangup_calls": 0}],
        extra={"reliability": {"interval": "1s", "failed_volume": 2, "failed_rate": 100, "failed_grace": 0}},
    ) as proc:
        yield proc


def _of(rx: FaultyReceiver, type: str) -> list[ReceivedDelivery]:
    return [d for d in rx.deliveries if d.type == type]


async def test_receive_sms_body_has_every_documented_field_with_its_json_type_and_value(
    daemon: DaemonProcess, sim: Simulator, rx: FaultyReceiver
) -> None:
    await sim.inject_sms("+33612345678", "Hello ✅ world")
    await rx.wait_for(lambda: bool(_of(rx, "receive_sms")), 15)
    (d,) = _of(rx, "receive_sms")
    assert d.format == "form"
    _fields(d.body, {"id": int, "at": str, "origin": str, "destination": int, "text": str, "mms": int})
    assert d.body["origin"] == "+33612345678" and d.body["destination"] == 1
    assert d.body["text"] == "Hello ✅ world" and d.body["mms"] == 0
    _recent(d.body["at"])
    status, listed = await daemon.request("GET", "/api/list/received/")
    assert status == 200 and listed["response"][0]["id"] == d.body["id"]
    (req,) = [r for r in rx.requests if r.random_id == d.random_id]
    assert req.library_ok and req.documented_ok


async def _send(daemon: DaemonProcess, **params: object) -> int:
    status, body = await daemon.request("POST", "/api/scheduled/", json=params)
    assert status == 201, body
    return int(body["response"]) if isinstance(body, dict) else int(body)


async def test_send_sms_and_its_status_change_bodies_have_every_documented_field_and_value(
    daemon: DaemonProcess, sim: Simulator, rx: FaultyReceiver
) -> None:
    sid = await _send(daemon, text="Ping 🚀", numbers=["+33698765432"], tag="e2e")
    await rx.wait_for(lambda: bool(_of(rx, "send_sms_status_change")), 15)
    (sent,) = _of(rx, "send_sms")
    _fields(
        sent.body,
        {
            "id": int,
            "at": str,
            "status": str,
            "origin": int,
            "destination": str,
            "text": str,
            "mms": int,
            "originating_scheduled": int,
            "tag": str,
        },
    )
    assert sent.body["status"] == "unknown" and sent.body["origin"] == 1
    assert sent.body["destination"] == "+33698765432" and sent.body["text"] == "Ping 🚀"
    assert sent.body["originating_scheduled"] == sid and sent.body["tag"] == "e2e" and sent.body["mms"] == 0
    _recent(sent.body["at"])
    (change,) = _of(rx, "send_sms_status_change")
    _fields(change.body, {"id": int, "status": str})
    assert change.body == {"id": sent.body["id"], "status": "success"}  # the documented word
    assert [s["text"] for s in sim.state()["sent"]] == ["Ping 🚀"]


async def test_inbound_call_body_has_every_documented_field_with_end_and_destination_null(
    daemon: DaemonProcess, sim: Simulator, rx: FaultyReceiver
) -> None:
    await sim.ring("+33611111111", ring_seconds=0.5)
    await rx.wait_for(lambda: bool(_of(rx, "inbound_call")), 15)
    (d,) = _of(rx, "inbound_call")
    _fields(
        d.body,
        {
            "id": int,
            "id_user": int,
            "id_phone": int,
            "uid": str,
            "direction": str,
            "start": str,
            "end": type(None),
            "origin": str,
            "destination": type(None),
        },
    )
    assert d.body["id_user"] == 1 and d.body["id_phone"] == 1 and d.body["direction"] == "inbound"
    assert d.body["origin"] == "+33611111111" and len(d.body["uid"]) >= 16
    _recent(d.body["start"])


async def test_phone_reliability_body_has_every_documented_field_with_its_json_type_and_value(
    daemon: DaemonProcess, sim: Simulator, rx: FaultyReceiver
) -> None:
    sim.set_reports("failed")
    await _send(daemon, text="one", numbers=["+33698765432", "+33698765433"])
    await rx.wait_for(lambda: bool(_of(rx, "phone_reliability")), 20)
    (d,) = _of(rx, "phone_reliability")
    _fields(
        d.body,
        {
            "reliability_type": str,
            "id_phone": int,
            "period": (int, float),
            "total": int,
            "unreliable": int,
            "rate": (int, float),
        },
    )
    assert d.body["reliability_type"] == "failed" and d.body["id_phone"] == 1
    assert d.body["period"] == 120 and d.body["total"] == 2 and d.body["unreliable"] == 2
    assert d.body["rate"] == 1.0
    await poll_until(lambda: len(_of(rx, "send_sms_status_change")) == 2, within=5)
