#!/usr/bin/env python3
"""PyTorch's images/s on `rat bench`'s attack workloads, for the side-by-side table of
docs/performance.md. Optional: nothing in rat or its tests uses it. Run it through
bench/pytorch/attack_bench.sh (a venv with the torch wheel and torchattacks), e.g.

    bash bench/pytorch/attack_bench.sh --model small-cnn,preact-resnet18 --workload pgd20,apgd-ce

Same workloads as `rat bench --workload pgd20,apgd-ce`: the model at its initializers in eval
mode, one batch of random images in [0, 1] labelled with the model's own predictions (so every
point starts correctly classified and the attack spends its whole budget on the whole batch),
the median time per batch over the timed batches after one warm-up batch:
  pgd20    torchattacks.PGD, l-inf eps 8/255, alpha 2/255, 20 steps, uniform random start
  apgd-ce  torchattacks.APGD, l-inf eps 8/255, cross-entropy, 100 iterations, 1 restart, rho 0.75
           (torchattacks' port of AutoAttack's APGD; the reference package runs the same loop)
Prints one JSON object per (model, workload).
"""
import argparse
import json
import os
import statistics
import time

import torch
import torchattacks

from step_bench import MODELS


def make_attack(workload, model):
    if workload == "pgd20":
        return torchattacks.PGD(model, eps=8 / 255, alpha=2 / 255, steps=20, random_start=True)
    if workload == "apgd-ce":
        return torchattacks.APGD(model, norm="Linf", eps=8 / 255, steps=100, n_restarts=1, loss="ce", rho=0.75)
    raise SystemExit(f"unknown workload '{workload}'; known: pgd20, apgd-ce")


def profile_batch(attack, x, y, model, workload):
    """One more batch under torch.profiler: the convolutions' share (forward and backward, the
    part a faster elementwise or framework overhead cannot shrink) of the self CPU time."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        attack(x, y)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    convolution = sum(e.self_cpu_time_total for e in events
                      if e.key in ("aten::mkldnn_convolution", "aten::convolution_backward"))
    top = sorted(events, key=lambda e: -e.self_cpu_time_total)[:6]
    print(json.dumps({"model": model, "workload": workload, "profile_total_ms": total / 1e3,
                      "convolution_share": convolution / total,
                      "top": {e.key: round(e.self_cpu_time_total / total, 3) for e in top}}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="small-cnn")
    parser.add_argument("--workload", default="pgd20,apgd-ce")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--profile", action="store_true",
                        help="also profile one batch and print the convolutions' share of PyTorch's CPU time")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(7)
    for name in args.model.split(","):
        if name not in MODELS:
            raise SystemExit(f"unknown model '{name}'; known: {', '.join(MODELS)}")
        model = MODELS[name]().eval()
        for p in model.parameters():
            p.requires_grad_(False)
        x = torch.rand(args.batch, 3, 32, 32)
        with torch.no_grad():
            y = model(x).argmax(1)
        for workload in args.workload.split(","):
            attack = make_attack(workload, model)
            attack(x, y)  # warm-up
            times = []
            for _ in range(args.batches):
                start = time.perf_counter()
                attack(x, y)
                times.append((time.perf_counter() - start) * 1e3)
            median = statistics.median(times)
            if args.profile:
                profile_batch(attack, x, y, name, workload)
            print(json.dumps({"framework": f"pytorch {torch.__version__}, torchattacks {torchattacks.__version__}",
                              "model": name, "workload": workload, "batch": args.batch, "threads": args.threads,
                              "median_ms": median, "min_ms": min(times), "images_per_s": args.batch / median * 1e3,
                              "batches": args.batches}), flush=True)


if __name__ == "__main__":
    main()
