#!/usr/bin/env python3
"""Writes the golden file Tests/Fixtures/small-cnn-taylor.safetensors with PyTorch (float64).

The file holds the inputs, weights and weight noise of the engine's small CNN together with
what PyTorch computes from them: logits, J·u, uᵀHu, the four loss terms of TRADES + 1st +
2nd, their weighted sum and its gradient w.r.t. every parameter.
Tests/GraphTests/GoldenTests.swift evaluates the same step in rat's Double reference backend
and compares; Tests/CheckpointsTests/GoldenFileTests.swift reads its layout.

rat never depends on this script or on PyTorch: the file is committed, and the tests only
read it. The script documents how the numbers were produced and lets anyone re-derive them.

Run (any machine with Python 3.9+):

    python3 -m venv /tmp/venv-golden
    /tmp/venv-golden/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
    # re-derive every computed tensor from the committed inputs/weights/noise and compare:
    /tmp/venv-golden/bin/python scripts/golden/make-small-cnn-taylor.py /tmp/golden.safetensors \
        --from Tests/Fixtures/small-cnn-taylor.safetensors
    # or draw fresh inputs/weights/noise from a seed:
    /tmp/venv-golden/bin/python scripts/golden/make-small-cnn-taylor.py /tmp/golden.safetensors --seed 0

Definitions (they match the file's __metadata__ and docs/engine.md):
- model: conv1 3x3 3->32 stride 1 pad 1 (no bias), bn1, relu; conv2 3x3 32->64 stride 2,
  bn2, relu; conv3 3x3 64->128 stride 2, bn3, relu; mean over H, W; fc 128->10.
  BatchNorm in train mode, written out (batch mean, biased batch variance, eps 1e-5):
  under nested forward mode the batch statistics must be differentiated like any other
  value, which PyTorch's fused batch_norm does not do correctly.
- J·u = d/dt logits(w + t·u) at t = 0 (torch.func.jvp over the weights, tangent u on every
  parameter, zero on the inputs); uᵀHu = d²/dt² logits(w + t·u) at t = 0 (jvp of that jvp
  with the same tangent; not halved).
- losses: natural = CE(logits/clean, label), batch mean; kl(p, q) = batch mean of
  Σ_c softmax(p)_c (log softmax(p)_c − log softmax(q)_c); robust = kl(clean, adversarial
  logits), taylor1 = kl on J·u, taylor2 = kl on uᵀHu; total = natural + 6·robust +
  0.2·taylor1 + 0.1·taylor2; grad = ∂total/∂w by reverse mode through both branches and
  through the forward-mode terms (torch.func.grad over the jvps).
- fresh draws (--seed): inputs uniform in [0, 1], shape [6, 3, 12, 12]; adversarial =
  clamp(clean + (8/255)·random sign, 0, 1); labels uniform in 0..9; conv and fc weights
  uniform in ±1/sqrt(fan_in) (PyTorch's default init), fc bias likewise; BN weight uniform
  in [0.5, 1.5], BN bias uniform in [−0.2, 0.2] (so BN is not the identity); noise
  u ~ N(0, 0.05²) on every parameter.
"""
import argparse
import json
import struct

import torch
from torch.func import grad, jvp

torch.set_default_dtype(torch.float64)

CLASSES = 10
WIDTHS = [32, 64, 128]
BN_EPS = 1e-5
WEIGHTS = {"natural": 1.0, "robust": 6.0, "taylor1": 0.2, "taylor2": 0.1}

METADATA = {
    "model": "small-cnn: conv1 3x3 3->32 s1 p1 no bias, bn1, relu; conv2 3x3 32->64 s2 p1, bn2, relu; "
             "conv3 3x3 64->128 s2 p1, bn3, relu; mean over H,W; fc 128->10",
    "dtype": "float64; layouts NCHW inputs, OIHW conv weights, fc.weight (out, in)",
    "batchnorm": "train mode: batch mean and biased batch variance over N,H,W; eps 1e-5; "
                 "y = (x-mean)/sqrt(var+eps)*weight+bias",
    "jvp1": "d/dt logits(w + t*u) at t=0 (tangent u on every parameter, zero on inputs)",
    "jvp2": "d2/dt2 logits(w + t*u) at t=0, i.e. u^T H u (not halved)",
    "natural": "cross-entropy of logits/clean with label, mean over batch",
    "kl": "kl(p, q) = mean over batch of sum_c softmax(p)_c * (log softmax(p)_c - log softmax(q)_c); "
          "robust = kl(logits/clean, logits/adversarial); taylor1 on jvp1, taylor2 on jvp2",
    "weights": json.dumps(WEIGHTS),
    "grad": "gradient of loss/total w.r.t. each parameter; gradients flow through both the clean "
            "and the adversarial branch",
}


def parameter_shapes():
    """PyTorch names and shapes of the small CNN's parameters."""
    shapes = {}
    channels = 3
    for i, width in enumerate(WIDTHS, start=1):
        shapes[f"conv{i}.weight"] = [width, channels, 3, 3]
        shapes[f"bn{i}.weight"] = [width]
        shapes[f"bn{i}.bias"] = [width]
        channels = width
    shapes["fc.weight"] = [CLASSES, channels]
    shapes["fc.bias"] = [CLASSES]
    return shapes


def batch_norm_train(x, weight, bias):
    """Train-mode BatchNorm as plain tensor operations. x: [N, C, H, W]."""
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    variance = ((x - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)   # biased
    normalized = (x - mean) / torch.sqrt(variance + BN_EPS)
    return normalized * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)


def logits(params, x):
    """x: [N, 3, H, W] -> [N, CLASSES]."""
    h = x
    for i in range(1, len(WIDTHS) + 1):
        h = torch.nn.functional.conv2d(h, params[f"conv{i}.weight"], stride=1 if i == 1 else 2, padding=1)
        h = torch.relu(batch_norm_train(h, params[f"bn{i}.weight"], params[f"bn{i}.bias"]))
    pooled = h.mean(dim=(2, 3))                                            # [N, C]
    return pooled @ params["fc.weight"].T + params["fc.bias"]


def taylor_views(params, noise, x):
    """(logits, J·u, uᵀHu) at x: forward mode over the weights, nested once."""
    def first_order(p):
        return jvp(lambda q: logits(q, x), (p,), (noise,))

    (value, jvp1), (_, jvp2) = jvp(first_order, (params,), (noise,))
    return value, jvp1, jvp2


def kl(p, q):
    """Batch mean of KL(softmax p ‖ softmax q); p, q: [N, C]."""
    log_p, log_q = torch.log_softmax(p, dim=1), torch.log_softmax(q, dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1).mean()


def loss_terms(params, noise, clean, adversarial, label):
    views = {"clean": taylor_views(params, noise, clean),
             "adversarial": taylor_views(params, noise, adversarial)}
    terms = {
        "natural": torch.nn.functional.cross_entropy(views["clean"][0], label),
        "robust": kl(views["clean"][0], views["adversarial"][0]),
        "taylor1": kl(views["clean"][1], views["adversarial"][1]),
        "taylor2": kl(views["clean"][2], views["adversarial"][2]),
    }
    total = sum(WEIGHTS[name] * value for name, value in terms.items())
    return total, terms, views


def fresh_inputs(seed):
    generator = torch.Generator().manual_seed(seed)
    def uniform(shape, low, high):
        return low + (high - low) * torch.rand(shape, generator=generator)

    params, noise = {}, {}
    for name, shape in parameter_shapes().items():
        if name.startswith("bn"):
            params[name] = uniform(shape, 0.5, 1.5) if name.endswith("weight") else uniform(shape, -0.2, 0.2)
        else:
            fan_in = parameter_shapes()["fc.weight"][1] if name.startswith("fc") else shape[1] * shape[2] * shape[3]
            bound = fan_in ** -0.5
            params[name] = uniform(shape, -bound, bound)
        noise[name] = 0.05 * torch.randn(shape, generator=generator)
    clean = torch.rand([6, 3, 12, 12], generator=generator)
    signs = torch.randint(0, 2, clean.shape, generator=generator) * 2.0 - 1.0
    adversarial = (clean + 8 / 255 * signs).clamp(0, 1)
    label = torch.randint(0, CLASSES, [6], generator=generator)
    return params, noise, clean, adversarial, label


def read_safetensors(path):
    with open(path, "rb") as file:
        blob = file.read()
    header_size = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + header_size])
    header.pop("__metadata__", None)
    tensors = {}
    for name, entry in header.items():
        assert entry["dtype"] == "F64", f"{name}: expected F64"
        start, end = entry["data_offsets"]
        raw = blob[8 + header_size + start:8 + header_size + end]
        values = struct.unpack(f"<{len(raw) // 8}d", raw)
        tensors[name] = torch.tensor(values).reshape(entry["shape"])
    return tensors


def write_safetensors(path, tensors, metadata):
    """Float64 tensors, sorted by name, compact JSON header padded with spaces to 8 bytes."""
    header = {"__metadata__": metadata}
    chunks, offset = [], 0
    for name in sorted(tensors):
        values = tensors[name].detach().reshape(-1).tolist()
        raw = struct.pack(f"<{len(values)}d", *values)
        header[name] = {"dtype": "F64", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output")
    parser.add_argument("--from", dest="source", help="take inputs, labels, weights and noise from this file")
    parser.add_argument("--seed", type=int, default=0, help="seed of fresh draws (without --from)")
    args = parser.parse_args()

    if args.source:
        given = read_safetensors(args.source)
        names = parameter_shapes()
        params = {name: given[f"param/{name}"] for name in names}
        noise = {name: given[f"noise/{name}"] for name in names}
        clean, adversarial = given["input/clean"], given["input/adversarial"]
        label = given["label"].long()
    else:
        given = None
        params, noise, clean, adversarial, label = fresh_inputs(args.seed)

    total, terms, views = loss_terms(params, noise, clean, adversarial, label)
    gradients = grad(lambda p: loss_terms(p, noise, clean, adversarial, label)[0])(params)

    out = {"input/clean": clean, "input/adversarial": adversarial, "label": label.double(),
           "loss/total": total.reshape(1)}
    for name in params:
        out[f"param/{name}"], out[f"noise/{name}"], out[f"grad/{name}"] = params[name], noise[name], gradients[name]
    for which, (value, jvp1, jvp2) in views.items():
        out[f"logits/{which}"], out[f"jvp1/{which}"], out[f"jvp2/{which}"] = value, jvp1, jvp2
    for name, value in terms.items():
        out[f"loss/{name}"] = value.reshape(1)
    write_safetensors(args.output, out, METADATA)
    print(f"wrote {args.output}: {len(out)} tensors")

    if given is not None:
        print("max |ours − given| and max relative difference (‖ours − given‖∞ / ‖given‖∞) per tensor:")
        for name in sorted(out):
            difference = (out[name].detach() - given[name]).abs().max().item()
            scale = given[name].abs().max().item()
            print(f"  {name:24s} {difference:.3e}  {difference / scale if scale else 0.0:.3e}")


if __name__ == "__main__":
    main()
