"""The reliability job (docs/design.md §8): every ``[reliability] interval``, check each phone and each type.

The computation is :func:`raspisms_daemon.reliability.evaluate`; this module feeds it from the store,
records an alert in ``phone_reliability_history`` (which restarts the window) together with its
``phone_reliability`` event, and optionally disables the phone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from ..config import ReliabilityConfig
from ..reliability import Alert, SentSample, evaluate
from ..store import phones as phone_store
from ..store import reliability as history
from ..store import sent as sent_store
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
        samples = await sent_store.sent_samples(
            ctx.db.reads, id_phone=phone_id, since=now - max(r.period for _, r in rules) * 60.0
        )
        sent = [SentSample(at, status) for at, status in samples]
        for kind, rule in rules:
            last = await history.last_alert_at(ctx.db.reads, id_phone=phone_id, type=kind)
            alert = evaluate(kind, sent, last_alert_at=last, now=now, rule=rule)
            if alert is None:
                continue
            async with ctx.db.transaction() as conn:
                await history.record_alert(conn, id_phone=phone_id, type=kind, at=now)
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
                    await phone_store.set_disabled(conn, phone_id, at=now, reason=reason)
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
    ctx: PhoneContext, config: Callable[[], ReliabilityConfig], phones: Mapping[int, PhoneSupervisor]
) -> None:
    """``config()`` is read on every round: a reload's new rules apply from the next one."""
    while True:
        await asyncio.sleep(config().interval)  # the cadence is real time; the windows use ctx's clock
        try:
            await check_reliability(ctx, config(), phones)
        except Exception as exc:
            if not ctx.db.health.report(exc):
                log.exception("reliability check failed")
