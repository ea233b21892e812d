"""Benchmark profiles: the machine as the daemon's process sees it.

- ``normal``: this machine as it is.
- ``sd``: every fsync/fdatasync of the measured process takes 50 ms longer, as on an SD card (20–200 ms
  per fsync), injected by ``strace -f --seccomp-bpf -e inject=fsync,fdatasync:delay_enter=50000``
  (``--seccomp-bpf``: only those two calls stop the process, nothing else is slowed down).
- ``pi``: the ``sd`` delay and a CPU quota (cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``) that
  makes this machine run Python as slowly as a Raspberry Pi 3 B+ (:mod:`bench.calibrate` says how the
  quota is chosen).

Only the measured process (the daemon, or gammu-smsd with its hook's children) gets the profile; the
simulated modem, the receiver and the benchmark itself run as they are, as a modem and a webhook
receiver on another machine would. The strace process stays outside the cgroup (``sh`` moves itself in
and then execs the command), so the tracer's own CPU is not charged to the quota.

The cgroup needs root and the cgroup v1 ``cpu`` controller at ``/sys/fs/cgroup/cpu``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = [
    "AS_IS",
    "CGROUP_CPU",
    "NORMAL",
    "PI",
    "SD",
    "Applied",
    "Profile",
    "Quota",
    "child_pid",
    "cpu_cgroup",
    "profile_named",
    "stop_process",
    "stop_profiled",
]

CGROUP_CPU = Path("/sys/fs/cgroup/cpu")
SD_FSYNC_DELAY_MS = 50.0
_PERIOD_US = 100_000
# Moves the shell into the cgroup whose cgroup.procs is $1, then becomes the command: everything it
# starts inherits the cgroup, the strace above it does not.
_ENTER = 'echo $$ > "$1" && shift && exec "$@"'


@dataclass(frozen=True)
class Quota:
    """A CPU quota: ``fraction`` of one core, and where it comes from (said in the results)."""

    fraction: float
    reason: str


@dataclass(frozen=True)
class Profile:
    name: str
    fsync_delay_ms: float = 0.0
    quota: Quota | None = None

    def describe(self) -> str:
        parts = []
        if self.fsync_delay_ms:
            parts.append(f"fsync/fdatasync +{self.fsync_delay_ms:g} ms")
        if self.quota is not None:
            parts.append(f"CPU quota {self.quota.fraction * 100:.1f} % of one core")
        return ", ".join(parts) or "this machine as it is"

    def with_quota(self, quota: Quota | None) -> Profile:
        return replace(self, quota=quota)

    def strace(self, log: Path | None = None) -> list[str]:
        """The strace prefix that delays fsync/fdatasync (and logs them to ``log``); [] without a delay
        and a log."""
        if not self.fsync_delay_ms and log is None:
            return []
        if shutil.which("strace") is None:
            raise RuntimeError("strace is not installed (apt install strace)")
        cmd = ["strace", "-f", "--seccomp-bpf", "-qq", "-e", "trace=fsync,fdatasync", "-e", "signal=none"]
        if self.fsync_delay_ms:
            delay_us = round(self.fsync_delay_ms * 1000)
            cmd += ["-e", f"inject=fsync,fdatasync:delay_enter={delay_us}"]
        return [*cmd, "-o", str(log) if log is not None else os.devnull]


@dataclass(frozen=True)
class Applied:
    """A profile in force: the profile and its cgroup (None: no quota)."""

    profile: Profile
    cgroup: Path | None = None

    def prefix(self, strace_log: Path | None = None) -> list[str]:
        """What goes before a command to run it under the profile: traced (the fsync delay, and the
        fsync log when ``strace_log`` is given), inside the cgroup (the quota)."""
        enter = [] if self.cgroup is None else ["sh", "-c", _ENTER, "sh", str(self.cgroup / "cgroup.procs")]
        return [*self.profile.strace(strace_log), *enter]

    def traced(self, strace_log: Path | None = None) -> bool:
        """Whether the command's process is strace (the measured process is then its child)."""
        return bool(self.profile.strace(strace_log))


NORMAL = Profile("normal")
SD = Profile("sd", fsync_delay_ms=SD_FSYNC_DELAY_MS)
PI = Profile("pi", fsync_delay_ms=SD_FSYNC_DELAY_MS)  # its quota is calibrated at run time


AS_IS = Applied(NORMAL)


def profile_named(name: str) -> Profile:
    return {"normal": NORMAL, "sd": SD, "pi": PI}[name]


@contextlib.contextmanager
def cpu_cgroup(quota: Quota | None) -> Iterator[Path | None]:
    """A cgroup limited to ``quota`` of one core for the duration (None: no quota, no cgroup); removed
    at the end, any process left in it moved back to the root group first."""
    if quota is None:
        yield None
        return
    if not (CGROUP_CPU / "cpu.cfs_quota_us").exists():
        raise RuntimeError(f"no cgroup v1 cpu controller at {CGROUP_CPU} (the CPU quota needs it)")
    group = CGROUP_CPU / f"raspisms-bench-{os.getpid()}"
    group.mkdir(exist_ok=True)
    try:
        (group / "cpu.cfs_period_us").write_text(str(_PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(max(1000, round(_PERIOD_US * quota.fraction))))
        yield group
    finally:
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                (CGROUP_CPU / "cgroup.procs").write_text(pid)
        group.rmdir()


def child_pid(pid: int) -> int | None:
    """The first child of ``pid`` (the command strace runs), None when it has none (yet)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


async def stop_profiled(proc: asyncio.subprocess.Process, *, traced: bool, grace: float = 30.0) -> None:
    """Stop a command started with :meth:`Applied.prefix`: SIGTERM to the measured process itself (a
    SIGTERM to strace would detach and leave it running), SIGKILL after ``grace``; always reaped."""
    if traced and proc.returncode is None:
        pid = child_pid(proc.pid)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    await stop_process(proc, grace=grace)


async def stop_process(proc: asyncio.subprocess.Process, *, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; always reaped."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
