"""Every benchmark in one run: a table with ratios to gammu-smsd, and a results file.

    python -m bench.run [--smoke] [--only NAME …] [--output FILE]
    python -m bench.run --pi [--cpu-quota PCT] …

Figures (``--only`` names): ``inbound`` (our latency, simulator → verified webhook, one SMS at a time),
``gammu`` (gammu-smsd's, same simulator and receiver), ``burst`` and ``gammu_burst`` (200 SMS arriving
together, until every webhook is verified), ``throughput`` and ``drain`` (webhook dispatch),
``footprint`` (idle RSS and CPU, ours and gammu-smsd's), ``durability`` (fsyncs per received SMS, alone
and in a burst), ``scale`` (throughput with a million delivered rows vs empty), ``send_scale`` (the store
work per SMS sent with a long history and in a 10 000-number campaign vs none), ``startup`` (READY and
the commands, with 15 % of one core), ``multimodem`` (200 SMS sent through 4 modems vs 1), ``mqtt`` (a
fleet's job intake with 1 then 3 gateways, and the event latency to an MQTT subscriber beside the
webhook's, on a real Mosquitto).

``--pi`` runs them as a Raspberry Pi sees them (:mod:`bench.profile`): every fsync 50 ms slower, as on
an SD card, and the CPU limited to what runs Python as fast as a Pi 3 B+ (:mod:`bench.calibrate`; or
``--cpu-quota``). It also measures ``inbound`` and ``burst`` with the fsync delay alone, the condition
the group-commit targets are stated with. The dispatcher figures (``throughput``, ``drain``, ``scale``)
and ``send_scale`` run inside this process and are not part of the Pi profile; ``footprint`` neither
(memory and CPU time do not depend on how fast the CPU or the disk is), nor ``mqtt``. Results go to
``bench/results.json`` (``--pi``: ``bench/results-pi.json``); ``python -m bench.report`` prints the
README table from both.

The full run takes about 22 minutes (most of it the multimodem figure, which waits 2–4 s per SMS like a
real network); ``--smoke`` (CI) runs each harness for a few seconds and checks that it produces
numbers, not that targets are met.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import logging
import shlex
import statistics
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import raspisms_daemon
from bench import (
    bench_dispatch,
    bench_inbound,
    burst,
    calibrate,
    durability,
    footprint,
    gammu_smsd,
    mqtt_fleet,
    multimodem,
    scale,
    send_scale,
    startup,
)
from bench.profile import NORMAL, PI, SD, Applied, Profile, Quota, cpu_cgroup
from bench.report import Row, machine, render_table, write_results

__all__ = ["FIGURES", "PI_FIGURES", "Plan", "main", "plan_for", "rows_for", "run_all"]

FIGURES = (
    "inbound",
    "gammu",
    "burst",
    "gammu_burst",
    "throughput",
    "drain",
    "footprint",
    "durability",
    "scale",
    "send_scale",
    "startup",
    "multimodem",
    "mqtt",
)
# The Pi profile's: what runs as a process of its own (the daemon, gammu-smsd) and depends on the CPU
# or the disk, plus the fsync-only measurements of the group-commit targets.
PI_FIGURES = (
    "inbound",
    "gammu",
    "burst",
    "gammu_burst",
    "durability",
    "startup",
    "multimodem",
    "inbound_sd",
    "burst_sd",
)
HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE / "results.json"
DEFAULT_PI_OUTPUT = HERE / "results-pi.json"


@dataclass(frozen=True)
class Plan:
    """Sizes of one run."""

    inbound_sms: int
    gammu_sms: int
    gammu_spacing: float
    burst_sms: int
    gammu_burst_sms: int
    events: int
    dispatch_runs: int
    footprint_s: float
    footprint_busy_s: float
    durability_sms: int
    history_rows: int
    sent_history_rows: int
    send_numbers: int
    campaign_numbers: int
    mqtt_jobs: int
    mqtt_sms: int
    startup_runs: int
    ready_runs: int
    multimodem_sms: int
    send_delay: str


FULL = Plan(
    inbound_sms=1000,
    gammu_sms=200,
    gammu_spacing=0.75,
    burst_sms=200,
    gammu_burst_sms=200,
    events=10_000,
    dispatch_runs=3,
    footprint_s=60.0,
    footprint_busy_s=10.0,
    durability_sms=150,
    history_rows=1_000_000,
    sent_history_rows=200_000,
    send_numbers=500,
    campaign_numbers=10_000,
    mqtt_jobs=2000,
    mqtt_sms=200,
    startup_runs=10,
    ready_runs=5,
    multimodem_sms=200,
    send_delay=multimodem.SEND_DELAY,
)
SMOKE = Plan(
    inbound_sms=20,
    gammu_sms=5,
    gammu_spacing=0.3,
    burst_sms=20,
    gammu_burst_sms=5,
    events=300,
    dispatch_runs=1,
    footprint_s=5.0,
    footprint_busy_s=2.0,
    durability_sms=20,
    history_rows=20_000,
    sent_history_rows=2_000,
    send_numbers=20,
    campaign_numbers=100,
    mqtt_jobs=100,
    mqtt_sms=10,
    startup_runs=1,
    ready_runs=1,
    multimodem_sms=4,
    send_delay="0.2-0.4",
)


def plan_for(smoke: bool) -> Plan:
    return SMOKE if smoke else FULL


async def run_all(
    plan: Plan, only: set[str], *, smoke: bool, profile: Profile, cgroup: Path | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Run the selected figures one after the other (each owns and stops its processes) under
    ``profile`` (its quota through ``cgroup``); a figure that fails is recorded in ``errors`` and the
    others still run."""
    figures: dict[str, Any] = {}
    errors: dict[str, str] = {}
    applied = Applied(profile, cgroup)
    sd = Applied(SD)

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

    await step("inbound", lambda: bench_inbound.run(plan.inbound_sms, 10.0, applied))
    await step("inbound_sd", lambda: bench_inbound.run(plan.inbound_sms, 10.0, sd))
    await step(
        "gammu",
        lambda: gammu_smsd.inbound_latency(
            plan.gammu_sms, spacing=plan.gammu_spacing, loop_sleep=0, applied=applied
        ),
    )
    await step("burst", lambda: burst.burst(plan.burst_sms, applied=applied))
    await step("burst_sd", lambda: burst.burst(plan.burst_sms, applied=sd))
    await step("gammu_burst", lambda: gammu_smsd.burst(plan.gammu_burst_sms, applied=applied))
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
    await step(
        "send_scale",
        lambda: send_scale.send_scale(plan.sent_history_rows, plan.send_numbers, plan.campaign_numbers),
    )
    await step("footprint", lambda: footprint.idle_footprint(plan.footprint_s, plan.footprint_busy_s))
    await step(
        "durability",
        lambda: durability.fsyncs_per_sms(plan.durability_sms, burst=plan.burst_sms, applied=applied),
    )
    if profile.quota is None and "startup" in only:
        # The targets' own condition: 15 % of one core, in a cgroup of its own.
        with cpu_cgroup(Quota(startup.TARGET_QUOTA, "the targets' condition")) as group:
            on_slow_cpu = Applied(profile, group)
            await step(
                "startup",
                lambda: startup.startup(on_slow_cpu, runs=plan.startup_runs, ready_runs=plan.ready_runs),
            )
    else:
        await step(
            "startup", lambda: startup.startup(applied, runs=plan.startup_runs, ready_runs=plan.ready_runs)
        )
    await step(
        "multimodem",
        lambda: multimodem.multimodem(plan.multimodem_sms, send_delay=plan.send_delay, applied=applied),
    )
    await step("mqtt", lambda: _mqtt(plan))
    per_webhook = bench_dispatch.delivery_config().per_webhook_concurrency
    for name in ("throughput", "scale"):
        if name in figures:
            figures[name]["per_webhook_concurrency"] = per_webhook
    if "startup" in figures:
        quota = profile.quota.fraction if profile.quota is not None else startup.TARGET_QUOTA
        figures["startup"]["quota"] = quota
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


def rows_for(figures: dict[str, Any], plan: Plan, *, smoke: bool, pi: bool = False) -> list[Row]:
    """The table. Targets are judged on full runs only (a smoke run is too small to say); in the Pi
    profile only those stated for it (the fsync-only rows, the modems' ratio)."""

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
                    "" if pi else target,
                    None if ok is None or pi else judged(ok),
                    note if p == "p99" else "",
                )
            )
    if "inbound_sd" in figures:
        s = figures["inbound_sd"]
        rows.append(
            Row(
                "inbound latency p99, fsync +50 ms only",
                "ms",
                s["p99_ms"],
                None,
                "≤ 150 ms",
                judged(s["p99_ms"] <= 150.0),
                f"p50 {s['p50_ms']:.1f} ms; {int(s['sms'])} SMS one at a time, the CPU as it is",
            )
        )
    b_ours, b_theirs = figures.get("burst"), figures.get("gammu_burst")
    if b_ours or b_theirs:
        rows.append(
            Row(
                f"a burst of {plan.burst_sms} SMS",
                "SMS/s",
                b_ours["per_s"] if b_ours else None,
                b_theirs["per_s"] if b_theirs else None,
                "",
                None,
                "all injected at once, each stored with its +CMTI, until every webhook is verified"
                + (
                    f"; gammu-smsd: {b_theirs['sms']} SMS, its RunOnReceive hook for each" if b_theirs else ""
                ),
            )
        )
    if "burst_sd" in figures:
        s = figures["burst_sd"]
        rows.append(
            Row(
                f"a burst of {plan.burst_sms} SMS, fsync +50 ms only",
                "SMS/s",
                s["per_s"],
                None,
                f"≥ {burst.TARGET_PER_S:.0f}/s",
                judged(s["per_s"] >= burst.TARGET_PER_S),
                f"{s['seconds']:.2f} s for {s['sms']} SMS, the CPU as it is",
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
                f"≤ {footprint.TARGET_RSS_MB:.0f} MB",
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
                "fsync+fdatasync per received SMS, alone",
                "",
                d["per_sms"],
                None,
                "" if pi else "≤ 2",
                None if pi else judged(d["per_sms"] <= durability.TARGET_PER_SMS),
                f"strace -f over {d['sms']} SMS, one at a time ({d['gap_s']:g} s apart once verified at the "
                "receiver); everything from the modem read to the delivery bookkeeping",
            )
        )
        if d.get("burst"):
            rows.append(
                Row(
                    "fsync+fdatasync per received SMS, in a burst",
                    "",
                    d["burst_per_sms"],
                    None,
                    "",
                    None,
                    f"{d['burst_sync_calls']} calls for {d['burst']} SMS arriving together",
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
    if "send_scale" in figures:
        ss = figures["send_scale"]
        empty = f"{ss['empty']['p50_ms']:.2f} ms per SMS with no history"
        without = ss["no_indexes"]
        for name, key, note in (
            (
                "long history ÷ none",
                "history",
                f"with {ss['history_rows']:_} SMS sent before vs {empty}; without the two history indexes "
                f"{without['p50_ms']:.2f} ms ({without['ratio']:.1f}×); {ss['numbers']} numbers, no fsync",
            ),
            (
                "big campaign ÷ small",
                "campaign",
                f"per SMS of one scheduled SMS to {ss['campaign_numbers']:_} numbers vs "
                f"{ss['numbers']}: {empty}",
            ),
        ):
            ratio = ss[key]["ratio"]
            rows.append(
                Row(
                    f"store work per SMS sent, {name}",
                    "×",
                    ratio,
                    None,
                    "≤ 1.5×",
                    judged(ratio <= send_scale.TARGET_RATIO),
                    f"p50 {ss[key]['p50_ms']:.2f} ms {note}".replace("_", " "),
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
    if "startup" in figures:
        st = figures["startup"]
        share = f"{st['quota'] * 100:.1f} % of one core"
        target_here = not pi  # the targets are stated with 15 %, the normal run's condition
        ready = st["ready"]
        rows.append(
            Row(
                "start until READY, slow CPU",
                "s",
                ready["median_s"],
                None,
                f"≤ {startup.TARGET_READY_S:g} s with 15 %" if target_here else "",
                judged(ready["median_s"] <= startup.TARGET_READY_S) if target_here else None,
                f"{share}: median of {len(ready['runs'])} restarts on the database (max "
                f"{ready['max_s']:.2f} s); the first start, which creates it: {ready['first_s']:.2f} s",
            )
        )
        for command, t in st["commands"].items():
            rows.append(
                Row(
                    f"`raspisms-daemon {command}`, slow CPU",
                    "s",
                    t["median_s"],
                    None,
                    f"≤ {startup.TARGET_COMMAND_S:g} s with 15 %" if target_here else "",
                    judged(t["median_s"] <= startup.TARGET_COMMAND_S) if target_here else None,
                    f"{share}: median of {len(t['runs'])} runs, max {t['max_s']:.2f} s",
                )
            )
    if "multimodem" in figures:
        m = figures["multimodem"]
        rows.append(
            Row(
                f"sending {plan.multimodem_sms} SMS, 4 modems ÷ 1",
                "×",
                m["ratio"],
                None,
                f"≥ {multimodem.TARGET_RATIO:g}×",
                judged(m["ratio"] >= multimodem.TARGET_RATIO),
                f"the network answers AT+CMGS after {m['one']['send_delay_s']} s; one modem "
                f"{m['one']['per_s']:.2f} SMS/s ({m['one']['seconds']:.0f} s), four "
                f"{m['four']['per_s']:.2f} SMS/s ({m['four']['seconds']:.0f} s)",
            )
        )
    return rows


@contextlib.contextmanager
def _profile(pi: bool, quota_pct: float | None, smoke: bool) -> Iterator[tuple[Profile, Path | None, Any]]:
    """The profile of this run, its cgroup (None: no quota) and the calibration (None: none made)."""
    if not pi:
        yield NORMAL, None, None
        return
    if quota_pct is not None:
        cal = None
        quota = Quota(quota_pct / 100, "given with --cpu-quota")
    else:
        cal = calibrate.calibrate(
            iterations=40 if smoke else 200, runs=2 if smoke else 5, check_iterations=10 if smoke else 300
        )
        quota = Quota(cal["quota"], calibrate.REFERENCE)
    profile = PI.with_quota(quota)
    with cpu_cgroup(quota) as group:
        yield profile, group, cal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="seconds per figure: the harness works (CI)")
    parser.add_argument("--pi", action="store_true", help="the Raspberry Pi profile (needs root, cgroup v1)")
    parser.add_argument("--cpu-quota", type=float, metavar="PCT", help="with --pi: this quota, uncalibrated")
    parser.add_argument("--only", nargs="+", choices=sorted({*FIGURES, *PI_FIGURES}), metavar="NAME")
    parser.add_argument("--output", type=Path, help="results file (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    plan = plan_for(args.smoke)
    default = PI_FIGURES if args.pi else FIGURES
    only = set(args.only or default) & set(default)
    output = args.output or (DEFAULT_PI_OUTPUT if args.pi else DEFAULT_OUTPUT)
    command = shlex.join(["python", "-m", "bench.run", *(argv if argv is not None else sys.argv[1:])])
    # As pip does at install: every process starts from bytecode, not from source (the environment
    # may say PYTHONDONTWRITEBYTECODE, and start-up times would then include compiling every module).
    for package in (Path(raspisms_daemon.__file__).parent, HERE):
        compileall.compile_dir(package, quiet=1)
    machine_info = machine()
    start = time.monotonic()
    with _profile(args.pi, args.cpu_quota, args.smoke) as (profile, group, cal):
        machine_info["profile"] = {
            "name": profile.name,
            "description": profile.describe(),
            "quota": None if profile.quota is None else profile.quota.fraction,
            "quota_reason": None if profile.quota is None else profile.quota.reason,
            "calibration": cal,
        }
        print(f"profile {profile.name}: {profile.describe()}", flush=True)
        figures, errors = asyncio.run(run_all(plan, only, smoke=args.smoke, profile=profile, cgroup=group))
    elapsed = time.monotonic() - start
    rows = rows_for(figures, plan, smoke=args.smoke, pi=args.pi)
    write_results(
        output,
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
    print(f"\n{len(figures)} figure(s) in {elapsed:.0f} s; results in {output}")
    for name, error in errors.items():
        print(f"FAILED {name}: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
