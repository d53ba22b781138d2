"""Chapter 3 and 4's search for sample quality per CPU-second: GAN and VAE-GAN settings, each
trained for the same wall-clock budget on this machine, scored on one table.

Each candidate is a set of changes to the recipe's settings, with the epochs that fit into
about five minutes on the 2-core machine the book is built on (a candidate without its own
``epochs`` gets as many as fit into ``--minutes`` here, timed by the recipe's
``epochs_for_minutes``), so the rows compare quality at about equal training time; the seconds
column says how equal. Runs are cached in the run store like every other run, so re-running the
script reloads them, and the default's run is the one the book reloads. A candidate may train
with a step of its own (``OWN_STEPS``: a schedule of every learning rate), which leaves the
chapters' recipes as they are until it pays; the lazy R1 penalty, tried that way first, paid
and is now the recipes' own (``r1_gamma``).
``--time`` instead times today's recipe and the default side by side, in turns, in one process
(with ``--only``, those candidates against the defaults, each with its own step). Every
candidate draws 10k samples, scored against the 10k test images in the evaluation classifier's
features: Fréchet distance (lower is better), coverage, precision and recall, and the share
*recognised* (top class at least 90 % likely); a VAE-GAN's reconstructions of the test images
too, and how often its players were paused.

    GENADV_DATA=../shared/data python benchmarks/gan_sweep.py gan
    GENADV_DATA=../shared/data python benchmarks/gan_sweep.py vaegan --only today,defaults
    GENADV_DATA=../shared/data python benchmarks/gan_sweep.py gan --time
    GENADV_DATA=../shared/data python benchmarks/gan_sweep.py gan --time \\
        --only "batch 128; 6 epochs,R1 gamma 1; 4 epochs"
    GENADV_DATA=../shared/data python benchmarks/gan_sweep.py vaegan --against 729c575
"""

from __future__ import annotations

import argparse
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

from genadv_utils import data, display, evaluation, gan, metrics, registry, vaegan
from genadv_utils.blocks import in_batches

TODAY = {
    "gan": {**gan.FIRST_RECIPE, "epochs": 8},
    "vaegan": {**vaegan.FIRST_RECIPE, "epochs": 5, "kl_weight": 1.0},
}
"""The recipes as they were before this search, for the side-by-side rows."""


def _gan(refine: bool = True, average_decay: float = 0.999, lr_generator: float = 1e-3,
         lr_discriminator: float = 2e-3, epochs: int = 6, dense: int = 0) -> dict[str, Any]:
    return {"refine": refine, "average_decay": average_decay, "lr_generator": lr_generator,
            "lr_discriminator": lr_discriminator, "epochs": epochs, "dense": dense}


THREE_SEEDS = (("", {}), ("; seed 1", {"seed": 1}), ("; seed 2", {"seed": 2}))
"""A candidate run in three seeds: the suffix of each one's name, and its change of seed."""
_SLOW_D = {"lr_discriminator": vaegan.FIRST_RECIPE["lr_discriminator"]}  # before the GAN's
_BOTH = {"judge_reconstructions": True}  # D judged reconstructions too, before the authors' way


BEFORE_R1 = {"r1_gamma": 0.0}
"""What every candidate searched before R1 joined the defaults leaves out."""

BEFORE_KL = {"kl_weight": 1.0}
"""The VAE-GAN's KL weight before its search: every VAE-GAN candidate that ran with it."""

_GAN_BEFORE_R1: dict[str, dict[str, Any]] = {
    "refine + average; D lr 2e-4": _gan(lr_discriminator=2e-4, epochs=8),
    "refine + average; both lr 2e-4": _gan(lr_generator=2e-4, lr_discriminator=2e-4),
    "refine + average; D lr 1e-3": _gan(lr_discriminator=1e-3, epochs=7),
    "refine + average; D lr 2e-3 (chosen before the hidden layer)": _gan(),
    "refine + average 0.9995; D lr 2e-3": _gan(average_decay=0.9995),
    "D without a hidden layer (the earlier default), 5 minutes": {"dense": 0},
    "D hidden: a dense layer of 512 before its logit, 6 epochs": {"dense": 512, "epochs": 6},
    "D hidden, 5 epochs (chosen)": {"dense": 512, "epochs": 5},
    "batch 128; 6 epochs": {"batch_size": 128, "epochs": 6},
    "D hidden 1024 wide; 4 epochs": {"dense": 1024, "epochs": 4},
    "both rates x0.7 an epoch; 5 epochs": {"epochs": 5},
}
_VAEGAN_BEFORE_R1: dict[str, dict[str, Any]] = {  # 4 epochs each unless named
    "Dis_l the last convolution (no hidden layer)": {**_BOTH, "epochs": 4, "dense": 0,
                                                     **_SLOW_D},
    "no hidden layer; D lr 1e-3": {**_BOTH, "epochs": 4, "dense": 0,
                                   "lr_discriminator": 1e-3},
    "no hidden layer; KL weight 4": {**_BOTH, "epochs": 4, "dense": 0, "kl_weight": 4.0,
                                     **_SLOW_D},
    "no hidden layer; D lr 1e-3; KL weight 4": {**_BOTH, "epochs": 4, "dense": 0,
                                                "lr_discriminator": 1e-3, "kl_weight": 4.0},
    "Dis_l hidden: a dense layer of 512 after it": {**_BOTH, "epochs": 4, "dense": 512,
                                                    **_SLOW_D},
    "Dis_l hidden; KL weight 4": {**_BOTH, "epochs": 4, "dense": 512, "kl_weight": 4.0,
                                  **_SLOW_D},
    "pixels: the same networks as a VAE": {"epochs": 4, "dense": 0, "similarity": "pixels"},
    "Dis_l hidden; D lr 1e-3": {**_BOTH, "epochs": 4, "dense": 512, "lr_discriminator": 1e-3},
    "Dis_l hidden; D lr 2e-3, the GAN's": {**_BOTH, "epochs": 4, "dense": 512,
                                           "lr_discriminator": 2e-3},
    "D judges samples only (the authors' runs)": {"epochs": 4,
                                                  "judge_reconstructions": False},
    "D judges samples only; 5 epochs (chosen)": {"epochs": 5,
                                                 "judge_reconstructions": False},
    "D judges samples only; 5 epochs; gamma 0.03": {"epochs": 5, "gamma": 0.03,
                                                    "judge_reconstructions": False},
    "samples only; 5 epochs; every rate x0.7 an epoch": {"epochs": 5, "lr_decay": 0.7,
                                                         "judge_reconstructions": False},
    "samples only; 5 epochs; every rate x0.5 an epoch": {"epochs": 5, "lr_decay": 0.5,
                                                         "judge_reconstructions": False},
    "samples only; 5 epochs; D's rate x0.7 an epoch": {
        "epochs": 5, "lr_decay": 0.7, "decayed": "discriminator",
        "judge_reconstructions": False},
    **{f"samples only; 5 epochs; the encoder's rate x0.7 an epoch{name}": {
        "epochs": 5, "lr_decay": 0.7, "decayed": "encoder", "judge_reconstructions": False,
        **seed} for name, seed in THREE_SEEDS},
    "samples only; 5 epochs; encoder's and D's rates x0.7 an epoch": {
        "epochs": 5, "lr_decay": 0.7, "decayed": "encoder discriminator",
        "judge_reconstructions": False},
}

BEFORE_SCHEDULE = {"gamma": 0.01, "lr_decay": 1.0, "decayed": "encoder decoder discriminator"}
"""The VAE-GAN's reconstruction weight and schedule before the search at the KL weight of 0.03
adopted one: every VAE-GAN candidate searched before it ran with them, unless it names its own."""

_VAEGAN_SEARCHED: dict[str, dict[str, Any]] = {
    **{name: {**BEFORE_KL, **BEFORE_R1, **changes} for name, changes in _VAEGAN_BEFORE_R1.items()},
    **{f"KL weight 1{name}": {"epochs": 5, **BEFORE_KL, **seed} for name, seed in THREE_SEEDS},
    "KL weight 0.5": {"epochs": 5, "kl_weight": 0.5},
    "KL weight 0.25": {"epochs": 5, "kl_weight": 0.25},
    "KL weight 0.1": {"epochs": 5, "kl_weight": 0.1},
    "KL weight 0.1; gamma 0.03": {"epochs": 5, "kl_weight": 0.1, "gamma": 0.03},
    "KL weight 0.1; R1 gamma 0.03": {"epochs": 5, "kl_weight": 0.1, "r1_gamma": 0.03},
    **{f"KL weight 0.1; seed {seed}": {"epochs": 5, "kl_weight": 0.1, "seed": seed}
       for seed in (1, 2)},
    **{f"KL weight 0.03{name}": {"epochs": 5, "kl_weight": 0.03, **seed}
       for name, seed in THREE_SEEDS},
    "KL weight 0.01": {"epochs": 5, "kl_weight": 0.01},
    "KL weight 0.1; gamma 0.02": {"epochs": 5, "kl_weight": 0.1, "gamma": 0.02},
    **{f"KL weight 0.03; gamma 0.015{name}": {"epochs": 5, "kl_weight": 0.03, "gamma": 0.015,
                                              **seed}
       for name, seed in THREE_SEEDS},
    "KL weight 0.03; 6 epochs": {"epochs": 6, "kl_weight": 0.03},
    "KL weight 0.03; encoder's and D's rates x0.7 an epoch": {
        "epochs": 5, "kl_weight": 0.03, "lr_decay": 0.7, "decayed": "encoder discriminator"},
    "KL weight 0.03; every rate x0.7 an epoch": {
        "epochs": 5, "kl_weight": 0.03, "lr_decay": 0.7},
    **{f"KL weight 0.03; encoder's and D's rates x0.7 an epoch; gamma 0.015{name}": {
        "epochs": 5, "kl_weight": 0.03, "lr_decay": 0.7, "decayed": "encoder discriminator",
        "gamma": 0.015, **seed} for name, seed in THREE_SEEDS},
}
"""The VAE-GAN's candidates searched since R1, each as it ran."""

CANDIDATES: dict[str, dict[str, dict[str, Any]]] = {
    "gan": {
        "today": TODAY["gan"],
        "defaults": {"epochs": gan.GANSettings.epochs},
        **{name: {**BEFORE_R1, **changes} for name, changes in _GAN_BEFORE_R1.items()},
        "R1 gamma 1; 4 epochs": {"r1_gamma": 1.0, "epochs": 4},
        "R1 gamma 10; 4 epochs": {"r1_gamma": 10.0, "epochs": 4},
        **{f"the default; seed {seed}": {"epochs": 4, "seed": seed} for seed in (1, 2)},
    },
    "vaegan": {
        "defaults": {"epochs": vaegan.VAEGANSettings.epochs},
        **{f"the default; seed {seed}": {"epochs": 5, "seed": seed} for seed in (1, 2)},
        **{name: {**BEFORE_SCHEDULE, **changes} for name, changes in _VAEGAN_SEARCHED.items()},
    },
}
"""Each model's candidates: name → changes to the default settings, as this search ran them
(benchmarks/README.md has their table). ``defaults`` changes nothing but names the recipe's own
epochs, so that it reloads the book's run."""


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


OWN_STEPS: dict[str, Any] = {
    "both rates x0.7 an epoch; 5 epochs": _own(annealed_step, decay=0.7),
}
"""Candidates of either model that train with their own step (name → settings → step); each
names its epochs."""


def score(model: torch.nn.Module, classifier: torch.nn.Module, test: torch.Tensor,
          samples: int) -> dict[str, Any]:
    """The sample metrics of ``samples`` draws (the evaluation's seed)."""
    generator = torch.Generator().manual_seed(evaluation.EVALUATION_SEED)
    images = metrics.sample_in_batches(model.eval(), samples, generator)
    return metrics.sample_quality(classifier, images, test)


RECONSTRUCTION_COLUMNS = [
    ("class_kept", "class kept", ".4f"), ("sharpness", "sharpness", ".3f"),
    ("mse", "rec. MSE", ".4f"), ("skip_g", "GAN term paused", ".0%"),
    ("skip_d", "D paused", ".0%"), ("in_band", "costs in band", ".0%")]
"""The VAE-GAN's extra columns: key in a candidate's scores, heading, format."""


def balance(history: Any) -> dict[str, float]:
    """A VAE-GAN run's balance over all its steps: the share in which the decoder's GAN term
    and the discriminator were paused, and the share with both of D's costs inside the band."""
    steps = [s for s in history.steps if "skip_g" in s]
    if not steps:
        return {}
    return {key: sum(s[key] for s in steps) / len(steps) for key in ("skip_g", "skip_d", "in_band")}


def _seconds_per_step(runs: dict[str, tuple[Any, Any]], splits: data.Splits,
                      rounds: int = 3) -> dict[str, float]:
    """``runs`` (name → recipe, settings) timed in turns, in this one process: the minimum
    seconds per step of each over ``rounds``."""
    per_step: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (recipe, settings) in runs.items():
            per_step[name].append(recipe.seconds_per_step(settings, splits, steps=20))
    return {name: min(times) for name, times in per_step.items()}


def time_side_by_side(recipe: Any, splits: data.Splits) -> None:
    """Today's recipe and the current defaults timed in turns, in this one process: the minimum
    seconds per step of each, and their whole training's ratio."""
    today = recipe.settings("default", **TODAY[recipe.name])
    chosen = recipe.settings("default")
    step = _seconds_per_step({"today": (recipe, today), "chosen": (recipe, chosen)}, splits)
    ratio = (step["chosen"] * chosen.epochs) / (step["today"] * today.epochs)
    print(f"\n{recipe.name}, timed side by side ({display.machine()}): a step takes "
          f"{1000 * step['today']:.1f} ms today and {1000 * step['chosen']:.1f} ms chosen; "
          f"training ({today.epochs} against {chosen.epochs} epochs of the same batches) "
          f"takes {ratio:.2f}x today's time (target: at most 1.5x)")


def time_candidates(recipe: Any, splits: data.Splits, names: list[str]) -> None:
    """The named candidates (each with its own step, if it has one) and the defaults timed in
    turns, in this one process: a step of each, and each candidate's whole training (its epochs
    of its batches) as a multiple of the default's."""
    runs = {"defaults": (recipe, recipe.settings("default"))}
    for name in names:
        own = OWN_STEPS.get(name)
        runs[name] = (replace(recipe, step=own) if own else recipe,
                      recipe.settings("default", **CANDIDATES[recipe.name][name]))
    step = _seconds_per_step(runs, splits)

    def training(name: str) -> float:  # seconds of steps in the whole run
        settings = runs[name][1]
        batches = len(data.Batches(splits.train.subset(settings.train_size), settings.batch_size))
        return step[name] * batches * settings.epochs

    print(f"\n{recipe.name}, timed side by side ({display.machine()}):")
    for name, (_, settings) in runs.items():
        print(f"  {name}: {1000 * step[name]:.1f} ms a step of {settings.batch_size} images; "
              f"{settings.epochs} epochs take {training(name) / training('defaults'):.2f}x the "
              f"defaults' time")


ROOT = Path(__file__).resolve().parents[1]
PER_STEP = ("import sys; from genadv_utils import data, registry; r = registry.get(sys.argv[1]); "
            "print(r.seconds_per_step(r.settings('default'), data.load_splits('mnist', "
            "device='cpu'), steps=20), r.settings('default').epochs)")


def time_against(name: str, revision: str, rounds: int = 3) -> None:
    """The default recipe's step here against the same recipe's default at git ``revision``,
    each in a fresh process (the other checkout in a temporary git worktree), in turns: the
    minimum seconds per step of each over ``rounds``, and their whole training's ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["git", "worktree", "add", "--detach", tmp, revision], cwd=ROOT,
                       check=True, capture_output=True)
        try:
            runs: dict[str, list[tuple[float, int]]] = {"here": [], revision: []}
            for _ in range(rounds):
                for label, where in (("here", ROOT), (revision, Path(tmp))):
                    out = subprocess.run(
                        [sys.executable, "-c", PER_STEP, name], cwd=where, check=True,
                        capture_output=True, text=True,
                        env={**os.environ, "PYTHONPATH": str(where)}).stdout.split()
                    runs[label].append((float(out[-2]), int(out[-1])))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", tmp], cwd=ROOT, check=True)
    step = {label: min(t for t, _ in r) for label, r in runs.items()}
    epochs = {label: r[0][1] for label, r in runs.items()}
    ratio = step["here"] * epochs["here"] / (step[revision] * epochs[revision])
    print(f"{name}, timed side by side ({display.machine()}): a step takes "
          f"{1000 * step[revision]:.1f} ms at {revision} and {1000 * step['here']:.1f} ms here; "
          f"training ({epochs[revision]} against {epochs['here']} epochs) takes {ratio:.2f}x "
          f"the time at {revision}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(CANDIDATES))
    parser.add_argument("--minutes", type=float, default=5.0,
                        help="training budget of a candidate without its own epochs")
    parser.add_argument("--only", default="", help="comma-separated candidate names")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--time", action="store_true",
                        help="only time today's recipe against the chosen one, side by side "
                             "(with --only: those candidates against the defaults)")
    parser.add_argument("--against", metavar="REVISION",
                        help="only time the default recipe here against its default at this "
                             "git revision, side by side in fresh processes")
    args = parser.parse_args()
    if args.against:
        time_against(args.model, args.against)
        return

    recipe = registry.get(args.model)
    chosen = [c for c in args.only.split(",") if c] or list(CANDIDATES[args.model])
    unknown = set(chosen) - set(CANDIDATES[args.model])
    if unknown:
        parser.error(f"unknown candidate(s): {', '.join(sorted(unknown))}")
    splits = data.load_splits("mnist", device="cpu")
    if args.time:
        if args.only:
            time_candidates(recipe, splits, chosen)
        else:
            time_side_by_side(recipe, splits)
        return
    classifier = evaluation.reference_classifier("mnist", progress=False).model
    test = splits.test.images
    rows = []
    for name in chosen:
        changes = CANDIDATES[args.model][name]
        settings = recipe.settings("default", **changes)
        if "epochs" not in changes:
            epochs = recipe.epochs_for_minutes(settings, splits, args.minutes)
            settings = recipe.settings("default", **{**changes, "epochs": epochs})
        own = OWN_STEPS.get(name)
        start = time.perf_counter()
        trained = recipe.train(settings, splits, step=own and own(settings), progress="epochs")
        print(f"{name}: {trained.folder.name} ({time.perf_counter() - start:.0f} s here)",
              flush=True)
        r = score(trained.model, classifier, test, args.samples)
        if hasattr(trained.model, "reconstruct"):
            rec = in_batches(trained.model.reconstruct, test)
            r["class_kept"] = metrics.class_kept(classifier, test, rec)
            r["sharpness"] = metrics.sharpness(rec)
            r["mse"] = torch.nn.functional.mse_loss(rec, test).item()
            r.update(balance(trained.history))
        rows.append((name, settings.epochs, trained.history.seconds, r))
        print(f"  FD {r['frechet_distance']:.1f} | coverage {r['coverage']:.3f} | recognised "
              f"{r['recognised']:.3f}", flush=True)

    machine = display.machine()
    print(f"\n{args.model}: {args.samples} samples against the {len(test)} test images "
          f"({machine})")
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
