"""Phone reliability alerts, computed as RaspiSMS computes them (docs/design.md §8). Pure: no I/O.

For one phone and one type (``failed`` or ``unknown``): take the SMS sent in ``[now - period,
now - grace]`` and after the last alert of that type; alert when there are at least ``volume`` of them
and the share with that status reaches ``rate_limit`` percent. The grace period leaves the most recent
SMS time to get their delivery report; recording the alert restarts the window.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

__all__ = ["RELIABILITY_TYPES", "Alert", "ReliabilityRule", "SentSample", "evaluate"]

RELIABILITY_TYPES = ("failed", "unknown")


class ReliabilityRule(NamedTuple):
    """When to alert for one type (RaspiSMS's settings; ``[reliability]`` in the config)."""

    enabled: bool
    rate_limit: float  # percent
    volume: int
    period: float  # minutes
    grace: float  # minutes


class SentSample(NamedTuple):
    at: float  # unix seconds the SMS was sent
    status: str  # unknown | delivered | failed (RaspiSMS's sended.status)


class Alert(NamedTuple):
    reliability_type: str
    period: float  # minutes, as in the webhook
    total: int
    unreliable: int
    rate: float  # 0..1


def evaluate(
    reliability_type: str,
    sent: Iterable[SentSample],
    *,
    last_alert_at: float | None,
    now: float,
    rule: ReliabilityRule,
) -> Alert | None:
    """The alert to raise for this phone and type now, or None."""
    if reliability_type not in RELIABILITY_TYPES:
        raise ValueError(f"unknown reliability type {reliability_type!r}")
    if not rule.enabled:
        return None
    start = now - rule.period * 60.0
    end = now - rule.grace * 60.0
    # strictly after the last alert: an SMS at the alert's very instant was counted by that alert
    after = last_alert_at if last_alert_at is not None else float("-inf")
    window = [s for s in sent if start <= s.at <= end and s.at > after]
    total = len(window)
    if total == 0 or total < rule.volume:
        return None
    unreliable = sum(1 for s in window if s.status == reliability_type)
    rate = unreliable / total
    if rate < rule.rate_limit / 100.0:
        return None
    return Alert(reliability_type, rule.period, total, unreliable, rate)
