"""Chapter 5's table: all four default models on the same test images and metrics.

Trains (or reloads) the default run of each chapter and the evaluation classifier, then prints,
as Markdown tables ready for the README:

- the metrics' sanity checks (real training images, blurred ones, uniform noise, one class);
- one row per model: training time, parameters, the sample metrics (10k samples against the
  10k test images, in the classifier's features) and the reconstruction metrics (the clean test
  images through each autoencoder).

Everything is cached in the run folders, so after a book build this takes seconds.

    GENADV_DATA=../shared/data python benchmarks/comparison.py
"""

from __future__ import annotations

import os
import platform

import torch

from genadv_utils import dae, data, evaluation, gan, vae, vaegan

COLUMNS = {"train_seconds": ("training", "{:.0f} s"), "parameters": ("parameters", "{:,}"),
           "frechet_distance": ("Fréchet distance", "{:.1f}"),
           "precision": ("precision", "{:.3f}"), "recall": ("recall", "{:.3f}"),
           "coverage": ("coverage", "{:.3f}"),
           "classifier_score": ("classifier score", "{:.2f}"),
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
    splits = data.load_splits("mnist", device="cpu")
    classifier = evaluation.reference_classifier("mnist", progress=False)
    runs = {
        "DAE (ch. 1)": dae.train(dae.settings("default"), splits,
                                         progress=False),
        "VAE (ch. 2)": vae.train(vae.settings("default"), splits,
                                         progress=False),
        "GAN (ch. 3)": gan.train(gan.settings("default"), splits,
                                         progress=False),
        "VAE-GAN (ch. 4)": vaegan.train(vaegan.settings("default"), splits,
                                                progress=False),
    }
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; "
          f"classifier {classifier.folder.name}\n")
    sanity = evaluation.sanity_checks(classifier, splits)
    print(markdown(sanity, {k: COLUMNS[k] for k in ("frechet_distance", "precision", "recall",
                                                    "coverage", "classifier_score")}))
    print()
    scores = evaluation.compare(runs, classifier=classifier)
    print(markdown(scores, COLUMNS))
    print(f"\n(test digits' own sharpness: "
          f"{scores['VAE (ch. 2)']['test_sharpness']:.4f})")


if __name__ == "__main__":
    main()
