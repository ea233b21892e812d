"""The pseudo-terminal a simulated modem sits on: what ``/dev/ttyUSB2`` is to a real one.

The client opens the pty slave through the symlink at ``link`` exactly as it opens a USB modem's tty;
:class:`Pty` reads and writes the master side with ``loop.add_reader``/``add_writer``.

The master cannot tell "no client" from "client idle" by reading alone: a read gives ``EIO`` while no
slave fd is open. So while nobody has the tty open, :class:`Pty` polls for ``POLLHUP`` to go away
instead of reading, and it writes nothing (a real USB modem's bytes are lost while the port is closed,
and stale bytes in the pty would confuse the next client).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import select
import termios
import tty
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

__all__ = ["Pty"]

log = logging.getLogger("raspisms_daemon.simulator")

_MAX_OUT = 1 << 20


class Pty:
    """One pty at a time, symlinked at ``link``: :meth:`open` plugs the modem in, :meth:`close`
    unplugs it. ``on_data`` gets what the client writes; ``on_hangup`` runs when the last client
    closes the tty (what it left half-typed must be forgotten)."""

    probe_interval: ClassVar[float] = 0.02  # how often to look for a client while none has the tty open

    def __init__(
        self, link: Path, *, on_data: Callable[[bytes], None], on_hangup: Callable[[], None]
    ) -> None:
        self.link = link
        self.tty: str | None = None  # the slave's device name, while open
        self.client = False  # a client has the tty open, as last seen (lags a new one by a probe)
        self._on_data = on_data
        self._on_hangup = on_hangup
        self._master: int | None = None
        self._reading = False
        self._writing = False
        self._probe_handle: asyncio.TimerHandle | None = None
        self._out = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def is_open(self) -> bool:
        return self._master is not None

    def open(self) -> None:
        """A new pty, its slave symlinked at ``link``; then wait for a client."""
        self._loop = asyncio.get_running_loop()
        master, slave = os.openpty()
        tty.setraw(slave)
        name = os.ttyname(slave)
        os.close(slave)
        os.set_blocking(master, False)
        self._master = master
        self.tty = name
        self.client = False
        tmp = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(name, tmp)
        os.replace(tmp, self.link)  # atomic: a client never sees a missing or half-made link
        self._schedule_probe()

    def close(self) -> None:
        """Close the master (a client gets a hangup), remove the link if it is still ours, and drop
        what was waiting to be written. Safe to call when closed."""
        if self._probe_handle is not None:
            self._probe_handle.cancel()
            self._probe_handle = None
        if self._master is None:
            return
        loop = self._loop
        if loop is not None:
            if self._reading:
                loop.remove_reader(self._master)
            if self._writing:
                loop.remove_writer(self._master)
        self._reading = self._writing = False
        with contextlib.suppress(FileNotFoundError):
            if self.link.is_symlink() and os.readlink(self.link) == self.tty:
                self.link.unlink()
        os.close(self._master)
        self._master = None
        self.client = False
        self._out.clear()

    def slave_open(self) -> bool:
        """True while some client holds the tty open (no POLLHUP on the master)."""
        if self._master is None:
            return False
        poller = select.poll()
        poller.register(self._master, select.POLLIN)
        return not any(ev & select.POLLHUP for _, ev in poller.poll(0))

    def write(self, data: bytes) -> None:
        """Queue bytes for the client; dropped while nobody has the tty open."""
        if self._master is None or not self.slave_open():
            log.debug("no client, dropped %r", data[:60])
            return
        if len(self._out) + len(data) > _MAX_OUT:
            log.warning("client is not reading; dropped %d bytes", len(data))
            return
        self._out += data
        self._flush_out()

    def _schedule_probe(self) -> None:
        assert self._loop is not None
        self._probe_handle = self._loop.call_later(self.probe_interval, self._probe)

    def _probe(self) -> None:
        self._probe_handle = None
        if self._master is None:
            return
        if self.slave_open():
            assert self._loop is not None
            self.client = True
            self._reading = True
            self._loop.add_reader(self._master, self._on_readable)
            log.debug("client opened %s", self.link)
        else:
            self._schedule_probe()

    def _on_readable(self) -> None:
        assert self._master is not None and self._loop is not None
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                log.warning("pty read failed: %s", exc)
            data = b""
        if data:
            self._on_data(data)
            return
        # The last client closed the tty: wait for the next one, dropping what it left unread.
        self._loop.remove_reader(self._master)
        self._reading = False
        self.client = False
        self._out.clear()
        self._on_hangup()
        self._flush_slave_input()
        log.debug("client closed %s", self.link)
        self._schedule_probe()

    def _flush_slave_input(self) -> None:
        if self.tty is None:
            return
        try:
            fd = os.open(self.tty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return
        try:
            termios.tcflush(fd, termios.TCIFLUSH)
        finally:
            os.close(fd)

    def _flush_out(self) -> None:
        assert self._loop is not None
        while self._out and self._master is not None:
            try:
                n = os.write(self._master, self._out)
            except BlockingIOError:
                if not self._writing:
                    self._loop.add_writer(self._master, self._flush_out)
                    self._writing = True
                return
            except OSError as exc:
                log.debug("pty write failed: %s", exc)
                self._out.clear()
                break
            del self._out[:n]
        if self._writing and self._master is not None:
            self._loop.remove_writer(self._master)
        self._writing = False
