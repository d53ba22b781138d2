"""Chapter 5's table: all four default models on the same test images and metrics.

Trains (or reloads) the default run of each chapter and the evaluation classifier, then prints,
as Markdown tables ready for the README:

- the metrics' sanity checks (real training images, blurred ones, uniform noise, one class);
- one row per model: training time, parameters, the sample metrics (10k samples against the
  10k test images, in the classifier's features) and the reconstruction metrics (the clean test
  images through each autoencoder).

Everything is cached in the run folders, so after a book build this takes seconds.

    GENADV_DATA=../shared/data python benchmarks/comparison.py
    GENADV_DATA=../shared/data python benchmarks/comparison.py --dataset fashion-mnist

With ``--dataset fashion-mnist`` every model, and the classifier, is trained on Fashion-MNIST
with the same default settings. ``--save PATH`` also writes the tables as JSON, keyed by the
run folders and metrics code that decided them (``evaluation.publish``); chapter 5 shows the
Fashion-MNIST table from ``genadv_utils/records/fashion-mnist.json``, written this way:

    GENADV_DATA=../shared/data python benchmarks/comparison.py --dataset fashion-mnist \
        --save genadv_utils/records/fashion-mnist.json

``--seeds 3`` trains every model with seeds 0, 1 and 2 instead (seed 0 is the book's run) and
prints each metric's mean and range over the seeds, then every ordering of two models on a
metric with the share of seeds it holds in: an ordering that holds in every seed is one the
chapters may state, one that flips is within the spread of a single run (``--save`` writes it
all, with the same key as above; chapter 5 shows ``genadv_utils/records/mnist-seeds.json``,
written this way):

    GENADV_DATA=../shared/data python benchmarks/comparison.py --seeds 3 \
        --save genadv_utils/records/mnist-seeds.json
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path
from typing import Any

import torch

from genadv_utils import classifier, data, evaluation, registry
from genadv_utils.book import machine

COLUMNS = {"train_seconds": ("training", "{:.0f} s"), "parameters": ("parameters", "{:,}"),
           "frechet_distance": ("Fréchet distance", "{:.1f}"),
           "precision": ("precision", "{:.3f}"), "recall": ("recall", "{:.3f}"),
           "coverage": ("coverage", "{:.3f}"),
           "classifier_score": ("classifier score", "{:.2f}"),
           "recognised": ("recognised", "{:.1%}"),
           "reconstruction_mse": ("rec. MSE", "{:.4f}"),
           "reconstruction_sharpness": ("rec. sharpness", "{:.4f}"),
           "reconstruction_class_kept": ("rec. class kept", "{:.2%}")}


def markdown(rows: dict[str, dict], columns: dict[str, tuple[str, str]]) -> str:
    """``rows`` as a Markdown table; a metric a model does not have is a dash."""
    lines = ["| | " + " | ".join(label for label, _ in columns.values()) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for name, values in rows.items():
        cells = [fmt.format(values[key]) if key in values else "–"
                 for key, (_, fmt) in columns.items()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


RANKED = {"frechet_distance": -1, "precision": 1, "recall": 1, "coverage": 1, "recognised": 1,
          "reconstruction_mse": -1, "reconstruction_sharpness": 1, "reconstruction_class_kept": 1}
"""The metrics whose orderings the chapters state: +1 where higher is better, -1 lower."""


def train_all(name: str, splits: data.Splits, seed: int = 0) -> dict[str, Any]:
    """The default runs of the models chapter 5 compares (``evaluation.COMPARED``, chapters 1
    to 4 in order) on dataset ``name`` with ``seed``, trained or reloaded, by row label."""
    return {f"{registry.TITLES[model]} (ch. {chapter})": recipe.train(
                recipe.settings("default", dataset=name, seed=seed), splits, progress=False)
            for chapter, model in enumerate(evaluation.COMPARED, 1)
            for recipe in [registry.get(model)]}


def orderings(by_seed: list[dict[str, dict]]) -> list[dict[str, Any]]:
    """Every ordering "a better than b on a metric" that holds in at least one of the seeds'
    score tables, with the share of seeds it holds in."""
    found = []
    for metric, sign in RANKED.items():
        models = [m for m in by_seed[0] if metric in by_seed[0][m]]
        for a in models:
            for b in models:
                held = sum(sign * (s[a][metric] - s[b][metric]) > 0 for s in by_seed)
                if a != b and held:
                    found.append({"metric": metric, "better": a, "worse": b,
                                  "share": held / len(by_seed)})
    return found


def spread(by_seed: list[dict[str, dict]]) -> dict[str, dict[str, list[float]]]:
    """Each model's mean, lowest and highest value of each metric over the seeds."""
    return {m: {k: [sum(s[m][k] for s in by_seed) / len(by_seed), min(s[m][k] for s in by_seed),
                    max(s[m][k] for s in by_seed)]
                for k in ("train_seconds", *RANKED) if k in by_seed[0][m]}
            for m in by_seed[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", choices=data.supported_datasets())
    parser.add_argument("--save", type=Path, metavar="PATH",
                        help="also write the tables to this JSON file")
    parser.add_argument("--seeds", type=int, default=0, metavar="N",
                        help="train every model with seeds 0 to N-1 and print the spread and "
                             "which orderings hold in every seed")
    args = parser.parse_args()
    name = args.dataset
    if args.seeds < 0:
        parser.error(f"--seeds must be non-negative, got {args.seeds}")
    splits = data.load_splits(name)
    reference = evaluation.reference_classifier(splits, progress=False)
    if args.seeds:
        seeds(args, splits, reference)
        return
    runs = train_all(name, splits)
    accuracy = classifier.accuracy(reference.model, splits.test.images, splits.test.labels)
    print(f"{name}: {machine()}, torch {torch.__version__}; classifier "
          f"{reference.folder.name}, test accuracy {accuracy:.2%}\n")
    sanity = evaluation.sanity_checks(reference, splits, split="test")
    print(markdown(sanity, {k: COLUMNS[k] for k in ("frechet_distance", "precision", "recall",
                                                    "coverage", "classifier_score",
                                                    "recognised")}))
    print()
    scores = evaluation.compare(runs, splits, split="test", classifier=reference)
    print(markdown(scores, COLUMNS))
    print(f"\n(test images' own sharpness: "
          f"{scores['VAE (ch. 2)']['original_sharpness']:.4f})")
    if args.save:
        evaluation.publish(args.save, name, {
            "machine": machine(), "torch": torch.__version__,
            "date": datetime.date.today().isoformat(), "classifier_accuracy": accuracy,
            "sanity": sanity, "scores": scores})
        print(f"written to {args.save}")


def seeds(args: argparse.Namespace, splits: data.Splits, reference: Any) -> None:
    """``--seeds``: the comparison over several seeds, its spread and its orderings."""
    by_seed = []
    for seed in range(args.seeds):
        print(f"seed {seed}: training or reloading the four models", flush=True)
        runs = train_all(args.dataset, splits, seed)
        by_seed.append({label.split(" (")[0]: row for label, row in
                        evaluation.compare(runs, splits, split="test",
                                           classifier=reference).items()})
    print(f"\n{args.dataset}, seeds 0 to {args.seeds - 1}: {machine()}, torch "
          f"{torch.__version__}\n\nmean (lowest to highest)\n")
    ranges = spread(by_seed)
    print(markdown({m: {k: f"{fmt.format(v[0])} ({fmt.format(v[1])} to {fmt.format(v[2])})"
                        for k, v in values.items() for fmt in [COLUMNS[k][1]]}
                    for m, values in ranges.items()},
                   {k: (label, "{}") for k, (label, _) in COLUMNS.items()}))
    print("\norderings, and the share of seeds each holds in (the rest is the reverse)\n")
    found = orderings(by_seed)
    for o in found:
        if o["share"] >= 0.5:
            print(f"- {o['better']} better than {o['worse']} on {COLUMNS[o['metric']][0]}: "
                  f"{o['share']:.0%}")
    if args.save:
        evaluation.publish(args.save, args.dataset, {
            "machine": machine(), "torch": torch.__version__,
            "date": datetime.date.today().isoformat(), "seeds": by_seed, "spread": ranges,
            "orderings": found})
        print(f"written to {args.save}")


if __name__ == "__main__":
    main()
