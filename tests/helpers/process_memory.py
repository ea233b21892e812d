"""A process's resident memory from /proc (Linux): now, and its peak since a reset."""

from __future__ import annotations

from pathlib import Path

__all__ = ["peak_rss_kib", "reset_peak_rss", "rss_kib"]


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(f"no {field} in /proc/{pid}/status")


def rss_kib(pid: int) -> int:
    """Resident set size now (VmRSS)."""
    return _status_kib(pid, "VmRSS")


def peak_rss_kib(pid: int) -> int:
    """The highest resident set size since the process started or :func:`reset_peak_rss` (VmHWM)."""
    return _status_kib(pid, "VmHWM")


def reset_peak_rss(pid: int) -> int:
    """Start measuring the peak afresh (``5`` to clear_refs, Linux ≥ 4.0); returns the RSS now."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return rss_kib(pid)
