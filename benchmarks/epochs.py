"""What each epoch of a recipe buys, on the validation images, over seeds: the question behind
a recipe's ``epochs`` (and the book's build time).

Each seed trains the recipe once, through the package's own loop, checkpointing every epoch in a
scratch folder and continuing from it; after every epoch from ``--from`` on it scores the model
as it stands, which is what a run of that many epochs would be (the learning-rate schedules and
the weight average's refresh are per epoch). Samples: ``--samples`` (5k, the same for every
epoch) against the 5k validation images in the evaluation classifier's features; an
autoencoder's reconstructions of the validation images too. Prints one table per seed and the
mean over the seeds, with the training seconds a run of that many epochs took.

    GENADV_DATA=../shared/data python benchmarks/epochs.py vaegan --seeds 3
    GENADV_DATA=../shared/data python benchmarks/epochs.py gan --seeds 3 --from 2
    GENADV_DATA=../shared/data python benchmarks/epochs.py gan --first --epochs 9   # the plain DCGAN
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from genadv_utils import book, data, evaluation, gan, registry
from genadv_utils.recipe import Trained
from genadv_utils.training import fit

COLUMNS = {"frechet_distance": ("Fréchet distance", "{:.1f}"), "precision": ("precision", "{:.3f}"),
           "recall": ("recall", "{:.3f}"), "coverage": ("coverage", "{:.3f}"),
           "recognised": ("recognised", "{:.1%}"),
           "reconstruction_mse": ("rec. MSE", "{:.4f}"),
           "reconstruction_sharpness": ("rec. sharpness", "{:.4f}"),
           "reconstruction_class_kept": ("rec. class kept", "{:.2%}")}


def scores(trained: Trained, splits: data.Splits, reference: Trained, samples: int,
           split: str) -> dict[str, float]:
    """The book's measurements of the model as it stands (``split``'s images)."""
    out = evaluation.evaluate(trained, splits, split=split, classifier=reference,
                              samples=samples)
    return {k: float(out[k]) for k in COLUMNS if k in out}


def one_seed(name: str, changes: dict[str, Any], seed: int, epochs: int, first: int,
             splits: data.Splits, reference: Trained, samples: int, split: str
             ) -> list[dict[str, float]]:
    """One seed's run, scored after each epoch from ``first`` on."""
    recipe = registry.get(name)
    settings = recipe.settings("default", seed=seed, epochs=epochs, **changes)
    state = recipe.start(settings, "cpu")
    batches = data.Batches(splits.train.subset(settings.train_size), settings.batch_size,
                           seed=settings.seed)
    step, validate = recipe.step(settings), recipe.validate(settings, splits)
    snapshot = recipe.snapshot(settings, state)  # as the recipe's own runs render it
    rows = []
    with tempfile.TemporaryDirectory(prefix="genadv-epochs-") as scratch:
        for epoch in range(1, epochs + 1):
            history = fit(state, step, batches, epochs=epoch, run_dir=scratch, validate=validate,
                          progress=False, snapshot=snapshot)
            row = {"epoch": epoch, "seconds": sum(e["seconds"] for e in history.epochs)}
            logged = {k: v for k, v in history.epochs[-1].items() if k.startswith("val_")}
            if epoch >= first:
                trained = Trained(name, state.modules[name], history, Path(scratch), settings)
                row.update(scores(trained, splits, reference, samples, split))
            print(json.dumps({"seed": seed, **row, **logged}), flush=True)
            rows.append(row)
    return rows


def table(rows: list[dict[str, float]], title: str) -> str:
    keys = [k for k in COLUMNS if any(k in r for r in rows)]
    lines = [f"{title}", "", "| epochs | seconds | " + " | ".join(COLUMNS[k][0] for k in keys) + " |",
             "|---|---|" + "---|" * len(keys)]
    for r in rows:
        cells = [COLUMNS[k][1].format(r[k]) if k in r else "–" for k in keys]
        lines.append(f"| {int(r['epoch'])} | {r['seconds']:.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=["gan", "vaegan"],
                        help="the recipe (the generators: their samples are what is scored)")
    parser.add_argument("--first", action="store_true",
                        help="the GAN's first recipe, chapter 3's plain DCGAN (gan.FIRST_RECIPE)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: the recipe's)")
    parser.add_argument("--from", dest="start", type=int, default=2,
                        help="the first epoch scored (default 2)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 to N-1 (default 3)")
    parser.add_argument("--samples", type=int, default=5000, help="samples scored (default 5k)")
    parser.add_argument("--split", choices=evaluation.SPLITS, default="val",
                        help="scored on (default val: this chooses epochs)")
    parser.add_argument("--dataset", default="mnist")
    args = parser.parse_args()
    if min(args.seeds, args.start, args.samples, args.epochs or 1) < 1:
        parser.error("--seeds, --from, --samples and --epochs must be at least 1")
    if args.first and args.name != "gan":
        parser.error("--first is the GAN's plain DCGAN: use it with gan")
    changes: dict[str, Any] = {"dataset": args.dataset, **(gan.FIRST_RECIPE if args.first else {})}
    recipe = registry.get(args.name)
    epochs = args.epochs or recipe.settings("default", **changes).epochs
    splits = data.load_splits(args.dataset)
    reference = evaluation.reference_classifier(splits)
    label = f"{args.name}{' (first recipe)' if args.first else ''}"
    print(f"{label}, {args.dataset}, seeds 0 to {args.seeds - 1}, {args.samples} samples against "
          f"the {args.split} images; {book.machine()}, torch {torch.__version__}", flush=True)
    start = time.perf_counter()
    runs = [one_seed(args.name, changes, seed, epochs, args.start, splits, reference,
                     args.samples, args.split) for seed in range(args.seeds)]
    for seed, rows in enumerate(runs):
        print("\n" + table(rows, f"seed {seed}"))
    mean = [{k: sum(r[i][k] for r in runs) / len(runs) for k in runs[0][i]}
            for i in range(epochs)]
    print("\n" + table(mean, f"mean over {args.seeds} seeds"))
    print(f"\n{time.perf_counter() - start:.0f} s for the whole command")


if __name__ == "__main__":
    main()
