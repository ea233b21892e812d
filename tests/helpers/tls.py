"""A private CA made on the fly with the openssl CLI (scripts/setup.sh installs it) and a server
certificate it signs for 127.0.0.1 and localhost: an https receiver that the system's CAs do not trust.

    pki = make_pki(tmp_path)
    rx = FaultyReceiver(API_KEY, ssl_context=pki.server_context())
    ... [webhook:x] url = rx.url, ca_file = pki.ca_cert
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.machine import require

__all__ = ["PrivateCA", "make_pki"]


@dataclass(frozen=True)
class PrivateCA:
    ca_cert: Path  # the CA's certificate (PEM): what a webhook's ca_file names
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(directory: Path, *, name: str = "test") -> PrivateCA:
    """A CA ``<name>-ca.pem`` and a server certificate it signed, in ``directory`` (skips the test when
    the openssl CLI is missing)."""
    require(shutil.which("openssl"), "the openssl command", "openssl")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = f"{name}-ca.key", f"{name}-ca.pem"
    key, csr, cert, ext = f"{name}-server.key", f"{name}-server.csr", f"{name}-server.pem", f"{name}.ext"
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_cert, "-days", "2",
        "-subj", f"/CN=raspisms-daemon {name} CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    _openssl("req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost", cwd=directory)
    (directory / ext).write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    )
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext,
        cwd=directory,
    )  # fmt: skip
    return PrivateCA(directory / ca_cert, directory / cert, directory / key)
