"""What the API's routes get from the application: the running daemon (:class:`DaemonControl`, which
:class:`raspisms_daemon.daemon.Daemon` implements) and the clock."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from ..clock import Clock
from ..config import Config
from ..phones.supervisor import PhoneStatus
from ..store.db import Database
from .metrics import Sample

__all__ = ["CLOCK", "CONTROL", "DaemonControl"]


class DaemonControl(Protocol):
    """What the API needs from the running daemon (implemented by :class:`raspisms_daemon.daemon.Daemon`)."""

    db: Database
    config: Config

    def phone_status(self) -> list[PhoneStatus]: ...

    def wake_sender(self) -> None: ...

    def wake_dispatcher(self) -> None: ...

    async def attach(self, device: str | None) -> list[int]: ...

    async def enable_phone(self, phone_id: int) -> bool:
        """Undo a disable; False when the phone is unknown or disabled in the config."""
        ...

    async def disable_phone(self, phone_id: int, reason: str | None = None) -> bool:
        """Stop sending with the phone until enabled again; False when the phone is unknown."""
        ...

    def metrics(self) -> list[Sample]: ...


CONTROL = web.AppKey("control", DaemonControl)
CLOCK = web.AppKey("clock", Clock)
