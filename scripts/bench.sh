#!/usr/bin/env bash
# Set up (idempotent), then run the benchmarks: ./scripts/bench.sh [--smoke] [--only NAME …]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m bench.run "$@"
