"""Each command imports only what it needs: on a Raspberry Pi every import costs (aiohttp alone takes a
good part of a second), and ``--version``, ``check-config``, ``send`` or ``phones`` must answer within
about a second (``bench/startup.py`` measures it). What a command imports is checked here instead of
timed: a fresh interpreter runs the command's entry point and lists ``sys.modules``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

KEY = "k3y-0123456789abcdef0123456789"

# What no quick command may pull in: the HTTP stack (client and server), asyncio, SQLite, the modem
# backends, the simulator, the daemon's wiring, and the libraries that are loaded on first use only.
HEAVY = (
    "aiohttp",
    "aiosqlite",
    "asyncio",
    "sqlite3",
    "ssl",
    "http.client",
    "email.parser",
    "serial",
    "gammu",
    "jinja2",
    "phonenumbers",
    "shutil",
    "raspisms_daemon.daemon",
    "raspisms_daemon.api",
    "raspisms_daemon.gsm.serial_at",
    "raspisms_daemon.simulator",
    "raspisms_daemon.store",
    "raspisms_daemon.webhooks.dispatcher",
)

_PROBE = """
import json, sys
from raspisms_daemon.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exc:
    status = exc.code
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def modules_of(*argv: str) -> tuple[int, set[str]]:
    """The exit status of ``raspisms-daemon ARGV`` and every module loaded by then."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return int(result["status"] or 0), set(result["modules"])


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "config.ini"
    path.write_text(
        f"[daemon]\ndatabase = {tmp_path / 'db.sqlite3'}\napi_key = {KEY}\n\n"
        f"[api]\nlisten = unix:{tmp_path / 'api.sock'}\n\n[phone:1]\ndevice = /dev/ttyUSB0\n"
    )
    path.chmod(0o600)
    return str(path)


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (["--version"], 0),
        (["check-config", "-c", "{config}"], 0),
        # No daemon runs: the client goes as far as connecting (exit 69, EX_UNAVAILABLE).
        (["send", "-c", "{config}", "--to", "+33612345678", "--text", "hi"], 69),
        (["phones", "-c", "{config}"], 69),
        (["attach", "-c", "{config}", "--device", "/dev/ttyUSB0"], 69),
    ],
    ids=["version", "check-config", "send", "phones", "attach"],
)
def test_a_quick_command_imports_nothing_heavy(config: str, argv: list[str], status: int) -> None:
    code, modules = modules_of(*(a.format(config=config) for a in argv))
    assert code == status
    loaded = sorted(m for m in HEAVY if m in modules or any(k.startswith(m + ".") for k in modules))
    assert loaded == []


def test_version_loads_no_command_module_at_all() -> None:
    _, modules = modules_of("--version")
    assert not any(m.startswith("raspisms_daemon.commands.") for m in modules)
    assert "raspisms_daemon.config" not in modules


def test_a_command_loads_its_own_module_only_and_help_loads_them_all() -> None:
    code, modules = modules_of("pdu", "encode", "+33612345678", "hello")
    assert code == 0
    commands = {m for m in modules if m.startswith("raspisms_daemon.commands.")}
    assert commands == {"raspisms_daemon.commands.pdu"}
    _, modules = modules_of("--help")
    assert {"raspisms_daemon.commands.run", "raspisms_daemon.commands.send"} <= modules


def test_the_daemon_leaves_templating_and_number_parsing_until_first_use() -> None:
    lazy = ("jinja2", "phonenumbers", "gammu", "raspisms_daemon.simulator", "decimal", "csv", "difflib")
    code = (
        "import sys, raspisms_daemon.daemon, raspisms_daemon.api.server, raspisms_daemon.commands.run;"
        f"print(sorted(m for m in {lazy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_the_daemon_imports_aiohttp_without_parsing_the_ca_bundle_or_loading_libstdcxx() -> None:
    # aiohttp's import-time TLS contexts stay empty (the dispatcher makes its own: webhooks/tls.py),
    # frozenlist is the pure-Python one, and the environment is as it was afterwards.
    code = (
        "import json, os;"
        "from raspisms_daemon.commands.run import load_daemon; load_daemon();"
        "import frozenlist; from aiohttp import connector;"
        "maps = open('/proc/self/maps').read();"
        "print(json.dumps({'cas': connector._SSL_CONTEXT_VERIFIED.cert_store_stats()['x509'],"
        " 'frozenlist': frozenlist.FrozenList.__module__, 'libstdcxx': 'libstdc++' in maps,"
        " 'env': [os.environ.get('SSL_CERT_FILE'), os.environ.get('FROZENLIST_NO_EXTENSIONS')]}))"
    )
    env = {**os.environ, "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"}
    env.pop("FROZENLIST_NO_EXTENSIONS", None)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, env=env
    )
    assert json.loads(out.stdout) == {
        "cas": 0,
        "frozenlist": "frozenlist",
        "libstdcxx": False,
        "env": ["/etc/ssl/certs/ca-certificates.crt", None],
    }
