"""Training throughput of each chapter's model, plain against optimised, in one run.

For each default recipe (``genadv_utils.registry``) this builds the model twice, with
``recipe.OPTIMISED`` off (the plain kernels) and on (channels-last activations and the fused
Adam, for the recipes that ask for them), and times its own training step on MNIST batches of
the recipe's batch size (``Recipe.seconds_per_step``: two warm-up steps, then ``--steps``
timed ones), alternating the two ``--rounds`` times and keeping each one's best. It also counts
the step's floating-point operations (``torch.utils.flop_counter``) and reports the achieved
GFLOP/s against the machine's matrix-product peak, measured in the same run.

    GENADV_DATA=../shared/data python benchmarks/throughput.py
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from genadv_utils import data, recipe, registry, runtime
from genadv_utils.display import machine


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
    state = rec.build(settings, "cpu")
    state.train(True)
    batch = next(iter(data.Batches(splits.train, settings.batch_size, seed=0)))
    with FlopCounterMode(display=False) as counter:
        rec.step(settings)(state, batch)
    return float(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="plain/optimised alternations")
    args = parser.parse_args()
    device = runtime.pick_device()
    splits = data.load_splits("mnist", device=device)
    peak = matmul_peak()
    print(f"{machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"fp32 matrix-product peak {peak:.0f} GFLOP/s")
    print("| model | batch | plain images/s | optimised images/s | ratio | GFLOP/s "
          "(optimised) | share of peak |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, rec in registry.RECIPES.items():
        settings = rec.settings("default")
        best = {True: float("inf"), False: float("inf")}
        for _ in range(args.rounds):
            for optimised in (False, True):
                recipe.OPTIMISED = optimised
                best[optimised] = min(best[optimised],
                                      rec.seconds_per_step(settings, splits, args.steps))
        recipe.OPTIMISED = True
        rate = {k: settings.batch_size / s for k, s in best.items()}
        gflops = step_flops(rec, settings, splits) / best[True] / 1e9
        print(f"| {name} | {settings.batch_size} | {rate[False]:.0f} | {rate[True]:.0f} | "
              f"{rate[True] / rate[False]:.2f} | {gflops:.0f} | {gflops / peak:.0%} |")


if __name__ == "__main__":
    main()
