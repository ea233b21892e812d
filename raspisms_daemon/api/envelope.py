"""RaspiSMS's API envelope ``{error, message, response, next, prev}`` and its error codes.

Every answer of the local API, ours included, uses this envelope, so one client handles them all.
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any

from aiohttp import web

__all__ = ["MESSAGES", "ApiError", "Code", "envelope", "error_response", "json_response", "raspisms_error"]


class Code(IntEnum):
    """RaspiSMS's ``Api::ERROR_CODES`` (bit values, controllers/publics/Api.php:27-37), plus two of ours
    above them."""

    NONE = 0
    INVALID_CREDENTIALS = 1
    INVALID_PARAMETER = 2
    MISSING_PARAMETER = 4
    CANNOT_CREATE = 8
    SUSPENDED_USER = 16
    CANNOT_DELETE = 32
    CANNOT_UPLOAD_FILE = 64
    CANNOT_UPDATE = 128
    INTERNAL_ERROR = 256  # ours: a bug or a broken store; details are in the daemon's log only
    NOT_FOUND = 512  # ours: unknown route or unknown id


# RaspiSMS's ``Api::ERROR_MESSAGES`` (Api.php:39-48): each answer appends its own details.
MESSAGES = {
    Code.INVALID_CREDENTIALS: "Invalid API Key. Please provide a valid API key as GET or POST parameter "
    '"api_key" or a HTTP "X-Api-Key".',
    Code.INVALID_PARAMETER: "You have specified an invalid parameter : ",
    Code.MISSING_PARAMETER: "One require parameter is missing : ",
    Code.CANNOT_CREATE: "Cannot create a new entry.",
    Code.SUSPENDED_USER: "This user account is currently suspended.",
    Code.CANNOT_DELETE: "Cannot delete this entry.",
    Code.CANNOT_UPLOAD_FILE: "Failed to upload or save an uploaded file : ",
    Code.CANNOT_UPDATE: "Cannot update this entry : ",
}


class ApiError(Exception):
    """A request the API refuses: HTTP status, envelope code and a message for the user."""

    def __init__(self, status: int, code: Code, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def raspisms_error(code: Code, details: str = "", *, status: int = 400) -> ApiError:
    """An error as RaspiSMS words it: its message for ``code`` followed by ``details``."""
    return ApiError(status, code, MESSAGES[code] + details)


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
