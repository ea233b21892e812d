"""Whether a RaspiSMS list page links to a next and a previous page, and from which id
(controllers/publics/Api.php:227-237). Pure: no I/O.

``next`` always continues after the last row (``/after/{id}/``) and ``prev`` before the first
(``/before/{id}/``), whatever the page was asked by: RaspiSMS's links never carry a page number.
"""

from __future__ import annotations

from ..store.lists import Cursor

__all__ = ["link_ids"]


def link_ids(ids: list[int], cursor: Cursor, limit: int) -> tuple[int | None, int | None]:
    """``(after id for next, before id for prev)``, None where there is no link.

    next: a full page, or any row when listing before a cursor. prev: past the first page, or any row
    when listing from a cursor. (RaspiSMS also gives a page past the end a ``prev`` to
    ``/before//``, a URL that does not route; here there is none.)
    """
    next_id = ids[-1] if ids and (len(ids) == limit or bool(cursor.before)) else None
    prev_id = ids[0] if ids and (cursor.page > 0 or bool(cursor.after) or bool(cursor.before)) else None
    return next_id, prev_id
