#!/usr/bin/env bash
# The main job on a fresh machine: install and build if needed, train the quickstart recipe
# (small CNN, TRADES + first + second Taylor terms, embedded Fashion-MNIST subset), then
# evaluate it on the test subset: clean, PGD-20 and CW-20 accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rat=.build/release/rat
$rat check recipes/quickstart.yaml
$rat train recipes/quickstart.yaml --overwrite "$@"   # retrains runs/quickstart
$rat eval runs/quickstart
