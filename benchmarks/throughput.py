"""Training throughput of each chapter's model: images per second through its training step.

Builds each default model with its recipe (``genadv_utils.recipes``) and runs its training step
on batches of MNIST training images of the recipe's batch size: a few warm-up steps, then
``--steps`` timed ones. Prints images/s and the implied time of one epoch of 55 000 images.

    GENADV_DATA=../shared/data python benchmarks/throughput.py
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import torch

from genadv_utils import data, recipes, runtime

WARM_UP = 5


def steps() -> dict[str, tuple[Any, Callable[..., Any], Callable[..., Any]]]:
    """Per model: its default settings, its builder and its training step."""
    dae, vae = recipes.dae_settings("default"), recipes.vae_settings("default")
    gan, vaegan = recipes.gan_settings("default"), recipes.vaegan_settings("default")
    return {
        "classifier": (recipes.classifier_settings("default"), recipes.build_classifier,
                       recipes.classifier_step),
        "dae": (dae, recipes.build_dae,
                lambda s, b: recipes.dae_step(s, b, noise_kind=dae.noise, level=dae.level)),
        "vae": (vae, recipes.build_vae, lambda s, b: recipes.vae_step(s, b, beta=vae.beta)),
        "gan": (gan, recipes.build_gan, recipes.gan_step),
        "vaegan": (vaegan, recipes.build_vaegan,
                   lambda s, b: recipes.vaegan_step(s, b, gamma=vaegan.gamma)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per model")
    args = parser.parse_args()
    device = runtime.pick_device()
    train = data.load_splits("mnist", device=device).train
    print(f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{'model':10} | {'batch':>5} | {'images/s':>8} | {'one epoch (55k)':>15}")
    for name, (settings, build, step) in steps().items():
        state = build(settings, device)
        state.train(True)
        batches = iter(data.Batches(train, settings.batch_size, seed=0))
        for _ in range(WARM_UP):
            step(state, next(batches))
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(args.steps):
            step(state, next(batches))
        if device.type == "cuda":
            torch.cuda.synchronize()
        rate = args.steps * settings.batch_size / (time.perf_counter() - start)
        print(f"{name:10} | {settings.batch_size:5d} | {rate:8.0f} | "
              f"{len(train) / rate:13.1f} s")


if __name__ == "__main__":
    main()
