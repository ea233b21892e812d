#!/usr/bin/env bash
# Run a command in a fresh Debian 12 (bookworm) root, as a new Raspberry Pi OS Lite user starts: a
# minimal system with python3 and git, as root, and a clean clone of this checkout at /root/project.
# What the README's commands need beyond that, they must install themselves: this is how CI catches a
# missing install step.
#
#   scripts/fresh-root.sh 'cd /root/project && ./scripts/test.sh'
#   ARCH=arm64 scripts/fresh-root.sh 'cd /root/project && ./scripts/demo.sh'   # Pi OS 64-bit, emulated
#   ARCH=armhf scripts/fresh-root.sh …                                          # Pi OS 32-bit, emulated
#
# Environment:
#   ARCH        arm64 or armhf: a root of that CPU run under qemu-user (slow); default: this machine's
#   SOURCE      the checkout to clone (default: the one holding this script); its committed HEAD is used
#   CACHE       where the debootstrapped base roots are kept (default /var/cache/raspisms-fresh-root);
#               a base is only debootstrap + python3 + git, so reusing it hides no install step
#   MIRROR      the Debian mirror (default: the host's, else deb.debian.org)
#   KEEP=1      keep the run's root afterwards (its path is printed)
# Needs root, debootstrap (installed with apt when missing) and, for ARCH, qemu-user-static.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "fresh-root: run as root (chroot, mount)" >&2; exit 1; }
[ $# -eq 1 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
command_line=$1
source_dir=${SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}
arch=${ARCH:-$(dpkg --print-architecture)}
cache=${CACHE:-/var/cache/raspisms-fresh-root}
base="$cache/bookworm-$arch"
say() { echo "fresh-root: $*" >&2; }

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
}
command -v debootstrap >/dev/null || { say "installing debootstrap"; apt_install debootstrap; }
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
  command -v update-binfmts >/dev/null || { say "installing qemu-user-static"; apt_install qemu-user-static binfmt-support; }
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  case "$arch" in
    arm64) update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true ;;
    armhf) update-binfmts --enable qemu-arm >/dev/null 2>&1 || true ;;
  esac
fi

# The host may reach the registries through a local CA (a proxy): the root trusts what the host trusts.
import_host_ca() {
  mkdir -p "$1/usr/local/share/ca-certificates"
  cp /etc/ssl/certs/ca-certificates.crt "$1/usr/local/share/ca-certificates/host-bundle.crt"
  chroot "$1" /usr/sbin/update-ca-certificates >/dev/null 2>&1 || true
}

if [ ! -x "$base/usr/bin/python3" ] || [ ! -x "$base/usr/bin/git" ]; then
  mirror=${MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}
  mirror=${mirror:-http://deb.debian.org/debian}
  say "debootstrap bookworm $arch from $mirror into $base (once; a few minutes)"
  rm -rf "$base.tmp"
  mkdir -p "$cache"
  debootstrap --variant=minbase --arch="$arch" bookworm "$base.tmp" "$mirror" >"$cache/debootstrap-$arch.log" 2>&1 \
    || { tail -20 "$cache/debootstrap-$arch.log" >&2; exit 1; }
  cp /etc/resolv.conf "$base.tmp/etc/resolv.conf"
  import_host_ca "$base.tmp"
  chroot "$base.tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c \
    'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 git ca-certificates >/dev/null'
  rm -rf "$base"
  mv "$base.tmp" "$base"
fi

run=$(mktemp -d /var/tmp/raspisms-fresh-root.XXXXXX)
mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -R "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true
  done
  if [ -n "${KEEP:-}" ]; then say "kept $run"; else rm -rf "$run"; fi
}
trap cleanup EXIT
cp -a "$base/." "$run/"
cp /etc/resolv.conf "$run/etc/resolv.conf"
import_host_ca "$run"
git clone -q "$source_dir" "$run/root/project"
say "clone of $(git -C "$source_dir" rev-parse --short HEAD) at /root/project"

# The root is a mount point of its own, so that `unshare -m` inside (the udev and journald test
# sandboxes) can make its mounts private, as on a booted system.
mount --bind "$run" "$run" && mounted+=("$run")
mount -t proc proc "$run/proc" && mounted+=("$run/proc")
# /sys with its cgroup mounts, as a booted Debian has them (systemd-journald in the tests needs them).
mount --rbind /sys "$run/sys" && mount --make-rslave "$run/sys" && mounted+=("$run/sys")
mount --rbind /dev "$run/dev" && mount --make-rslave "$run/dev" && mounted+=("$run/dev")
mount -t tmpfs tmpfs "$run/run" && mounted+=("$run/run")

chroot "$run" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -lc "$command_line"
