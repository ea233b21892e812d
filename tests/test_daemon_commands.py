"""The daemon's commands as a user runs them: run (exit codes, signals), demo, send, phones, attach."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from raspisms_daemon.simulator import Simulator
from tests.helpers.daemon_process import (
    API_KEY,
    REPO,
    DaemonProcess,
    daemon_process,
    poll_until,
    write_config,
)
from tests.helpers.receiver import FaultyReceiver
from tests.helpers.simulator import simulated_modem


async def _cli(*args: str, within: float = 60.0) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "raspisms_daemon",
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), within)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.timeout(90)
async def test_demo_runs_the_whole_chain_and_exits_0() -> None:
    code, out, err = await _cli("demo", "--timeout", "20")
    assert code == 0, out + err
    for type in ("receive_sms", "send_sms", "send_sms_status_change", "inbound_call"):
        assert f"webhook {type}" in out
    assert "everything arrived" in out


async def test_a_debug_log_of_a_full_demo_run_never_shows_the_api_key() -> None:
    key = "demo-key-" + "5f3a9c" * 4
    code, out, err = await _cli("demo", "-vv", "--api-key", key, "--timeout", "20")
    assert code == 0, out + err
    # The daemon's own log at debug level was captured: AT traffic, the take-in, every delivery.
    assert "DEBUG raspisms_daemon.gsm" in err and "SMS received from" in err and "delivered: HTTP 200" in err
    whsec = base64.b64encode(key.encode()).decode()
    for form in (key, whsec):
        assert form not in out + err


async def test_run_exits_78_on_an_invalid_config(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.ini"
    cfg.write_text("[daemon]\napi_key = short\n[phone:x]\ndevice = /dev/null\n")
    code, _, err = await _cli("run", "-c", str(cfg))
    assert code == 78
    assert "[daemon] api_key" in err


Env = tuple[DaemonProcess, Simulator, FaultyReceiver]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    rx = FaultyReceiver(API_KEY)
    await rx.start()
    async with simulated_modem(tmp_path) as sim, daemon_process(tmp_path, sims=[sim], rx_url=rx.url) as proc:
        yield proc, sim, rx
    await rx.stop()


async def test_sigterm_stops_gracefully_with_exit_0_and_keeps_undelivered_webhooks(
    env: Env, tmp_path: Path
) -> None:
    proc, sim, rx = env
    await rx.go_down()
    await sim.inject_sms("+33612345678", "kept for later")
    await poll_until(lambda: not sim.state()["stored"], within=10)
    assert await proc.stop() == 0
    assert "stopped" in proc.log_tail()
    await rx.come_back()
    await proc.start(phones_connected=1)
    await rx.wait_for(lambda: any(d.body.get("text") == "kept for later" for d in rx.deliveries), 15)


async def test_send_phones_and_attach_commands_talk_to_the_running_daemon(env: Env) -> None:
    proc, sim, rx = env
    cfg = str(proc.config)
    code, out, err = await _cli(
        "send", "-c", cfg, "--to", "+33698765432", "--text", "from the CLI", "--tag", "cli"
    )
    assert code == 0, err
    assert "scheduled SMS 1" in out
    await rx.wait_for(lambda: any(d.type == "send_sms" and d.body["tag"] == "cli" for d in rx.deliveries), 15)
    code, out, err = await _cli("phones", "-c", cfg)
    assert code == 0, err
    assert "connected" in out and "SIMNET" in out
    code, out, err = await _cli("attach", "-c", cfg, "--device", str(sim.link))
    assert code == 0, err
    assert "attach" in out


async def test_phones_disable_and_enable_commands_change_the_running_daemons_phone(env: Env) -> None:
    proc, _, _ = env
    cfg = str(proc.config)
    code, out, err = await _cli("phones", "disable", "1", "-c", cfg, "--reason", "SIM swap")
    assert (code, out.strip()) == (0, "phone 1: disabled (SIM swap)"), err
    code, out, err = await _cli("phones", "-c", cfg, "--json")
    assert code == 0, err
    assert [(p["id"], p["state"]) for p in json.loads(out)] == [(1, "disabled")]
    code, out, err = await _cli("phones", "-c", cfg, "enable", "1")  # -c before the action works too
    assert (code, out.strip()) == (0, "phone 1: connected"), err
    code, out, err = await _cli("phones", "enable", "7", "-c", cfg)
    assert code == 1 and "no phone with id 7" in err and out == ""
    code, _, err = await _cli("phones", "disable", "x", "-c", cfg)
    assert code == 2 and "positive number" in err  # argparse refuses it before any request


async def test_client_commands_say_when_the_daemon_is_not_running(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "c.ini",
        database=tmp_path / "d.sqlite3",
        api_listen=f"unix:{tmp_path}/none.sock",
        phones=[],
        webhooks=[],
    )
    code, _, err = await _cli("phones", "-c", str(cfg))
    assert code == 69 and "cannot reach the daemon" in err


async def test_run_tells_systemd_ready_with_a_status_then_stopping(tmp_path: Path) -> None:
    notify = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    sock.setblocking(False)
    rx = FaultyReceiver(API_KEY)
    await rx.start()
    messages: list[str] = []
    try:
        async with (
            simulated_modem(tmp_path) as sim,
            daemon_process(tmp_path, sims=[sim], rx_url=rx.url, start=False) as proc,
        ):
            proc.env = {"NOTIFY_SOCKET": str(notify), "WATCHDOG_USEC": "400000", "WATCHDOG_PID": ""}
            await proc.start(phones_connected=1)
            await asyncio.sleep(0.5)  # a watchdog ping or two (every 200 ms)
            assert await proc.stop() == 0
        while True:
            try:
                messages.append(sock.recv(4096).decode())
            except BlockingIOError:
                break
    finally:
        sock.close()
        await rx.stop()
    ready = [m for m in messages if "READY=1" in m]
    assert len(ready) == 1 and "STATUS=phones 1:connected" in ready[0] and "webhook backlog" in ready[0]
    assert any("WATCHDOG=1" in m for m in messages)
    assert "STOPPING=1" in messages[-1] or any("STOPPING=1" in m for m in messages)
    assert messages.index(ready[0]) < next(i for i, m in enumerate(messages) if "STOPPING=1" in m)


@pytest.mark.timeout(90)
async def test_demo_keep_running_prints_working_commands_and_stops_on_sigint() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "raspisms_daemon",
        "demo",
        "--keep-running",
        "--timeout",
        "20",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not lines or "curl" not in lines[-1]:
                line = (await proc.stdout.readline()).decode()
                assert line, "demo ended early:\n" + "".join(lines)
                lines.append(line)
        out = "".join(lines)
        assert "everything arrived" in out and "API key" in out
        cfg = next(ln.split()[-1] for ln in lines if ln.strip().startswith("client config"))
        code, phones_out, err = await _cli("phones", "-c", cfg)
        assert code == 0, err
        assert "connected" in phones_out
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_run_exits_1_with_a_clear_message_when_the_api_port_is_taken(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        port = busy.getsockname()[1]
        cfg = write_config(
            tmp_path / "c.ini",
            database=tmp_path / "d.sqlite3",
            api_listen=f"127.0.0.1:{port}",
            phones=[],
            webhooks=[],
        )
        code, out, err = await _cli("run", "-c", str(cfg), within=30)
    finally:
        busy.close()
    assert code == 1
    assert "cannot run" in out + err and "Traceback" not in out + err
