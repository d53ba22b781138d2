"""The speed leads that were measured and not adopted, side by side in one run
(channels-last, which the DAE, the VAE, the GAN and the VAE-GAN now use, is timed by
``throughput.py``).

For each default model (``genadv_utils.registry``) it times the recipe's own training step as
the package runs it ("today") against one variant at a time, alternating the two ``--rounds``
times and keeping each one's best, on MNIST batches of the recipe's batch size:

- ``compile``: every network, and each of its direct parts (the GAN's step calls its generator
  and discriminator, not the pair), through ``torch.compile`` in place (Inductor's C++ kernels;
  the first steps, which compile, are left out of the timing and reported apart; methods other
  than ``forward``, such as the discriminator's ``features``, stay eager);
- ``bf16``: the step under ``torch.autocast("cpu", dtype=torch.bfloat16)`` (changes the
  numbers, so it would also need its quality measured);
- ``flush-denormals``: ``torch.set_flush_denormal(True)`` (on fresh weights; denormals would
  appear late in training, if at all, so README also reports it from a finished GAN's weights).

It prints one table of images per second and ratios (above 1: the variant is faster).

    GENADV_DATA=../shared/data python benchmarks/speed_leads.py
    GENADV_DATA=../shared/data python benchmarks/speed_leads.py --models gan --leads bf16
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator

import torch

from genadv_utils import data, registry
from genadv_utils.display import machine
from genadv_utils.training import TrainState

LEADS = ("compile", "bf16", "flush-denormals")


def prepared(name: str, lead: str | None, splits: data.Splits
             ) -> tuple[TrainState, Callable, Iterator, float]:
    """A fresh model of ``name`` with ``lead`` applied, its step, its batches, and the seconds
    its first three (warm-up, compiling) steps took."""
    recipe = registry.get(name)
    settings = recipe.settings("default")
    state = recipe.start(settings, "cpu")
    step = recipe.step(settings)
    batches: Iterator = iter(data.Batches(splits.train, settings.batch_size, seed=0))
    if lead == "compile":  # in place, the model and each part the steps call directly
        for module in state.modules.values():
            for part in (module, *module.children()):
                part.compile()
    elif lead == "bf16":
        plain = step

        def step(s, b):  # noqa: F811 - the variant replaces the recipe's step
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return plain(s, b)
    state.train(True)
    start = time.perf_counter()
    for _ in range(3):
        step(state, next(batches))
    return state, step, batches, time.perf_counter() - start


@contextlib.contextmanager
def flushing(on: bool) -> Iterator[None]:
    """Denormal numbers flushed to zero inside the block (when ``on``), not after it."""
    torch.set_flush_denormal(on)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def seconds_per_step(state, step, batches, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step(state, next(batches))
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="dae,vae,gan,vaegan",
                        help="comma-separated recipe names")
    parser.add_argument("--leads", default=",".join(LEADS), help="comma-separated leads")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="today/variant alternations")
    args = parser.parse_args()
    splits = data.load_splits("mnist", device="cpu")
    print(f"{machine()}, torch {torch.__version__}\n")
    print("| model | lead | today images/s | variant images/s | ratio | variant warm-up |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in args.models.split(","):
        batch = registry.get(name).settings("default").batch_size
        for lead in args.leads.split(","):
            if lead not in LEADS:
                raise SystemExit(f"unknown lead {lead!r}; choose from {', '.join(LEADS)}")
            today = prepared(name, None, splits)
            try:
                variant = prepared(name, None if lead == "flush-denormals" else lead, splits)
            except RuntimeError as err:  # e.g. the compiled VAE-GAN step
                print(f"| {name} | {lead} | – | fails: {str(err).splitlines()[0][:90]} | – | – |",
                      flush=True)
                continue
            best = {"today": float("inf"), "variant": float("inf")}
            for _ in range(args.rounds):
                for which, (state, step, batches, _) in (("today", today),
                                                         ("variant", variant)):
                    with flushing(which == "variant" and lead == "flush-denormals"):
                        best[which] = min(best[which],
                                          seconds_per_step(state, step, batches, args.steps))
            rate = {k: batch / v for k, v in best.items()}
            print(f"| {name} | {lead} | {rate['today']:.0f} | {rate['variant']:.0f} | "
                  f"{rate['variant'] / rate['today']:.2f} | {variant[3]:.1f} s |", flush=True)


if __name__ == "__main__":
    main()
