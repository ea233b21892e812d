"""Failover end to end: two simulated modems in one phone group, one unplugged; SMS naming it, or its
group, go out through the other; an SMS naming a phone with no group waits for it."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.helpers.daemon_process import API_KEY, poll_until, running_daemon


async def schedule(api_url: str, **fields: str) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{api_url}/api/scheduled/", data={"api_key": API_KEY, "text": "failover", **fields}
        ) as resp:
            body = await resp.json()
            assert resp.status == 201, body
            return int(body["response"])


async def test_an_unplugged_phones_sms_goes_through_another_phone_of_its_group(tmp_path: Path) -> None:
    async with running_daemon(
        tmp_path, phones=2, api=True, per_phone={1: {"group": 1, "priority": 5}, 2: {"group": 1}}
    ) as env:
        first, second = env.sims
        await first.fault("unplug")
        await poll_until(lambda: env.daemon.supervisors[1].status().state == "disconnected", within=15)
        assert env.daemon.api_url is not None
        await schedule(env.daemon.api_url, numbers="+33612345678", id_phone="1")
        await schedule(env.daemon.api_url, numbers="+33612345679", id_phone_group="1")
        sent = await env.wait_type("send_sms", 2, within=20)
        assert {(d.body["destination"], d.body["origin"], d.body["status"]) for d in sent} == {
            ("+33612345678", 2, "unknown"),
            ("+33612345679", 2, "unknown"),
        }
        assert sorted(s["number"] for s in second.state()["sent"]) == ["+33612345678", "+33612345679"]
        assert first.state()["sent"] == []
        # Back again: the group's highest priority phone sends once more.
        await first.fault("replug")
        await env.daemon.attach(str(first.link))
        await poll_until(lambda: env.daemon.supervisors[1].status().state == "connected", within=20)
        await schedule(env.daemon.api_url, numbers="+33612345670", id_phone_group="1")
        (*_, last) = await env.wait_type("send_sms", 3, within=20)
        assert (last.body["destination"], last.body["origin"]) == ("+33612345670", 1)


async def test_without_a_group_an_sms_waits_for_its_unplugged_phone(tmp_path: Path) -> None:
    async with running_daemon(tmp_path, phones=2, api=True) as env:
        first, _ = env.sims
        await first.fault("unplug")
        await poll_until(lambda: env.daemon.supervisors[1].status().state == "disconnected", within=15)
        assert env.daemon.api_url is not None
        await schedule(env.daemon.api_url, numbers="+33612345678", id_phone="1")
        await first.fault("replug")
        await env.daemon.attach(str(first.link))
        (sent,) = await env.wait_type("send_sms", within=20)
        assert (sent.body["origin"], sent.body["destination"]) == (1, "+33612345678")
        assert env.of_type("send_sms") == [sent]
