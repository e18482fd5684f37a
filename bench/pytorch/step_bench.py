#!/usr/bin/env python3
"""PyTorch's ms/step on `rat bench`'s workloads, for the side-by-side table of
docs/performance.md. Optional: nothing in rat or its tests uses it. Run it through
bench/pytorch/step_bench.sh (a venv with the torch wheel), e.g.

    bash bench/pytorch/step_bench.sh --model small-cnn,preact-resnet18 --workload plain,trades

Same workloads as `rat bench` (random data in [0, 1], 10 classes, batch 128, median of the
timed steps after one warm-up step):
  plain   clean cross-entropy, forward + backward, SGD-momentum update
  trades  10-step KL-PGD (eps 8/255, alpha 2/255, start x + 0.001 N(0, 1), model in eval
          mode), loss CE(clean) + 6 KL(clean || adversarial), update
  taylor12  trades with weight noise u ~ N(0, 0.01^2) on every parameter (the attack runs on
          w + u), plus eta KL(J u) + eta/2 KL(u^T H u) between clean and adversarial, eta 0.2:
          J u and u^T H u by nested forward mode (torch.func.jvp of a jvp, tangent u, inputs
          constant), then reverse mode through both, as rat computes them. Train-mode BN uses
          batch statistics without running statistics (functorch cannot update those inside
          jvp); that changes no FLOP of note.
Threads: torch.set_num_threads(--threads, default the CPUs this process may use), as rat's
workers. Prints one JSON object per (model, workload).
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallCNN(nn.Module):
    """rat's small-cnn: three conv-BN-ReLU stages (the last two stride 2), GAP, linear."""

    def __init__(self, classes=10, widths=(32, 64, 128)):
        super().__init__()
        layers, channels = [], 3
        for i, width in enumerate(widths):
            layers += [nn.Conv2d(channels, width, 3, stride=1 if i == 0 else 2, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU()]
            channels = width
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


class PreActBlock(nn.Module):
    def __init__(self, inputs, out, stride):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(inputs), nn.BatchNorm2d(out)
        self.conv1 = nn.Conv2d(inputs, out, 3, stride=stride, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out, out, 3, padding=1, bias=False)
        self.shortcut = (nn.Conv2d(inputs, out, 1, stride=stride, bias=False)
                         if stride != 1 or inputs != out else None)

    def forward(self, x):
        a = F.relu(self.bn1(x))
        skip = self.shortcut(a) if self.shortcut is not None else x
        return self.conv2(F.relu(self.bn2(self.conv1(a)))) + skip


class PreActResNet18(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        blocks, channels = [], 64
        for width, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            blocks += [PreActBlock(channels, width, stride), PreActBlock(width, width, 1)]
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(512)
        self.linear = nn.Linear(512, classes)

    def forward(self, x):
        h = F.relu(self.bn(self.blocks(self.conv1(x))))
        return self.linear(F.avg_pool2d(h, 4).flatten(1))


MODELS = {"small-cnn": SmallCNN, "preact-resnet18": PreActResNet18}


def trades_adversarial(model, x, eps=8 / 255, alpha=2 / 255, steps=10):
    model.eval()
    with torch.no_grad():
        clean = F.softmax(model(x), dim=1)
    adv = (x + 0.001 * torch.randn_like(x)).detach()
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.kl_div(F.log_softmax(model(adv), dim=1), clean, reduction="sum")
        grad, = torch.autograd.grad(loss, adv)
        adv = torch.min(torch.max(adv.detach() + alpha * grad.sign(), x - eps), x + eps).clamp(0, 1)
    model.train()
    return adv.detach()


def taylor_logits(model, params, noise, x):
    """Logits g, J u and u^T H u at w + u (nested forward mode with tangent u)."""
    def logits(p):
        return torch.func.functional_call(model, p, (x,))

    def first_order(p):
        return torch.func.jvp(logits, (p,), (noise,))

    (g, ju), (_, uhu) = torch.func.jvp(first_order, (params,), (noise,))
    return g, ju, uhu


def kl(p_logits, q_logits):
    """KL(softmax p || softmax q), batch mean: TRADES's criterion."""
    return F.kl_div(F.log_softmax(q_logits, dim=1), F.softmax(p_logits, dim=1), reduction="batchmean")


def taylor12_loss(model, x, y, eta=0.2, sigma=0.01):
    names = [name for name, _ in model.named_parameters()]
    weights = dict(model.named_parameters())
    noise = {name: sigma * torch.randn_like(w) for name, w in weights.items()}
    with torch.no_grad():  # the attack sees w + u
        for name, w in weights.items():
            w.add_(noise[name])
    adv = trades_adversarial(model, x)
    params = {name: weights[name] + 0 for name in names}  # differentiable copies of w + u
    g, ju, uhu = taylor_logits(model, params, noise, x)
    g_adv, ju_adv, uhu_adv = taylor_logits(model, params, noise, adv)
    loss = F.cross_entropy(g, y) + 6 * kl(g, g_adv) + eta * kl(ju, ju_adv) + eta / 2 * kl(uhu, uhu_adv)
    with torch.no_grad():  # the update applies to w
        for name, w in weights.items():
            w.sub_(noise[name])
    return loss


def step(model, optimizer, workload, x, y):
    if workload == "plain":
        loss = F.cross_entropy(model(x), y)
    elif workload == "trades":
        adv = trades_adversarial(model, x)
        logits = model(x)
        robust = F.kl_div(F.log_softmax(model(adv), dim=1), F.softmax(logits, dim=1), reduction="batchmean")
        loss = F.cross_entropy(logits, y) + 6 * robust
    elif workload == "taylor12":
        loss = taylor12_loss(model, x, y)
    else:
        raise SystemExit(f"unknown workload '{workload}'; known: plain, trades, taylor12")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="small-cnn")
    parser.add_argument("--workload", default="plain,trades")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(7)
    for name in args.model.split(","):
        if name not in MODELS:
            raise SystemExit(f"unknown model '{name}'; known: {', '.join(MODELS)}")
        for workload in args.workload.split(","):
            model = MODELS[name]()
            if workload == "taylor12":
                torch.func.replace_all_batch_norm_modules_(model)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
            x = torch.rand(args.batch, 3, 32, 32)
            y = torch.randint(0, 10, (args.batch,))
            step(model, optimizer, workload, x, y)  # warm-up
            times = []
            for _ in range(args.steps):
                start = time.perf_counter()
                step(model, optimizer, workload, x, y)
                times.append((time.perf_counter() - start) * 1e3)
            print(json.dumps({"framework": f"pytorch {torch.__version__}", "model": name, "workload": workload,
                              "batch": args.batch, "threads": args.threads, "median_ms": statistics.median(times),
                              "min_ms": min(times), "steps": args.steps}), flush=True)


if __name__ == "__main__":
    main()
