"""Whom an https webhook trusts: the system's CAs (the default), its own ``ca_file``, or nobody
(``verify = no``); the check that a ``ca_file`` is usable, shared by the config, the API and the CLI.

Every https delivery gets its context from here, the system's CAs included (read on first use, honouring
``SSL_CERT_FILE``/``SSL_CERT_DIR`` as OpenSSL does): aiohttp's own default contexts are never used, so the
daemon can import aiohttp without the CA bundle they parse at import (``commands/run.py``).

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


def _client_context(cafile: str | None = None) -> ssl.SSLContext:
    """A verifying client context: the system's CAs, or exactly those in ``cafile``. HTTP/1.1 offered by
    ALPN, as aiohttp's own contexts do (it speaks nothing else)."""
    import ssl  # here: ssl costs a quick command such as check-config more than the rest of it

    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(("http/1.1",))
    return context


def _load(path: Path) -> ssl.SSLContext:
    """The client context that trusts exactly the certificates in ``path``; TrustError says why not."""
    import ssl

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
        return _client_context(os.fspath(path))
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
    """The ``ssl`` argument for each webhook's requests: ``False`` (no verification), the context of the
    system's CAs (made once, on first use), or a context made from the webhook's ``ca_file``, kept until
    that file changes.

    Making a context parses a CA file (about 40 ms here, most of a second on a Pi 3): :meth:`cached`
    answers without, so the caller can run :meth:`for_webhook` in a thread when it would."""

    def __init__(self) -> None:
        self._system: ssl.SSLContext | None = None
        self._contexts: dict[str, tuple[tuple[int, int, int], ssl.SSLContext]] = {}

    def cached(self, ca_file: str | None, verify: bool) -> ssl.SSLContext | bool | None:
        """The webhook's ``ssl`` argument if it is at hand; None when :meth:`for_webhook` must read a
        file for it (or will say why it cannot)."""
        if not verify:
            return False
        if ca_file is None:
            return self._system
        cached = self._contexts.get(ca_file)
        try:
            return cached[1] if cached is not None and cached[0] == _version(ca_file) else None
        except OSError:
            return None

    def for_webhook(self, ca_file: str | None, verify: bool) -> ssl.SSLContext | bool:
        if (at_hand := self.cached(ca_file, verify)) is not None:
            return at_hand
        if ca_file is None:
            self._system = _client_context()
            return self._system
        try:
            version = _version(ca_file)
        except OSError as exc:
            raise TrustError(f"cannot read {ca_file}: {exc.strerror or exc}") from exc
        context = _load(Path(ca_file))
        self._contexts[ca_file] = (version, context)
        return context


def _version(ca_file: str) -> tuple[int, int, int]:
    """What changes when the file is replaced or rewritten: inode, mtime, size."""
    info = os.stat(ca_file)
    return (info.st_ino, info.st_mtime_ns, info.st_size)
