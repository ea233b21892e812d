"""The benchmark's output: a Markdown table with ratios (printed), ``results.json`` holding every
figure, the machine description and the date, and the README's table, this machine and the Pi profile
side by side (``python -m bench.report [results.json] [results-pi.json]``)."""

from __future__ import annotations

import json
import math
import os
import platform
import sqlite3
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Row", "machine", "render_side_by_side", "render_table", "write_results"]


@dataclass(frozen=True)
class Row:
    """One line of the table. ``ratio`` is ours ÷ gammu-smsd (below 1: ours is lower)."""

    figure: str
    unit: str
    ours: float | None
    gammu: float | None = None
    target: str = ""
    ok: bool | None = None  # None: no target, not measured, or a smoke run
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.gammu is None or self.gammu == 0:
            return None
        return self.ours / self.gammu


def _num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}".replace(",", " ")
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}×" if value >= 0.1 else f"{value:.3f}×"


def render_table(rows: list[Row]) -> str:
    """A Markdown table (it also reads well in a terminal)."""
    lines = [
        "| figure | ours | gammu-smsd | ours ÷ gammu-smsd | target | met |",
        "|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        met = {True: "yes", False: "**no**", None: "—"}[r.ok]
        figure = f"{r.figure} ({r.unit})" if r.unit else r.figure
        lines.append(
            f"| {figure} | {_num(r.ours)} | {_num(r.gammu)} | {_ratio(r.ratio)} | {r.target} | {met} |"
        )
    notes = [f"- {r.figure}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + (["", *notes] if notes else []))


def render_side_by_side(normal: list[dict[str, Any]], pi: list[dict[str, Any]]) -> str:
    """The README's table from two results files' ``table``: a row per figure, this machine's and the Pi
    profile's values side by side (a figure measured in one profile only shows "—" in the other), the
    target and whether it is met in the profile it is stated for."""

    def key(r: dict[str, Any]) -> tuple[str, str]:
        return (str(r["figure"]), str(r["unit"]))

    mine = {key(r): r for r in normal}
    theirs = {key(r): r for r in pi}
    order = [key(r) for r in normal] + [key(r) for r in pi if key(r) not in mine]
    lines = [
        "| figure | ours | gammu-smsd | ours, Pi profile | gammu-smsd, Pi profile | target | met |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    notes: list[str] = []
    for k in order:
        a, b = mine.get(k), theirs.get(k)
        judged = a if a is not None and a["target"] else b if b is not None and b["target"] else None
        met = {True: "yes", False: "**no**", None: "—"}[judged["ok"] if judged else None]
        figure = f"{k[0]} ({k[1]})" if k[1] else k[0]
        cells = " | ".join(_num(r[field]) if r else "—" for r in (a, b) for field in ("ours", "gammu"))
        lines.append(f"| {figure} | {cells} | {judged['target'] if judged else ''} | {met} |")
        if a is not None and a["note"]:
            notes.append(f"- {k[0]}: {a['note']}")
        if b is not None and b["note"] and (a is None or b["note"] != a["note"]):
            notes.append(f"- {k[0]}, Pi profile: {b['note']}")
    return "\n".join(lines + (["", *notes] if notes else []))


def _run(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    return out.strip().splitlines()[0] if out.strip() else "unknown"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    mem_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
                break
    except OSError:
        pass
    try:
        import gammu  # python-gammu bundles its own libgammu build

        libgammu, python_gammu, *_ = gammu.Version()
    except ImportError:
        libgammu = python_gammu = "not installed"
    import aiohttp

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mb": round(mem_kb / 1024),
        "kernel": platform.release(),
        "os": _run(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "aiohttp": aiohttp.__version__,
        "gammu_smsd": _run(["/usr/bin/gammu-smsd", "--version"]),
        "libgammu_python_gammu": libgammu,
        "python_gammu": python_gammu,
        # Other work on the machine skews the figures; this says how busy it was.
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def write_results(
    path: Path,
    *,
    mode: str,
    command: str,
    figures: dict[str, Any],
    rows: list[Row],
    errors: dict[str, str],
    elapsed_s: float,
    machine_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``results.json`` (atomically: a reader never sees half a file) and return what was written.
    ``machine_info``: :func:`machine` taken when the run started (its load average is the interesting one)."""
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "command": command,
        "elapsed_s": round(elapsed_s, 1),
        "machine": machine_info if machine_info is not None else machine(),
        "figures": figures,
        "table": [{**asdict(r), "ratio": r.ratio} for r in rows],
        "errors": errors,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    results = _clean(results)
    tmp.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    tmp.replace(path)
    return results


def _clean(value: Any) -> Any:
    """NaN/inf (a figure that could not be computed) become null: JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    import argparse

    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description="The README's benchmark table from two results files.")
    parser.add_argument("normal", nargs="?", type=Path, default=here / "results.json")
    parser.add_argument("pi", nargs="?", type=Path, default=here / "results-pi.json")
    args = parser.parse_args(argv)
    normal = json.loads(args.normal.read_text())
    pi = json.loads(args.pi.read_text())
    print(render_side_by_side(normal["table"], pi["table"]))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
