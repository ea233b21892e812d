"""Whether the database takes writes now, and if not, why: the daemon's *degraded* state.

Every part that writes reports what failed to :meth:`StorageHealth.report`; a storage fault (see
:mod:`.faults`) makes the state degraded, anything else is left to the caller. While degraded:

- the phone supervisors take nothing in and delete nothing from the SIM (the messages stay safe there
  and are taken in once a write works again),
- the sender and the webhook dispatcher wait (:meth:`StorageHealth.wait_writable`),
- ``/healthz`` answers 503 with the reason, and the systemd status line says it.

The daemon's probe (:meth:`raspisms_daemon.daemon.Daemon`) tries a real commit every few seconds and
calls :meth:`StorageHealth.recovered` when one works. A fatal fault never recovers: the daemon stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from .faults import StorageFault, classify

__all__ = ["StorageHealth"]

log = logging.getLogger("raspisms_daemon.store")

Listener = Callable[[StorageFault | None], None]


class StorageHealth:
    """The database file's state as the daemon's parts last saw it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fault: StorageFault | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self._listeners: list[Listener] = []

    @property
    def degraded(self) -> bool:
        return self.fault is not None

    @property
    def reason(self) -> str | None:
        return None if self.fault is None else str(self.fault)

    def subscribe(self, listener: Listener) -> None:
        """``listener(fault)`` on every change: the new fault, or None once writes work again."""
        self._listeners.append(listener)

    def report(self, exc: BaseException) -> bool:
        """True when ``exc`` is (or was caused by) a storage fault: the state is degraded from now on."""
        fault = classify(exc, self.path)
        if fault is None:
            return False
        if self.fault is not None and (not self.fault.transient or self.fault.kind is fault.kind):
            return True  # known already; one that does not fix itself is never replaced
        self.fault = fault
        self._writable.clear()
        log.error("storage degraded: %s", fault)
        self._notify()
        return True

    def recovered(self) -> None:
        """A write worked again (a transient fault only: a fatal one stays)."""
        if self.fault is not None and not self.fault.fatal:
            log.warning("storage recovered: %s works again (was: %s)", self.path, self.fault.kind.value)
            self.fault = None
            self._writable.set()
            self._notify()

    async def wait_writable(self) -> None:
        """Return at once while healthy; else when :meth:`recovered` is called."""
        await self._writable.wait()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener(self.fault)
            except Exception:
                log.exception("storage state listener failed")
