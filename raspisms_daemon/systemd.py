"""sd_notify for ``Type=notify`` units, without needing systemd-python.

The protocol is one datagram of ``KEY=VALUE`` lines to the ``AF_UNIX`` socket named by
``$NOTIFY_SOCKET`` (a path, or an abstract name written with a leading ``@``). When the variable is
absent we are not under systemd (or ``NotifyAccess`` is off) and every call is a no-op, so the daemon
never has to ask "am I a service?".

Errors while notifying are logged and swallowed: a full or vanished notify socket must never take the
daemon down; systemd's watchdog will notice a real problem on its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping

from .clock import within

__all__ = ["Notifier"]

log = logging.getLogger(__name__)


class Notifier:
    """Talks to the service manager through ``$NOTIFY_SOCKET``; a no-op when not under systemd."""

    def __init__(
        self,
        address: str | None,
        *,
        watchdog_usec: int | None = None,
        watchdog_pid: int | None = None,
    ) -> None:
        self._address = _socket_address(address) if address else None
        self._watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None
        self._watchdog_pid = watchdog_pid
        self._sock: socket.socket | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """Build from ``NOTIFY_SOCKET``, ``WATCHDOG_USEC``, ``WATCHDOG_PID`` (default ``os.environ``)."""
        env = os.environ if environ is None else environ
        return cls(
            env.get("NOTIFY_SOCKET") or None,
            watchdog_usec=_int_or_none(env.get("WATCHDOG_USEC")),
            watchdog_pid=_int_or_none(env.get("WATCHDOG_PID")),
        )

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, **fields: str) -> bool:
        """Send one datagram of ``KEY=VALUE`` lines; False when disabled or the send failed."""
        if self._address is None:
            return False
        payload = "\n".join(f"{key}={_one_line(value)}" for key, value in fields.items()).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # Never block the event loop on a congested notify socket.
                self._sock.setblocking(False)
            self._sock.sendto(payload, self._address)
        except OSError as exc:
            log.warning("sd_notify failed (%s): %s", ", ".join(fields), exc)
            return False
        return True

    def ready(self, status: str | None = None) -> None:
        fields = {"READY": "1"}
        if status is not None:
            fields["STATUS"] = status
        self.notify(**fields)

    def status(self, text: str) -> None:
        self.notify(STATUS=text)

    def reloading(self, status: str | None = None) -> None:
        """``RELOADING=1`` with ``MONOTONIC_USEC`` (sd_notify(3): when the reload began); READY=1 ends it."""
        began = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        fields = {"RELOADING": "1", "MONOTONIC_USEC": str(began)}
        if status is not None:
            fields["STATUS"] = status
        self.notify(**fields)

    def stopping(self, status: str | None = None) -> None:
        fields = {"STOPPING": "1"}
        if status is not None:
            fields["STATUS"] = status
        self.notify(**fields)

    def watchdog(self) -> None:
        """One ``WATCHDOG=1`` keep-alive ping."""
        self.notify(WATCHDOG="1")

    def extend_timeout(self, seconds: float) -> None:
        """Ask for more start-up/shutdown time (``EXTEND_TIMEOUT_USEC``), e.g. during a long migration."""
        self.notify(EXTEND_TIMEOUT_USEC=str(int(seconds * 1_000_000)))

    def watchdog_interval(self) -> float | None:
        """Seconds between keep-alive pings (half of ``WATCHDOG_USEC``, as sd_watchdog_enabled(3)
        advises), or None when the watchdog is off, not meant for this process, or there is no socket."""
        if self._address is None or self._watchdog_usec is None:
            return None
        if self._watchdog_pid is not None and self._watchdog_pid != os.getpid():
            return None
        return self._watchdog_usec / 2 / 1_000_000

    async def watchdog_loop(self, answers: Callable[[], Awaitable[object]] | None = None) -> None:
        """Ping ``WATCHDOG=1`` at :meth:`watchdog_interval` until cancelled; returns at once when off.

        It runs *on the event loop* on purpose: if the loop is blocked, the pings stop and systemd
        restarts us, which is exactly what the watchdog is for. ``answers`` (a statement through each
        of the database's threads) must also answer within the interval before each ping: a thread stuck
        for good leaves a loop that runs but takes nothing in, and only a restart ends that.
        """
        interval = self.watchdog_interval()
        if interval is None:
            return
        silent_since: float | None = None
        while True:
            started = time.monotonic()
            if answers is not None:
                try:
                    await within(answers(), interval)
                except TimeoutError:
                    if silent_since is None:
                        silent_since = started
                        log.error(
                            "the database has not answered for %g s: no watchdog ping until it does "
                            "(systemd restarts the daemon once WatchdogSec passes without one)",
                            interval,
                        )
                    continue
                except Exception as exc:
                    # An answer all the same: the thread runs (storage faults are the daemon's business).
                    log.debug("watchdog: the database answered with %s", exc)
                if silent_since is not None:
                    log.warning("the database answers again after %.1f s", time.monotonic() - silent_since)
                    silent_since = None
            self.watchdog()
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _socket_address(address: str) -> str | bytes:
    # "@name" is Linux's abstract namespace: a leading NUL byte instead of a filesystem path.
    if address.startswith("@"):
        return b"\0" + address[1:].encode()
    return address


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _one_line(value: str) -> str:
    # A newline would start a new KEY=VALUE assignment in the datagram.
    return value.replace("\n", " ")
