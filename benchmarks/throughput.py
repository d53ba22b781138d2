"""Training throughput of each chapter's model, plain against optimised, in one run.

For each default recipe (``genadv_utils.registry``) this times its own training step on MNIST
batches of the recipe's batch size (``Recipe.seconds_per_step``: two warm-up steps, then
``--steps`` timed ones), plain and optimised. Plain: ``runtime.OPTIMISED`` off and glibc's
default ``malloc``. Optimised: ``malloc`` keeping freed memory (:func:`keep_freed_memory`, for
every model) and ``runtime.OPTIMISED`` on (channels-last activations and the fused Adam, for
every recipe but the evaluation classifier). The allocator setting holds for a whole process
and cannot be undone, so each measurement runs in a fresh Python process: plain and optimised
processes alternate ``--rounds`` times. This machine's speed drifts from minute to minute, so
each round's plain and optimised measurements, taken back to back, give one ratio: the table
shows the median ratio over the rounds and their range, and the median images/s.

The table also gives the minor page faults a step in both columns (after one throw-away
measurement has warmed the process's memory), the optimised step's floating-point operations
(``torch.utils.flop_counter``: convolutions and matrix products) per second, their share of
the machine's fp32 matrix-product peak measured in the same run, and the ratio a step would
reach if it ran all its operations at that peak: the ceiling of what faster fp32 kernels alone
could give over the plain step.

    GENADV_DATA=../shared/data python benchmarks/throughput.py
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
import time
from statistics import median

try:
    import resource  # page faults (Unix)
except ImportError:  # Windows
    resource = None
import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm.auto import tqdm

from genadv_utils import data, recipe, registry, runtime
from genadv_utils.book import machine

GLIBC_MMAP_THRESHOLD, GLIBC_TRIM_THRESHOLD = -3, -1  # mallopt's parameter numbers (malloc.h)


def keep_freed_memory() -> bool:
    """Ask glibc's ``malloc`` (Linux) to keep freed memory for reuse; ``False`` elsewhere.

    A training step allocates and frees the same activations at every step. By default glibc
    gives blocks above a threshold (128 KiB, growing with use up to 32 MiB) straight back to the
    system, and trims the free top of its heap, so the next step takes every page of its
    activations afresh from the kernel (a page fault per 4 KiB, each zero-filled): thousands a
    step for the classifier's 128 × 32 × 28 × 28 activations. Here blocks up to 32 MiB come
    from the heap, and up to 1 GiB of freed heap is kept. Only where memory comes from
    changes, never the arithmetic: the results are the same, bit for bit. Process-wide, and
    it cannot be undone."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # macOS, Windows, musl: their allocators already reuse freed memory
        return False
    return bool(libc.mallopt(GLIBC_MMAP_THRESHOLD, 32 << 20)
                and libc.mallopt(GLIBC_TRIM_THRESHOLD, 1 << 30))


def matmul_peak(size: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of a large fp32 matrix product here: the yardstick for the steps below."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size ** 3 * repeats / (time.perf_counter() - start) / 1e9


def step_flops(rec: recipe.Recipe, settings, splits) -> float:
    """Floating-point operations of one training step (forward, backward, optimiser)."""
    state = rec.start(settings, "cpu")
    state.train(True)
    batch = next(iter(data.Batches(splits.train, settings.batch_size, seed=0)))
    with FlopCounterMode(display=False) as counter:
        rec.step(settings)(state, batch)
    return float(counter.get_total_flops())


def page_faults() -> float:
    """Minor page faults of this process so far (NaN where the OS does not say)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource else float("nan")


def worker(optimised: bool, steps: int) -> None:
    """One process's measurement: seconds a step and page faults a step of every recipe, plain
    or optimised (:func:`keep_freed_memory` and :data:`runtime.OPTIMISED`), printed as one JSON
    line."""
    runtime.OPTIMISED = optimised
    if optimised:
        keep_freed_memory()
    splits = data.load_splits("mnist", device=runtime.pick_device())
    result = {}
    for name, rec in registry.RECIPES.items():
        settings = rec.settings("default")
        rec.seconds_per_step(settings, splits, 1)  # the process's memory warmed up once
        faults = page_faults()
        seconds = rec.seconds_per_step(settings, splits, steps)
        faults = page_faults() - faults
        result[name] = {"seconds": seconds, "faults": faults / (steps + 2)}
    print(json.dumps(result))


def measured(optimised: bool, steps: int) -> dict[str, dict[str, float]]:
    """:func:`worker` run in a fresh Python process."""
    command = [sys.executable, __file__, "--steps", str(steps), "--worker",
               "optimised" if optimised else "plain"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the {command[-1]} measurement failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=7, help="plain/optimised alternations")
    parser.add_argument("--worker", choices=("plain", "optimised"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps < 1 or args.rounds < 1:
        parser.error("--steps and --rounds must be positive")
    if args.worker:
        worker(args.worker == "optimised", args.steps)
        return
    runs: list[dict[bool, dict[str, dict[str, float]]]] = []
    for i in tqdm(range(args.rounds), desc="plain/optimised rounds"):
        order = (False, True) if i % 2 == 0 else (True, False)  # drift hits both alike
        runs.append({optimised: measured(optimised, args.steps) for optimised in order})
    peak = matmul_peak()
    splits = data.load_splits("mnist")
    print(f"{machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"fp32 matrix-product peak {peak:.0f} GFLOP/s")
    print("| model | batch | plain images/s | optimised images/s | ratio (range) | page faults a step "
          "(plain → optimised) | GFLOP/s (optimised) | share of peak | ratio at the peak |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, rec in registry.RECIPES.items():
        settings = rec.settings("default")
        seconds = {k: median([r[k][name]["seconds"] for r in runs]) for k in (False, True)}
        faults = {k: median([r[k][name]["faults"] for r in runs]) for k in (False, True)}
        ratios = [r[False][name]["seconds"] / r[True][name]["seconds"] for r in runs]
        ratio = median(ratios)
        gflops = step_flops(rec, settings, splits) / seconds[True] / 1e9
        print(f"| {name} | {settings.batch_size} | {settings.batch_size / seconds[False]:.0f} | "
              f"{settings.batch_size / seconds[True]:.0f} | {ratio:.2f} ({min(ratios):.2f}–"
              f"{max(ratios):.2f}) | {faults[False]:.0f} → {faults[True]:.0f} | {gflops:.0f} | "
              f"{gflops / peak:.0%} | {ratio * peak / gflops:.2f} |")


if __name__ == "__main__":
    main()
