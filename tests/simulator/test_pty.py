"""The pty on its own: the link, a client coming and going, bytes both ways."""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import Callable
from pathlib import Path

import pytest

from raspisms_daemon.simulator.pty import Pty

pytestmark = pytest.mark.timeout(10)


class Recorder:
    def __init__(self) -> None:
        self.data = bytearray()
        self.hangups = 0

    def on_data(self, data: bytes) -> None:
        self.data += data

    def on_hangup(self) -> None:
        self.hangups += 1


async def until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not predicate():  # noqa: ASYNC110 - the pty's callbacks run on this loop
            await asyncio.sleep(0.01)


def open_client(link: Path) -> int:
    fd = os.open(link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    return fd


def read_client(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""


async def test_open_links_the_tty_and_close_removes_the_link(tmp_path: Path) -> None:
    rec = Recorder()
    pty = Pty(tmp_path / "modem", on_data=rec.on_data, on_hangup=rec.on_hangup)
    pty.open()
    assert pty.is_open and pty.tty is not None
    assert os.readlink(tmp_path / "modem") == pty.tty
    pty.close()
    pty.close()
    assert not pty.is_open and not (tmp_path / "modem").is_symlink()


async def test_close_leaves_a_link_that_points_elsewhere_now(tmp_path: Path) -> None:
    link = tmp_path / "modem"
    pty = Pty(link, on_data=Recorder().on_data, on_hangup=Recorder().on_hangup)
    pty.open()
    link.unlink()
    link.symlink_to("/dev/null")  # another simulator took the name over
    pty.close()
    assert os.readlink(link) == "/dev/null"


async def test_bytes_go_both_ways_once_a_client_has_the_tty_open(tmp_path: Path) -> None:
    rec = Recorder()
    pty = Pty(tmp_path / "modem", on_data=rec.on_data, on_hangup=rec.on_hangup)
    pty.open()
    try:
        pty.write(b"lost\r\n")  # nobody listens: dropped, as on a real port
        assert not pty.slave_open()
        fd = open_client(tmp_path / "modem")
        try:
            assert pty.slave_open()
            await until(lambda: pty.client)
            os.write(fd, b"AT\r")
            await until(lambda: rec.data == b"AT\r")
            pty.write(b"\r\nOK\r\n")
            await asyncio.sleep(0.05)
            assert read_client(fd) == b"\r\nOK\r\n"
        finally:
            os.close(fd)
        await until(lambda: rec.hangups == 1)
        assert not pty.client
    finally:
        pty.close()


async def test_the_next_client_does_not_see_what_the_last_one_left_unread(tmp_path: Path) -> None:
    pty = Pty(tmp_path / "modem", on_data=Recorder().on_data, on_hangup=Recorder().on_hangup)
    pty.open()
    try:
        first = open_client(tmp_path / "modem")
        await until(lambda: pty.client)
        pty.write(b"for the first client\r\n")
        os.close(first)
        await until(lambda: not pty.client)
        second = open_client(tmp_path / "modem")
        try:
            await until(lambda: pty.client)
            await asyncio.sleep(0.05)
            assert read_client(second) == b""
        finally:
            os.close(second)
    finally:
        pty.close()
