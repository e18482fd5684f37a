#!/usr/bin/env bash
# Runs step_bench.py in a venv holding PyTorch (CPU): from a wheel in /opt/wheels when there
# is one, else from PyPI. The venv lives in bench/pytorch/.venv (not in git); nothing in rat
# or its tests depends on it. Arguments go to step_bench.py.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    wheel="$(ls /opt/wheels/torch-*.whl 2>/dev/null | head -n 1 || true)"
    "$venv/bin/pip" install -q "${wheel:-torch}"
fi
exec "$venv/bin/python" "$here/step_bench.py" "$@"
