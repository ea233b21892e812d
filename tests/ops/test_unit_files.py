"""The systemd units: `systemd-analyze verify` and `security` on them, and what the service promises
(notify, watchdog, restart policy, sandbox)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from raspisms_daemon.api.limits import ConnectionLimits, connection_cap
from tests.helpers.machine import AS_ROOT, missing, needs, require
from tests.ops._sandbox import REPO, isolated

UNITS = REPO / "systemd"
MAIN = UNITS / "raspisms-daemon.service"
ATTACH = UNITS / "raspisms-daemon-attach@.service"
INSTALL = REPO / "scripts" / "install.sh"
SYSTEM_UNITS = Path("/usr/lib/systemd/system")

pytestmark = needs(shutil.which("systemd-analyze"), "systemd-analyze", "systemd")


def parse_unit(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) in order; systemd allows a key several times, so no dict."""
    entries, section = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def values(path: Path, key: str, section: str = "Service") -> list[str]:
    return [v for s, k, v in parse_unit(path.read_text()) if s == section and k == key]


def value(path: Path, key: str, section: str = "Service") -> str:
    found = values(path, key, section)
    assert len(found) == 1, f"{key}= given {len(found)} times in {path.name}"
    return found[0]


def install_sh_setting(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", INSTALL.read_text(), re.M)
    assert match, f"{name}= not found in install.sh"
    return match.group(1)


# --- systemd-analyze verify -------------------------------------------------------------------------


@pytest.fixture
def unit_root(tmp_path: Path) -> Path:
    """A scratch root as install.sh leaves it: our units in /etc, systemd's own units, and an executable
    where ExecStart points (verify checks that it exists; --root makes it look here, not on the host)."""
    require(SYSTEM_UNITS.is_dir(), "systemd's units in /usr/lib/systemd/system", "systemd")
    root = tmp_path / "root"
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in (MAIN, ATTACH):
        shutil.copy(unit, root / "etc/systemd/system" / unit.name)
    exe = root / install_sh_setting("prefix").lstrip("/") / ".venv/bin/raspisms-daemon"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    # ExecReload='s /bin/kill, as Debian ships it (util-linux).
    kill = root / value(MAIN, "ExecReload").split()[0].lstrip("/")
    kill.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(shutil.which("kill") or "/bin/kill", kill)
    return root


def verify(root: Path, *units: str) -> subprocess.CompletedProcess[str]:
    command = ["systemd-analyze", "verify", f"--root={root}", "--recursive-errors=yes", "--man=no", *units]
    return subprocess.run(
        isolated(command),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_units_pass_systemd_analyze_verify(unit_root: Path) -> None:
    result = verify(unit_root, MAIN.name, "raspisms-daemon-attach@ttyUSB2.service")
    assert result.returncode == 0, result.stderr
    assert "raspisms" not in result.stderr  # not even a warning about our units


def test_verify_catches_a_misspelt_setting(unit_root: Path) -> None:
    unit = unit_root / "etc/systemd/system" / MAIN.name
    unit.write_text(unit.read_text().replace("NoNewPrivileges=", "NoNewPrivilegs="))
    result = verify(unit_root, MAIN.name)
    assert result.returncode != 0
    assert "Unknown key 'NoNewPrivilegs'" in result.stderr


def test_verify_catches_a_missing_executable(unit_root: Path) -> None:
    exe = unit_root / install_sh_setting("prefix").lstrip("/") / ".venv/bin/raspisms-daemon"
    exe.unlink()
    result = verify(unit_root, MAIN.name)
    assert result.returncode != 0
    assert "is not executable" in result.stderr


# --- systemd-analyze security -----------------------------------------------------------------------


def security(path: Path) -> tuple[int, float, str]:
    result = subprocess.run(
        isolated(["systemd-analyze", "security", "--offline=yes", "--threshold=20", str(path)]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    return result.returncode, float(match.group(1)), result.stdout


@pytest.mark.parametrize("unit", [MAIN, ATTACH], ids=lambda p: p.name)
def test_exposure_is_at_most_2_0(unit: Path) -> None:
    returncode, exposure, report = security(unit)
    assert returncode == 0, report
    assert exposure <= 2.0, report


def test_security_threshold_fails_a_unit_without_the_sandbox(tmp_path: Path) -> None:
    bare = tmp_path / MAIN.name
    keep = ("Type", "NotifyAccess", "ExecStart", "User", "Group", "Restart")
    lines = [
        line
        for line in MAIN.read_text().splitlines()
        if not re.match(r"[A-Za-z]+=", line) or line.split("=", 1)[0] in keep or line.startswith("WantedBy")
    ]
    bare.write_text("\n".join(lines) + "\n")
    returncode, exposure, _ = security(bare)
    assert exposure > 2.0
    assert returncode != 0


# --- what the units promise -----------------------------------------------------------------------


def test_main_unit_is_a_notify_service_with_a_watchdog_and_no_restart_loop_on_bad_config() -> None:
    assert value(MAIN, "Type") == "notify"
    assert value(MAIN, "NotifyAccess") == "main"
    assert int(value(MAIN, "WatchdogSec")) >= 10
    assert value(MAIN, "Restart") == "on-failure"
    assert value(MAIN, "RestartPreventExitStatus") == "78"  # EX_CONFIG: see errors.ConfigError


def test_main_unit_gives_up_after_a_few_failed_starts_instead_of_looping() -> None:
    restart_sec = float(value(MAIN, "RestartSec"))
    interval = float(value(MAIN, "StartLimitIntervalSec", "Unit"))
    burst = int(value(MAIN, "StartLimitBurst", "Unit"))
    # The burst must be reachable within the interval at RestartSec's pace, or the limit never trips.
    assert burst * restart_sec < interval
    assert 2 <= burst <= 10


def test_main_unit_keeps_descriptors_below_selects_limit_and_the_api_to_a_quarter() -> None:
    nofile = int(value(MAIN, "LimitNOFILE"))
    # FD_SETSIZE: libgammu's serial_read() select()s on its port (gammu/gammu@b356bc7:
    # libgammu/device/serial/ser_unx.c), which a descriptor number of 1024 or more would overflow.
    assert nofile <= 1024
    cap = connection_cap(nofile)
    assert cap == 128 and cap + ConnectionLimits(max_connections=cap).backlog <= nofile // 4


def test_main_unit_reloads_with_sighup() -> None:
    assert value(MAIN, "ExecReload") == "/bin/kill -HUP $MAINPID"


def test_main_unit_runs_as_raspisms_with_the_modem_group_and_private_state() -> None:
    assert (value(MAIN, "User"), value(MAIN, "Group")) == ("raspisms", "raspisms")
    assert value(MAIN, "SupplementaryGroups") == "dialout"
    assert (value(MAIN, "StateDirectory"), value(MAIN, "StateDirectoryMode")) == ("raspisms-daemon", "0700")
    assert value(MAIN, "ConfigurationDirectory") == "raspisms-daemon"
    assert value(MAIN, "RuntimeDirectory") == "raspisms-daemon"
    assert value(MAIN, "UMask") == "0077"


def test_main_unit_allows_the_modem_ttys_and_nothing_else_in_dev() -> None:
    assert value(MAIN, "DevicePolicy") == "closed"
    assert sorted(values(MAIN, "DeviceAllow")) == ["char-ttyACM rw", "char-ttyUSB rw"]
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "MemoryDenyWriteExecute", "LockPersonality"):
        assert value(MAIN, key) == "yes", key
    assert value(MAIN, "ProtectSystem") == "strict"
    assert value(MAIN, "CapabilityBoundingSet") == ""


def test_exec_start_matches_what_install_sh_installs() -> None:
    prefix, confdir = install_sh_setting("prefix"), install_sh_setting("confdir")
    assert value(MAIN, "ExecStart") == f"{prefix}/.venv/bin/raspisms-daemon run -c {confdir}/config.ini"
    assert value(ATTACH, "ExecStart") == (
        f"{prefix}/.venv/bin/raspisms-daemon attach -c {confdir}/config.ini --device /dev/%I"
    )
    # The unit's ConfigurationDirectory= is the directory install.sh writes config.ini into.
    assert confdir == "/etc/" + value(MAIN, "ConfigurationDirectory")


def test_attach_unit_is_a_oneshot_that_never_starts_the_daemon() -> None:
    assert value(ATTACH, "Type") == "oneshot"
    assert value(ATTACH, "Requisite", "Unit") == "raspisms-daemon.service"
    assert value(ATTACH, "After", "Unit") == "raspisms-daemon.service"
    assert not values(ATTACH, "WantedBy", "Install")


def test_attach_unit_counts_daemon_not_running_as_success(tmp_path: Path) -> None:
    """A modem plugged in while the daemon is stopped: attach exits 69, which the unit calls success."""
    from raspisms_daemon.commands.send import EX_UNAVAILABLE
    from tests.helpers.daemon_process import write_config

    assert str(EX_UNAVAILABLE) in value(ATTACH, "SuccessExitStatus").split()
    cfg = write_config(
        tmp_path / "config.ini",
        database=tmp_path / "db.sqlite3",
        api_listen=f"unix:{tmp_path}/nobody-listens.sock",
        phones=[],
        webhooks=[],
    )
    argv = value(ATTACH, "ExecStart").replace("%I", "ttyUSB2").split()[1:]
    argv[argv.index("-c") + 1] = str(cfg)
    attach = subprocess.run(
        [sys.executable, "-m", "raspisms_daemon", *argv], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert attach.returncode == EX_UNAVAILABLE, attach.stdout + attach.stderr
    assert "cannot reach the daemon" in attach.stderr


def _cli_accepts(argv: list[str]) -> None:
    from raspisms_daemon.cli import build_parser

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse's way of refusing a command line
        raise AssertionError(f"raspisms-daemon refuses {argv}") from exc
    assert callable(args.func)


def test_the_cli_accepts_the_main_units_command_line() -> None:
    _cli_accepts(value(MAIN, "ExecStart").split()[1:])


def test_the_cli_accepts_the_attach_units_command_line() -> None:
    _cli_accepts(value(ATTACH, "ExecStart").replace("%I", "ttyUSB2").split()[1:])


# --- MemoryDenyWriteExecute= and SystemCallFilter= ---------------------------------------------------

# We cannot start the unit here (systemd is not PID 1), so we trace every system call of a Python doing
# what the daemon does (all its modules imported, an aiohttp server and client on 127.0.0.1, a WAL
# SQLite database, python-gammu and the journal bindings), as an unprivileged user like the service's,
# and check that the unit's seccomp settings would refuse none of them.
WORKLOAD = textwrap.dedent(
    """
    import asyncio, importlib, os, pkgutil, sys, tempfile
    import aiohttp, aiosqlite, serial
    from aiohttp import web
    import raspisms_daemon
    for m in pkgutil.walk_packages(raspisms_daemon.__path__, "raspisms_daemon."):
        if not m.name.endswith("__main__"):
            try:
                importlib.import_module(m.name)
            except Exception as exc:  # a module still being written: its imports still ran
                print("import failed:", m.name, exc, file=sys.stderr)
    try:
        import gammu
        gammu.DecodePDU(bytes.fromhex("07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"))
        from systemd import journal
    except ImportError:
        pass

    async def main():
        app = web.Application()
        async def hello(request):
            return web.Response(text="ok")
        app.router.add_get("/", hello)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as session:
            # A host name, as webhook URLs have: aiohttp's resolver goes through glibc's getaddrinfo.
            async with session.get(f"http://localhost:{port}/") as response:
                assert await response.text() == "ok"
        await runner.cleanup()
        with tempfile.TemporaryDirectory() as d:
            async with aiosqlite.connect(os.path.join(d, "t.sqlite3")) as db:
                await db.execute("pragma journal_mode=wal")
                await db.execute("create table t(x)")
                await db.commit()

    asyncio.run(main())
    """
)

# What MemoryDenyWriteExecute=yes refuses: mmap() with PROT_WRITE|PROT_EXEC, mprotect()/pkey_mprotect()
# with PROT_EXEC, shmat() with SHM_EXEC.
W_AND_X = re.compile(r"^\d+\s+mmap2?\(.*(PROT_WRITE\|PROT_EXEC|PROT_EXEC\|PROT_WRITE)")
ADD_X = re.compile(r"^\d+\s+(pkey_)?mprotect\(.*PROT_EXEC")
SHM_X = re.compile(r"^\d+\s+shmat\(.*SHM_EXEC")
CALL = re.compile(r"^\d+\s+([a-z0-9_]+)\(")
SOCKET = re.compile(r"^\d+\s+socket(?:pair)?\((AF_[A-Z0-9]+)")


DEBIAN_PYTHON = Path("/usr/bin/python3")


def _debian_python_matches() -> bool:
    # The service runs Debian's interpreter; ours must be the same version to load the venv's packages.
    if not DEBIAN_PYTHON.exists():
        return False
    probe = subprocess.run(
        [str(DEBIAN_PYTHON), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return probe.stdout.strip() == str(sys.version_info[:2])


def trace(code: str, tmp_path: Path) -> list[str]:
    """strace lines of ``code`` run by Debian's Python as user nobody, with this checkout's package and
    the venv's packages on its path (``strace -u`` drops the privileges itself, untraced).

    Both are copied where nobody can read them: the checkout may sit where it cannot (/root/project)."""
    out = tmp_path / "trace.txt"
    site_packages = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))
    with tempfile.TemporaryDirectory(prefix="raspisms-trace-") as stage:
        os.chmod(stage, 0o755)
        shutil.copytree(REPO / "raspisms_daemon", Path(stage, "src", "raspisms_daemon"))
        shutil.copytree(site_packages, Path(stage, "site"), symlinks=True)
        result = subprocess.run(
            ["strace", "-f", "-qq", "-u", "nobody", "-o", str(out), str(DEBIAN_PYTHON), "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/",
            env={**os.environ, "PYTHONPATH": f"{stage}/src:{stage}/site", "TMPDIR": "/tmp"},
        )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = out.read_text().splitlines()
    assert any(" mmap" in line for line in lines), "strace recorded nothing"
    return lines


def refused_by_mdwe(lines: list[str]) -> list[str]:
    return [line for line in lines if W_AND_X.search(line) or ADD_X.search(line) or SHM_X.search(line)]


@functools.cache
def syscall_groups() -> dict[str, list[str]]:
    listing = subprocess.run(
        ["systemd-analyze", "syscall-filter"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    groups: dict[str, list[str]] = {}
    current = None
    for line in listing.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def expand(item: str) -> set[str]:
    if not item.startswith("@"):
        return {item}
    return set().union(*(expand(member) for member in syscall_groups()[item]))


def allowed_by_unit(path: Path) -> set[str]:
    """The system calls the unit's SystemCallFilter= lines leave allowed (allow list, then ~deny lists)."""
    allowed: set[str] = set()
    for setting in values(path, "SystemCallFilter"):
        deny = setting.startswith("~")
        names = set().union(*(expand(item) for item in setting.lstrip("~").split()))
        allowed = allowed - names if deny else allowed | names
    assert allowed, "no SystemCallFilter= allow list"
    return allowed


def refused_address_families(lines: list[str], unit: Path) -> set[str]:
    opened = {m.group(1) for line in lines if (m := SOCKET.match(line))}
    return opened - set(value(unit, "RestrictAddressFamilies").split())


def refused_by_filter(lines: list[str], unit: Path) -> set[str]:
    used = {m.group(1) for line in lines if (m := CALL.match(line))}
    return used - allowed_by_unit(unit)


# Root to trace the unit's own sandbox; as root, strace and a venv on Debian's own python3 (what
# setup makes) are install steps, whose absence fails.
needs_strace = pytest.mark.skipif(
    not AS_ROOT
    or missing(shutil.which("strace"), "strace", "strace")
    or missing(_debian_python_matches(), "a venv on /usr/bin/python3 (what setup makes)", "python3-venv"),
    reason="tracing the daemon under its unit's sandbox needs root (and strace, apt: strace)",
)


@pytest.fixture(scope="module")
def daemon_trace(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return trace(WORKLOAD, tmp_path_factory.mktemp("workload"))


@needs_strace
def test_the_daemons_python_never_asks_for_writable_executable_memory(daemon_trace: list[str]) -> None:
    assert value(MAIN, "MemoryDenyWriteExecute") == "yes"
    assert refused_by_mdwe(daemon_trace) == []


@needs_strace
def test_the_daemons_python_makes_no_system_call_the_filter_refuses(daemon_trace: list[str]) -> None:
    assert refused_by_filter(daemon_trace, MAIN) == set()


@needs_strace
def test_the_daemons_python_opens_only_socket_families_the_unit_allows(daemon_trace: list[str]) -> None:
    # Resolving a host name opens AF_NETLINK (getaddrinfo's AI_ADDRCONFIG) and AF_UNIX (nscd) sockets.
    assert refused_address_families(daemon_trace, MAIN) == set()


@needs_strace
def test_the_checks_see_what_the_sandbox_would_refuse(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import mmap, os, socket
        mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        os.setpriority(os.PRIO_PROCESS, 0, 5)
        try:
            socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        except PermissionError:
            pass
        """
    )
    lines = trace(code, tmp_path)
    assert refused_by_mdwe(lines)
    assert "setpriority" in refused_by_filter(lines, MAIN)
    assert refused_address_families(lines, MAIN) == {"AF_PACKET"}
