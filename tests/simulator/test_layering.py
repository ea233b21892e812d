"""Imports go one way: the simulator builds on the pure GSM core only, and nothing below imports it."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import raspisms_daemon

PACKAGE = Path(raspisms_daemon.__file__).parent
# What the simulator may use of the daemon: the codec and AT helpers, the errors and the clock.
ALLOWED = {
    "raspisms_daemon.errors",
    "raspisms_daemon.clock",
    "raspisms_daemon.gsm.pdu",
    "raspisms_daemon.gsm.gsm7",
    "raspisms_daemon.gsm.at_protocol",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The raspisms_daemon modules ``path`` imports (relative imports resolved)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("raspisms_daemon")}


def test_the_simulator_uses_only_the_pure_gsm_core_errors_and_clock() -> None:
    for path in sorted((PACKAGE / "simulator").glob("*.py")):
        outside = {m for m in imports(path) if not m.startswith("raspisms_daemon.simulator")}
        assert outside <= ALLOWED, f"{path.name} imports {sorted(outside - ALLOWED)}"


def test_nothing_in_gsm_imports_the_simulator() -> None:
    for path in sorted((PACKAGE / "gsm").glob("*.py")):
        assert not any(m.startswith("raspisms_daemon.simulator") for m in imports(path)), path.name


def test_the_simulator_modules_import_each_other_without_a_cycle() -> None:
    graph = {
        module_name(path): {m for m in imports(path) if m.startswith("raspisms_daemon.simulator.")}
        for path in (PACKAGE / "simulator").glob("*.py")
        if path.name != "__init__.py"
    }
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    assert order.index("raspisms_daemon.simulator.engine") > order.index("raspisms_daemon.simulator.commands")
    assert order.index("raspisms_daemon.simulator.control") > order.index("raspisms_daemon.simulator.engine")
