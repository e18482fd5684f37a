#!/usr/bin/env bash
# The test command: set up a fresh machine if needed, then run the whole suite in release
# (numeric tests are 5–36× slower in debug). Release builds every module but Kernels with
# -O, so the preconditions (shape checks, planner/kernel agreement) are active here.
# Then the executor's parity suites again with 1 worker, the portable direct kernels and
# oneDNN off (what CPUs without AVX2 + FMA and RAT_ONEDNN=0 run) and with 3 workers: results must
# match the references whatever the worker count (RAT_WORKERS) and instruction set
# (~10 s each; the full-width ResNet parity, ~2 min, runs only in the first pass).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift test -c release "$@"
if [ "$#" -eq 0 ]; then
    parity='ModelParity|PrimitiveParity|FastKernelsMatchNaive|Im2colMatchesReference|ConvolutionMerge|FusedSiblings|WorkerCount'
    # rat's own kernels only (oneDNN off), portable: what RAT_ONEDNN=0 on a CPU without AVX2 + FMA runs.
    RAT_ONEDNN=0 RAT_WORKERS=1 RAT_PORTABLE_KERNELS=1 swift test -c release --skip-build --filter "$parity" \
        --skip ResNetParity
    RAT_WORKERS=3 swift test -c release --skip-build --filter "$parity|OneDNN" --skip ResNetParity
fi
