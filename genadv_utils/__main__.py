"""Command line: train, use and evaluate the chapters' models without a notebook.

    python -m genadv_utils train dae                       # what the book's default profile trains
    python -m genadv_utils train classifier                # the evaluation classifier
    python -m genadv_utils reconstruct dae --run RUN --input noisy.npy --out clean.npy
    python -m genadv_utils sample vae --run RUN --n 64 --out samples.npy
    python -m genadv_utils train gan && python -m genadv_utils sample gan --run RUN --n 64 ...
    python -m genadv_utils evaluate --run RUN --split val  # its metrics as JSON (test: once)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from . import registry
from .data import DataCorruptError, DataNotFoundError, load_splits, supported_datasets
from .evaluation import REFERENCE, SPLITS, evaluate, load_run
from .metrics import apply_in_batches, sample_in_batches
from .runtime import PROFILES, pick_device
from .files import atomic_write, node_kind
from .store import CHECKPOINT, HISTORY, SETTINGS, CheckpointError, finished
from .training import NonFiniteLossError


class UsageError(ValueError):
    """A bad command-line request, reported in one line."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m genadv_utils",
                                     description=__doc__.split("\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True,
                                  metavar="{train,sample,reconstruct,evaluate}")

    train = verbs.add_parser("train", help="train a model (or finish an interrupted run)",
                             description="Train a model; with no options, exactly what the "
                             "book's default profile trains, in the same run folder.")
    train.add_argument("model", choices=registry.names())
    train.add_argument("--dataset", choices=supported_datasets())
    length = train.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, help="epochs (default: the profile's)")
    length.add_argument("--minutes", type=float, metavar="M",
                        help="as many epochs as fit in about M minutes on this machine "
                        "(measured on a few steps first)")
    train.add_argument("--seed", type=int)
    train.add_argument("--profile", choices=PROFILES, help="default: $GENADV_PROFILE, else default")
    train.add_argument("--out", type=Path, metavar="RUN_DIR",
                       help="run folder (default: the one the notebooks use for these settings)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    sample = verbs.add_parser("sample", help="draw images from a trained generative model",
                              description="Draw N images from a trained model and save them "
                              "as a float32 .npy array [N, 28, 28] in [0, 1] (for the VAE: "
                              "the decoder's Bernoulli means for z drawn from the prior; for "
                              "the GAN and the VAE-GAN: the generator's images of z drawn "
                              "from N(0, I)).")
    sample.add_argument("model", choices=registry.names("sample"))
    sample.add_argument("--run", type=Path, required=True, metavar="RUN_DIR")
    sample.add_argument("--n", type=int, required=True, help="number of images")
    sample.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0)")
    sample.add_argument("--out", type=Path, required=True, metavar="FILE.npy")

    rec = verbs.add_parser("reconstruct", help="reconstruct (denoise) images with a trained model",
                           description="Read float images [N, 28, 28] in [0, 1] from a .npy file "
                           "and write the model's reconstructions, same shape, to another.")
    rec.add_argument("model", choices=registry.names("reconstruct"))
    rec.add_argument("--run", type=Path, required=True, metavar="RUN_DIR")
    rec.add_argument("--input", type=Path, required=True, metavar="IN.npy")
    rec.add_argument("--out", type=Path, required=True, metavar="OUT.npy")

    ev = verbs.add_parser("evaluate", help="print a run's metrics on the validation or the test "
                          "images as one JSON object")
    ev.add_argument("--run", type=Path, required=True, metavar="RUN_DIR")
    ev.add_argument("--split", required=True, choices=SPLITS,
                    help="val to choose between runs or settings, test to report a final result")
    ev.add_argument("--images", type=int, metavar="N",
                    help="use only the first N images of the split (default: all)")
    ev.add_argument("--classifier", type=Path, metavar="RUN_DIR",
                    help="for generators: the evaluation classifier's run (default: the "
                    "dataset's default-profile classifier, trained first if missing)")
    for verb in (train, sample, rec, ev):
        verb.add_argument("--device", help="cpu, cuda, mps, … (default: $GENADV_DEVICE, else "
                          "CUDA, else MPS, else the CPU)")
    return parser


MAX_SAMPLES = 100_000
"""The most images ``sample`` draws in one call (about a minute on two CPU cores)."""


MAX_SEED = 2 ** 63 - 1


def _check_seed(seed: int | None) -> None:
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise UsageError(f"--seed must be an integer from 0 to 2**63 - 1, got {seed}")


def _train(args: argparse.Namespace, device: torch.device) -> None:
    recipe = registry.get(args.model)
    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs must be positive, got {args.epochs}")
    _check_seed(args.seed)
    overrides = {k: v for k, v in (("dataset", args.dataset), ("epochs", args.epochs),
                                   ("seed", args.seed)) if v is not None}
    settings = recipe.settings(args.profile, **overrides)
    splits = load_splits(settings.dataset, device=device)
    if args.minutes is not None:
        epochs = recipe.epochs_for_minutes(settings, splits, args.minutes)
        print(f"{args.model}: {epochs} epoch(s) fit in about {args.minutes:g} minutes here",
              file=sys.stderr)
        settings = replace(settings, epochs=epochs)
    args.training = Path(args.out) if args.out is not None else recipe.folder(settings)
    trained = recipe.train(settings, splits, run_dir=args.out, progress=not args.quiet,
                           device=device)
    last = trained.history.epochs[-1]
    print(json.dumps({"run": str(trained.folder), "epochs": len(trained.history.epochs),
                      **{k: v for k, v in last.items() if k.startswith("val_")},
                      "seconds": round(trained.history.seconds, 1)}))


def _read_images(path: Path) -> torch.Tensor:
    try:
        with open(path, "rb") as file:  # the header's size, checked before anything is read
            if file.read(2) == b"PK":
                raise ValueError("it is an .npz archive")
            file.seek(0)
            fmt = np.lib.format
            header = fmt.read_array_header_1_0 if fmt.read_magic(file) == (1, 0) \
                else fmt.read_array_header_2_0
            shape, _, dtype = header(file)
            claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
            held = path.stat().st_size - file.tell()
            file.seek(0)
            array = np.load(file, allow_pickle=False) if claimed == held else None
    except (OSError, ValueError, EOFError) as err:
        raise UsageError(f"cannot read {path} as a .npy array ({str(err).splitlines()[0]}); "
                         f"give a float32 array [N, 28, 28] saved with numpy.save") from None
    if array is None:
        raise UsageError(f"{path} is damaged: its header says {shape} {dtype} ({claimed:,} "
                         f"bytes) but it holds {held:,} bytes")
    if array.ndim != 3 or array.shape[1:] != (28, 28) or len(array) == 0:
        raise UsageError(f"{path} must hold images [N, 28, 28], got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise UsageError(f"{path} must hold floats in [0, 1], got {array.dtype}")
    if np.isnan(array).any() or array.min() < 0 or array.max() > 1:
        raise UsageError(f"{path} must hold values in [0, 1]")
    return torch.from_numpy(array.astype(np.float32)).unsqueeze(1)


def _check_output(path: Path) -> None:
    """Refuse, before any work, an output path that cannot be written as a file: a folder, or
    an existing node that is not a regular file (a device such as /dev/null, a FIFO, a socket,
    a link), which writing would replace."""
    if path.is_dir():
        raise UsageError(f"--out {path} is a folder; give a file name such as {path}/out.npy")
    kind = node_kind(path)
    if kind is not None:
        raise UsageError(f"--out {path} is {kind}, not a regular file; give the name of a file "
                         "to write (it would be replaced)")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"--out {path}: its folder {parent} does not exist or is a file")
    if any((parent / own).exists() for own in (SETTINGS, CHECKPOINT)):
        raise UsageError(f"--out {path} is inside the run folder {parent}; write it elsewhere")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"--out {path}: no permission to write there")


def _save_images(path: Path, images: torch.Tensor) -> None:
    """Write exactly ``path`` (numpy would add ``.npy`` to a name without it), all at once or
    not at all: a full disk or a kill leaves the file that was there as it was."""
    out = images[:, 0].cpu().numpy().astype(np.float32)
    atomic_write(path, lambda file: np.save(file, out))
    print(f"wrote {path}: {out.shape[0]} images")


def _reconstruct(args: argparse.Namespace, device: torch.device) -> None:
    images = _read_images(args.input)
    _check_output(args.out)
    model = registry.get(args.model).load(_run_dir(args.run), device=device).model
    _save_images(args.out, apply_in_batches(model.reconstruct, images.to(device)))


def _sample(args: argparse.Namespace, device: torch.device) -> None:
    if not 1 <= args.n <= MAX_SAMPLES:
        raise UsageError(f"--n must be between 1 and {MAX_SAMPLES:,}, got {args.n}")
    _check_seed(args.seed)
    _check_output(args.out)
    model = registry.get(args.model).load(_run_dir(args.run), device=device).model
    generator = torch.Generator().manual_seed(args.seed)  # on the CPU: the same noise anywhere
    _save_images(args.out, sample_in_batches(model, args.n, generator,
                                             progress=args.n > 10_000))


def _run_dir(path: Path) -> Path:
    if not path.is_dir():
        raise UsageError(f"run folder {path} does not exist")
    return path


def _evaluate(args: argparse.Namespace, device: torch.device) -> None:
    if args.images is not None and args.images < 1:
        raise UsageError(f"--images must be positive, got {args.images}")
    classifier = (REFERENCE.load(_run_dir(args.classifier), device=device)
                  if args.classifier is not None else None)
    trained = load_run(_run_dir(args.run), device=device)
    splits = load_splits(trained.settings.dataset, device=device)
    if classifier is None:  # evaluate may train the dataset's evaluation classifier first
        reference = REFERENCE.folder(REFERENCE.settings("default", dataset=splits.name))
        args.training = None if finished(reference) else reference
    print(json.dumps(evaluate(trained, splits, split=args.split, size=args.images,
                              classifier=classifier), indent=2))


def _kept(folder: Path | None) -> str:
    """What an interrupted command leaves: the epochs of the run it was training, if any."""
    if folder is None or not folder.exists():
        return "nothing was written"
    try:
        epochs = len(json.loads((folder / HISTORY).read_text())["epochs"])
    except (OSError, ValueError, KeyError, TypeError):
        epochs = 0
    if epochs and (folder / CHECKPOINT).exists():
        return (f"{folder} keeps its last complete epoch ({epochs}); run the same command to "
                "resume")
    return (f"no epoch was complete, so {folder} holds no checkpoint; run the same command to "
            "start again")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        device = pick_device(args.device)  # the one place the command meets the machine
        {"train": _train, "sample": _sample, "reconstruct": _reconstruct,
         "evaluate": _evaluate}[args.verb](args, device)
    except (UsageError, ValueError, FileNotFoundError, DataNotFoundError, DataCorruptError,
            CheckpointError, NonFiniteLossError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a full disk, a permission, …: one line that names the file
        where = f" ({err.filename})" if err.filename else ""
        print(f"error: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"interrupted: {_kept(getattr(args, 'training', None))}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
