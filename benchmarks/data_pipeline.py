"""How fast is one shuffled epoch of MNIST training images, batch 128?

Compares genadv_utils' in-memory iterator (images held as one tensor, batches are slices) with
the usual ``DataLoader(MNIST(transform=ToTensor()))``, which decodes every image through PIL.
Both sides read the files before the clock starts (the one-time costs are printed too); the
speed-up compares images per second, since the training split (55k) is smaller than the official
60k. Target: at least 20 times faster.

    GENADV_DATA=../shared/data python benchmarks/data_pipeline.py
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from genadv_utils import data


def one_epoch(batches) -> tuple[float, int]:
    start, seen = time.perf_counter(), 0
    for images, _ in batches:
        seen += images.shape[0]
    return time.perf_counter() - start, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    start = time.perf_counter()
    splits = data.load_splits("mnist")
    print(f"genadv_utils: loading the splits into memory once: {time.perf_counter() - start:.2f} s")
    ours, n_ours = one_epoch(data.Batches(splits.train, args.batch_size, seed=0))

    start = time.perf_counter()
    mnist = datasets.MNIST(str(data.data_root()), train=True, download=True,
                           transform=transforms.ToTensor())
    print(f"torchvision: constructing the MNIST dataset: {time.perf_counter() - start:.2f} s")
    loader = DataLoader(mnist, batch_size=args.batch_size, shuffle=True,
                        num_workers=args.workers)
    theirs, n_theirs = one_epoch(loader)

    print(f"genadv_utils Batches:        {ours:8.3f} s for {n_ours} images "
          f"({n_ours / ours:,.0f} images/s)")
    print(f"DataLoader(MNIST, ToTensor): {theirs:8.3f} s for {n_theirs} images "
          f"({n_theirs / theirs:,.0f} images/s, {args.workers} workers)")
    speedup = (n_ours / ours) / (n_theirs / theirs)
    print(f"speed-up per image: {speedup:.0f}x (target: at least 20x)")


if __name__ == "__main__":
    main()
