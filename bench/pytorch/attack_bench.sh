#!/usr/bin/env bash
# PyTorch's images/s on rat bench's attack workloads (attack_bench.py); arguments go to it.
exec bash "$(dirname "$0")/venv.sh" attack_bench.py "$@"
