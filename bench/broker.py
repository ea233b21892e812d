"""A Mosquitto broker of our own for the benchmarks and the tests: its own config, 127.0.0.1 on a free
port, persistence in its directory (sessions, queued and retained messages survive a restart: SIGTERM
saves them), no cap on what waits for an offline session.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import shutil
import signal
from pathlib import Path

from bench.bench_dispatch import free_port

__all__ = ["MOSQUITTO", "Broker"]

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)


class Broker:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = self.dir / "mosquitto.log"
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    "allow_anonymous true",
                    # Run as whoever runs the tests (as root, mosquitto would switch to its own user).
                    f"user {getpass.getuser()}",
                    "persistence true",
                    f"persistence_location {self.dir}/",
                    "autosave_interval 1",
                    # No cap on what waits for an offline persistent session (the default drops after 1000).
                    "max_queued_messages 0",
                    "max_inflight_messages 0",
                    f"log_dest file {self.log}",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "log_type information",
                    "",
                ]
            )
        )
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    async def start(self) -> None:
        assert MOSQUITTO is not None
        self.proc = await asyncio.create_subprocess_exec(
            MOSQUITTO,
            "-c",
            str(self.conf),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(10):
            while True:
                if self.proc.returncode is not None:
                    raise AssertionError(f"mosquitto exited {self.proc.returncode}: {self.log_tail()}")
                with contextlib.suppress(OSError):
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    writer.close()
                    return
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """SIGTERM: Mosquitto saves its persistence (sessions, queued and retained messages) and exits."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.proc.wait(), 10)

    async def restart(self, down_for: float = 0.0) -> None:
        await self.stop()
        await asyncio.sleep(down_for)
        await self.start()

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"
