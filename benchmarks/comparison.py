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
Fashion-MNIST table from ``benchmarks/results/fashion-mnist.json``, written this way:

    GENADV_DATA=../shared/data python benchmarks/comparison.py --dataset fashion-mnist \
        --save benchmarks/results/fashion-mnist.json
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import torch

from genadv_utils import dae, data, evaluation, gan, metrics, vae, vaegan
from genadv_utils.display import machine

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", choices=data.supported_datasets())
    parser.add_argument("--save", type=Path, metavar="PATH",
                        help="also write the tables to this JSON file")
    args = parser.parse_args()
    name = args.dataset
    splits = data.load_splits(name, device="cpu")
    classifier = evaluation.reference_classifier(name, progress=False)
    runs = {
        "DAE (ch. 1)": dae.train(dae.settings("default", dataset=name), splits, progress=False),
        "VAE (ch. 2)": vae.train(vae.settings("default", dataset=name), splits, progress=False),
        "GAN (ch. 3)": gan.train(gan.settings("default", dataset=name), splits, progress=False),
        "VAE-GAN (ch. 4)": vaegan.train(vaegan.settings("default", dataset=name), splits,
                                        progress=False),
    }
    accuracy = metrics.accuracy(classifier.model, splits.test.images, splits.test.labels)
    print(f"{name}: {machine()}, torch {torch.__version__}; classifier "
          f"{classifier.folder.name}, test accuracy {accuracy:.2%}\n")
    sanity = evaluation.sanity_checks(classifier, splits)
    print(markdown(sanity, {k: COLUMNS[k] for k in ("frechet_distance", "precision", "recall",
                                                    "coverage", "classifier_score",
                                                    "recognised")}))
    print()
    scores = evaluation.compare(runs, classifier=classifier)
    print(markdown(scores, COLUMNS))
    print(f"\n(test images' own sharpness: "
          f"{scores['VAE (ch. 2)']['test_sharpness']:.4f})")
    if args.save:
        evaluation.publish(args.save, name, {
            "machine": machine(), "torch": torch.__version__,
            "date": datetime.date.today().isoformat(), "classifier_accuracy": accuracy,
            "sanity": sanity, "scores": scores})
        print(f"written to {args.save}")


if __name__ == "__main__":
    main()
