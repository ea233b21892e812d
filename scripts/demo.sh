#!/usr/bin/env bash
# Set up (idempotent) and run the demo: simulated modem -> daemon -> local verifying receiver.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/raspisms-daemon demo "$@"
