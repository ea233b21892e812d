#!/usr/bin/env bash
# Install raspisms-daemon as a systemd service on Raspberry Pi OS / Debian bookworm (arm64, armhf, amd64).
# Idempotent: run it again to upgrade the package; an existing config.ini is never touched.
#
#   sudo scripts/install.sh                   install from this checkout and start the service
#   scripts/install.sh --root DIR [...]       stage everything under DIR (nothing on the host changes)
#
# Options:
#   --root DIR     install under DIR; no apt, no systemctl/udevadm; the user is created in DIR/etc/passwd
#   --source DIR   the raspisms-daemon checkout to install (default: the one holding this script)
#   --no-venv      do not create the virtual environment nor pip-install the package
#   --offline      pip-install only the package itself, from the checkout, without the network
#                  (--no-deps --no-index): its dependencies must already be importable
#   --no-user      do not create the raspisms user (config.ini then stays root-owned)
#   --no-start     install and enable, but do not start the service
set -euo pipefail

root=""
source_dir="$(cd "$(dirname "$0")/.." && pwd)"
with_venv=1
offline=0
with_user=1
start=1

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) root="${1#*=}"; shift ;;
    --source) source_dir="${2:?--source needs a directory}"; shift 2 ;;
    --source=*) source_dir="${1#*=}"; shift ;;
    --no-venv) with_venv=0; shift ;;
    --offline) offline=1; shift ;;
    --no-user) with_user=0; shift ;;
    --no-start) start=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

say() { echo "install: $*"; }
die() { echo "install: error: $*" >&2; exit 1; }

[ -n "$root" ] && { mkdir -p "$root"; root="$(cd "$root" && pwd)"; }
[ "$root" = "/" ] && root=""
source_dir="$(cd "$source_dir" && pwd)"
for f in systemd/raspisms-daemon.service systemd/raspisms-daemon-attach@.service \
         udev/77-raspisms-daemon.rules config.example.ini; do
  [ -f "$source_dir/$f" ] || die "$source_dir/$f is missing: is --source a raspisms-daemon checkout?"
done
if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
  die "run as root (sudo $0), or stage into a directory with --root DIR"
fi

# Debian's interpreter, not whatever "python3" is first on PATH: apt's python3-gammu is built for it.
python=${PYTHON:-/usr/bin/python3}
prefix=/opt/raspisms-daemon
confdir=/etc/raspisms-daemon
user=raspisms

# --- system packages (host only) -------------------------------------------------------------------
# pip builds python-gammu (and systemd-python) from source: a compiler, libgammu-dev and minutes on a
# Pi, which on 32-bit armhf is where installs break. Debian's python3-gammu and
# python3-systemd are prebuilt for every Raspberry Pi OS architecture, so the venv sees them through
# --system-site-packages; everything else is pip-installed into the venv. python3-markupsafe likewise:
# Jinja2's one compiled dependency, for which PyPI may have no armhf wheel.
apt_packages=(python3 python3-venv python3-pip python3-setuptools python3-wheel python3-gammu python3-systemd
  python3-markupsafe udev procps)
if [ -z "$root" ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "apt-get install ${missing[*]} ($(dpkg --print-architecture))"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# --- the service user ------------------------------------------------------------------------------
# With --root, useradd/groupadd --prefix edit DIR/etc/{passwd,group,shadow,gshadow} and nothing else.
prefix_opt=()
[ -n "$root" ] && prefix_opt=(--prefix "$root")
has_entry() { # has_entry passwd|group NAME
  if [ -n "$root" ]; then grep -q "^$2:" "$root/etc/$1" 2>/dev/null; else getent "$1" "$2" >/dev/null; fi
}
group_id() {
  if [ -n "$root" ]; then awk -F: -v n="$1" '$1 == n { print $3 }' "$root/etc/group"
  else getent group "$1" | cut -d: -f3; fi
}
in_group() { # in_group GROUP USER
  local members
  if [ -n "$root" ]; then members=$(awk -F: -v n="$1" '$1 == n { print $4 }' "$root/etc/group")
  else members=$(getent group "$1" | cut -d: -f4); fi
  [[ ",$members," == *",$2,"* ]]
}
if [ "$with_user" = 1 ]; then
  if [ -n "$root" ] && [ ! -f "$root/etc/passwd" ]; then
    die "$root/etc/passwd does not exist: create the staging root's user database first, or pass --no-user"
  fi
  has_entry group dialout || { say "creating group dialout"; groupadd "${prefix_opt[@]}" --system dialout; }
  if ! has_entry passwd "$user"; then
    say "creating system user $user (in dialout, for the modems' ttys)"
    useradd "${prefix_opt[@]}" --system --user-group --groups dialout \
      --home-dir /var/lib/raspisms-daemon --no-create-home --shell /usr/sbin/nologin \
      --comment "raspisms-daemon" "$user"
  elif ! in_group dialout "$user"; then
    say "adding $user to dialout"
    usermod "${prefix_opt[@]}" --append --groups dialout "$user"
  fi
fi

# --- files -----------------------------------------------------------------------------------------
# install_file SRC DEST MODE: copy only when the content differs, so a re-run changes nothing.
changed=0  # anything the running service would need a restart for
install_file() {
  if ! cmp -s "$1" "$2"; then
    say "installing $2"
    install -D -m "$3" "$1" "$2"
    changed=1
  else
    chmod "$3" "$2"
  fi
}
install_file "$source_dir/systemd/raspisms-daemon.service" "$root/etc/systemd/system/raspisms-daemon.service" 0644
install_file "$source_dir/systemd/raspisms-daemon-attach@.service" \
  "$root/etc/systemd/system/raspisms-daemon-attach@.service" 0644
install_file "$source_dir/udev/77-raspisms-daemon.rules" "$root/etc/udev/rules.d/77-raspisms-daemon.rules" 0644

# --- config.ini: created once, with a fresh API key; never overwritten --------------------------------
config="$root$confdir/config.ini"
install -d -m 0750 "$root$confdir"
if [ ! -e "$config" ]; then
  say "creating $confdir/config.ini with a new API key (edit it: phones and webhooks)"
  tmp=$(mktemp "$root$confdir/.config.ini.XXXXXX")
  "$python" - "$source_dir/config.example.ini" "$tmp" <<'PY'
import re, secrets, sys
example, out = sys.argv[1], sys.argv[2]
text = open(example, encoding="utf-8").read()
line = f"api_key = {secrets.token_hex(24)}"
# The first api_key line (commented out or not) of the example gets the key; else it goes in [daemon].
new, n = re.subn(r"(?m)^[ \t]*[#;]?[ \t]*api_key[ \t]*=.*$", line, text, count=1)
if n == 0:
    new, n = re.subn(r"(?m)^\[daemon\][ \t]*$", "[daemon]\n" + line, text, count=1)
if n == 0:
    new = text.rstrip("\n") + "\n\n[daemon]\n" + line + "\n"
open(out, "w", encoding="utf-8").write(new)
PY
  chmod 0640 "$tmp"
  mv "$tmp" "$config"
fi
# Readable by the service (group raspisms), writable by root only; the key must not be world-readable.
chmod 0640 "$config"
if [ "$with_user" = 1 ]; then
  gid=$(group_id "$user")
  chown "0:$gid" "$config" "$root$confdir"
fi

# --- the virtual environment ---------------------------------------------------------------------
venv="$root$prefix/.venv"
if [ "$with_venv" = 1 ]; then
  if [ ! -x "$venv/bin/python" ]; then
    say "creating $prefix/.venv"
    "$python" -m venv --system-site-packages "$venv"
  fi
  # Reinstall only when the checkout changed (pyproject + package sources), so re-runs are no-ops.
  stamp_hash=$(cd "$source_dir" && find pyproject.toml raspisms_daemon -type f \
    ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum \
    | sha256sum | cut -c1-16)
  stamp="$venv/.raspisms-daemon-$stamp_hash"
  if [ ! -f "$stamp" ]; then
    say "installing raspisms-daemon into $prefix/.venv"
    pip_opts=(--quiet --disable-pip-version-check --no-cache-dir)
    [ "$offline" = 1 ] && pip_opts+=(--no-deps --no-index --no-build-isolation)
    # A copy of the checkout: pip writes build/ and *.egg-info into the source directory.
    build=$(mktemp -d)
    trap 'rm -rf "$build"' EXIT
    (cd "$source_dir" && tar --exclude=.venv --exclude=.git --exclude='__pycache__' --exclude='*.egg-info' \
      --exclude=build -cf - pyproject.toml raspisms_daemon $(ls README* 2>/dev/null || true)) \
      | tar -xf - -C "$build"
    "$venv/bin/python" -m pip install "${pip_opts[@]}" --upgrade "$build"
    rm -f "$venv"/.raspisms-daemon-*
    touch "$stamp"
    changed=1
  fi
  # The CLI on PATH for the admin (raspisms-daemon phones, send, deliveries …).
  link="$root/usr/local/bin/raspisms-daemon"
  if [ "$(readlink "$link" 2>/dev/null)" != "$prefix/.venv/bin/raspisms-daemon" ]; then
    install -d -m 0755 "$root/usr/local/bin"
    ln -sfn "$prefix/.venv/bin/raspisms-daemon" "$link"
  fi
fi

# --- activate (host with systemd as PID 1 only) ------------------------------------------------------
if [ -n "$root" ]; then
  say "staged under $root (no systemctl/udevadm with --root)"
  exit 0
fi
if command -v udevadm >/dev/null && [ -d /run/udev ]; then
  udevadm control --reload
  # Apply the rules to a modem that is already plugged in (links, ModemManager ignore).
  udevadm trigger --action=change --subsystem-match=tty || true
fi
if [ ! -d /run/systemd/system ]; then
  say "systemd is not running (not PID 1): not enabling the service"
  exit 0
fi
systemctl daemon-reload
systemctl enable raspisms-daemon.service
if [ "$start" = 1 ]; then
  if [ "$changed" = 1 ] && systemctl is-active --quiet raspisms-daemon.service; then
    systemctl restart raspisms-daemon.service  # an upgrade: run the new code
  else
    systemctl start raspisms-daemon.service
  fi
fi
say "done: journalctl -u raspisms-daemon -f to watch it; edit $confdir/config.ini, then systemctl restart raspisms-daemon"
