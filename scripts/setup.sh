#!/usr/bin/env bash
# Idempotent setup of a checkout: system packages (as root), the virtual environment .venv, the project.
#
#   ./scripts/setup.sh          what the daemon and the demo need
#   ./scripts/setup.sh --dev    also what the tests and the benchmarks need
#
# Nothing is compiled. python-gammu and systemd-python come from Debian (python3-gammu, python3-systemd:
# prebuilt for amd64, arm64 and armhf, where PyPI has no wheel for armhf and pip would need a compiler
# and a newer libgammu than Debian 12's); the venv sees them through --system-site-packages, and pip
# installs the rest from wheels.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
case "${1:-}" in
  --dev) dev=1 ;;
  "") ;;
  *) echo "usage: $0 [--dev]" >&2; exit 2 ;;
esac

# python3-markupsafe: Jinja2's one compiled dependency, prebuilt for every Pi (PyPI may have no armhf
# wheel); pip then sees it and installs Jinja2's pure-Python wheel only.
apt_packages=(python3 python3-venv python3-gammu python3-systemd python3-markupsafe ca-certificates)
# For the tests: libgammu's own tools (gammu, gammu-smsd for the benchmarks), systemd-analyze (unit
# files), umockdev + udevadm (udev rules), strace (durability), curl + openssl (gammu-smsd's hook),
# setpriv (util-linux), PHP's CLI (a RaspiSMS-style receiver), mosquitto (MQTT broker), FUSE
# (power-cut file system), setuptools + wheel (install.sh's offline venv build), procps (/bin/kill, the
# unit's ExecReload).
dev_packages=(gammu gammu-smsd systemd udev umockdev strace curl openssl util-linux php-cli mosquitto
  fuse3 libfuse2 git python3-setuptools python3-wheel procps)
wanted=("${apt_packages[@]}")
[ "$dev" = 1 ] && wanted+=("${dev_packages[@]}")

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing system packages: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "setup: these system packages are missing (install them as root: apt-get install ${missing[*]});" \
      "what needs them is skipped" >&2
  fi
fi

# Debian's interpreter: apt's python3-gammu and python3-systemd are built for it.
py=${PYTHON:-/usr/bin/python3}
[ -x "$py" ] || py=python3
# The venv is kept when it sees the system's packages and runs the same interpreter as $py.
real_python() { "$1" -c 'import os, sys; print(os.path.realpath(sys._base_executable))' 2>/dev/null; }
venv_ok() {
  [ -x .venv/bin/python ] && grep -q '^include-system-site-packages = true' .venv/pyvenv.cfg 2>/dev/null \
    && [ "$(real_python .venv/bin/python)" = "$(real_python "$py")" ]
}
if ! venv_ok; then
  echo "setup: creating .venv ($("$py" --version) with the system's site-packages)"
  rm -rf .venv
  "$py" -m venv --system-site-packages .venv
fi

extras=""
[ "$dev" = 1 ] && extras="[dev]"
base=.venv/.installed-$(cat pyproject.toml "$0" | sha256sum | cut -c1-16)
stamp=$base${extras:+-dev}
# A dev install has everything a plain one has.
if [ ! -f "$stamp" ] && [ ! -f "$base-dev" ]; then
  echo "setup: installing raspisms-daemon${extras} into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check --only-binary=:all: -e ".${extras}" \
    || .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
for module in gammu systemd.journal; do
  .venv/bin/python -c "import $module" 2>/dev/null \
    || echo "setup: note: python module $module is not available (apt-get install python3-${module%%.*})" >&2
done
