"""install.sh, run for real on scratch roots: what it leaves, and that a re-run changes nothing."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.helpers.machine import needs
from tests.ops._sandbox import REPO, isolated

INSTALL = REPO / "scripts" / "install.sh"
DEBIAN_PYTHON = Path("/usr/bin/python3")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="install.sh sets owners: run the tests as root")


def scratch_root(tmp_path: Path) -> Path:
    """A root with the user database of a fresh Raspberry Pi OS (enough of it for useradd --prefix)."""
    root = tmp_path / "root"
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\npi:x:1000:1000::/home/pi:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\ndialout:x:20:pi\npi:x:1000:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\npi:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\ndialout:*::pi\npi:!::\n")
    for name in ("shadow", "gshadow"):
        (etc / name).chmod(0o640)
    return root


def run_install(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(INSTALL), *args], capture_output=True, text=True, timeout=300, env={**os.environ, "LC_ALL": "C"}
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def tree_digest(root: Path) -> dict[str, tuple[str, int, int, int, str]]:
    """Every path under root: type, mode, owner, group and content (or link target) hash."""
    digest = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            content = os.readlink(path)
        elif stat.S_ISREG(st.st_mode):
            content = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            content = ""
        kind = "l" if stat.S_ISLNK(st.st_mode) else "d" if stat.S_ISDIR(st.st_mode) else "f"
        digest[str(path.relative_to(root))] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, content)
    return digest


def passwd_entry(root: Path, db: str, name: str) -> list[str] | None:
    for line in (root / "etc" / db).read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields
    return None


def test_install_twice_leaves_the_same_tree(tmp_path: Path) -> None:
    root = scratch_root(tmp_path)
    run_install("--root", str(root), "--no-venv")
    first = tree_digest(root)
    second_run = run_install("--root", str(root), "--no-venv")
    assert tree_digest(root) == first
    assert "installing" not in second_run.stdout and "creating" not in second_run.stdout, second_run.stdout


def test_install_creates_the_raspisms_user_in_dialout_without_touching_the_host(tmp_path: Path) -> None:
    host_passwd = Path("/etc/passwd").read_bytes()
    root = scratch_root(tmp_path)
    run_install("--root", str(root), "--no-venv")
    user = passwd_entry(root, "passwd", "raspisms")
    assert user is not None
    assert user[5:] == ["/var/lib/raspisms-daemon", "/usr/sbin/nologin"]
    assert int(user[2]) < 1000  # a system user
    group = passwd_entry(root, "group", "raspisms")
    assert group is not None and group[2] == user[3]
    dialout = passwd_entry(root, "group", "dialout")
    assert dialout is not None and set(dialout[3].split(",")) == {"pi", "raspisms"}
    assert Path("/etc/passwd").read_bytes() == host_passwd


def test_config_gets_a_fresh_api_key_and_is_readable_by_the_service_group_only(tmp_path: Path) -> None:
    root = scratch_root(tmp_path)
    result = run_install("--root", str(root), "--no-venv")
    config = root / "etc/raspisms-daemon/config.ini"
    text = config.read_text()
    keys = re.findall(r"(?m)^api_key = (\S+)$", text)
    assert len(keys) == 1 and re.fullmatch(r"[0-9a-f]{48}", keys[0]), keys
    assert keys[0] not in (REPO / "config.example.ini").read_text()
    assert keys[0] not in result.stdout + result.stderr  # the key is not echoed to a terminal or a log
    st = config.stat()
    group = passwd_entry(root, "group", "raspisms")
    assert group is not None
    gid = int(group[2])
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, gid)
    assert stat.S_IMODE((root / "etc/raspisms-daemon").stat().st_mode) == 0o750
    # Apart from the key, it is the documented example.
    example = (REPO / "config.example.ini").read_text()
    assert re.sub(r"(?m)^api_key = .*$", "", text) == re.sub(r"(?m)^api_key = .*$", "", example)


def test_two_installs_get_different_keys(tmp_path: Path) -> None:
    keys = []
    for n in range(2):
        root = scratch_root(tmp_path / str(n))
        run_install("--root", str(root), "--no-venv")
        config = (root / "etc/raspisms-daemon/config.ini").read_text()
        keys.append(re.findall(r"(?m)^api_key = (\S+)$", config))
    assert keys[0] != keys[1]


def test_an_existing_config_is_never_overwritten(tmp_path: Path) -> None:
    root = scratch_root(tmp_path)
    run_install("--root", str(root), "--no-venv")
    config = root / "etc/raspisms-daemon/config.ini"
    config.write_text("[daemon]\napi_key = mine-0123456789abcdef\n")
    config.chmod(0o644)  # too open: the re-run tightens the mode but keeps the content
    run_install("--root", str(root), "--no-venv")
    assert config.read_text() == "[daemon]\napi_key = mine-0123456789abcdef\n"
    assert stat.S_IMODE(config.stat().st_mode) == 0o640


def test_units_and_rules_are_installed_verbatim(tmp_path: Path) -> None:
    root = scratch_root(tmp_path)
    run_install("--root", str(root), "--no-venv")
    for src, dest in (
        ("systemd/raspisms-daemon.service", "etc/systemd/system/raspisms-daemon.service"),
        ("systemd/raspisms-daemon-attach@.service", "etc/systemd/system/raspisms-daemon-attach@.service"),
        ("udev/77-raspisms-daemon.rules", "etc/udev/rules.d/77-raspisms-daemon.rules"),
    ):
        assert (root / dest).read_bytes() == (REPO / src).read_bytes(), dest
        assert stat.S_IMODE((root / dest).stat().st_mode) == 0o644


def test_no_user_leaves_the_config_root_owned(tmp_path: Path) -> None:
    root = tmp_path / "bare"
    run_install("--root", str(root), "--no-venv", "--no-user")
    assert not (root / "etc/passwd").exists()
    st = (root / "etc/raspisms-daemon/config.ini").stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, 0)


def test_a_root_without_a_user_database_is_refused_clearly(tmp_path: Path) -> None:
    result = run_install("--root", str(tmp_path / "empty"), "--no-venv", check=False)
    assert result.returncode != 0
    assert "etc/passwd does not exist" in result.stderr


def test_a_wrong_source_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    root = scratch_root(tmp_path)
    before = tree_digest(root)
    result = run_install("--root", str(root), "--source", str(tmp_path), "--no-venv", check=False)
    assert result.returncode != 0 and "is --source a raspisms-daemon checkout?" in result.stderr
    assert tree_digest(root) == before


def test_an_unknown_option_is_an_error() -> None:
    result = run_install("--frobnicate", check=False)
    assert result.returncode == 2 and "unknown option --frobnicate" in result.stderr


@needs(shutil.which("setpriv"), "setpriv", "util-linux")
def test_installing_on_the_host_needs_root() -> None:
    # A copy that "nobody" can read: the checkout itself may sit where it cannot (/root/project).
    with tempfile.TemporaryDirectory(prefix="raspisms-install-") as tmp:
        checkout = Path(tmp) / "checkout"
        for name in ("scripts", "systemd", "udev"):
            shutil.copytree(REPO / name, checkout / name)
        shutil.copy(REPO / "config.example.ini", checkout)
        install = checkout / "scripts" / "install.sh"
        for path in (Path(tmp), *checkout.rglob("*"), checkout):
            path.chmod(0o755 if path.is_dir() or path.suffix == ".sh" else 0o644)
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(install), "--no-venv"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0 and "run as root" in result.stderr, result.stderr


def _debian_python_can_build() -> bool:
    if not DEBIAN_PYTHON.exists():
        return False
    probe = subprocess.run(
        [str(DEBIAN_PYTHON), "-c", "import venv, ensurepip, setuptools, wheel"],
        capture_output=True,
        timeout=30,
    )
    return probe.returncode == 0


@needs(
    _debian_python_can_build(),
    "Debian's python3 with venv, setuptools and wheel",
    "python3-venv python3-setuptools python3-wheel",
)
def test_offline_install_builds_a_real_venv_that_systemd_accepts(tmp_path: Path) -> None:
    root = scratch_root(tmp_path)
    source = tmp_path / "checkout"  # a copy, so that the upgrade below can change it
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "config.example.ini", "systemd", "udev", "raspisms_daemon"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif (REPO / name).exists():
            shutil.copy(REPO / name, source / name)
    first = run_install("--root", str(root), "--offline", "--source", str(source))
    assert "installing raspisms-daemon into /opt/raspisms-daemon/.venv" in first.stdout
    venv = root / "opt/raspisms-daemon/.venv"
    exe = venv / "bin/raspisms-daemon"
    assert exe.read_text().splitlines()[0] == f"#!{venv}/bin/python"
    # On the admin's PATH, pointing into the venv as seen from the installed system.
    cli = os.readlink(root / "usr/local/bin/raspisms-daemon")
    assert cli == "/opt/raspisms-daemon/.venv/bin/raspisms-daemon"
    # The package was copied into the venv, not linked to the checkout.
    where = subprocess.run(
        [str(venv / "bin/python"), "-c", "import raspisms_daemon; print(raspisms_daemon.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(venv / "lib")), where
    assert "include-system-site-packages = true" in (venv / "pyvenv.cfg").read_text()  # for apt's gammu

    # A re-run with an unchanged checkout reinstalls nothing.
    digest = tree_digest(root)
    second = run_install("--root", str(root), "--offline", "--source", str(source))
    assert "installing raspisms-daemon" not in second.stdout
    assert tree_digest(root) == digest

    # A changed checkout is an upgrade: the venv gets the new code.
    with open(source / "raspisms_daemon" / "__init__.py", "a") as f:
        f.write("UPGRADE_MARKER = 1\n")
    third = run_install("--root", str(root), "--offline", "--source", str(source))
    assert "installing raspisms-daemon" in third.stdout
    installed = next((venv / "lib").glob("python3*/site-packages/raspisms_daemon/__init__.py"))
    assert "UPGRADE_MARKER = 1" in installed.read_text()

    # systemd accepts what was installed, ExecStart included (the real entry point, not a stub).
    if shutil.which("systemd-analyze") and Path("/usr/lib/systemd/system").is_dir():
        shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
        # ExecReload's /bin/kill is the system's (procps), not something install.sh puts there.
        kill = root / "bin/kill"
        kill.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shutil.which("kill") or "/bin/kill", kill)
        units = ["raspisms-daemon.service", "raspisms-daemon-attach@ttyUSB0.service"]
        command = ["systemd-analyze", "verify", f"--root={root}", "--recursive-errors=yes", "--man=no"]
        command += units
        verify = subprocess.run(
            isolated(command),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert verify.returncode == 0, verify.stderr
