"""The reliability computation (pure), as RaspiSMS does it: window, grace, volume, rate, restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from raspisms_daemon.config import ReliabilityConfig
from raspisms_daemon.phones.reliability_job import check_reliability
from raspisms_daemon.reliability import ReliabilityRule, SentSample, evaluate
from raspisms_daemon.store import scheduled as scheduled_store
from raspisms_daemon.store.db import Database
from tests.helpers.daemon_process import running_daemon

NOW = 1_700_000_000.0
RULE = ReliabilityRule(enabled=True, rate_limit=10.0, volume=25, period=120.0, grace=1.0)


def samples(n_ok: int, n_bad: int, *, status: str = "failed", age_minutes: float = 30.0) -> list[SentSample]:
    at = NOW - age_minutes * 60
    return [SentSample(at, "delivered")] * n_ok + [SentSample(at, status)] * n_bad


def test_alert_when_volume_and_rate_are_reached() -> None:
    alert = evaluate("failed", samples(22, 3), last_alert_at=None, now=NOW, rule=RULE)
    assert alert is not None
    assert (alert.reliability_type, alert.total, alert.unreliable, alert.period) == ("failed", 25, 3, 120.0)
    assert alert.rate == pytest.approx(0.12)


def test_no_alert_below_the_volume_even_at_a_high_rate() -> None:
    assert evaluate("failed", samples(4, 20), last_alert_at=None, now=NOW, rule=RULE) is None


def test_no_alert_below_the_rate() -> None:
    assert evaluate("failed", samples(98, 2), last_alert_at=None, now=NOW, rule=RULE) is None


def test_rate_exactly_at_the_limit_alerts() -> None:
    assert evaluate("failed", samples(45, 5), last_alert_at=None, now=NOW, rule=RULE) is not None


def test_sms_older_than_the_period_or_inside_the_grace_are_not_counted() -> None:
    too_old = samples(0, 30, age_minutes=121)
    too_new = samples(0, 30, age_minutes=0.5)
    assert evaluate("failed", too_old + too_new, last_alert_at=None, now=NOW, rule=RULE) is None
    assert evaluate("failed", samples(0, 25, age_minutes=119), last_alert_at=None, now=NOW, rule=RULE)


def test_an_alert_restarts_the_window() -> None:
    sent = samples(0, 30, age_minutes=60)
    assert evaluate("failed", sent, last_alert_at=NOW - 30 * 60, now=NOW, rule=RULE) is None
    assert evaluate("failed", sent, last_alert_at=NOW - 60 * 60, now=NOW, rule=RULE) is None  # same instant
    assert evaluate("failed", sent, last_alert_at=NOW - 90 * 60, now=NOW, rule=RULE) is not None


def test_the_unknown_type_counts_unknown_statuses_and_a_disabled_rule_never_alerts() -> None:
    rule = ReliabilityRule(enabled=True, rate_limit=25.0, volume=25, period=120.0, grace=1.0)
    sent = samples(15, 10, status="unknown")
    alert = evaluate("unknown", sent, last_alert_at=None, now=NOW, rule=rule)
    assert alert is not None and alert.unreliable == 10 and alert.rate == pytest.approx(0.4)
    assert evaluate("failed", sent, last_alert_at=None, now=NOW, rule=rule) is None
    off = ReliabilityRule(enabled=False, rate_limit=25.0, volume=25, period=120.0, grace=1.0)
    assert evaluate("unknown", sent, last_alert_at=None, now=NOW, rule=off) is None
    with pytest.raises(ValueError):
        evaluate("lost", sent, last_alert_at=None, now=NOW, rule=rule)


# --- the job, on a real database and a running daemon ------------------------------------------------


async def _insert_sent(db: Database, sent: list[tuple[float, str]]) -> None:
    """``sended`` rows of phone 1 at these times with these statuses (a failed one never left)."""
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO sended (at, text, destination, id_phone, status, state) "
            "VALUES (?, 'x', '+331', 1, ?, ?)",
            [(at, status, "failed" if status == "failed" else "sent") for at, status in sent],
        )


async def test_the_job_alerts_once_records_the_alert_and_auto_disables_the_phone(tmp_path: Path) -> None:
    cfg = ReliabilityConfig(
        interval=3600.0,
        failed=ReliabilityRule(True, 10.0, 5, 120.0, 1.0),
        auto_disable=True,
    )
    async with running_daemon(tmp_path, reliability=cfg) as env:
        d = env.daemon
        assert d.ctx is not None
        now = d.clock.time()
        await _insert_sent(d.db, [(now - 600 - i, "failed" if i < 2 else "delivered") for i in range(6)])
        alerts = await check_reliability(d.ctx, cfg, d.supervisors)
        assert [(pid, a.total, a.unreliable) for pid, a in alerts] == [(1, 6, 2)]
        (hook,) = await env.wait_type("phone_reliability")
        assert hook.body["rate"] == pytest.approx(2 / 6) and hook.body["period"] == 120
        assert d.supervisors[1].status().state == "disabled"
        row = await d.db.fetchone("SELECT status, disabled_reason FROM phone WHERE id = 1")
        assert row is not None and row["status"] == "disabled" and "reliability" in row["disabled_reason"]
        # the alert restarted the window, and a disabled phone is not checked again
        assert await check_reliability(d.ctx, cfg, d.supervisors) == []
        hist = await d.db.fetchall("SELECT type FROM phone_reliability_history")
        assert [r["type"] for r in hist] == ["failed"]
        # a disabled phone no longer sends: an SMS for it ends failed, nothing reaches the modem
        await scheduled_store.create(d.db, text="x", numbers=["+33698765432"], now=now, id_phone=1)
        d.wake_sender()
        (sent,) = await env.wait_type("send_sms")
        assert sent.body["status"] == "failed"
        assert env.sims[0].state()["sent"] == []
        # the owner enables it again: it sends again, and the disable no longer survives a restart
        assert await d.enable_phone(1) is True
        assert d.supervisors[1].status().state == "connected"
        await scheduled_store.create(d.db, text="y", numbers=["+33698765432"], now=now, id_phone=1)
        d.wake_sender()
        await env.wait_type("send_sms", 2)
        assert [s["text"] for s in env.sims[0].state()["sent"]] == ["y"]
        row = await d.db.fetchone("SELECT disabled_at FROM phone WHERE id = 1")
        assert row is not None and row["disabled_at"] is None


async def test_the_window_restarts_after_an_alert_so_old_failures_do_not_alert_again(tmp_path: Path) -> None:
    cfg = ReliabilityConfig(interval=3600.0, failed=ReliabilityRule(True, 10.0, 2, 120.0, 0.0))
    async with running_daemon(tmp_path, reliability=cfg) as env:
        d = env.daemon
        assert d.ctx is not None
        now = d.clock.time()
        await _insert_sent(d.db, [(now - 60 - i, "failed") for i in range(3)])
        assert len(await check_reliability(d.ctx, cfg, d.supervisors)) == 1
        assert await check_reliability(d.ctx, cfg, d.supervisors) == []
        assert d.supervisors[1].status().state == "connected"  # auto_disable is off
