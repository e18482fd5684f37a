#!/bin/bash
# The second side-by-side run of docs/performance.md (2026-12-02, evening): rat (C elementwise
# interpreter, sibling fusion, AVX-512 direct kernels, BF16 option) and PyTorch in turn on a
# machine with nothing else running; its output is 2026-12-02b-side-by-side.log.
# Run from the repository root after `swift build -c release`.
set -u
out=bench/results/2026-12-02b-side-by-side.log
echo "=== start $(date) load $(cat /proc/loadavg)" > $out
rat=.build/release/rat
py() { bash bench/pytorch/$1 "${@:2}"; }
# small-cnn: training steps, then attacks at batch 128
$rat bench --model small-cnn --workload trades,taylor12 --steps 5 --json >> $out 2>&1
py step_bench.sh --model small-cnn --workload trades,taylor12 --steps 5 >> $out 2>&1
$rat bench --model small-cnn --workload pgd20,apgd-ce --steps 3 --json >> $out 2>&1
py attack_bench.sh --model small-cnn --workload pgd20,apgd-ce --batches 3 --profile >> $out 2>&1
echo "=== small-cnn done $(date) load $(cat /proc/loadavg)" >> $out
# A/B of this round's levers, alternating steps in one process
# (sibling fusion was the default when this ran; it is now off by default and `--against fused-siblings` turns it on)
$rat bench --model small-cnn --workload trades,taylor12 --steps 5 --against no-fused-siblings >> $out 2>&1
$rat bench --model small-cnn --workload trades,taylor12 --steps 5 --against no-fused-sums >> $out 2>&1
$rat bench --model small-cnn --workload trades,taylor12 --steps 5 --against bf16 >> $out 2>&1
$rat bench --model small-cnn --workload trades,taylor12 --steps 5 --profile >> $out 2>&1
echo "=== A/B done $(date) load $(cat /proc/loadavg)" >> $out
# ResNet-18: attacks at batch 32 (one timed batch after a warm-up)
$rat bench --model preact-resnet18 --workload pgd20,apgd-ce --steps 1 --batch 32 --json >> $out 2>&1
py attack_bench.sh --model preact-resnet18 --workload pgd20,apgd-ce --batches 1 --batch 32 --profile >> $out 2>&1
echo "=== resnet attacks done $(date) load $(cat /proc/loadavg)" >> $out
# ResNet-18 training steps at batch 128
$rat bench --model preact-resnet18 --workload trades,taylor12 --steps 3 --json >> $out 2>&1
py step_bench.sh --model preact-resnet18 --workload trades --steps 3 >> $out 2>&1
py step_bench.sh --model preact-resnet18 --workload taylor12 --steps 1 >> $out 2>&1
echo "=== end $(date) load $(cat /proc/loadavg)" >> $out
