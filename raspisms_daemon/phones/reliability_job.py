"""The reliability job (docs/design.md §8): every ``[reliability] interval``, check each phone and each type.

The computation is :func:`raspisms_daemon.reliability.evaluate`; this module feeds it from the store,
records an alert in ``phone_reliability_history`` (which restarts the window) together with its
``phone_reliability`` event, and optionally disables the phone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from ..config import ReliabilityConfig
from ..reliability import Alert, SentSample, evaluate
from ..store import messages
from ..webhooks import events
from .context import PhoneContext
from .supervisor import PhoneSupervisor

__all__ = ["check_reliability", "reliability_loop"]

log = logging.getLogger("raspisms_daemon.reliability")


async def check_reliability(
    ctx: PhoneContext, config: ReliabilityConfig, phones: Mapping[int, PhoneSupervisor]
) -> list[tuple[int, Alert]]:
    """One pass over every phone that is not disabled; returns the alerts raised."""
    raised: list[tuple[int, Alert]] = []
    rules = [(k, r) for k, r in (("failed", config.failed), ("unknown", config.unknown)) if r.enabled]
    if not rules:
        return raised
    for phone_id, sup in sorted(phones.items()):
        if sup.disabled:
            continue
        now = ctx.now()
        # One read for both types: the longer period covers both windows, evaluate() cuts each.
        rows = await ctx.db.reads.fetchall(
            "SELECT at, status FROM sended WHERE id_phone = ? AND at >= ? AND state != 'sending'",
            (phone_id, now - max(r.period for _, r in rules) * 60.0),
        )
        sent = [SentSample(r["at"], r["status"]) for r in rows]
        for kind, rule in rules:
            last = await ctx.db.reads.fetchone(
                "SELECT MAX(created_at) AS t FROM phone_reliability_history WHERE id_phone = ? AND type = ?",
                (phone_id, kind),
            )
            alert = evaluate(
                kind, sent, last_alert_at=None if last is None else last["t"], now=now, rule=rule
            )
            if alert is None:
                continue
            async with ctx.db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO phone_reliability_history (id_phone, type, created_at) VALUES (?, ?, ?)",
                    (phone_id, kind, now),
                )
                await ctx.emit(
                    conn,
                    "phone_reliability",
                    events.phone_reliability(
                        reliability_type=kind,
                        id_phone=phone_id,
                        period=alert.period,
                        total=alert.total,
                        unreliable=alert.unreliable,
                        rate=alert.rate,
                    ),
                )
                if config.auto_disable:
                    reason = (
                        f"reliability: {alert.unreliable}/{alert.total} SMS {kind} in {alert.period:g} min"
                    )
                    await messages.set_phone_disabled(conn, phone_id, at=now, reason=reason)
            log.warning(
                "phone %d unreliable: %d of %d SMS %s (%.0f %%)",
                phone_id,
                alert.unreliable,
                alert.total,
                kind,
                alert.rate * 100,
                extra={"phone_id": phone_id},
            )
            if config.auto_disable:
                sup.disable(reason)
            ctx.wake_dispatcher()
            raised.append((phone_id, alert))
    return raised


async def reliability_loop(
    ctx: PhoneContext, config: ReliabilityConfig, phones: Mapping[int, PhoneSupervisor]
) -> None:
    while True:
        await asyncio.sleep(config.interval)
        try:
            await check_reliability(ctx, config, phones)
        except Exception:
            log.exception("reliability check failed")
