"""The fault suite's bookkeeping: every SMS injected into a simulated modem and every send the API
acknowledged, and the check at the end — "0 lost, 0 sent twice" — against what the receiver got and
what the modem sent.

- inbound: an injected text is *lost* when no ``receive_sms`` carried it; *twice* when it came under
  more than one ``webhook_random_id`` (a retry of the same event keeps its id: that is allowed).
- sends: an acknowledged send (the API answered 201) is *lost* when no ``send_sms`` webhook tells its
  fate; *sent twice* when the modem got its text more than once, or its ``send_sms`` came under more
  than one random id. A send cut by a crash may end with status ``unknown``: the truth, not a loss.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from raspisms_daemon.simulator import Simulator
from tests.helpers.daemon_process import DaemonProcess
from tests.helpers.receiver import FaultyReceiver

__all__ = ["Ledger", "Verdict", "api_sends", "inbound"]


@dataclass(frozen=True)
class Verdict:
    injected: int
    inbound_lost: list[str]
    inbound_twice: list[str]
    acknowledged: int
    sends_lost: list[str]
    sends_twice: list[str]

    def __str__(self) -> str:
        return (
            f"inbound: {self.injected} injected, {len(self.inbound_lost)} lost, "
            f"{len(self.inbound_twice)} twice; sends: {self.acknowledged} acknowledged, "
            f"{len(self.sends_lost)} lost, {len(self.sends_twice)} sent twice"
        )

    @property
    def clean(self) -> bool:
        return not (self.inbound_lost or self.inbound_twice or self.sends_lost or self.sends_twice)


@dataclass
class Ledger:
    prefix: str = "sms"
    injected: list[str] = field(default_factory=list)
    acknowledged: dict[int, str] = field(default_factory=dict)  # scheduled id → text
    refused: Counter[int] = field(default_factory=Counter)  # HTTP status (0: no answer) → API sends not taken

    @property
    def unanswered(self) -> int:
        """API sends with no 201: the client knows they were not taken."""
        return sum(self.refused.values())

    def delivered(self, rx: FaultyReceiver) -> tuple[dict[str, set[str]], dict[int, set[str]]]:
        inbound: dict[str, set[str]] = defaultdict(set)
        sends: dict[int, set[str]] = defaultdict(set)
        for d in rx.deliveries:
            if d.type == "receive_sms":
                inbound[d.body["text"]].add(d.random_id)
            elif d.type == "send_sms" and d.body.get("originating_scheduled") is not None:
                sends[int(d.body["originating_scheduled"])].add(d.random_id)
        return inbound, sends

    def complete(self, rx: FaultyReceiver) -> bool:
        """Every injected SMS and every acknowledged send has its webhook (something to wait for)."""
        inbound, sends = self.delivered(rx)
        return set(self.injected) <= set(inbound) and set(self.acknowledged) <= set(sends)

    def verdict(self, rx: FaultyReceiver, sim: Simulator) -> Verdict:
        inbound, sends = self.delivered(rx)
        by_modem = Counter(item["text"] for item in sim.state()["sent"])
        return Verdict(
            injected=len(self.injected),
            inbound_lost=[t for t in self.injected if t not in inbound],
            inbound_twice=[t for t, ids in inbound.items() if len(ids) > 1],
            acknowledged=len(self.acknowledged),
            sends_lost=[t for sid, t in self.acknowledged.items() if sid not in sends],
            sends_twice=sorted(
                {t for t, n in by_modem.items() if n > 1}
                | {self.acknowledged.get(sid, str(sid)) for sid, ids in sends.items() if len(ids) > 1}
            ),
        )


async def inbound(sim: Simulator, ledger: Ledger, n: int, *, pace: float, rng: random.Random) -> None:
    """``n`` SMS arrive at the modem, one every ``pace`` seconds on average."""
    for _ in range(n):
        i = len(ledger.injected)  # unique over every call on this ledger
        text = f"{ledger.prefix} in {i}"
        await sim.inject_sms(f"+3361{i:07d}", text)
        ledger.injected.append(text)
        await asyncio.sleep(rng.uniform(0, 2 * pace))


async def api_sends(
    daemon: DaemonProcess, ledger: Ledger, n: int, *, pace: float, rng: random.Random
) -> None:
    """``n`` SMS scheduled through the API; only a 201 counts as acknowledged. While the daemon is down
    (no connection at all: the request never reached it) the client tries the same SMS again, as a user's
    would; an answer lost mid-request is not retried (it may have been taken: a retry would be a second
    SMS)."""
    for _ in range(n):
        i = len(ledger.acknowledged) + ledger.unanswered
        text = f"{ledger.prefix} out {i}"
        for _attempt in range(200):
            try:
                status, body = await daemon.request(
                    "POST", "/api/scheduled/", json={"text": text, "numbers": [f"+33612{i:06d}"]}
                )
            except aiohttp.ClientConnectorError:
                await asyncio.sleep(0.05)  # nobody listening: not sent, try again
                continue
            except (aiohttp.ClientError, OSError, TimeoutError):
                status, body = 0, None
            break
        else:
            status, body = 0, None
        if status == 201:
            ledger.acknowledged[_id(body)] = text
        else:
            ledger.refused[status] += 1
        await asyncio.sleep(rng.uniform(0, 2 * pace))


def _id(body: Any) -> int:
    return int(body["response"] if isinstance(body, dict) else body)
