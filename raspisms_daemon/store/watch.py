"""Watching the database file while the daemon runs (docs/design.md §4): the path checked against the
open file every few seconds and at once when the state changes; while degraded, a probe commit until
writes work again; a file deleted under us written back from the open copy; a replaced one's content
saved beside the newcomer. What follows (taking in what waited, stopping with an exit status) is the
daemon's, through the two callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable

from ..clock import Clock, within
from ..config import EX_CONFIG
from ..errors import StoreError
from .db import Database
from .faults import FaultKind, StorageFault

__all__ = ["CHECK_INTERVAL", "DISK_FULL_MARGIN", "EX_TEMPFAIL", "StorageWatch"]

log = logging.getLogger("raspisms_daemon.store")

CHECK_INTERVAL = 2.0  # the file's identity, and a probe commit while degraded
DISK_FULL_MARGIN = 1024 * 1024  # after "disk full", this much must be free again before writes resume
EX_TEMPFAIL = 75  # sysexits.h: stopped to be restarted (a deleted database was written back)


class StorageWatch:
    """``on_recovered()`` once writes work again; ``on_stop(exit status)`` when the daemon must stop."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        on_recovered: Callable[[], Awaitable[None]],
        on_stop: Callable[[int], None],
    ) -> None:
        self.db = db
        self.clock = clock
        self.on_recovered = on_recovered
        self.on_stop = on_stop
        self._changed = asyncio.Event()
        db.health.subscribe(self._health_changed)

    def _health_changed(self, fault: StorageFault | None) -> None:
        self._changed.set()
        if fault is not None and fault.fatal:
            log.error(
                "cannot go on: %s; stopping (exit %d: only a person can fix this, systemd will not "
                "restart the daemon)",
                fault,
                EX_CONFIG,
            )
            self.on_stop(EX_CONFIG)

    async def run(self) -> None:
        db = self.db
        while True:
            with contextlib.suppress(TimeoutError):
                await within(self._changed.wait(), CHECK_INTERVAL)
            self._changed.clear()
            try:
                db.check_file()
            except StorageFault as moved:
                db.health.report(moved)
            fault = db.health.fault
            if fault is None:
                continue
            if fault.kind is FaultKind.DELETED:
                if await self._restore_deleted():
                    return  # stopping; the path now holds the copy, not the file we have open
            elif fault.kind is FaultKind.REPLACED:
                await self._keep_orphan()
                return
            elif fault.transient:
                await self._probe(fault)

    async def _probe(self, fault: StorageFault) -> None:
        db = self.db
        if fault.kind is FaultKind.FULL:
            try:
                st = os.statvfs(db.path.parent)
            except OSError:
                return
            if st.f_bavail * st.f_frsize < DISK_FULL_MARGIN:
                return
        try:
            await db.probe()
        except (StorageFault, StoreError):
            return
        db.health.recovered()
        await self.on_recovered()

    async def _restore_deleted(self) -> bool:
        """The file was deleted while open: we still have it. Write it back and restart on it.
        False: not possible yet (tried again at the next check)."""
        db = self.db
        try:
            await db.backup_to(db.path)
        except FileExistsError:
            log.error("database %s was deleted, and another file took its place meanwhile", db.path)
            self.on_stop(EX_CONFIG)
        except (OSError, StoreError, StorageFault) as exc:
            log.error("database %s was deleted while in use; cannot write it back (yet): %s", db.path, exc)
            return False
        else:
            log.error(
                "database %s was deleted while in use: written back from the open file (nothing lost); "
                "stopping with exit %d to start again on it",
                db.path,
                EX_TEMPFAIL,
            )
            self.on_stop(EX_TEMPFAIL)
        return True

    async def _keep_orphan(self) -> None:
        """Another file was put at the database's path: keep what ours held beside it, then stop (78)."""
        db = self.db
        orphan = db.path.with_name(f"{db.path.name}.orphaned-{int(self.clock.time())}")
        try:
            await db.backup_to(orphan)
            log.error("database %s was replaced while in use; what it held is saved as %s", db.path, orphan)
        except (OSError, StoreError, StorageFault) as exc:
            log.error("database %s was replaced while in use; cannot save what it held: %s", db.path, exc)
        self.on_stop(EX_CONFIG)
