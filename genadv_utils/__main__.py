"""Command line: train, use and evaluate the chapters' models without a notebook.

    python -m genadv_utils train dae                       # what the book's default profile trains
    python -m genadv_utils train classifier                # the evaluation classifier
    python -m genadv_utils reconstruct dae --run RUN --input noisy.npy --out clean.npy
    python -m genadv_utils evaluate --run RUN              # the run's metrics as JSON
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from . import recipes
from .data import DataNotFoundError
from .evaluation import evaluate_run
from .metrics import apply_in_batches
from .runtime import PROFILES
from .training import CheckpointError, NonFiniteLossError

TRAINABLE = ("classifier", "dae")
RECONSTRUCTS = ("dae",)


class UsageError(ValueError):
    """A bad command-line request, reported in one line."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m genadv_utils",
                                     description=__doc__.split("\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True,
                                  metavar="{train,reconstruct,evaluate}")

    train = verbs.add_parser("train", help="train a model (or finish an interrupted run)",
                             description="Train a model; with no options, exactly what the "
                             "book's default profile trains, in the same run folder.")
    train.add_argument("model", choices=TRAINABLE)
    train.add_argument("--dataset", choices=("mnist", "fashion-mnist"))
    train.add_argument("--epochs", type=int, help="epochs (default: the profile's)")
    train.add_argument("--seed", type=int)
    train.add_argument("--profile", choices=PROFILES, help="default: $GENADV_PROFILE, else default")
    train.add_argument("--out", type=Path, metavar="RUN_DIR",
                       help="run folder (default: the one the notebooks use for these settings)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    rec = verbs.add_parser("reconstruct", help="reconstruct (denoise) images with a trained model",
                           description="Read float images [N, 28, 28] in [0, 1] from a .npy file "
                           "and write the model's reconstructions, same shape, to another.")
    rec.add_argument("model", choices=RECONSTRUCTS)
    rec.add_argument("--run", type=Path, required=True, metavar="RUN_DIR")
    rec.add_argument("--input", type=Path, required=True, metavar="IN.npy")
    rec.add_argument("--out", type=Path, required=True, metavar="OUT.npy")

    ev = verbs.add_parser("evaluate", help="print a run's test-set metrics as one JSON object")
    ev.add_argument("--run", type=Path, required=True, metavar="RUN_DIR")
    return parser


def _train(args: argparse.Namespace) -> None:
    overrides = {k: v for k, v in (("dataset", args.dataset), ("epochs", args.epochs),
                                   ("seed", args.seed)) if v is not None}
    make_settings, train = {
        "dae": (recipes.dae_settings, recipes.train_dae),
        "classifier": (recipes.classifier_settings, recipes.train_classifier),
    }[args.model]
    trained = train(make_settings(args.profile, **overrides), run_dir=args.out,
                    progress=not args.quiet)
    last = trained.history.epochs[-1]
    print(json.dumps({"run": str(trained.folder), "epochs": len(trained.history.epochs),
                      **{k: v for k, v in last.items() if k.startswith("val_")},
                      "seconds": round(trained.history.seconds, 1)}))


def _read_images(path: Path) -> torch.Tensor:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read {path} as a .npy array ({err})") from None
    if array.ndim != 3 or array.shape[1:] != (28, 28) or len(array) == 0:
        raise UsageError(f"{path} must hold images [N, 28, 28], got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise UsageError(f"{path} must hold floats in [0, 1], got {array.dtype}")
    if np.isnan(array).any() or array.min() < 0 or array.max() > 1:
        raise UsageError(f"{path} must hold values in [0, 1]")
    return torch.from_numpy(array.astype(np.float32)).unsqueeze(1)


def _reconstruct(args: argparse.Namespace) -> None:
    images = _read_images(args.input)
    trained = recipes.load_dae(_run_dir(args.run), device="cpu")
    out = apply_in_batches(trained.model, images)[:, 0].numpy().astype(np.float32)
    np.save(args.out, out)
    print(f"wrote {args.out}: {out.shape[0]} images")


def _run_dir(path: Path) -> Path:
    if not path.is_dir():
        raise UsageError(f"run folder {path} does not exist")
    return path


def _evaluate(args: argparse.Namespace) -> None:
    print(json.dumps(evaluate_run(_run_dir(args.run)), indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        {"train": _train, "reconstruct": _reconstruct, "evaluate": _evaluate}[args.verb](args)
    except (UsageError, ValueError, FileNotFoundError, DataNotFoundError, CheckpointError,
            NonFiniteLossError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the last complete epoch is kept; run the same command to resume",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
