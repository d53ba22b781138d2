"""Test-set metrics of a finished run, the same for the notebooks and the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import recipes
from .data import load_splits
from .metrics import TEST_NOISE_SEED, accuracy, noise_sweep, psnr
from .training import SETTINGS

DAE_TEST_NOISES = {"gaussian": 0.5, "salt-and-pepper": 0.5, "masking": 0.5}
"""Noises a DAE is evaluated on (besides the one it was trained with)."""


def evaluate_dae(trained: recipes.Trained) -> dict[str, Any]:
    """Test MSE and PSNR of noisy input and of the DAE, per noise type, on all 10k test images."""
    settings = json.loads((trained.folder / SETTINGS).read_text())
    splits = load_splits(settings["dataset"])
    model = trained.model.to(splits.test.images.device).eval()
    noises = {**DAE_TEST_NOISES, settings["noise"]: settings["level"]}
    results: dict[str, Any] = {"model": "dae", "run": str(trained.folder),
                               "test_images": len(splits.test), "noise_seed": TEST_NOISE_SEED}
    for kind, level in noises.items():
        sweep = noise_sweep({"dae": model}, splits.test.images, kind, [level])
        results[f"{kind}@{level}"] = {
            "noisy_mse": sweep["noisy input"][0], "noisy_psnr_db": psnr(sweep["noisy input"][0]),
            "dae_mse": sweep["dae"][0], "dae_psnr_db": psnr(sweep["dae"][0]),
        }
    return results


def evaluate_classifier(trained: recipes.Trained) -> dict[str, Any]:
    """The evaluation classifier's accuracy on all 10k test images."""
    settings = json.loads((trained.folder / SETTINGS).read_text())
    splits = load_splits(settings["dataset"])
    model = trained.model.to(splits.test.images.device).eval()
    return {"model": "classifier", "run": str(trained.folder), "dataset": settings["dataset"],
            "test_images": len(splits.test),
            "test_accuracy": accuracy(model, splits.test.images, splits.test.labels)}


def evaluate_run(folder: Path) -> dict[str, Any]:
    """Metrics of the finished run in ``folder``, whatever its model."""
    settings_file = folder / SETTINGS
    if not settings_file.exists():
        raise FileNotFoundError(f"{folder} is not a run folder (no {SETTINGS})")
    name = json.loads(settings_file.read_text()).get("name")
    if name == "dae":
        return evaluate_dae(recipes.load_dae(folder))
    if name == "classifier":
        return evaluate_classifier(recipes.load_classifier(folder))
    raise ValueError(f"{folder} holds a {name!r} run, which cannot be evaluated yet")
