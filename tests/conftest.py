"""Fixtures every part of the suite shares."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from raspisms_daemon.store.db import Database, open_database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A real SQLite file with the whole schema, closed after the test."""
    database = await open_database(tmp_path / "db.sqlite3")
    yield database
    await database.close()
