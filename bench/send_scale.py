"""Send scale: what the store costs per SMS sent, with a long history and in a big campaign.

``sended`` and ``sended_part`` keep every SMS ever sent (RaspiSMS's history): a question the sender asks
per SMS that reads them whole costs more every month, inside the write transaction every message waits
for. This runs the store work of one SMS as the sender and the report matcher do it (claim the number
with its ``sending`` row; record it sent with its part and close the scheduled SMS when it was the last;
take its delivery report), through the daemon's own store functions on a real SQLite file made by its
migrations, without fsync (the query work alone: the disk's share is the durability figure's), for:

- ``empty``: no history, a scheduled SMS to ``numbers`` numbers;
- ``history``: the same after ``history`` SMS already sent (one part each);
- ``no_indexes``: the same history, without the two indexes that answer those questions by number
  (``sended_number``, ``sended_part_sended``): the schema before them, side by side;
- ``campaign``: no history, one scheduled SMS to ``campaign`` numbers (the API takes up to 10 000).

Figures: per-SMS milliseconds (p50, p99) of each, and the ratios to ``empty``. Target: the history and
the campaign cost at most 1.5× ``empty`` per SMS.

    python -m bench.send_scale [--history 200000] [--numbers 500] [--campaign 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_inbound import percentile
from raspisms_daemon.store import scheduled as scheduled_store
from raspisms_daemon.store import sent as sent_store
from raspisms_daemon.store.db import Database, open_database

__all__ = ["TARGET_RATIO", "per_sms_costs", "send_scale"]

TARGET_RATIO = 1.5
PHONE = 1
NOW = 1_800_000_000.0


async def add_history(db: Database, rows: int) -> None:
    """``rows`` SMS sent a year ago, one delivered part each, set-based in one transaction."""
    async with db.transaction(durable=False) as conn:
        await conn.execute(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?) "
            "INSERT INTO sended (at, text, destination, id_phone, status, state, scheduled_number) "
            "SELECT ? - 31536000 + i, 'old', '+336' || (10000000 + i), ?, 'delivered', 'sent', -i FROM k",
            (rows, NOW, PHONE),
        )
        await conn.execute(
            "INSERT INTO sended_part (id_sended, seq, id_phone, mr, status, sent_at, report_at) "
            "SELECT id, 1, id_phone, id % 256, 'delivered', at, at FROM sended"
        )


async def per_sms_costs(workdir: Path, *, history: int, numbers: int, indexes: bool = True) -> list[float]:
    """Seconds of store work per SMS, for each number of one scheduled SMS, in sending order."""
    db = await open_database(workdir / f"send-scale-{history}-{numbers}-{indexes}.sqlite3")
    try:
        await add_history(db, history)
        if not indexes:
            async with db.transaction(durable=False) as conn:
                await conn.execute("DROP INDEX sended_number")
                await conn.execute("DROP INDEX sended_part_sended")
        sid = await scheduled_store.create(
            db, text="campaign", numbers=[f"+3361{i:07d}" for i in range(numbers)], now=NOW
        )
        sch = await scheduled_store.get(db, sid)
        assert sch is not None
        costs: list[float] = []
        started = time.perf_counter()
        for k, dest in enumerate(await scheduled_store.unsent_numbers(db.reads, sid)):
            mr = k % 256
            async with db.transaction(durable=False) as conn:
                assert await scheduled_store.is_pending(conn, sid)
                sended_id = await sent_store.insert_sending(conn, sch, dest, PHONE, at=NOW)
            async with db.transaction(durable=False) as conn:
                await sent_store.mark_sent(conn, sended_id, attempts=1, id_phone=PHONE, mrs=[mr], at=NOW)
                await scheduled_store.finish(conn, sid)
            async with db.transaction(durable=False) as conn:
                found = await sent_store.part_candidates(conn, id_phone=PHONE, mr=mr, since=NOW - 60)
                (part,) = [c for c in found if c.id_sended == sended_id]
                await sent_store.set_part_status(conn, part.part_id, outcome="delivered", at=NOW)
                assert await sent_store.part_statuses(conn, sended_id) == ["delivered"]
                await sent_store.finalize(conn, sended_id, status="delivered", at=NOW)
            now = time.perf_counter()
            costs.append(now - started)
            started = now
        done = await scheduled_store.get(db, sid)
        assert done is not None and done.state == "done", "the scheduled SMS did not end done"
        return costs
    finally:
        await db.close()


def _summary(costs: list[float]) -> dict[str, Any]:
    ordered = sorted(costs)
    return {
        "sms": len(costs),
        "p50_ms": percentile(ordered, 50) * 1000,
        "p99_ms": percentile(ordered, 99) * 1000,
        "total_s": sum(costs),
    }


async def send_scale(history: int, numbers: int, campaign: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-send-scale-"))
    try:
        out: dict[str, Any] = {"history_rows": history, "numbers": numbers, "campaign_numbers": campaign}
        out["empty"] = _summary(await per_sms_costs(workdir, history=0, numbers=numbers))
        out["history"] = _summary(await per_sms_costs(workdir, history=history, numbers=numbers))
        out["no_indexes"] = _summary(
            await per_sms_costs(workdir, history=history, numbers=numbers, indexes=False)
        )
        out["campaign"] = _summary(await per_sms_costs(workdir, history=0, numbers=campaign))
        base = out["empty"]["p50_ms"]
        for name in ("history", "no_indexes", "campaign"):
            out[name]["ratio"] = out[name]["p50_ms"] / base
        return out
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--history", type=int, default=200_000)
    parser.add_argument("--numbers", type=int, default=500)
    parser.add_argument("--campaign", type=int, default=10_000)
    args = parser.parse_args(argv)
    result = asyncio.run(send_scale(args.history, args.numbers, args.campaign))
    print(json.dumps(result, indent=2))
    for name in ("empty", "history", "no_indexes", "campaign"):
        r = result[name]
        ratio = f"{r['ratio']:.2f}× empty" if "ratio" in r else ""
        print(f"{name:>10}: {r['sms']:>6} SMS, p50 {r['p50_ms']:.3f} ms, p99 {r['p99_ms']:.3f} ms  {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
