"""The local API under hostile input: how long one big request holds the event loop, and what a
slowloris flood does to the daemon's descriptors and to ``/healthz``.

- ``stall``: the real daemon in process (no phone), its API on 127.0.0.1; one ``POST /api/scheduled/``
  with N numbers (JSON, a form of ``numbers[]`` fields, or JSON with a template and data for each
  number), while a ticker on the same event loop
  records how late its 5 ms sleeps wake up. Figures: the answer, its time, the longest stall.
- ``slowloris``: ``raspisms-daemon run`` as its own process under ``RLIMIT_NOFILE`` = 1024 (systemd's
  default), no phone; C raw TCP connections that send half a request head and nothing more, opened as
  fast as the daemon takes them, while ``/healthz`` is asked every 100 ms. Figures: ``/healthz``
  answers and failures, the daemon's open descriptors (most, and at the end), its log lines saying
  "Too many open files".

    python -m bench.api_hostile [--numbers 10000 40000] [--connections 1100] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import os
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.bench_dispatch import free_port
from bench.profile import stop_process
from raspisms_daemon.config import ApiConfig, Config, DaemonConfig, DeliveryConfig, ReliabilityConfig
from raspisms_daemon.daemon import Daemon

__all__ = ["slowloris", "stall"]

API_KEY = "bench-key-0123456789abcdef0123456789"


async def _ticker(stalls: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.005)
        stalls.append(time.perf_counter() - before - 0.005)


async def stall(numbers: int, body: str) -> dict[str, Any]:
    """One request with ``numbers`` distinct valid numbers (``body``: "json", "form" of ``numbers[]``,
    or "template": JSON with a template and data for each number); the loop's longest stall."""
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        config = Config(
            daemon=DaemonConfig(database=Path(tmp) / "daemon.sqlite3", api_key=API_KEY),
            api=ApiConfig(listen="127.0.0.1:0"),
            delivery=DeliveryConfig(),
            reliability=ReliabilityConfig(),
        )
        daemon = Daemon(config)
        task = asyncio.create_task(daemon.run())
        await asyncio.wait_for(daemon.ready.wait(), 30)
        numbers_list = [f"+336{i:08d}" for i in range(numbers)]
        kwargs: dict[str, Any]
        if body == "form":
            form = "&".join(f"numbers[]=%2B{n[1:]}" for n in numbers_list) + "&text=hello"
            kwargs = {"data": form, "headers": {"Content-Type": "application/x-www-form-urlencoded"}}
        elif body == "template":
            items = [{"number": n, "data": {"name": f"n{i}"}} for i, n in enumerate(numbers_list)]
            kwargs = {"json": {"text": "Hello {{ contact.name }}", "numbers": items}}
        else:
            kwargs = {"json": {"text": "hello", "numbers": numbers_list}}
        stalls: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(stalls, stop))
        try:
            async with aiohttp.ClientSession(headers={"X-Api-Key": API_KEY}) as session:
                started = time.perf_counter()
                async with session.post(f"{daemon.api_url}/api/scheduled/", **kwargs) as resp:
                    status, text = resp.status, await resp.text()
                took = time.perf_counter() - started
        finally:
            stop.set()
            await ticker
            daemon.request_stop()
            await asyncio.wait_for(task, 30)
    message = json.loads(text).get("message") if text.startswith("{") else text[:80]
    return {
        "numbers": numbers,
        "body": body,
        "status": status,
        "message": message,
        "request_s": round(took, 3),
        "max_stall_ms": round(max(stalls, default=0.0) * 1000, 1),
    }


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def slowloris(connections: int, seconds: float) -> dict[str, Any]:
    """The daemon as a process under 1024 descriptors, ``connections`` half-open requests at it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, connections + 256)), hard))
    with tempfile.TemporaryDirectory(prefix="bench-slowloris-") as tmp:
        port = free_port()
        cfg = Path(tmp) / "config.ini"
        cfg.write_text(
            f"[daemon]\ndatabase = {tmp}/daemon.sqlite3\napi_key = {API_KEY}\n"
            f"[api]\nlisten = 127.0.0.1:{port}\n"
        )
        cfg.chmod(0o600)
        log = Path(tmp) / "daemon.log"
        with open(log, "wb") as out:  # noqa: ASYNC230 - opened once, before the run
            proc = await asyncio.create_subprocess_exec(
                "prlimit",
                "--nofile=1024:1024",
                "--",
                sys.executable,
                "-m",
                "raspisms_daemon",
                "run",
                "-c",
                str(cfg),
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"
        answered = failed = 0
        latencies: list[float] = []
        fds_most = 0
        held: list[socket.socket] = []
        try:
            # A new connection for each probe, as a monitor's (a kept-alive one would hide the flood).
            async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=5), connector=aiohttp.TCPConnector(force_close=True)
            ) as session:
                for _ in range(300):  # until it listens
                    try:
                        async with session.get(f"{base}/healthz") as resp:
                            if resp.status == 200:
                                break
                    except (aiohttp.ClientError, OSError):
                        await asyncio.sleep(0.1)
                fds_idle = _fds(proc.pid)
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    # Keep `connections` half-open requests at it: the closed ones are opened again.
                    held = [s for s in held if _alive(s)]
                    for _ in range(connections - len(held)):
                        s = socket.socket()
                        s.setblocking(False)
                        try:
                            s.connect(("127.0.0.1", port))
                        except BlockingIOError:
                            pass
                        except OSError:
                            s.close()
                            continue
                        try:
                            s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                        except OSError:
                            pass
                        held.append(s)
                    started = time.perf_counter()
                    try:
                        async with session.get(f"{base}/healthz") as resp:
                            await resp.read()
                            answered += resp.status == 200
                            failed += resp.status != 200
                        latencies.append(time.perf_counter() - started)
                    except (aiohttp.ClientError, OSError, TimeoutError):
                        failed += 1
                    fds_most = max(fds_most, _fds(proc.pid))
                    await asyncio.sleep(0.1)
                fds_end = _fds(proc.pid)
        finally:
            for s in held:
                s.close()
            await stop_process(proc)
        text = log.read_text(errors="replace")
    latencies.sort()
    return {
        "connections": connections,
        "seconds": seconds,
        "healthz_answered": answered,
        "healthz_failed": failed,
        "healthz_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
        "healthz_max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "daemon_fds_idle": fds_idle,
        "daemon_fds_most": fds_most,
        "daemon_fds_end": fds_end,
        "too_many_open_files_lines": text.count("Too many open files"),
    }


def _alive(s: socket.socket) -> bool:
    """False once the daemon closed it (a read gives EOF or an error)."""
    try:
        if s.recv(1, socket.MSG_PEEK) == b"":
            s.close()
            return False
    except BlockingIOError:
        return True
    except OSError as exc:
        if exc.errno == errno.ENOTCONN:  # still connecting (its SYN waits in the listen queue)
            return True
        s.close()
        return False
    return True


async def run(numbers: list[int], connections: int, seconds: float) -> list[dict[str, Any]]:
    out = []
    for n in numbers:
        for body in ("json", "form", "template"):
            out.append(await stall(n, body))
            print(json.dumps(out[-1]), flush=True)
    if connections:
        out.append(await slowloris(connections, seconds))
        print(json.dumps(out[-1]), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, nargs="*", default=[10_000, 40_000])
    parser.add_argument("--connections", type=int, default=1100)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    asyncio.run(run(args.numbers, args.connections, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
