"""The fault-injection suite: the daemon as its own process, a simulated modem, a verifying receiver,
traffic both ways while a fault is injected, and at the end "0 lost, 0 sent twice" over every SMS
injected and every send acknowledged (tests/helpers/ledger.py). Run it alone with
``./scripts/test.sh -m faults``; it is part of the default run too."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)
