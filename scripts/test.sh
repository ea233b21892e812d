#!/usr/bin/env bash
# Set up (idempotent) and run the linter, the type checker and the whole test suite.
# Extra arguments go to pytest: ./scripts/test.sh tests/gsm -k pdu
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --dev
.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
