#!/usr/bin/env python3
"""A rat checkpoint is a PyTorch state_dict: checked against PyTorch itself.

Trains the quickstart recipe briefly with `rat`, then in PyTorch:
  1. loads the run's best.safetensors into the small-cnn definition of docs/checkpoints.md
     with load_state_dict(strict=True);
  2. compares eval-mode clean accuracy on the whole test split with `rat eval`'s;
  3. compares train-mode logits with the ones `rat step --dump` wrote for the same weights
     and batch (the definition computes what rat computes).

Needs torch, safetensors and numpy (not a dependency of rat or its tests), and the
`zstd` command to read the shards. Usage, from the repository root after
`swift build -c release`:

    python3 bench/pytorch/statedict_check.py [--rat .build/release/rat] [--keep DIR]
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file


class SmallCNN(nn.Module):  # rat's small-cnn (Sources/Models/SmallCNN.swift)
    def __init__(self, channels=3, classes=10, widths=(32, 64, 128)):
        super().__init__()
        inputs = (channels,) + tuple(widths[:-1])
        for i, (c, w) in enumerate(zip(inputs, widths), start=1):
            setattr(self, f"conv{i}", nn.Conv2d(c, w, 3, stride=1 if i == 1 else 2, padding=1, bias=False))
            setattr(self, f"bn{i}", nn.BatchNorm2d(w))
        self.fc = nn.Linear(widths[-1], classes)

    def forward(self, x):
        for i in range(1, 4):
            x = F.relu(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x)))
        return self.fc(x.mean(dim=(2, 3)))


def read_split(dataset, split):
    """Images [N, C, H, W] in [0, 1] and labels [N] of a prepared split (docs/data.md)."""
    manifest = json.load(open(os.path.join(dataset, "manifest.json")))
    c, h, w = manifest["channels"], manifest["height"], manifest["width"]
    images, labels = [], []
    for shard in manifest["splits"][split]["shards"]:
        raw = open(os.path.join(dataset, shard["file"]), "rb").read()
        assert raw[:8] == b"RATSHARD"
        header_size, = struct.unpack_from("<I", raw, 12)
        count, = struct.unpack_from("<I", raw, 28)
        payload = subprocess.run(["zstd", "-dc"], input=raw[header_size:], capture_output=True, check=True).stdout
        labels.append(np.frombuffer(payload[:2 * count], dtype="<u2").astype(np.int64))
        pixels = np.frombuffer(payload[2 * count:], dtype=np.uint8).reshape(count, c, h, w)
        images.append(pixels.astype(np.float32) / np.float32(255))
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


def run(command):
    print("$", " ".join(command), flush=True)
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rat", default=".build/release/rat")
    parser.add_argument("--keep", help="work folder to keep (default: a temporary one)")
    args = parser.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="rat-statedict-")
    os.makedirs(work, exist_ok=True)
    dataset = "datasets/fashion-mnist-small"
    quick = ["--set", f"data.path={dataset}", "--set", "threat.steps=2", "--set", "schedule.batch=64"]
    run([args.rat, "train", "recipes/quickstart.yaml", *quick, "--set", "schedule.epochs=1",
         "--set", f"output={work}/run", "--overwrite"])
    best = f"{work}/run/best.safetensors"

    # 1. strict=True: names, shapes and every buffer exactly as PyTorch's module has them.
    model = SmallCNN(channels=1)
    state_dict = load_file(best)
    model.load_state_dict(state_dict, strict=True)
    with safe_open(best, "pt") as f:
        print(f"1. load_state_dict(strict=True) took {len(state_dict)} tensors; metadata {f.metadata()}")

    # 2. Eval-mode clean accuracy on the whole test split (order-free, so it must match).
    report = json.loads(run([args.rat, "eval", best, "--recipe", f"{work}/run/recipe.yaml", "--split", "test",
                             "--json"]).strip().splitlines()[-1])
    images, labels = read_split(dataset, "test")
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model(images[i:i + 500]).argmax(1) for i in range(0, len(images), 500)])
    accuracy = (predictions == labels).double().mean().item()
    print(f"2. clean accuracy on test: PyTorch {accuracy:.4f}, rat eval {report['clean_acc']:.4f}")

    # 3. Train-mode logits of one batch, against rat's step dump (initial weights of the recipe).
    dump_path = f"{work}/step.safetensors"
    run([args.rat, "step", "recipes/quickstart.yaml", *quick, "--dump", dump_path])
    dump = load_file(dump_path)
    fresh = SmallCNN(channels=1)
    weights = {name[len("param/"):]: t for name, t in dump.items() if name.startswith("param/")}
    missing, unexpected = fresh.load_state_dict(weights, strict=False)
    assert not unexpected and all(n.endswith(("running_mean", "running_var", "num_batches_tracked")) for n in missing)
    fresh.train()
    with torch.no_grad():
        logits = fresh(dump["input/clean"])
    difference = (logits - dump["logits/clean"]).abs().max().item()
    scale = dump["logits/clean"].abs().max().item()
    print(f"3. train-mode logits of {len(logits)} images: max |PyTorch − rat| = {difference:.3g} (max |logit| {scale:.3g})")

    ok = abs(accuracy - report["clean_acc"]) <= 1 / len(labels) and difference <= 1e-4 * max(scale, 1)
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
