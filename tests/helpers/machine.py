"""What a test needs from the machine, and what its absence means.

As root on Debian 12, ``./scripts/test.sh`` runs ``scripts/setup.sh --dev``, which apt-installs every
program and module the tests drive: there, a missing one is a broken install step, and the test that
needs it fails naming the package (at collection for a marker). Without root, setup cannot install
Debian packages (it says which are missing) and those tests skip, naming the package, as the README
says. What no install step can give (root itself, mount namespaces, cgroup v1, /dev/fuse, IPv6 on
loopback) is checked by the tests themselves and skips on both.
"""

from __future__ import annotations

import functools
import importlib
import os
import shutil
import subprocess
from types import ModuleType

import pytest

__all__ = ["AS_ROOT", "can_unshare", "import_or_skip", "missing", "needs", "require"]

AS_ROOT = os.geteuid() == 0


def _reason(what: str, apt: str) -> str:
    return f"{what} is missing (apt: {apt}; scripts/setup.sh --dev installs it as root)"


def missing(present: object, what: str, apt: str) -> bool:
    """Whether a test must skip for lack of ``what``: only where setup could not install it. As root its
    absence fails instead (``pytest.fail``), naming the package."""
    if present:
        return False
    if AS_ROOT:
        pytest.fail(f"{_reason(what, apt)}, yet we run as root: the setup is broken", pytrace=False)
    return True


def needs(present: object, what: str, apt: str) -> pytest.MarkDecorator:
    """A ``skipif`` marker for a test that needs ``what`` (see :func:`missing`)."""
    return pytest.mark.skipif(missing(present, what, apt), reason=_reason(what, apt))


def require(present: object, what: str, apt: str) -> None:
    """Inside a test or fixture: skip or fail, as :func:`missing` decides."""
    if missing(present, what, apt):
        pytest.skip(_reason(what, apt))


def import_or_skip(module: str, what: str, apt: str) -> ModuleType:
    """``pytest.importorskip`` that fails as root (see :func:`missing`)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        require(False, what, apt)
        raise


@functools.cache
def can_unshare() -> bool:
    """Root with mount namespaces (``unshare -m``): what the udev and journald sandboxes need."""
    if shutil.which("unshare") is None or not AS_ROOT:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=10).returncode == 0
