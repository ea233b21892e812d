#!/usr/bin/env bash
# Idempotent setup: system packages (as root), the virtual environment at .venv, the project with its extras.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(gammu gammu-smsd libgammu-dev pkg-config libsystemd-dev umockdev udev curl strace openssl
  python3-venv python3-setuptools python3-wheel python3-gammu python3-systemd)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing system packages: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
elif ! command -v gammu >/dev/null; then
  echo "setup: not root; install these with apt first: ${apt_packages[*]}" >&2
fi

py=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$py" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "setup: installing raspisms-daemon and its extras into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev,gammu,systemd]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
