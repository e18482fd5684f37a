#!/usr/bin/env python3
"""AutoAttack (standard) in rat against torchattacks' AutoAttack on PyTorch CPU, side by side.

Both attack the same checkpoint (a rat run of the small CNN, loaded into PyTorch with
strict=True) on the first N test images, with 2 threads each, one after the other
(rat, torch, rat, torch, ...). The script reports the wall time of each run and the
accuracies. torchattacks' AutoAttack runs its APGD/APGD-T/FAB with their defaults, which are
10 iterations. The reference's are 100, and so are rat's. The script therefore also times
torchattacks with its components set to 100 iterations (`--torch-iterations 100`), the fair
pair.

rat and its tests never depend on this script. It needs torch, safetensors, numpy, scipy and
torchattacks 3.5.1 (installed into a venv by --setup), and the `zstd` command.

    bash scripts/setup.sh && python3 bench/autoattack/compare.py --setup   # once: makes /tmp/venv-rat-bench
    /tmp/venv-rat-bench/bin/python bench/autoattack/compare.py --run runs/quickstart --examples 1000
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = "/tmp/venv-rat-bench"


def setup():
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    pip = [f"{VENV}/bin/pip", "install", "-q"]
    wheels = "/opt/wheels"
    local = [os.path.join(wheels, f) for f in os.listdir(wheels) if f.startswith("torch-")] if os.path.isdir(wheels) else []
    subprocess.run(pip + (local or ["torch", "--index-url", "https://download.pytorch.org/whl/cpu"]), check=True)
    subprocess.run(pip + ["numpy", "scipy", "safetensors", "requests", "tqdm"], check=True)
    subprocess.run(pip + ["--no-deps", "torchattacks==3.5.1"], check=True)
    print(f"ready: {VENV}/bin/python {sys.argv[0]} --run runs/quickstart")


def rat_autoattack(rat, run, examples):
    start = time.perf_counter()
    out = subprocess.run([rat, "eval", run, "--examples", str(examples), "--set", "eval.attacks=[aa]",
                          "--set", "eval.select.metric=clean", "--json"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    result = json.loads(out.stdout)
    return wall, result["clean_acc"], result["autoattack_acc"]


def torch_autoattack(model, images, labels, eps, iterations, batch):
    import torch
    import torchattacks
    attack = torchattacks.AutoAttack(model, norm="Linf", eps=eps, version="standard", n_classes=10, seed=0)
    if iterations is not None:
        # The reference's (and rat's) 100 iterations for APGD, APGD-T and FAB-T.
        for component in attack._autoattack.attacks:
            if hasattr(component, "steps"):
                component.steps = iterations
    start = time.perf_counter()
    robust = 0
    for i in range(0, len(labels), batch):
        x, y = images[i:i + batch], labels[i:i + batch]
        adversarial = attack(x, y)
        with torch.no_grad():
            robust += (model(adversarial).argmax(1) == y).sum().item()
    return time.perf_counter() - start, robust / len(labels)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--run", default="runs/quickstart")
    parser.add_argument("--rat", default=os.path.join(ROOT, ".build/release/rat"))
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--torch-iterations", type=int, default=100)
    args = parser.parse_args()
    if args.setup:
        return setup()

    import torch
    sys.path.insert(0, os.path.join(ROOT, "bench", "pytorch"))
    from statedict_check import SmallCNN, read_split
    from safetensors.torch import load_file
    torch.set_num_threads(2)
    recipe = open(os.path.join(ROOT, args.run, "recipe.yaml")).read()
    eps = 0.1  # the quickstart's threat.eps
    assert "eps: 0.1" in recipe, "this comparison is set up for the quickstart (ε = 0.1)"
    dataset = os.path.join(ROOT, "datasets", "fashion-mnist-small")
    images, labels = read_split(dataset, "test")
    images = torch.tensor(images[:args.examples])
    labels = torch.tensor(labels[:args.examples])
    model = SmallCNN(channels=1)
    checkpoint = os.path.join(ROOT, args.run, "best.safetensors")
    model.load_state_dict(load_file(checkpoint), strict=True)
    model.eval()
    with torch.no_grad():
        clean = (model(images).argmax(1) == labels).float().mean().item()

    rows = []
    for _ in range(args.rounds):
        wall, rat_clean, rat_aa = rat_autoattack(args.rat, args.run, args.examples)
        rows.append(("rat aa (100 it.)", wall, rat_clean, rat_aa))
        wall, acc = torch_autoattack(model, images, labels, eps, args.torch_iterations, 128)
        rows.append((f"torchattacks AA ({args.torch_iterations} it.)", wall, clean, acc))
        wall, acc = torch_autoattack(model, images, labels, eps, None, 128)
        rows.append(("torchattacks AA (its default 10 it.)", wall, clean, acc))
    print(f"| run | wall s | clean | AA | ({args.examples} images, {torch.__version__}, 2 threads) |")
    print("|---|---:|---:|---:|")
    for name, wall, c, aa in rows:
        print(f"| {name} | {wall:.1f} | {100 * c:.2f} | {100 * aa:.2f} |")


if __name__ == "__main__":
    main()
