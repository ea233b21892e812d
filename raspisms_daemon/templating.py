"""SMS text templating as RaspiSMS does it (``controllers/internals/Templating.php``): the text is a
template rendered once per destination with ``contact`` (the number's data, a JSON object the client
sent) and ``contact_metas`` (``{"number": …}``). Pure: no I/O.

RaspiSMS uses Twig 3 in a sandbox with ``strict_variables`` off and no autoescaping; this is Jinja2's
sandboxed environment set up the same way, which reads Twig's everyday syntax as it is
(``{{ contact.name }}``, ``{{ contact.name|default('ami') }}``, ``{% if … %}``, ``{% for … %}``, ``~``).
An undefined variable, or an attribute of one, renders empty, as in Twig; ``.`` on the data reads its
keys only (``contact.items`` is the data's ``items``), as Twig reads an array.

Limits, so that a template cannot hold the event loop or the memory (Twig has none): ``range`` and
``*``/``**`` are bounded, the whole render may iterate ``MAX_ITERATIONS`` times and write ``MAX_OUTPUT``
characters. Jinja2 is imported on the first text that has template syntax: a plain text renders as
itself without it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from typing import Any

__all__ = ["MAX_ITERATIONS", "MAX_OUTPUT", "TemplateFailure", "has_syntax", "render"]

MAX_ITERATIONS = 10_000  # loop steps over range() in one render
MAX_OUTPUT = 10_000  # characters one render may write (an SMS of 65 UCS-2 parts)
_DELIMITERS = ("{{", "{%", "{#")


class TemplateFailure(ValueError):
    """The template does not compile or does not render; the message says why (for the API user)."""


def has_syntax(text: str) -> bool:
    """Whether ``text`` holds template syntax; without it, it renders as itself."""
    return any(d in text for d in _DELIMITERS)


def render(template: str, contact: Any, contact_metas: dict[str, Any]) -> str:
    """The text for one destination; raises TemplateFailure."""
    if not has_syntax(template):
        return template
    budget = itertools.count()
    try:
        compiled = _compiled(template)
        out: list[str] = []
        size = 0
        context = {"contact": contact, "contact_metas": contact_metas, "range": _bounded_range(budget)}
        for chunk in compiled.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateFailure(f"the rendered text is longer than {MAX_OUTPUT} characters")
            out.append(chunk)
    except TemplateFailure:
        raise
    except Exception as exc:  # syntax, sandbox or runtime error, all the user's template
        raise TemplateFailure(_describe(exc)) from None
    return "".join(out)


def _describe(exc: Exception) -> str:
    line = getattr(exc, "lineno", None)
    where = f" (line {line})" if line else ""
    return f"{type(exc).__name__}{where}: {exc}"


def _bounded_range(budget: itertools.count[int]) -> Any:
    def bounded(*args: int) -> Iterator[int]:
        for value in range(*args):
            if next(budget) >= MAX_ITERATIONS:
                raise TemplateFailure(f"the template loops more than {MAX_ITERATIONS} times")
            yield value

    return bounded


@functools.lru_cache(maxsize=32)
def _compiled(template: str) -> Any:
    """The template compiled once, for every number of a request (compiling is a millisecond; a
    request may hold 10 000 numbers). A compiled template renders in any thread."""
    return _environment().from_string(template)


@functools.cache
def _environment() -> Any:
    from jinja2 import ChainableUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import SandboxedEnvironment

    class _Sandbox(SandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def getattr(self, obj: Any, attribute: str) -> Any:
            # Twig's "." on an array is the key (contact.items is the data's "items", not a method);
            # RaspiSMS's sandbox allows no method anyway.
            if isinstance(obj, dict):
                return obj[attribute] if attribute in obj else self.undefined(obj=obj, name=attribute)
            return super().getattr(obj, attribute)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
                raise SecurityError("exponent too large")
            if operator == "*":
                for seq, times in ((left, right), (right, left)):
                    if isinstance(seq, str | list | tuple) and isinstance(times, int):
                        if len(seq) * times > MAX_OUTPUT:
                            raise SecurityError("repeated sequence too long")
            return super().call_binop(context, operator, left, right)

    return _Sandbox(autoescape=False, undefined=ChainableUndefined, keep_trailing_newline=True)
