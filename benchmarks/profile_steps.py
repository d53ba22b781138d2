"""Where a training step's time goes: the top operators of each default model's step, by self
CPU time (``torch.profiler``), so the next person sees what to speed up.

    GENADV_DATA=../shared/data python benchmarks/profile_steps.py            # every model
    GENADV_DATA=../shared/data python benchmarks/profile_steps.py gan --top 15

Each model is built with its recipe on the CPU, warmed up for 3 steps, then profiled over 10.
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from genadv_utils import data, registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="MODEL",
                        help=f"models (default: all of {', '.join(registry.RECIPES)})")
    parser.add_argument("--top", type=int, default=10, help="operators listed per model")
    parser.add_argument("--steps", type=int, default=10, help="profiled steps per model")
    args = parser.parse_args()
    splits = data.load_splits("mnist")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    for name in args.names or registry.RECIPES:
        recipe = registry.get(name)
        settings = recipe.settings("default")
        state = recipe.start(settings, "cpu")
        step = recipe.step(settings)
        state.train(True)
        batches = iter(data.Batches(splits.train, settings.batch_size, seed=0))
        for _ in range(3):
            step(state, next(batches))
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.steps):
                step(state, next(batches))
        print(f"\n=== {name} (batch {settings.batch_size}, {args.steps} steps)")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top,
                                        max_name_column_width=40))


if __name__ == "__main__":
    main()
