"""Prometheus text exposition (format 0.0.4) of the daemon's counters and gauges. Pure: no I/O."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["CONTENT_TYPE", "Sample", "render", "samples_from_mapping"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "raspisms_"
_NAME_BAD = re.compile(r"[^a-zA-Z0-9_:]")
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


@dataclass(frozen=True)
class Sample:
    name: str  # without the raspisms_ prefix
    value: float
    labels: tuple[tuple[str, str], ...] = ()
    help: str = ""
    kind: str = field(default="")  # counter | gauge; "" = counter when the name ends in _total

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


def samples_from_mapping(values: Mapping[str, float]) -> list[Sample]:
    """``{"sent_total": 3, 'deliveries_total{result="dead"}': 1}`` → samples (labels in the key allowed)."""
    out = []
    for key, value in values.items():
        name, brace, rest = key.partition("{")
        labels: list[tuple[str, str]] = []
        if brace:
            body = rest.rstrip().removesuffix("}")
            pos = 0
            while pos < len(body):
                m = _LABEL_RE.match(body, pos)
                if not m:
                    break  # a malformed label set: keep the labels read so far rather than fail /metrics
                labels.append((m.group(1), m.group(2).replace('\\"', '"').replace("\\\\", "\\")))
                pos = m.end()
        out.append(Sample(_NAME_BAD.sub("_", name.strip()), float(value), tuple(labels)))
    return out


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
