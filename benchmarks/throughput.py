"""Training throughput of each chapter's model: images per second through its training step.

Builds each default model with its recipe (``genadv_utils.recipes``) and runs its training step
on batches of MNIST training images of the recipe's batch size
(``recipes.seconds_per_step``): two warm-up steps, then ``--steps`` timed ones. Prints images/s and the implied time of one epoch of 55 000 images.

    GENADV_DATA=../shared/data python benchmarks/throughput.py
"""

from __future__ import annotations

import argparse

import torch

from genadv_utils import data, recipes, runtime

MODELS = {"classifier": recipes.classifier_settings, "dae": recipes.dae_settings,
          "vae": recipes.vae_settings, "gan": recipes.gan_settings,
          "vaegan": recipes.vaegan_settings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per model")
    args = parser.parse_args()
    device = runtime.pick_device()
    splits = data.load_splits("mnist", device=device)
    print(f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{'model':10} | {'batch':>5} | {'images/s':>8} | {'one epoch (55k)':>15}")
    for name, make_settings in MODELS.items():
        settings = make_settings("default")
        seconds = recipes.seconds_per_step(name, settings, splits, steps=args.steps)
        rate = settings.batch_size / seconds
        print(f"{name:10} | {settings.batch_size:5d} | {rate:8.0f} | "
              f"{len(splits.train) / rate:13.1f} s")


if __name__ == "__main__":
    main()
