"""Whom a webhook trusts (webhooks/tls.py): a ca_file is loaded by OpenSSL exactly as the dispatcher will,
replaces the system's CAs (curl's --cacert), and is read again when the file changes."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from raspisms_daemon.webhooks.tls import MAX_CA_FILE, TrustError, TrustStore, ca_file_problem
from tests.helpers.tls import make_pki


def subjects(context: ssl.SSLContext) -> list[str]:
    """The common names of the CA certificates a context trusts."""
    names: list[str] = []
    for cert in context.get_ca_certs():
        subject: Any = cert["subject"]  # ((("commonName", "…"),), …)
        names += [str(value) for rdn in subject for key, value in rdn if key == "commonName"]
    return names


def test_a_pem_ca_certificate_is_a_usable_ca_file(tmp_path: Path) -> None:
    assert ca_file_problem(make_pki(tmp_path).ca_cert) is None


def test_a_bundle_of_several_cas_is_a_usable_ca_file(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.pem"
    one, two = make_pki(tmp_path, name="one"), make_pki(tmp_path, name="two")
    bundle.write_bytes(one.ca_cert.read_bytes() + two.ca_cert.read_bytes())
    assert ca_file_problem(bundle) is None
    context = TrustStore().for_webhook(str(bundle), True)
    assert isinstance(context, ssl.SSLContext)
    assert sorted(subjects(context)) == ["raspisms-daemon one CA", "raspisms-daemon two CA"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.pem", None, "cannot read {path}: No such file or directory"),
        ("text.pem", b"not a certificate\n", "{path} holds no certificate OpenSSL can read "
         "(-----BEGIN CERTIFICATE-----): none found"),
        ("empty.pem", b"", "{path} holds no certificate OpenSSL can read "
         "(-----BEGIN CERTIFICATE-----): none found"),
        ("key.pem", b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
         "{path} holds no certificate OpenSSL can read"),
        ("cut.pem", b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n", "{path} holds no certificate OpenSSL "
         "can read (-----BEGIN CERTIFICATE-----): a malformed PEM block"),
    ],
)  # fmt: skip
def test_an_unusable_ca_file_says_why(
    tmp_path: Path, name: str, content: bytes | None, expected: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    problem = ca_file_problem(path)
    assert problem is not None and problem.startswith(expected.format(path=path)), problem


def test_a_directory_or_a_device_is_no_ca_file(tmp_path: Path) -> None:
    assert ca_file_problem(tmp_path) == f"{tmp_path} is not a file"
    assert ca_file_problem(Path("/dev/zero")) == "/dev/zero is not a file"  # never read endlessly


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    huge = tmp_path / "huge.pem"
    with huge.open("wb") as fh:
        fh.truncate(MAX_CA_FILE + 1)  # sparse: costs no disk
    expected = f"{huge} is {MAX_CA_FILE + 1} bytes: not a CA file (at most {MAX_CA_FILE})"
    assert ca_file_problem(huge) == expected


def test_an_unreadable_ca_file_says_permission_denied(tmp_path: Path) -> None:
    ca = make_pki(tmp_path).ca_cert
    ca.chmod(0)
    if os.geteuid() != 0:
        assert ca_file_problem(ca) == f"cannot read {ca}: Permission denied"
        return
    # Root reads any file: ask from a root process without the two capabilities that let it (the unit
    # runs the daemon as its own user with none).
    check = "import sys; from pathlib import Path; from raspisms_daemon.webhooks.tls import ca_file_problem; "
    check += "print(ca_file_problem(Path(sys.argv[1])))"
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]
    done = subprocess.run(
        [*drop, sys.executable, "-c", check, str(ca)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == f"cannot read {ca}: Permission denied"


def test_a_ca_file_replaces_the_system_cas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system, own = make_pki(tmp_path, name="system"), make_pki(tmp_path, name="own")
    # Make "system" the system's CAs (OpenSSL's default verify paths honour SSL_CERT_FILE)...
    monkeypatch.setenv("SSL_CERT_FILE", str(system.ca_cert))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "none"))
    assert subjects(ssl.create_default_context()) == ["raspisms-daemon system CA"]
    # ...a webhook with its own ca_file trusts that file's CAs and no other.
    context = TrustStore().for_webhook(str(own.ca_cert), True)
    assert isinstance(context, ssl.SSLContext)
    assert subjects(context) == ["raspisms-daemon own CA"]
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def test_without_a_ca_file_the_system_cas_read_on_first_use_and_with_verify_no_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = make_pki(tmp_path, name="system")
    store = TrustStore()
    assert store.cached(None, False) is False and store.for_webhook(None, False) is False  # no verification
    # Read when first asked, not before: OpenSSL's default paths as they are then.
    assert store.cached(None, True) is None
    monkeypatch.setenv("SSL_CERT_FILE", str(system.ca_cert))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "none"))
    context = store.for_webhook(None, True)
    assert isinstance(context, ssl.SSLContext) and subjects(context) == ["raspisms-daemon system CA"]
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert store.cached(None, True) is context and store.for_webhook(None, True) is context  # made once


def test_a_changed_or_missing_ca_file_is_not_loaded_yet(tmp_path: Path) -> None:
    ca = make_pki(tmp_path).ca_cert
    store = TrustStore()
    assert store.cached(str(ca), True) is None
    context = store.for_webhook(str(ca), True)
    assert store.cached(str(ca), True) is context
    ca.write_bytes(ca.read_bytes() + b"\n")  # rewritten: parsed again on next use
    assert store.cached(str(ca), True) is None
    ca.unlink()
    assert store.cached(str(ca), True) is None  # for_webhook will say why


def test_the_context_is_kept_until_the_ca_file_changes(tmp_path: Path) -> None:
    first, renewed = make_pki(tmp_path, name="first"), make_pki(tmp_path, name="renewed")
    ca_file = tmp_path / "receiver-ca.pem"
    ca_file.write_bytes(first.ca_cert.read_bytes())
    store = TrustStore()
    context = store.for_webhook(str(ca_file), True)
    assert store.for_webhook(str(ca_file), True) is context  # not reloaded for each delivery
    ca_file.write_bytes(renewed.ca_cert.read_bytes())  # the CA renewed in place
    reloaded = store.for_webhook(str(ca_file), True)
    assert isinstance(reloaded, ssl.SSLContext) and reloaded is not context
    assert subjects(reloaded) == ["raspisms-daemon renewed CA"]


def test_a_ca_file_gone_at_delivery_time_is_a_trust_error(tmp_path: Path) -> None:
    ca = make_pki(tmp_path).ca_cert
    store = TrustStore()
    store.for_webhook(str(ca), True)
    ca.unlink()
    with pytest.raises(TrustError, match="No such file or directory"):
        store.for_webhook(str(ca), True)
