"""How PHP reads a request, where RaspiSMS's API depends on it. Pure: no I/O.

- :func:`parse_form`: form fields (urlencoded or multipart, and the query string) into PHP's
  ``$_POST``/``$_GET`` structure: ``a=1`` a scalar (a repeated name keeps its last value), ``a[]=``
  appends, ``a[k]=`` and ``a[i][k]=`` nest. Arrays are dicts in insertion order, numeric keys as ints.
- :func:`falsy`: PHP's truthiness (``""``, ``"0"``, ``[]`` and absent are false; ``empty()`` is the
  same for request values), which RaspiSMS uses for "missing".
- :func:`int_cast`: PHP's ``(int)`` of a string: its leading integer, 0 when there is none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Upload", "falsy", "int_cast", "parse_form", "values_of"]

_INT_KEY = re.compile(r"^(0|-?[1-9][0-9]*)$")  # the keys PHP turns into integers
_LEADING_INT = re.compile(r"^[ \t\n\r\v\f]*([+-]?[0-9]+)")


@dataclass(frozen=True)
class Upload:
    """A file of a multipart form (PHP's ``$_FILES`` entry)."""

    filename: str
    content: bytes


def parse_form(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """``[(name, value), …]`` in request order → PHP's array of them."""
    out: dict[Any, Any] = {}
    for name, value in pairs:
        base, keys = _split(name)
        if base:
            _assign(out, base, keys, value)
    return out


def _split(name: str) -> tuple[str, list[str]]:
    """``numbers[0][number]`` → ``("numbers", ["0", "number"])``; a name with no well-formed bracket
    group is a plain name (PHP is the same, give or take its renaming of "." and " ")."""
    open_at = name.find("[")
    if open_at <= 0 or "]" not in name[open_at:]:
        return name, []
    base, rest, keys = name[:open_at], name[open_at:], []
    while rest.startswith("["):
        close = rest.find("]")
        if close < 0:
            break
        keys.append(rest[1:close])
        rest = rest[close + 1 :]
    return base, keys


def _assign(container: dict[Any, Any], key: Any, keys: list[str], value: Any) -> None:
    if not keys:
        container[key] = value
        return
    sub = container.get(key)
    if not isinstance(sub, dict):
        sub = {}
        container[key] = sub
    head = keys[0]
    if head == "":
        ints = [k for k in sub if isinstance(k, int)]
        index: Any = max(ints) + 1 if ints else 0
    elif _INT_KEY.match(head):
        index = int(head)
    else:
        index = head
    _assign(sub, index, keys[1:], value)


def values_of(value: Any) -> list[Any]:
    """An array's values in order; a scalar as a one-item list (RaspiSMS wraps a scalar so); [] for
    absent. A JSON list stays as it is."""
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return value
    return [value]


def falsy(value: Any) -> bool:
    """PHP's ``!$value`` for what a request can carry."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return value in ("", "0")
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, dict | list):
        return not value
    return False


def int_cast(text: str) -> int:
    """PHP's ``(int) "12abc"`` = 12, ``(int) "abc"`` = 0."""
    m = _LEADING_INT.match(text)
    return int(m.group(1)) if m else 0
