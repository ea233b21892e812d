"""The architecture, checked on the import graph: imports go one way, with no cycle, and the pure core
imports nothing that does I/O.

The graph counts every import, at module level or inside a function (a lazy import is still a
dependency). ``docs/architecture.md`` draws what these rules enforce.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import raspisms_daemon

PACKAGE = Path(raspisms_daemon.__file__).parent
ROOT = "raspisms_daemon"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_only(tree: ast.Module) -> set[int]:
    """Ids of the import nodes under ``if TYPE_CHECKING:``: no dependency when the code runs."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skipped


def imports(name: str) -> set[str]:
    """What module ``name`` imports when it runs: our modules (relative imports resolved; ``from pkg
    import mod`` counts ``pkg.mod``) and the top-level names of everything else."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = _type_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m if m.startswith(ROOT) else m.split(".")[0] for m in found}


def ours(name: str) -> set[str]:
    return {m for m in imports(name) if m in MODULES and m != name and not name.startswith(m + ".")}


def under(name: str, *prefixes: str) -> bool:
    return any(name == f"{ROOT}.{p}" or name.startswith(f"{ROOT}.{p}.") for p in prefixes)


# The pure core: bytes and values in, values out. Its tests are synchronous and table-driven.
PURE = {
    f"{ROOT}.{m}"
    for m in (
        "dates",
        "numbers",
        "templating",
        "texts",
        "errors",
        "reliability",
        "gsm.pdu",
        "gsm.gsm7",
        "gsm.gsm7_tables",
        "gsm.at_protocol",
        "gsm.call_tracker",
        "gsm.gammu_convert",
        "gsm.policy",
        "gsm.modem",
        "webhooks.events",
        "webhooks.signing",
        "webhooks.schedule",
        "webhooks.results",
        "phones.multipart",
        "phones.matching",
        "config.schema",
        "config.values",
        "config.ini",
        "api.metrics",
        "mqtt.topics",
        "mqtt.jobs",
        "mqtt.payloads",
        "mqtt.discovery",
        "api.limits",
        "api.connections",
        "api.decoding",
        "api.php",
    )
}
IO = {
    "asyncio",
    "aiohttp",
    "aiosqlite",
    "sqlite3",
    "serial",
    "socket",
    "subprocess",
    "threading",
    "gammu",
    "systemd",
    "aiomqtt",
    "paho",
}

# What each part may not import. Data flows modem → backend → phone supervisor → store → dispatcher →
# HTTP; the API, the CLI and the daemon's wiring sit on top.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "gsm": ("simulator", "phones", "store", "webhooks", "api", "daemon", "commands", "mqtt"),
    "simulator": ("phones", "store", "webhooks", "api", "daemon", "commands", "config", "mqtt"),
    "store": (
        "gsm",
        "simulator",
        "phones",
        "api",
        "daemon",
        "commands",
        "webhooks.dispatcher",
        "webhooks.emit",
        "mqtt",
    ),
    "webhooks": ("gsm", "simulator", "phones", "api", "daemon", "commands", "mqtt"),
    "phones": ("simulator", "api", "daemon", "commands", "webhooks.dispatcher", "mqtt"),
    "api": ("gsm", "simulator", "daemon", "commands", "webhooks.dispatcher", "mqtt"),
    "config": (
        "gsm",
        "simulator",
        "phones",
        "store",
        "api",
        "daemon",
        "commands",
        "webhooks.dispatcher",
        "mqtt",
    ),
    # The MQTT link is an edge like the API: it schedules SMS through the store and queues its jobs'
    # statuses through the daemon's event sink, never through a modem; the dispatcher reaches it only as
    # an injected transport.
    "mqtt": ("gsm", "simulator", "phones", "daemon", "commands", "webhooks.dispatcher"),
    "daemon": ("commands", "simulator"),
}
# A phone supervisor drives a backend through the interface in gsm/modem.py, never a concrete one:
# the daemon's wiring picks the backend.
BACKENDS = ("gsm.serial_at", "gsm.at_transport", "gsm.gammu_backend", "gsm.gammu_worker")
# The simulator builds on the pure GSM core alone (and the errors and the clock).
SIMULATOR_MAY_USE = {
    f"{ROOT}.{m}" for m in ("errors", "clock", "gsm", "gsm.pdu", "gsm.gsm7", "gsm.at_protocol")
}


def test_modules_import_each_other_without_a_cycle() -> None:
    graph = {name: ours(name) for name in MODULES}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_each_part_imports_only_in_the_direction_of_the_data_flow(part: str) -> None:
    wrong = {
        name: sorted(m for m in ours(name) if under(m, *FORBIDDEN[part]))
        for name in MODULES
        if under(name, part)
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def test_the_phone_parts_use_the_backend_interface_never_a_concrete_backend() -> None:
    wrong = {n: sorted(m for m in ours(n) if under(m, *BACKENDS)) for n in MODULES if under(n, "phones")}
    assert {k: v for k, v in wrong.items() if v} == {}


def test_the_simulator_uses_only_the_pure_gsm_core_errors_and_clock() -> None:
    wrong = {
        n: sorted(m for m in ours(n) if not under(m, "simulator") and m not in SIMULATOR_MAY_USE)
        for n in MODULES
        if under(n, "simulator")
    }
    assert {k: v for k, v in wrong.items() if v} == {}


@pytest.mark.parametrize("name", sorted(PURE))
def test_the_pure_core_imports_nothing_that_does_io(name: str) -> None:
    assert name in MODULES, f"{name} is listed as pure but does not exist"
    assert imports(name) & IO == set()
    packages = {ROOT} | {f"{ROOT}.{p}" for p in ("gsm", "webhooks", "config", "phones", "api", "mqtt")}
    assert ours(name) - PURE - packages == set()


def test_no_module_waits_with_asyncio_wait_for() -> None:
    """On Python 3.11 it can drop a cancellation (python/cpython#86296): the package waits with
    ``clock.within``, so that a stopping daemon stops."""
    calls = {
        name: [
            node.lineno
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Attribute)
            and node.attr == "wait_for"
            and isinstance(node.value, ast.Name)
            and node.value.id == "asyncio"
        ]
        for name, path in MODULES.items()
    }
    assert {k: v for k, v in calls.items() if v} == {}


def test_the_rules_see_the_whole_package() -> None:
    # A rule over an empty or mistyped part would pass silently: every part named exists.
    for part in [*FORBIDDEN, *BACKENDS, "simulator"]:
        assert any(under(name, part) for name in MODULES), part
    assert len(MODULES) > 50
