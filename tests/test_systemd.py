"""sd_notify against a real ``NOTIFY_SOCKET``: a datagram socket bound by the test, as systemd binds it."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from raspisms_daemon.systemd import Notifier


class NotifySocket:
    """The manager's side: a bound AF_UNIX datagram socket; a thread timestamps what arrives."""

    def __init__(self, address: str) -> None:
        self.address = address  # as it goes into $NOTIFY_SOCKET
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            fields = dict(line.split("=", 1) for line in data.decode().split("\n"))
            self.messages.append((time.monotonic(), fields))

    def wait_for(self, count: int, timeout: float = 2.0) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        return [fields for _, fields in self.messages]

    def watchdog_times(self) -> list[float]:
        return [t for t, fields in self.messages if fields.get("WATCHDOG") == "1"]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


async def cancel(task: asyncio.Task[None]) -> None:
    """Cancel a watchdog loop and check that it ends cancelled (it swallows nothing)."""
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    peer = NotifySocket(str(tmp_path / "notify"))
    yield peer
    peer.close()


@pytest.fixture
def abstract_notify_socket() -> Iterator[NotifySocket]:
    peer = NotifySocket(f"@raspisms-test-{uuid.uuid4().hex}")
    yield peer
    peer.close()


def test_without_notify_socket_every_call_is_a_no_op() -> None:
    notifier = Notifier.from_env({})
    assert not notifier.enabled
    notifier.ready("ready")
    notifier.status("status")
    notifier.stopping()
    assert notifier.notify(READY="1") is False
    assert notifier.watchdog_interval() is None


async def test_watchdog_loop_returns_at_once_when_the_watchdog_is_off(notify_socket: NotifySocket) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": notify_socket.address})
    await asyncio.wait_for(notifier.watchdog_loop(), timeout=1)
    assert notify_socket.watchdog_times() == []


def test_ready_status_and_stopping_arrive_as_key_value_datagrams(notify_socket: NotifySocket) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": notify_socket.address})
    assert notifier.enabled
    notifier.ready("2 phones, 0 queued")
    notifier.status("phone 1: signal 21")
    notifier.stopping("draining deliveries")
    notifier.close()
    assert notify_socket.wait_for(3) == [
        {"READY": "1", "STATUS": "2 phones, 0 queued"},
        {"STATUS": "phone 1: signal 21"},
        {"STOPPING": "1", "STATUS": "draining deliveries"},
    ]


def test_abstract_socket_names_starting_with_at_are_reached(abstract_notify_socket: NotifySocket) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": abstract_notify_socket.address})
    notifier.ready()
    assert abstract_notify_socket.wait_for(1) == [{"READY": "1"}]


def test_a_newline_in_a_status_cannot_inject_another_assignment(notify_socket: NotifySocket) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": notify_socket.address})
    notifier.status("bad\nREADY=1")
    assert notify_socket.wait_for(1) == [{"STATUS": "bad READY=1"}]


def test_a_vanished_notify_socket_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    notifier.ready()
    assert notifier.notify(STATUS="x") is False
    assert "sd_notify failed" in caplog.text


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "20000000"}, 10.0),
        ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())}, 10.0),
        ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),  # meant for another
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process(
    notify_socket: NotifySocket, env: dict[str, str], expected: float | None
) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": notify_socket.address, **env})
    assert notifier.watchdog_interval() == expected


def test_watchdog_interval_needs_a_notify_socket() -> None:
    assert Notifier.from_env({"WATCHDOG_USEC": "20000000"}).watchdog_interval() is None


async def test_watchdog_pings_at_the_interval_and_stop_while_the_loop_is_blocked(
    notify_socket: NotifySocket,
) -> None:
    # WATCHDOG_USEC=300 ms -> a ping every 150 ms from the event loop.
    notifier = Notifier.from_env({"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "300000"})
    task = asyncio.create_task(notifier.watchdog_loop())
    try:
        await asyncio.sleep(0.95)
        healthy = notify_socket.watchdog_times()
        block_start = time.monotonic()
        time.sleep(0.6)  # noqa: ASYNC251 -- on purpose: the loop is stuck, nothing may ping systemd now
        block_end = time.monotonic()
        await asyncio.sleep(0.35)
    finally:
        await cancel(task)
    notifier.close()

    assert 5 <= len(healthy) <= 8, healthy  # 0.95 s / 0.15 s, plus the one sent at start
    gaps = [b - a for a, b in itertools.pairwise(healthy)]
    assert min(gaps) > 0.075, gaps  # paced by the interval, not a busy loop
    assert max(gaps) < 0.3, gaps  # always inside WATCHDOG_USEC while the loop is healthy

    every = notify_socket.watchdog_times()
    during = [t for t in every if block_start + 0.02 < t < block_end - 0.02]
    assert during == []
    after = [t for t in every if t >= block_end - 0.02]
    assert after, "pings resume once the loop runs again"
    all_gaps = [b - a for a, b in itertools.pairwise(every)]
    assert max(all_gaps) >= 0.55  # the blocked stretch shows up as a missed watchdog deadline


async def test_watchdog_loop_stops_when_cancelled(notify_socket: NotifySocket) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "100000"})
    task = asyncio.create_task(notifier.watchdog_loop())
    await asyncio.sleep(0.12)
    await cancel(task)
    count = len(notify_socket.watchdog_times())
    await asyncio.sleep(0.15)
    assert len(notify_socket.watchdog_times()) == count


def test_from_env_reads_the_process_environment(notify_socket: NotifySocket) -> None:
    # A real child process with NOTIFY_SOCKET in its environment, as systemd starts the daemon.
    code = "from raspisms_daemon.systemd import Notifier; Notifier.from_env().ready('child up')"
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket.address}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=30)
    assert notify_socket.wait_for(1) == [{"READY": "1", "STATUS": "child up"}]


async def test_watchdog_pings_only_while_the_database_thread_answers(notify_socket: NotifySocket) -> None:
    # WATCHDOG_USEC=300 ms -> a ping every 150 ms, each after the database's answer (tests/faults/
    # test_stalled_disk.py does it with a real disk that stops syncing).
    notifier = Notifier.from_env({"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "300000"})
    thread_runs = asyncio.Event()
    thread_runs.set()
    failing = False

    async def answers() -> None:
        await thread_runs.wait()
        if failing:
            raise sqlite3.OperationalError("disk I/O error")

    task = asyncio.create_task(notifier.watchdog_loop(answers))
    try:
        await asyncio.sleep(0.5)
        thread_runs.clear()
        stuck_at = time.monotonic()
        await asyncio.sleep(0.6)
        failing = True  # an error is an answer: the thread runs, the storage fault is handled elsewhere
        thread_runs.set()
        answered_at = time.monotonic()
        await asyncio.sleep(0.5)
    finally:
        await cancel(task)
    notifier.close()
    every = notify_socket.watchdog_times()
    assert len([t for t in every if t < stuck_at]) >= 3
    assert [t for t in every if stuck_at + 0.16 < t < answered_at] == []  # no ping while it does not answer
    assert len([t for t in every if t > answered_at]) >= 3
