"""The degraded state: which reports change it, which never leave it, who is told."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

from raspisms_daemon.store.faults import FaultKind, StorageFault
from raspisms_daemon.store.health import StorageHealth

PATH = Path("/var/lib/raspisms-daemon/raspisms.sqlite3")


async def test_a_transient_fault_degrades_until_recovered_and_the_listeners_are_told() -> None:
    health = StorageHealth(PATH)
    seen: list[FaultKind | None] = []
    health.subscribe(lambda fault: seen.append(None if fault is None else fault.kind))
    assert health.report(OSError(errno.ENOSPC, "No space left on device"))
    assert health.report(OSError(errno.ENOSPC, "No space left on device"))  # known: told once
    assert health.degraded and "disk full" in (health.reason or "")
    waiter = asyncio.ensure_future(health.wait_writable())
    await asyncio.sleep(0)
    assert not waiter.done()
    health.recovered()
    await asyncio.wait_for(waiter, 1)
    assert seen == [FaultKind.FULL, None] and not health.degraded


def test_errors_that_are_not_the_disks_change_nothing() -> None:
    health = StorageHealth(PATH)
    assert not health.report(ValueError("a bug"))
    assert not health.degraded


def test_a_fault_that_cannot_fix_itself_stays_whatever_comes_after() -> None:
    health = StorageHealth(PATH)
    health.report(OSError(errno.ENOSPC, "full"))
    health.report(StorageFault(FaultKind.CORRUPT, PATH, "malformed"))  # worse: replaces the transient one
    health.report(OSError(errno.ENOSPC, "full"))
    health.recovered()  # a probe cannot end it
    assert health.fault is not None and health.fault.kind is FaultKind.CORRUPT
    deleted = StorageHealth(PATH)
    deleted.report(StorageFault(FaultKind.DELETED, PATH))
    deleted.report(StorageFault(FaultKind.REPLACED, PATH))  # the daemon's own copy put back: not this
    assert deleted.fault is not None and deleted.fault.kind is FaultKind.DELETED
