"""The daemon started the way the unit starts it: what systemd (and udev's attach unit) rely on.

systemd is not PID 1 here, so the test plays the manager's part with the real protocol: it binds the
``NOTIFY_SOCKET`` datagram socket, sets ``WATCHDOG_USEC``/``WATCHDOG_PID`` like systemd, runs the
unit's own ExecStart command line (binary and config path swapped for this checkout's), sends SIGTERM
as ``systemctl stop`` does, and runs the attach unit's ExecStart against the running daemon.
"""

from __future__ import annotations

import itertools
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ops._sandbox import REPO
from tests.ops.test_unit_files import ATTACH, MAIN, install_sh_setting, value
from tests.test_systemd import NotifySocket

API_KEY = "contract-0123456789abcdef0123456789"
WATCHDOG_USEC = 400_000
DAEMON = Path(sys.executable).parent / "raspisms-daemon"

def unit_command(unit: Path, config: Path, instance: str = "") -> list[str]:
    """The unit's ExecStart with this checkout's entry point and a test config."""
    argv = shlex.split(value(unit, "ExecStart").replace("%I", instance))
    installed = f"{install_sh_setting('prefix')}/.venv/bin/raspisms-daemon"
    assert argv[0] == installed
    argv[0] = str(DAEMON)
    at = argv.index("-c")
    assert argv[at + 1] == f"{install_sh_setting('confdir')}/config.ini"
    argv[at + 1] = str(config)
    return argv


def write_config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "config.ini"
    config.write_text(
        "[daemon]\n"
        f"database = {tmp_path / 'state' / 'raspisms.sqlite3'}\n"
        f"api_key = {API_KEY}\n"
        "log_level = debug\n"
        "[api]\n"
        f"listen = unix:{tmp_path / 'api.sock'}\n" + extra
    )
    config.chmod(0o600)
    return config


class Service:
    """One start of the unit: the daemon process, its notify socket and its captured stderr."""

    def __init__(self, tmp_path: Path, config: Path, notify: NotifySocket) -> None:
        self.stderr_path = tmp_path / "stderr"
        self.notify = notify
        env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "WATCHDOG_PID")}
        env.update(NOTIFY_SOCKET=notify.address, WATCHDOG_USEC=str(WATCHDOG_USEC))
        # systemd sets WATCHDOG_PID to the main PID; `exec` keeps the shell's PID for the daemon.
        script = 'WATCHDOG_PID=$$ exec "$@"'
        with open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(
                ["sh", "-c", script, "sh", *unit_command(MAIN, config)],
                env=env,
                stdout=err,
                stderr=err,
                cwd=tmp_path,
            )

    def wait_for(self, key: str, timeout: float = 20.0) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, fields in list(self.notify.messages):
                if key in fields:
                    return fields
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        raise AssertionError(f"no {key} from the daemon; stderr:\n{self.stderr()}")

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # what `systemctl stop` sends (KillSignal=)
        return self.proc.wait(timeout=int(value(MAIN, "TimeoutStopSec")))


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    peer = NotifySocket(str(tmp_path / "notify"))
    yield peer
    peer.close()


@pytest.fixture
def service(tmp_path: Path, notify: NotifySocket) -> Iterator[Service]:
    started = Service(tmp_path, write_config(tmp_path), notify)
    yield started
    if started.proc.poll() is None:
        started.proc.kill()
        started.proc.wait(timeout=10)


def test_daemon_reports_ready_pings_the_watchdog_and_stops_cleanly(
    service: Service, notify: NotifySocket
) -> None:
    ready = service.wait_for("READY")
    assert ready["READY"] == "1" and ready.get("STATUS"), ready
    time.sleep(1.5)
    ready_at = next(t for t, fields in notify.messages if "READY" in fields)
    pings = [t for t in notify.watchdog_times() if t >= ready_at]
    assert len(pings) >= 4, pings
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert max(gaps) < WATCHDOG_USEC / 1e6, gaps  # systemd would have killed it otherwise

    assert service.stop() == 0
    stopping = [fields for _, fields in notify.messages if "STOPPING" in fields]
    assert stopping and stopping[0]["STOPPING"] == "1"
    assert API_KEY not in service.stderr()  # at log_level = debug


def test_attach_units_command_reaches_the_running_daemon(service: Service, tmp_path: Path) -> None:
    service.wait_for("READY")
    attach = subprocess.run(
        unit_command(ATTACH, tmp_path / "config.ini", instance="ttyUSB2"),
        capture_output=True,
        text=True,
        timeout=int(value(ATTACH, "TimeoutStartSec")),
    )
    assert attach.returncode == 0, attach.stdout + attach.stderr
    assert "/dev/ttyUSB2" in attach.stdout
    assert service.stop() == 0


def test_invalid_config_exits_78_so_systemd_does_not_restart_it(tmp_path: Path, notify: NotifySocket) -> None:
    config = write_config(tmp_path, extra="[delivery]\ntimeout = soon\n")
    started = Service(tmp_path, config, notify)
    returncode = started.proc.wait(timeout=30)
    assert returncode == int(value(MAIN, "RestartPreventExitStatus")) == 78, started.stderr()
    assert not [fields for _, fields in notify.messages if "READY" in fields]
    assert "[delivery] timeout" in started.stderr()


def test_the_daemon_entry_point_is_the_checkouts(tmp_path: Path) -> None:
    # Guards the tests above: they must run this checkout's code, not some other installed copy.
    where = subprocess.run(
        [sys.executable, "-c", "import raspisms_daemon; print(raspisms_daemon.__file__)"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        check=True,
    ).stdout.strip()
    assert Path(where).resolve().is_relative_to(REPO)


# --- the database file: what only a person can fix exits 78, with the file named --------------------


def database_of(tmp_path: Path) -> Path:
    return tmp_path / "state" / "raspisms.sqlite3"


def exits_78(tmp_path: Path, notify: NotifySocket, config: Path | None = None) -> str:
    """Start the unit's command line; it must end by itself with 78 (RestartPreventExitStatus=78),
    never having said READY=1, with no traceback; its stderr."""
    started = Service(tmp_path, config or write_config(tmp_path), notify)
    returncode = started.proc.wait(timeout=30)
    stderr = started.stderr()
    assert returncode == int(value(MAIN, "RestartPreventExitStatus")) == 78, stderr
    assert not [fields for _, fields in notify.messages if "READY" in fields]
    assert "Traceback" not in stderr and "never retrieved" not in stderr, stderr
    return stderr


def test_a_second_daemon_on_the_same_database_exits_78_naming_the_first(
    service: Service, tmp_path: Path
) -> None:
    service.wait_for("READY")
    other = tmp_path / "second"
    other.mkdir()
    config = write_config(other)
    # Same database, its own API socket: only the database is shared.
    config.write_text(
        config.read_text().replace(str(other / "state" / "raspisms.sqlite3"), str(database_of(tmp_path)))
    )
    notify = NotifySocket(str(other / "notify"))
    try:
        stderr = exits_78(other, notify, config)
    finally:
        notify.close()
    assert f"database {database_of(tmp_path)} in use by PID {service.proc.pid}" in stderr
    assert service.proc.poll() is None  # the first one runs on
    assert service.stop() == 0


def test_a_zero_length_database_exits_78_naming_the_file(tmp_path: Path, notify: NotifySocket) -> None:
    database_of(tmp_path).parent.mkdir()
    database_of(tmp_path).touch()
    stderr = exits_78(tmp_path, notify)
    assert f"database {database_of(tmp_path)}: zero-length" in stderr
    assert database_of(tmp_path).stat().st_size == 0  # not re-initialised


def test_a_database_missing_after_a_first_start_exits_78(tmp_path: Path, notify: NotifySocket) -> None:
    first = Service(tmp_path, write_config(tmp_path), notify)
    first.wait_for("READY")
    assert first.stop() == 0
    database_of(tmp_path).unlink()
    notify.messages.clear()
    stderr = exits_78(tmp_path, notify)
    assert f"database {database_of(tmp_path)}: missing" in stderr and ".created" in stderr


def test_a_corrupt_database_exits_78_naming_the_file(tmp_path: Path, notify: NotifySocket) -> None:
    first = Service(tmp_path, write_config(tmp_path), notify)
    first.wait_for("READY")
    assert first.stop() == 0
    with sqlite3.connect(database_of(tmp_path)) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = [r[0] for r in conn.execute("SELECT rootpage FROM sqlite_master WHERE type = 'index'")]
    conn.close()
    with open(database_of(tmp_path), "r+b") as f:
        for root in roots:
            f.seek((root - 1) * page_size)
            f.write(b"\xff" * 16)
    notify.messages.clear()
    stderr = exits_78(tmp_path, notify)
    assert f"database {database_of(tmp_path)}: corrupt" in stderr


def test_an_unreadable_database_exits_78_naming_the_file(tmp_path: Path, notify: NotifySocket) -> None:
    first = Service(tmp_path, write_config(tmp_path), notify)
    first.wait_for("READY")
    assert first.stop() == 0
    database = database_of(tmp_path)
    # chmod 000 stops anyone but root; root (our CI) is stopped by the immutable attribute instead.
    as_root = os.geteuid() == 0
    if as_root and subprocess.run(["chattr", "+i", str(database)], capture_output=True).returncode != 0:
        pytest.skip("root ignores chmod 000, and chattr +i does not work here")
    if not as_root:
        database.chmod(0)
    try:
        notify.messages.clear()
        stderr = exits_78(tmp_path, notify)
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(database)], check=True)
    assert f"database {database}: permission denied" in stderr


def test_sighup_reloads_with_reloading_then_ready_and_keeps_running(
    service: Service, notify: NotifySocket, tmp_path: Path
) -> None:
    service.wait_for("READY")
    config = tmp_path / "config.ini"
    config.write_text(config.read_text().replace("log_level = debug", "log_level = info"))
    notify.messages.clear()
    service.proc.send_signal(signal.SIGHUP)  # what ExecReload=/bin/kill -HUP $MAINPID sends
    reloading = service.wait_for("RELOADING")
    assert reloading["RELOADING"] == "1" and int(reloading["MONOTONIC_USEC"]) > 0
    ready = service.wait_for("READY")
    assert ready["READY"] == "1"
    assert service.proc.poll() is None
    assert "configuration reloaded" in service.stderr() and "[daemon] log_level" in service.stderr()
    assert service.stop() == 0
