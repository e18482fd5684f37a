#!/usr/bin/env bash
# The test command: set up a fresh machine if needed, then run the whole suite in release
# (numeric tests are 5–36× slower in debug).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift test -c release "$@"
