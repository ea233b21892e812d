"""Running system tools on a scratch world: private mount namespaces, so the host never changes."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.helpers.machine import can_unshare

REPO = Path(__file__).resolve().parents[2]


# `udevadm test` really applies what the rules say to /dev and /run/udev (links, the device database),
# even under umockdev; in this namespace both are fresh tmpfs mounts, with only the few device nodes
# umockdev-run needs (a pty for each mocked tty) carried over. The rules directories are replaced by
# the one under test, so nothing from the host's rules takes part.
UDEV_SANDBOX = r"""
set -eu
# /run first, and -n (no utab): libmount would otherwise record the mounts under the host's /run/mount.
mount -n -t tmpfs tmpfs /run
scratch=$(mktemp -d)
mkdir "$scratch/olddev"
mount -n --rbind /dev "$scratch/olddev"
mount -n -t tmpfs tmpfs /dev
for n in null zero full random urandom tty; do
  [ -e "$scratch/olddev/$n" ] || continue
  touch "/dev/$n"
  mount -n --bind "$scratch/olddev/$n" "/dev/$n"
done
mkdir /dev/pts /dev/shm
mount -n --rbind "$scratch/olddev/pts" /dev/pts
mount -n -t tmpfs tmpfs /dev/shm
ln -s /proc/self/fd /dev/fd
ln -s pts/ptmx /dev/ptmx
mount -n --bind "$RULES_DIR" /etc/udev/rules.d
mount -n -t tmpfs tmpfs /usr/lib/udev/rules.d
exec umockdev-run --device "$UMOCKDEV_FILE" -- udevadm test --action="$ACTION" "$SYSPATH"
"""


def udev_tools_present() -> bool:
    return all(shutil.which(tool) for tool in ("umockdev-run", "udevadm"))


def isolated(argv: list[str]) -> list[str]:
    """``argv`` wrapped to run with a private, empty /run when we can: `systemd-analyze verify` and
    `security` start a manager in test mode that stamps /run/systemd/systemd-units-load on the host."""
    if not can_unshare():
        return argv
    script = 'mount -n -t tmpfs tmpfs /run && exec "$@"'
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *argv]
