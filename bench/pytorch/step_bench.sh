#!/usr/bin/env bash
# PyTorch's ms/step on rat bench's training workloads (step_bench.py); arguments go to it.
exec bash "$(dirname "$0")/venv.sh" step_bench.py "$@"
