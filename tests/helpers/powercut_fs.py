"""A FUSE file system that keeps unsynced data apart, to simulate power cuts (test tooling).

It has the semantics of LazyFS (dsrhaslab/lazyfs@a47a5ba, lazyfs/src/lazyfs.cpp), which cannot be
installed from the package registries our CI and users reach:

- ``write`` goes to a per-file cache in this process, not to the backing directory;
- ``fsync``/``fdatasync`` write that file's cached pages to the backing file and fsync it (``lfs_fsync``);
- ``close`` does **not** (``lfs_release`` only closes the descriptor): data written and closed but never
  synced is lost in a power cut;
- the command ``lazyfs::clear-cache`` drops every unsynced byte of every file, as a power cut does
  (``command_fault_clear_cache`` → ``clear_all_cache``); ``lazyfs::cache-checkpoint`` writes them all;
- create, unlink, rename and mkdir reach the backing directory at once (LazyFS caches file data only).

Deliberate differences from LazyFS: ``truncate`` also reaches the backing file at once (LazyFS keeps a
truncation in its cache until a sync); files whose name ends in ``-shm`` bypass the cache. SQLite maps
its WAL index (``-shm``) with ``mmap`` and never relies on it after a crash: the first connection to open
the database afterwards rebuilds it from the WAL (sqlite.org/walformat.html, "the wal-index … is
rebuilt"), so caching it would only make the kernel's shared mapping and our cache disagree.

Our addition, which LazyFS has no command for: ``lazyfs::freeze-syncs`` makes every ``fsync`` wait
until ``lazyfs::thaw-syncs``, as an SD card that stops answering does (reads and writes go on).

Commands come as lines on the fifo ``--fifo`` (``echo lazyfs::clear-cache > faults.fifo``), as for
LazyFS; each one done is acknowledged with ``finished::<command>`` on ``--fifo-completed`` (LazyFS's
``fifo_path_completed``). Mounted with zero attribute and entry timeouts and without ``kernel_cache``,
so that after a clear-cache the kernel holds no stale size, and reopening a file reads what is left.

    python -m tests.helpers.powercut_fs BACKING MOUNTPOINT --fifo F --fifo-completed C
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mfusepy as fuse

__all__ = ["PAGE", "PowerCutFS", "PowerCutMount", "main", "mounted"]

PAGE = 4096
UNCACHED_SUFFIXES = ("-shm",)


@dataclass
class _Cached:
    """Unsynced state of one file: dirty pages over the backing file, and its logical size."""

    size: int
    pages: dict[int, bytearray] = field(default_factory=dict)


class PowerCutFS(fuse.Operations):  # type: ignore[misc]
    """Passthrough to ``backing``, with a write cache per file (see the module docstring)."""

    use_ns = True  # utimens gets nanoseconds

    def __init__(self, backing: str) -> None:
        self.backing = os.path.realpath(backing)
        self._lock = threading.RLock()
        self._cache: dict[str, _Cached] = {}  # by path inside the file system
        self.syncs_flow = threading.Event()  # cleared by freeze-syncs: fsync waits until it is set again
        self.syncs_flow.set()

    # -- helpers ---------------------------------------------------------------------------------
    def _real(self, path: str) -> str:
        return os.path.join(self.backing, path.lstrip("/"))

    def _cached(self, path: str) -> bool:
        return not path.endswith(UNCACHED_SUFFIXES)

    def _entry(self, path: str) -> _Cached:
        entry = self._cache.get(path)
        if entry is None:
            entry = self._cache[path] = _Cached(os.path.getsize(self._real(path)))
        return entry

    def _read_backing(self, path: str, offset: int, size: int) -> bytes:
        fd = os.open(self._real(path), os.O_RDONLY)
        try:
            return os.pread(fd, size, offset)
        finally:
            os.close(fd)

    def _flush(self, path: str) -> None:
        """Write the file's cached pages to the backing file and fsync it."""
        entry = self._cache.pop(path, None)
        if entry is None:
            return
        fd = os.open(self._real(path), os.O_WRONLY)
        try:
            for number in sorted(entry.pages):
                start = number * PAGE
                if start >= entry.size:
                    continue
                os.pwrite(fd, bytes(entry.pages[number][: entry.size - start]), start)
            os.ftruncate(fd, entry.size)
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- commands (the fifo) -----------------------------------------------------------------------
    def clear_cache(self) -> int:
        """A power cut: every unsynced byte is gone. Returns how many files lost something."""
        with self._lock:
            lost = len(self._cache)
            self._cache.clear()
            return lost

    def checkpoint(self) -> None:
        with self._lock:
            for path in list(self._cache):
                self._flush(path)

    def unsynced(self) -> dict[str, int]:
        """Path → number of dirty pages (for tests and the report)."""
        with self._lock:
            return {path: len(entry.pages) for path, entry in self._cache.items()}

    # -- metadata: straight through -----------------------------------------------------------------
    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        with self._lock:
            st = os.lstat(self._real(path))
            attrs = {
                key: getattr(st, key)
                for key in (
                    "st_mode",
                    "st_ino",
                    "st_nlink",
                    "st_uid",
                    "st_gid",
                    "st_size",
                    "st_atime",
                    "st_mtime",
                    "st_ctime",
                )
            }
            entry = self._cache.get(path)
            if entry is not None and stat.S_ISREG(st.st_mode):
                attrs["st_size"] = entry.size
            return attrs

    def readdir(self, path: str, fh: int) -> list[str]:
        return [".", "..", *os.listdir(self._real(path))]

    def access(self, path: str, amode: int) -> int:
        if not os.access(self._real(path), amode):
            raise fuse.FuseOSError(errno.EACCES)
        return 0

    def chmod(self, path: str, mode: int) -> int:
        os.chmod(self._real(path), mode)
        return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        os.chown(self._real(path), uid, gid)
        return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        if times is None:
            os.utime(self._real(path))  # now, as utimensat(2) with no times
        else:
            os.utime(self._real(path), ns=times)
        return 0

    def mkdir(self, path: str, mode: int) -> int:
        os.mkdir(self._real(path), mode)
        return 0

    def rmdir(self, path: str) -> int:
        os.rmdir(self._real(path))
        return 0

    def statfs(self, path: str) -> dict[str, int]:
        st = os.statvfs(self._real(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag")
        return {key: getattr(st, key) for key in (*keys, "f_frsize", "f_namemax")}

    def unlink(self, path: str) -> int:
        with self._lock:
            os.unlink(self._real(path))
            self._cache.pop(path, None)
        return 0

    def rename(self, old: str, new: str) -> int:
        with self._lock:
            os.rename(self._real(old), self._real(new))
            entry = self._cache.pop(old, None)
            self._cache.pop(new, None)
            if entry is not None:
                self._cache[new] = entry
        return 0

    def link(self, target: str, source: str) -> int:
        # os.link(existing, new): ``source`` is the existing file, ``target`` the new name (fusepy's order).
        with self._lock:
            self._flush(source)  # both names must show the same content
            os.link(self._real(source), self._real(target))
        return 0

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        with self._lock:
            entry = self._cache.get(path)
            if entry is not None:
                entry.size = length
                for number in [n for n in entry.pages if n * PAGE >= length]:
                    del entry.pages[number]
            os.truncate(self._real(path), length)
        return 0

    # -- file data ---------------------------------------------------------------------------------
    def create(self, path: str, mode: int, fi: Any = None) -> int:
        fd = os.open(self._real(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        os.close(fd)
        with self._lock:
            self._cache.pop(path, None)
        return 0

    def open(self, path: str, flags: int) -> int:
        if not os.path.exists(self._real(path)):
            raise fuse.FuseOSError(errno.ENOENT)
        if flags & os.O_TRUNC:
            self.truncate(path, 0)
        return 0

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        with self._lock:
            entry = self._cache.get(path) if self._cached(path) else None
            if entry is None:
                return self._read_backing(path, offset, size)
            end = min(offset + size, entry.size)
            if offset >= end:
                return b""
            out = bytearray(self._read_backing(path, offset, end - offset).ljust(end - offset, b"\0"))
            for number, page in entry.pages.items():
                start = number * PAGE
                lo, hi = max(start, offset), min(start + PAGE, end)
                if lo < hi:
                    out[lo - offset : hi - offset] = page[lo - start : hi - start]
            return bytes(out)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        with self._lock:
            if not self._cached(path):
                fd = os.open(self._real(path), os.O_WRONLY)
                try:
                    return os.pwrite(fd, data, offset)
                finally:
                    os.close(fd)
            entry = self._entry(path)
            position = offset
            view = memoryview(data)
            while view:
                number, within = divmod(position, PAGE)
                page = entry.pages.get(number)
                if page is None:
                    # Start from what the file holds there now (backing file, zeros past its end).
                    base = (
                        self._read_backing(path, number * PAGE, PAGE) if number * PAGE < entry.size else b""
                    )
                    page = entry.pages[number] = bytearray(base.ljust(PAGE, b"\0"))
                n = min(PAGE - within, len(view))
                page[within : within + n] = view[:n]
                view = view[n:]
                position += n
            entry.size = max(entry.size, offset + len(data))
            return len(data)

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        self.syncs_flow.wait()  # outside the lock: a frozen sync holds up only its caller
        with self._lock:
            if self._cached(path):
                self._flush(path)
            else:
                fd = os.open(self._real(path), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        return 0

    def flush(self, path: str, fh: int) -> int:
        return 0  # close(2) makes nothing durable (LazyFS's lfs_release does not either)

    def release(self, path: str, fh: int) -> int:
        return 0

    def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
        self.syncs_flow.wait()
        fd = os.open(self._real(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return 0


def _serve_commands(fs: PowerCutFS, fifo: Path, completed: Path | None) -> None:
    while True:
        with open(fifo) as commands:
            for raw in commands:
                command = raw.strip()
                if command == "lazyfs::clear-cache":
                    fs.clear_cache()
                elif command == "lazyfs::cache-checkpoint":
                    fs.checkpoint()
                elif command == "lazyfs::freeze-syncs":
                    fs.syncs_flow.clear()
                elif command == "lazyfs::thaw-syncs":
                    fs.syncs_flow.set()
                elif not command:
                    continue
                if completed is not None:
                    with open(completed, "w") as done:
                        done.write(f"finished::{command.removeprefix('lazyfs::')}\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backing")
    parser.add_argument("mountpoint")
    parser.add_argument("--fifo", required=True, type=Path)
    parser.add_argument("--fifo-completed", type=Path)
    args = parser.parse_args(argv)
    for path in (args.fifo, args.fifo_completed):
        if path is not None and not path.exists():
            os.mkfifo(path)
    fs = PowerCutFS(args.backing)
    threading.Thread(
        target=_serve_commands, args=(fs, args.fifo, args.fifo_completed), daemon=True, name="fifo"
    ).start()
    fuse.FUSE(
        fs,
        args.mountpoint,
        foreground=True,
        nothreads=False,
        attr_timeout=0,
        entry_timeout=0,
        negative_timeout=0,
        default_permissions=True,
    )


# --- the test's side: mount it, send commands, unmount ---------------------------------------------


@dataclass
class PowerCutMount:
    mountpoint: Path
    backing: Path
    fifo: Path
    completed: Path
    process: subprocess.Popen[bytes]

    async def command(self, command: str, within: float = 30.0) -> None:
        """Send ``lazyfs::<command>`` and wait for its ``finished::`` acknowledgement."""

        def exchange() -> str:
            with open(self.fifo, "w") as fifo:
                fifo.write(f"lazyfs::{command}\n")
            with open(self.completed) as done:
                return done.readline().strip()

        answer = await asyncio.wait_for(asyncio.to_thread(exchange), within)
        assert answer == f"finished::{command}", answer

    async def clear_cache(self) -> None:
        """A power cut for the file system: every byte not fsynced is gone."""
        await self.command("clear-cache")

    async def freeze_syncs(self) -> None:
        """From now on every fsync waits (a disk that stopped answering) until :meth:`thaw_syncs`."""
        await self.command("freeze-syncs")

    async def thaw_syncs(self) -> None:
        await self.command("thaw-syncs")


@contextlib.contextmanager
def mounted(where: Path) -> Iterator[PowerCutMount]:
    """The file system on ``where/mnt`` over ``where/backing``; skips the test where FUSE is missing."""
    import pytest

    from tests.helpers.machine import require

    if not Path("/dev/fuse").exists():
        pytest.skip("this kernel or container gives no /dev/fuse")
    require(shutil.which("fusermount"), "fusermount", "fuse3 libfuse2")
    mnt, backing = where / "mnt", where / "backing"
    mnt.mkdir(parents=True)
    backing.mkdir()
    fifo, completed = where / "faults.fifo", where / "faults-completed.fifo"
    os.mkfifo(fifo)
    os.mkfifo(completed)
    log = open(where / "powercut_fs.log", "wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.helpers.powercut_fs",
            str(backing),
            str(mnt),
            "--fifo",
            str(fifo),
            "--fifo-completed",
            str(completed),
        ],
        cwd=Path(__file__).resolve().parents[2],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while not os.path.ismount(mnt):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise AssertionError(f"powercut_fs did not mount: {(where / 'powercut_fs.log').read_text()}")
            time.sleep(0.02)
        yield PowerCutMount(mnt, backing, fifo, completed, process)
    finally:
        subprocess.run(["fusermount", "-u", "-z", str(mnt)], capture_output=True, timeout=30, check=False)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


if __name__ == "__main__":
    main()
