"""Whom an https webhook trusts: the system's CAs (the default), its own ``ca_file``, or nobody
(``verify = no``); the check that a ``ca_file`` is usable, shared by the config, the API and the CLI.

A ``ca_file`` *replaces* the system's CAs for that webhook, as curl's ``--cacert`` does: the receiver's
certificate must chain to a certificate in that file. It is read when first needed and again whenever the
file changes (a renewed CA is taken without a restart). The trust a webhook asks for never touches the
other webhooks' (``SSL_CERT_FILE`` would, for every webhook at once).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

__all__ = ["MAX_CA_FILE", "TrustError", "TrustStore", "ca_file_problem"]

MAX_CA_FILE = 4 * 1024 * 1024  # bytes; Debian's whole CA bundle is about 200 KB


class TrustError(Exception):
    """A webhook's ``ca_file`` cannot be used now (missing, unreadable, no PEM certificate in it)."""


def _load(path: Path) -> ssl.SSLContext:
    """The client context that trusts exactly the certificates in ``path``; TrustError says why not."""
    import ssl  # here: ssl costs a quick command such as check-config more than the rest of it

    try:
        info = path.stat()
        if path.is_file():
            with path.open("rb"):  # readable by this process (OpenSSL's own message would not say)
                pass
    except OSError as exc:
        raise TrustError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not path.is_file():
        raise TrustError(f"{path} is not a file")
    if info.st_size > MAX_CA_FILE:
        raise TrustError(f"{path} is {info.st_size} bytes: not a CA file (at most {MAX_CA_FILE})")
    try:
        return ssl.create_default_context(cafile=os.fspath(path))
    except ssl.SSLError as exc:
        found = "none found" if exc.reason == "NO_CERTIFICATE_OR_CRL_FOUND" else "a malformed PEM block"
        raise TrustError(
            f"{path} holds no certificate OpenSSL can read (-----BEGIN CERTIFICATE-----): {found}"
        ) from exc
    except OSError as exc:
        raise TrustError(f"cannot read {path}: {exc.strerror or exc}") from exc


def ca_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot serve as a webhook's ``ca_file`` (None: it can): it exists, is readable by this
    process and holds at least one PEM certificate, exactly as the dispatcher will load it."""
    try:
        _load(path)
    except TrustError as exc:
        return str(exc)
    return None


class TrustStore:
    """The ``ssl`` argument for each webhook's requests: ``True`` (the system's CAs), ``False`` (no
    verification) or a context made from its ``ca_file``, kept until that file changes."""

    def __init__(self) -> None:
        self._contexts: dict[str, tuple[tuple[int, int, int], ssl.SSLContext]] = {}

    def for_webhook(self, ca_file: str | None, verify: bool) -> ssl.SSLContext | bool:
        if not verify:
            return False
        if ca_file is None:
            return True
        try:
            info = os.stat(ca_file)
        except OSError as exc:
            raise TrustError(f"cannot read {ca_file}: {exc.strerror or exc}") from exc
        version = (info.st_ino, info.st_mtime_ns, info.st_size)
        cached = self._contexts.get(ca_file)
        if cached is not None and cached[0] == version:
            return cached[1]
        context = _load(Path(ca_file))
        self._contexts[ca_file] = (version, context)
        return context
