#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test rat, then builds it (release).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for pkg in libopenblas-dev libdnnl-dev libzstd-dev libyaml-dev zlib1g-dev pkg-config libopenmpi-dev openmpi-bin libxml2-utils; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
swift build -c release --product rat >&2
