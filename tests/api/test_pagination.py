"""RaspiSMS's next/prev decisions (RaspbianFrance/raspisms@5e2b030:controllers/publics/Api.php:227-237)."""

from __future__ import annotations

import pytest

from raspisms_daemon.api.pagination import link_ids
from raspisms_daemon.store.lists import Cursor

FULL = list(range(26, 51))


@pytest.mark.parametrize(
    ("ids", "cursor", "expected"),
    [
        (FULL, Cursor(), (50, None)),  # a full first page: next only
        ([1, 2], Cursor(), (None, None)),
        ([], Cursor(), (None, None)),
        (FULL, Cursor(page=1), (50, 26)),
        ([51], Cursor(page=2), (None, 51)),
        ([], Cursor(page=3), (None, None)),  # RaspiSMS: prev to "before//", a URL that does not route
        ([101, 102], Cursor(after=100), (None, 101)),
        ([1, 2], Cursor(after=0), (None, None)),  # after 0 is falsy in PHP
        ([], Cursor(after=500), (None, None)),
        ([3, 4], Cursor(before=5), (4, 3)),  # before a cursor: next whenever there are rows
        ([], Cursor(before=1), (None, None)),
    ],
)
def test_link_ids_follow_raspisms(
    ids: list[int], cursor: Cursor, expected: tuple[int | None, int | None]
) -> None:
    assert link_ids(ids, cursor, 25) == expected
