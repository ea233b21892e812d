"""Prometheus text exposition (format 0.0.4) of the daemon's counters and gauges. Pure: no I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

__all__ = ["CONTENT_TYPE", "Sample", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "raspisms_"


class Sample(NamedTuple):
    name: str  # without the raspisms_ prefix
    value: float
    labels: tuple[tuple[str, str], ...] = ()
    help: str = ""
    kind: str = ""  # counter | gauge; "" = counter when the name ends in _total

    @property
    def type(self) -> str:
        return self.kind or ("counter" if self.name.endswith("_total") else "gauge")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def render(samples: Iterable[Sample]) -> str:
    """One HELP/TYPE block per metric name, samples of a name together, names sorted."""
    by_name: dict[str, list[Sample]] = {}
    for s in samples:
        by_name.setdefault(s.name, []).append(s)
    lines: list[str] = []
    for name in sorted(by_name):
        group = by_name[name]
        full = PREFIX + name
        helps = [s.help for s in group if s.help]
        lines.append(f"# HELP {full} {_escape(helps[0]) if helps else name.replace('_', ' ')}")
        lines.append(f"# TYPE {full} {group[0].type}")
        for s in group:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in s.labels)
            lines.append(f"{full}{{{labels}}} {_value(s.value)}" if labels else f"{full} {_value(s.value)}")
    return "\n".join(lines) + "\n"
