"""What an absent program means to the tests (tests/helpers/machine.py)."""

from __future__ import annotations

import pytest

from tests.helpers import machine


def test_as_root_a_missing_package_fails_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "AS_ROOT", True)
    with pytest.raises(pytest.fail.Exception, match=r"php is missing \(apt: php-cli;"):
        machine.missing(None, "php", "php-cli")


def test_without_root_a_missing_package_skips_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "AS_ROOT", False)
    assert machine.missing(None, "php", "php-cli") is True
    with pytest.raises(pytest.skip.Exception, match=r"php is missing \(apt: php-cli;"):
        machine.require(None, "php", "php-cli")


def test_a_present_program_is_never_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for as_root in (True, False):
        monkeypatch.setattr(machine, "AS_ROOT", as_root)
        assert machine.missing("/usr/bin/php", "php", "php-cli") is False


def test_a_missing_module_as_root_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "AS_ROOT", True)
    with pytest.raises(pytest.fail.Exception, match="no_such_module_here"):
        machine.import_or_skip("no_such_module_here", "no_such_module_here", "nothing")
