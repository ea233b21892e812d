"""Disabling and enabling a phone, and the delivery counters, on the real daemon through its real API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from raspisms_daemon.config import ReliabilityConfig, ReliabilityRule
from raspisms_daemon.phones.reliability_job import check_reliability
from tests.helpers.daemon_process import API_KEY, DaemonEnv, poll_until, running_daemon
from tests.helpers.receiver import Reply


async def call(env: DaemonEnv, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    assert env.daemon.api_url is not None
    async with (
        aiohttp.ClientSession(headers={"X-Api-Key": API_KEY}, timeout=aiohttp.ClientTimeout(total=10)) as s,
        s.request(method, env.daemon.api_url + path, **kwargs) as resp,
    ):
        text = await resp.text()
        return resp.status, (await resp.json(content_type=None)) if text.startswith("{") else text


async def schedule(env: DaemonEnv, text: str, **extra: Any) -> None:
    status, body = await call(
        env, "POST", "/api/scheduled/", json={"text": text, "numbers": ["+33698765432"], **extra}
    )
    assert status == 201, body


def sent_texts(env: DaemonEnv, phone: int) -> list[str]:
    return [s["text"] for s in env.sims[phone - 1].state()["sent"]]


async def test_a_phone_disabled_through_the_api_stops_sending_until_enabled_again(tmp_path: Path) -> None:
    async with running_daemon(tmp_path, phones=2, api=True) as env:
        await poll_until(lambda: all(p.state == "connected" for p in env.daemon.phone_status()))
        status, body = await call(env, "POST", "/api/phones/1/disable/", json={"reason": "SIM topped up"})
        assert status == 200 and body["error"] == 0, body
        assert body["response"]["id"] == 1
        assert (body["response"]["state"], body["response"]["disabled_reason"]) == (
            "disabled",
            "SIM topped up",
        )
        row = await env.daemon.db.fetchone(
            "SELECT status, disabled_at, disabled_reason FROM phone WHERE id = 1"
        )
        assert row is not None and row["disabled_at"] is not None
        assert (row["status"], row["disabled_reason"]) == ("disabled", "SIM topped up")

        # Any phone may send it: only phone 2 does; phone 1 named explicitly refuses it.
        await schedule(env, "via any phone")
        await env.wait_type("send_sms")
        assert sent_texts(env, 2) == ["via any phone"]
        await schedule(env, "via phone 1", id_phone=1)
        (_, refused) = await env.wait_type("send_sms", 2)
        assert refused.body["status"] == "failed" and sent_texts(env, 1) == []

        status, body = await call(env, "POST", "/api/phones/1/enable")
        assert status == 200 and body["response"]["state"] == "connected", body
        assert body["response"]["disabled_reason"] is None
        await schedule(env, "phone 1 again", id_phone=1)
        await env.wait_type("send_sms", 3)
        assert sent_texts(env, 1) == ["phone 1 again"]
        row = await env.daemon.db.fetchone("SELECT status, disabled_at FROM phone WHERE id = 1")
        assert row is not None and (row["status"], row["disabled_at"]) == ("connected", None)


async def test_the_api_re_enables_a_phone_the_reliability_check_disabled_even_after_a_restart(
    tmp_path: Path,
) -> None:
    cfg = ReliabilityConfig(
        interval=3600.0, failed=ReliabilityRule(True, 10.0, 2, 120.0, 0.0), auto_disable=True
    )
    async with running_daemon(tmp_path, reliability=cfg, api=True) as env:
        d = env.daemon
        assert d.ctx is not None
        async with d.db.transaction() as conn:
            for i in range(3):
                await conn.execute(
                    "INSERT INTO sended (at, text, destination, id_phone, status, state) "
                    "VALUES (?, 'x', '+331', 1, 'failed', 'failed')",
                    (d.clock.time() - 60 - i,),
                )
        assert len(await check_reliability(d.ctx, cfg, d.supervisors)) == 1
        assert d.supervisors[1].status().state == "disabled"
    async with running_daemon(tmp_path, reliability=cfg, api=True) as env:
        status, body = await call(env, "GET", "/api/phones/")
        assert status == 200
        (phone,) = body["response"]
        assert phone["state"] == "disabled" and "reliability" in phone["disabled_reason"]
        status, body = await call(env, "POST", "/api/phones/1/enable/")
        assert status == 200 and body["response"]["state"] == "connected", body
        await schedule(env, "back in service")
        await env.wait_type("send_sms")
        assert sent_texts(env, 1) == ["back in service"]


async def test_unknown_and_malformed_phone_ids_get_404_and_400_in_the_envelope(tmp_path: Path) -> None:
    async with running_daemon(tmp_path, api=True) as env:
        for action in ("enable", "disable"):
            status, body = await call(env, "POST", f"/api/phones/9/{action}/")
            assert status == 404 and body["error"] == 512 and body["message"] == "no phone with id 9", body
            status, body = await call(env, "POST", f"/api/phones/x1/{action}/")
            assert status == 400 and body["error"] == 2 and "positive integer" in body["message"], body
        async with (
            aiohttp.ClientSession() as s,
            s.post(f"{env.daemon.api_url}/api/phones/1/disable/") as resp,
        ):
            assert resp.status == 401  # no key, no disable
        assert env.daemon.supervisors[1].status().state == "connected"


async def _deliveries_total(env: DaemonEnv) -> dict[str, float]:
    status, text = await call(env, "GET", "/metrics")
    assert status == 200
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "raspisms_deliveries"]
    assert family.type == "counter"
    return {s.labels["result"]: s.value for s in family.samples if s.name == "raspisms_deliveries_total"}


@pytest.mark.timeout(60)
async def test_metrics_count_delivery_attempts_by_result_with_a_receiver_that_fails_once(
    tmp_path: Path,
) -> None:
    async with running_daemon(tmp_path, api=True) as env:
        zero = {"delivered": 0, "retry": 0, "dead": 0, "gone": 0, "local": 0}
        assert await _deliveries_total(env) == zero
        env.rx.plan(Reply(500))
        await env.sims[0].inject_sms("+33612345678", "counted")
        await env.wait_type("receive_sms")
        async with asyncio.timeout(10):
            # Polling on purpose: the counters are read through HTTP, as a scraper reads them.
            while (totals := await _deliveries_total(env))["delivered"] < 1:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert totals == {**zero, "delivered": 1, "retry": 1}
        attempts = await env.daemon.db.fetchall("SELECT status FROM delivery_attempt ORDER BY id")
        assert [r["status"] for r in attempts] == [500, 200]  # the counters agree with the attempts log
