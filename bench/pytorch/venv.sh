#!/usr/bin/env bash
# Makes bench/pytorch/.venv (not in git) with PyTorch (CPU) — from a wheel in /opt/wheels when
# there is one, else from PyPI — and torchattacks 3.5.1 without its declared dependencies
# (of those it imports only numpy and scipy, installed beside it), then runs the Python script given as the first argument with the rest. Nothing in
# rat or its tests depends on it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    wheel="$(ls /opt/wheels/torch-*.whl 2>/dev/null | head -n 1 || true)"
    "$venv/bin/pip" install -q "${wheel:-torch}"
fi
"$venv/bin/python" -c "import torchattacks" 2>/dev/null || "$venv/bin/pip" install -q numpy scipy "torchattacks==3.5.1" --no-deps
script="$1"
shift
exec "$venv/bin/python" "$here/$script" "$@"
