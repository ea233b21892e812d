"""RaspiSMS's API envelope ``{error, message, response, next, prev}`` and its error codes.

Every answer of the local API, ours included, uses this envelope, so one client handles them all.
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any

from aiohttp import web

__all__ = ["ApiError", "Code", "envelope", "error_response", "json_response"]


class Code(IntEnum):
    """RaspiSMS's ``Api::ERROR_CODES`` (bit values), plus two of ours above them."""

    NONE = 0
    INVALID_CREDENTIALS = 1
    INVALID_PARAMETER = 2
    MISSING_PARAMETER = 4
    CANNOT_CREATE = 8
    SUSPENDED_USER = 16
    CANNOT_DELETE = 32
    CANNOT_UPLOAD_FILE = 64
    NOT_FOUND = 128  # ours: unknown route or unknown id
    INTERNAL_ERROR = 256  # ours: a bug or a broken store; details are in the daemon's log only


class ApiError(Exception):
    """A request the API refuses: HTTP status, envelope code and a message for the user."""

    def __init__(self, status: int, code: Code, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def envelope(
    response: Any = None,
    *,
    error: Code = Code.NONE,
    message: str | None = None,
    next: str | None = None,
    prev: str | None = None,
) -> dict[str, Any]:
    return {"error": int(error), "message": message, "response": response, "next": next, "prev": prev}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def json_response(
    response: Any = None, *, status: int = 200, next: str | None = None, prev: str | None = None
) -> web.Response:
    return web.json_response(envelope(response, next=next, prev=prev), status=status, dumps=_dumps)


def error_response(status: int, code: Code, message: str) -> web.Response:
    return web.json_response(envelope(error=code, message=message), status=status, dumps=_dumps)
