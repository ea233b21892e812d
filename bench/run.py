"""Every benchmark in one run: a table with ratios to gammu-smsd, and ``bench/results.json``.

    python -m bench.run [--smoke] [--only NAME …] [--output bench/results.json]

Figures (``--only`` names): ``inbound`` (our latency, simulator → verified webhook), ``gammu``
(gammu-smsd's, same simulator and receiver), ``throughput`` and ``drain`` (webhook dispatch), ``footprint``
(idle RSS and CPU, ours and gammu-smsd's), ``durability`` (fsyncs per received SMS), ``scale``
(throughput with a million delivered rows vs empty), ``mqtt`` (a fleet's job intake with 1 then 3
gateways, and the event latency to an MQTT subscriber beside the webhook's, on a real Mosquitto). The full
run takes about seven minutes; ``--smoke``
(CI) runs each harness for a few seconds and checks that it produces numbers, not that targets are met.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
import statistics
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import bench_dispatch, bench_inbound, durability, footprint, gammu_smsd, mqtt_fleet, scale
from bench.report import Row, machine, render_table, write_results

__all__ = ["FIGURES", "Plan", "main", "plan_for", "run_all"]

FIGURES = ("inbound", "gammu", "throughput", "drain", "footprint", "durability", "scale", "mqtt")
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results.json"


@dataclass(frozen=True)
class Plan:
    """Sizes of one run."""

    inbound_sms: int
    gammu_sms: int
    gammu_spacing: float
    events: int
    dispatch_runs: int
    footprint_s: float
    footprint_busy_s: float
    durability_sms: int
    history_rows: int
    mqtt_jobs: int
    mqtt_sms: int


FULL = Plan(
    inbound_sms=1000,
    gammu_sms=200,
    gammu_spacing=0.75,
    events=10_000,
    dispatch_runs=3,
    footprint_s=60.0,
    footprint_busy_s=10.0,
    durability_sms=150,
    history_rows=1_000_000,
    mqtt_jobs=2000,
    mqtt_sms=200,
)
SMOKE = Plan(
    inbound_sms=20,
    gammu_sms=5,
    gammu_spacing=0.3,
    events=300,
    dispatch_runs=1,
    footprint_s=5.0,
    footprint_busy_s=2.0,
    durability_sms=20,
    history_rows=20_000,
    mqtt_jobs=100,
    mqtt_sms=10,
)


def plan_for(smoke: bool) -> Plan:
    return SMOKE if smoke else FULL


async def run_all(plan: Plan, only: set[str], *, smoke: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """Run the selected figures one after the other (each owns and stops its processes); a figure that
    fails is recorded in ``errors`` and the others still run."""
    figures: dict[str, Any] = {}
    errors: dict[str, str] = {}

    async def step(name: str, make: Callable[[], Awaitable[Any]]) -> None:
        if name not in only:
            return
        print(f"-- {name} …", flush=True)
        start = time.monotonic()
        try:
            figures[name] = await make()
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        print(f"   {name}: {time.monotonic() - start:.1f} s", flush=True)

    await step("inbound", lambda: bench_inbound.run(plan.inbound_sms, 10.0))
    await step(
        "gammu",
        lambda: gammu_smsd.inbound_latency(plan.gammu_sms, spacing=plan.gammu_spacing, loop_sleep=0),
    )
    # Throughput and scale share their empty-database runs, alternated with the history runs.
    if "scale" in only:
        await step("scale", lambda: scale.scale(plan.events, plan.history_rows, plan.dispatch_runs))
        if "throughput" in only and "scale" in figures:
            rates = figures["scale"]["empty_per_s"]
            figures["throughput"] = {"events": plan.events, "per_s": statistics.median(rates), "runs": rates}
        elif "throughput" in only:
            await step("throughput", lambda: _throughput(plan))
    else:
        await step("throughput", lambda: _throughput(plan))
    await step("drain", lambda: _drain(plan))
    await step("footprint", lambda: footprint.idle_footprint(plan.footprint_s, plan.footprint_busy_s))
    await step("durability", lambda: durability.fsyncs_per_sms(plan.durability_sms))
    await step("mqtt", lambda: _mqtt(plan))
    per_webhook = bench_dispatch.delivery_config().per_webhook_concurrency
    for name in ("throughput", "scale"):
        if name in figures:
            figures[name]["per_webhook_concurrency"] = per_webhook
    return figures, errors


async def _mqtt(plan: Plan) -> dict[str, Any]:
    return {
        "fleet": await mqtt_fleet.fleet_throughput(plan.mqtt_jobs),
        "latency": await mqtt_fleet.event_latency(plan.mqtt_sms),
    }


async def _throughput(plan: Plan) -> dict[str, Any]:
    rates = [await scale.dispatch_rate(plan.events) for _ in range(plan.dispatch_runs)]
    return {"events": plan.events, "per_s": statistics.median(rates), "runs": rates}


async def _drain(plan: Plan) -> dict[str, Any]:
    import shutil
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    try:
        drain = await bench_dispatch.bench_drain(workdir, plan.events)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"events": plan.events, "seconds": drain.seconds, "failed_attempts": drain.failed_attempts}


def rows_for(figures: dict[str, Any], plan: Plan, *, smoke: bool) -> list[Row]:
    """The table. Targets are judged on full runs only (a smoke run is too small to say)."""

    def judged(ok: bool) -> bool | None:
        return None if smoke else ok

    rows: list[Row] = []
    ours = figures.get("inbound")
    theirs = figures.get("gammu")
    if ours or theirs:
        parts = []
        if ours:
            parts.append(f"{int(ours['sms'])} SMS for ours (one at a time)")
        if theirs:
            parts.append(
                f"{int(theirs['sms'])} for gammu-smsd (one every {plan.gammu_spacing:g} s; LoopSleep 0, "
                "ReceiveFrequency 0, service null, RunOnReceive + curl signed with openssl, verified by "
                "the same receiver)"
            )
        note = ", ".join(parts)
        for p, target in (("p50", "lower than gammu-smsd"), ("p99", "≤ 50 ms, lower than gammu-smsd")):
            a = ours[f"{p}_ms"] if ours else None
            b = theirs[f"{p}_ms"] if theirs else None
            ok = None
            if a is not None and b is not None:
                ok = a < b and (p != "p99" or a <= bench_inbound.TARGET_P99_MS)
            elif a is not None and p == "p99":
                ok = a <= bench_inbound.TARGET_P99_MS
            rows.append(
                Row(
                    f"inbound latency {p}",
                    "ms",
                    a,
                    b,
                    target,
                    None if ok is None else judged(ok),
                    note if p == "p99" else "",
                )
            )
    if "throughput" in figures:
        t = figures["throughput"]
        rows.append(
            Row(
                "webhook throughput",
                "deliveries/s",
                t["per_s"],
                None,
                "≥ 1 500/s",
                judged(t["per_s"] >= 1500),
                f"{t['events']} queued events, median of {len(t['runs'])} run(s), durable, per-webhook "
                f"concurrency {t.get('per_webhook_concurrency')}",
            )
        )
    if "drain" in figures:
        d = figures["drain"]
        rows.append(
            Row(
                "backlog drain",
                "s",
                d["seconds"],
                None,
                "≤ 15 s",
                judged(d["seconds"] <= 15.0),
                f"{d['events']} events queued during the outage; the default retry schedule (next attempt "
                "5 s ± 20 %) is part of it",
            )
        )
    if "footprint" in figures:
        f = figures["footprint"]
        o, g = f["ours"], f["gammu_smsd"]
        busy = f.get("gammu_smsd_loopsleep0", {})
        rows.append(
            Row(
                "idle RSS",
                "MB",
                o["rss_mb"],
                g["rss_mb"],
                "≤ 45 MB",
                judged(o["rss_mb"] <= footprint.TARGET_RSS_MB),
                f"measured side by side over {o['window_s']:g} s, one simulated phone each; "
                "gammu-smsd with LoopSleep 1",
            )
        )
        rows.append(
            Row(
                "idle CPU",
                "CPU s/min",
                o["cpu_s_per_min"],
                g["cpu_s_per_min"],
                "≤ 0.3 s/min",
                judged(o["cpu_s_per_min"] <= footprint.TARGET_CPU_S_PER_MIN),
                "gammu-smsd with LoopSleep 0 (its latency setting) uses "
                f"{busy.get('cpu_s_per_min', float('nan')):.1f} CPU s/min idle "
                f"(over {busy.get('window_s', 0):g} s)",
            )
        )
    if "durability" in figures:
        d = figures["durability"]
        rows.append(
            Row(
                "fsync+fdatasync per received SMS",
                "",
                d["per_sms"],
                None,
                "≤ 2",
                judged(d["per_sms"] <= durability.TARGET_PER_SMS),
                f"strace -f over {d['sms']} SMS, one at a time ({d['gap_s']:g} s apart once verified at the "
                "receiver); everything from the modem read to the delivery bookkeeping",
            )
        )
    if "scale" in figures:
        s = figures["scale"]
        rows.append(
            Row(
                "dispatch throughput with history ÷ empty",
                "%",
                s["ratio"] * 100,
                None,
                "≥ 90 %",
                judged(s["ratio"] >= scale.TARGET_RATIO),
                f"{s['history_rows']:,} delivered rows: {s['history_per_s']} /s vs empty "
                f"{s['empty_per_s']} /s ({s['events']} events per run)".replace(",", " "),
            )
        )
    if "mqtt" in figures:
        fleet, lat = figures["mqtt"]["fleet"], figures["mqtt"]["latency"]
        note = (
            f"{fleet['jobs']} jobs from raspisms/send to committed (accepted status back), for later; "
            f"one daemon process per gateway on a real Mosquitto, {fleet['cpus']} CPU(s) for all of them"
        )
        rows.append(Row("MQTT fleet intake, 1 gateway", "jobs/s", fleet["one_per_s"], note=note))
        rows.append(
            Row(
                "MQTT fleet intake, 3 gateways",
                "jobs/s",
                fleet["three_per_s"],
                note=f"{fleet['ratio']:g}× one gateway; spread {fleet['spread']}",
            )
        )
        for p in ("p50", "p99"):
            rows.append(
                Row(
                    f"event latency to MQTT {p}",
                    "ms",
                    lat[f"mqtt_{p}_ms"],
                    note=f"webhook {lat[f'webhook_{p}_ms']:.1f} ms for the same {lat['sms']} SMS "
                    "(one daemon, both targets, one at a time)",
                )
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="seconds per figure: the harness works (CI)")
    parser.add_argument("--only", nargs="+", choices=FIGURES, metavar="NAME", help=", ".join(FIGURES))
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results file (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    plan = plan_for(args.smoke)
    only = set(args.only or FIGURES)
    command = shlex.join(["python", "-m", "bench.run", *(argv if argv is not None else sys.argv[1:])])
    machine_info = machine()
    start = time.monotonic()
    figures, errors = asyncio.run(run_all(plan, only, smoke=args.smoke))
    elapsed = time.monotonic() - start
    rows = rows_for(figures, plan, smoke=args.smoke)
    write_results(
        args.output,
        mode="smoke" if args.smoke else "full",
        command=command,
        figures=figures,
        rows=rows,
        errors=errors,
        elapsed_s=elapsed,
        machine_info=machine_info,
    )
    print()
    print(render_table(rows))
    print(f"\n{len(figures)} figure(s) in {elapsed:.0f} s; results in {args.output}")
    for name, error in errors.items():
        print(f"FAILED {name}: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
