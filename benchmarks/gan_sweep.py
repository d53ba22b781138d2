"""Chapter 3 and 4's search for sample quality per CPU-second: GAN and VAE-GAN settings, each
trained for about the same wall-clock time on this machine, scored on one table.

The candidates are data: ``benchmarks/results/gan-sweep-candidates.json`` gives each model's
candidates, in the order of benchmarks/README.md's tables, each as the complete changes to the
recipe's default settings it trains with (``OWN_STEPS`` gives one a step of its own). Most name
the epochs that fit into about five minutes on the 2-core machine the book is built on; one
without ``epochs`` gets as many as fit into ``--minutes`` here. ``defaults`` changes only the
epochs, to the recipe's own, so it reloads the book's run. Runs are cached in the run store.

Each candidate's samples (5k, as many for every candidate: the distance is biased by the
sample count) are scored against the 5k **validation** images in the evaluation classifier's
features (``evaluation.evaluate_generator``; ``--split test`` is for a final check of a choice
already made, never for choosing): Fréchet distance (lower is better), coverage, precision,
recall and the share *recognised* (top class at least 90 % likely); a VAE-GAN's reconstructions
too (``evaluation.reconstruction_quality``), and how often its players were paused.
``--time`` instead times the candidates' steps against the defaults' in turns, in one process
(``Recipe.seconds_per_step``); ``--against REVISION`` times the default recipe's step here
against its default at a git revision, in fresh processes.

    GENADV_DATA=../shared/data python benchmarks/gan_sweep.py gan
    GENADV_DATA=../shared/data python benchmarks/gan_sweep.py vaegan --only defaults
    GENADV_DATA=../shared/data python benchmarks/gan_sweep.py gan --time --only today
    GENADV_DATA=../shared/data python benchmarks/gan_sweep.py vaegan --against 729c575
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import torch

from genadv_utils import book, data, evaluation, registry

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES: dict[str, dict[str, dict[str, Any]]] = json.loads(
    (ROOT / "benchmarks" / "results" / "gan-sweep-candidates.json").read_text())
"""Each model's candidates: name → changes to the default settings."""


def _recipe_of(settings: Any) -> Any:
    """The recipe whose settings these are."""
    return next(r for r in registry.RECIPES.values() if isinstance(settings, r.settings_type))


def annealed_step(state: Any, batch: Any, *, decay: float, settings: Any) -> dict[str, Any]:
    """The recipe's step for ``settings``, every network's learning rate times ``decay`` after
    every epoch (the training loop steps the run's schedulers; the first step adds them)."""
    for name, optimizer in state.optimizers.items():
        if name not in state.schedulers:
            state.schedulers[name] = torch.optim.lr_scheduler.ExponentialLR(optimizer, decay)
    return _recipe_of(settings).step(settings)(state, batch)


def _own(step: Any, **bound: Any) -> Any:
    """A candidate's own step: ``step`` with ``bound``, for the settings it is given."""
    return lambda settings: partial(step, **bound, settings=settings)


OWN_STEPS: dict[str, Any] = {"both rates x0.7 an epoch; 5 epochs": _own(annealed_step, decay=0.7)}
"""Candidates that train with a step of their own: name → settings → step."""

RECONSTRUCTION_COLUMNS = [
    ("reconstruction_class_kept", "class kept", ".4f"),
    ("reconstruction_sharpness", "sharpness", ".3f"), ("reconstruction_mse", "rec. MSE", ".4f"),
    ("skip_g", "GAN term paused", ".0%"), ("skip_d", "D paused", ".0%"),
    ("in_band", "costs in band", ".0%")]
"""The VAE-GAN's extra columns: key in a candidate's scores, heading, format."""


def balance(history: Any) -> dict[str, float]:
    """A VAE-GAN run's balance over all its steps: the share in which the decoder's GAN term
    and the discriminator were paused, and the share with both of D's costs inside the band."""
    steps = [s for s in history.steps if "skip_g" in s]
    if not steps:
        return {}
    return {k: sum(s[k] for s in steps) / len(steps) for k in ("skip_g", "skip_d", "in_band")}


TIMED_STEPS = 32
"""Steps per timing: a whole number of lazy R1 cycles (every 4 or 16 steps), so that each timing
holds its recipe's share of R1 steps (the two warm-up steps before it are steps 1 and 2)."""


def time_candidates(recipe: Any, splits: data.Splits, names: list[str], rounds: int = 3) -> None:
    """The named candidates (each with its own step, if it has one) and the defaults timed in
    turns, in this one process: the fastest of ``rounds`` measurements of a step of each, and
    each candidate's whole training (its epochs of its batches) as a multiple of the defaults'."""
    runs = {"defaults": (recipe, recipe.settings("default"))}
    for name in names:
        own = OWN_STEPS.get(name)
        runs[name] = (replace(recipe, step=own) if own else recipe,
                      recipe.settings("default", **CANDIDATES[recipe.name][name]))
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (timed, settings) in runs.items():
            times[name].append(timed.seconds_per_step(settings, splits, steps=TIMED_STEPS))
    training = {name: min(times[name]) * settings.epochs * len(data.Batches(
        splits.train.subset(settings.train_size), settings.batch_size))
        for name, (_, settings) in runs.items()}  # seconds of steps in the whole run
    print(f"\n{recipe.name}, timed side by side ({book.machine()}):")
    for name, (_, settings) in runs.items():
        print(f"  {name}: {1000 * min(times[name]):.1f} ms a step of {settings.batch_size} "
              f"images; {settings.epochs} epochs take {training[name] / training['defaults']:.2f}x"
              f" the defaults' time")


PER_STEP = ("import sys; from genadv_utils import data, registry; r = registry.get(sys.argv[1]); "
            "print(r.seconds_per_step(r.settings('default'), data.load_splits('mnist', "
            f"device='cpu'), steps={TIMED_STEPS}), r.settings('default').epochs)")


def time_against(name: str, revision: str, rounds: int = 3) -> None:
    """The default recipe's step here against the same recipe's default at git ``revision``,
    each in a fresh process (the other checkout in a temporary git worktree), in turns: the
    fastest of ``rounds`` measurements of each, and their whole training's ratio."""
    times: dict[str, list[float]] = {"here": [], revision: []}
    epochs: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["git", "worktree", "add", "--detach", tmp, revision], cwd=ROOT,
                       check=True, capture_output=True)
        try:
            for _ in range(rounds):
                for label, where in (("here", ROOT), (revision, Path(tmp))):
                    out = subprocess.run(
                        [sys.executable, "-c", PER_STEP, name], cwd=where, check=True,
                        capture_output=True, text=True,
                        env={**os.environ, "PYTHONPATH": str(where)}).stdout.split()
                    times[label].append(float(out[-2]))
                    epochs[label] = int(out[-1])
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", tmp], cwd=ROOT, check=True)
    step = {label: min(t) for label, t in times.items()}
    ratio = step["here"] * epochs["here"] / (step[revision] * epochs[revision])
    print(f"{name}, timed side by side ({book.machine()}): a step takes "
          f"{1000 * step[revision]:.1f} ms at {revision} and {1000 * step['here']:.1f} ms here; "
          f"training ({epochs[revision]} against {epochs['here']} epochs) takes {ratio:.2f}x "
          f"the time at {revision}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=sorted(CANDIDATES))
    parser.add_argument("--minutes", type=float, default=5.0,
                        help="training budget of a candidate without its own epochs")
    parser.add_argument("--only", default="", help="comma-separated candidate names")
    parser.add_argument("--samples", type=int, default=5_000,
                        help="samples per candidate, the same for all (default: 5000)")
    parser.add_argument("--split", choices=evaluation.SPLITS, default="val",
                        help="the images scored: val (default) to choose, test only to report")
    parser.add_argument("--time", action="store_true",
                        help="only time the candidates' steps against the defaults', in turns")
    parser.add_argument("--against", metavar="REVISION", help="only time the default recipe "
                        "here against its default at this git revision, in fresh processes")
    args = parser.parse_args()
    if args.against:
        return time_against(args.model, args.against)
    recipe, candidates = registry.get(args.model), CANDIDATES[args.model]
    chosen = [c for c in args.only.split(",") if c] or list(candidates)
    if unknown := set(chosen) - set(candidates):
        parser.error(f"unknown candidate(s): {', '.join(sorted(unknown))}")
    splits = data.load_splits("mnist")
    if args.time:
        return time_candidates(recipe, splits, chosen)
    classifier = evaluation.reference_classifier(splits, progress=False)
    rows = []
    for name in chosen:
        settings = recipe.settings("default", **candidates[name])
        if "epochs" not in candidates[name]:
            epochs = recipe.epochs_for_minutes(settings, splits, args.minutes)
            settings = replace(settings, epochs=epochs)
        own = OWN_STEPS.get(name)
        start = time.perf_counter()
        trained = recipe.train(settings, splits, step=own and own(settings), progress="epochs")
        print(f"{name}: {trained.folder.name} ({time.perf_counter() - start:.0f} s here)")
        r = evaluation.evaluate_generator(trained, splits, split=args.split,
                                          classifier=classifier, samples=args.samples)
        if hasattr(trained.model, "reconstruct"):
            r.update(evaluation.reconstruction_quality(trained, splits, split=args.split,
                                                       classifier=classifier))
            r.update(balance(trained.history))
        rows.append((name, settings.epochs, trained.history.seconds, r))
        print(f"  FD {r['frechet_distance']:.1f} | coverage {r['coverage']:.3f} | recognised "
              f"{r['recognised']:.3f}", flush=True)

    scored = evaluation.scored_images(splits, args.split)
    print(f"\n{args.model}: {args.samples} samples against the {len(scored)} "
          f"{'validation' if args.split == 'val' else 'test'} images, seed 0 unless a row names "
          f"another ({book.machine()})")
    extra = RECONSTRUCTION_COLUMNS if args.model == "vaegan" else []
    print(f"| setting | epochs | seconds | Fréchet distance | coverage | precision | recall | "
          f"recognised |{''.join(f' {label} |' for _, label, _ in extra)}")
    print("|---|---|---|---|---|---|---|---|" + "---|" * len(extra))
    for name, epochs, seconds, r in rows:
        more = "".join(f" {format(r[key], spec) if key in r else '–'} |"
                       for key, _, spec in extra)  # the pixel baseline has no balance
        print(f"| {name} | {epochs} | {seconds:.0f} | {r['frechet_distance']:.1f} | "
              f"{r['coverage']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} | "
              f"{r['recognised']:.3f} |{more}")


if __name__ == "__main__":
    main()
