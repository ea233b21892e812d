"""Decoding what a client sends, strictly: text is valid Unicode or the request is refused. Pure: no
I/O. Each function raises :class:`Malformed` with a message for the client (a 400).

- :func:`urlencoded`: a query string or an ``application/x-www-form-urlencoded`` body into its
  ``(name, value)`` pairs, in order, at most ``MAX_FORM_FIELDS`` of them. Bytes that are not valid in
  the charset (UTF-8 unless the request names another), raw or percent-encoded, refuse the request
  naming the field: they would otherwise be stored as "�" and sent so.
- :func:`text`: a decoded value (a multipart field) with the same check.
- :func:`decimal_id`: an id written in ASCII digits (``str.isdigit`` also takes "٣" and "１"), as an
  int when it fits 64 bits (SQLite's integers), else None.
- :func:`json_value`: a JSON text into Python values: no ``NaN``/``Infinity`` (nor ``1e400``), no
  lone surrogate (``"\\ud800"``, which no UTF-8 text, database or SMS can hold), nested at most
  ``MAX_DEPTH`` deep.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from typing import Any
from urllib.parse import parse_qsl

from .limits import MAX_DEPTH, MAX_FORM_FIELDS

__all__ = ["Malformed", "decimal_id", "json_value", "text", "urlencoded"]

_SURROGATE = re.compile("[\ud800-\udfff]")
_DECIMAL = re.compile("[0-9]+")
INT64_MAX = 2**63 - 1


class Malformed(ValueError):
    """What the client sent cannot be read; the message says what and where."""


def urlencoded(data: bytes | str, charset: str = "utf-8", *, what: str = "form") -> list[tuple[str, str]]:
    """``a=1&b=%C3%A9`` → ``[("a", "1"), ("b", "é")]`` (``+`` is a space, a name without ``=`` has an
    empty value, as PHP reads them)."""
    try:
        shown = codecs.lookup(charset).name.upper()
    except LookupError:
        raise Malformed(f"the {what} names an unknown charset {charset[:40]!r}") from None
    if isinstance(data, bytes):
        # Undecodable bytes become lone surrogates here, found below with the field they are in.
        data = data.decode(charset, "surrogateescape")
    if data.count("&") >= MAX_FORM_FIELDS:
        raise Malformed(f"the {what} has more than {MAX_FORM_FIELDS} fields")
    pairs = parse_qsl(data, keep_blank_values=True, encoding=charset, errors="surrogateescape")
    for name, value in pairs:
        if _SURROGATE.search(name):
            raise Malformed(f"a {what} field name is not valid {shown}: {_shown(name, from_bytes=True)}")
        if _SURROGATE.search(value):
            raise Malformed(f"{_shown(name, from_bytes=True)}: not valid {shown} text")
    return pairs


def text(value: str, name: str) -> str:
    """``value`` when it is valid Unicode (no lone surrogate)."""
    if _SURROGATE.search(value):
        raise Malformed(f"{_shown(name)}: not valid UTF-8 text")
    return value


def decimal_id(text: str) -> int | None:
    """``"42"`` → 42; None for anything but ASCII digits, or past ``2^63 - 1``."""
    if not _DECIMAL.fullmatch(text):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > 19:  # (and int() refuses more than 4300 digits)
        return None
    value = int(digits)
    return value if value <= INT64_MAX else None


def json_value(raw: bytes | str, *, what: str = "the body") -> Any:
    """The value of a JSON text; :class:`Malformed` when it is not JSON, holds a lone surrogate or
    NaN/Infinity, or nests deeper than ``MAX_DEPTH``."""
    try:
        source = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(source, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise Malformed(f"{what} is JSON nested more than {MAX_DEPTH} deep") from None
    except UnicodeDecodeError as exc:
        raise Malformed(f"{what} is not valid JSON (not UTF-8: {exc.reason} at byte {exc.start})") from None
    except ValueError as exc:  # JSONDecodeError, a number of more than 4300 digits, NaN
        raise Malformed(f"{what} is not valid JSON ({exc})") from None
    _check_tree(value, what)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"{literal} is out of range")
    return value


def _check_tree(value: Any, what: str) -> None:
    """Depth and lone surrogates, without recursion (the tree may be deep)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise Malformed(f"{what} holds a lone surrogate ({_shown(item)}): not valid Unicode text")
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise Malformed(f"{what} is JSON nested more than {MAX_DEPTH} deep")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _shown(value: str, *, from_bytes: bool = False, limit: int = 40) -> str:
    """A value for an error message, cut when long; a lone surrogate as ``\\udXXX``, or, when it
    stands for an undecodable byte (``from_bytes``), as that byte: ``\\xff``."""
    out = []
    for char in value[:limit]:
        code = ord(char)
        if from_bytes and 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out) + ("…" if len(value) > limit else "")
