"""Test-set metrics of a finished run, the same for the notebooks and the command line."""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from . import metrics, recipes
from .data import ImageSet, Splits, load_splits
from .metrics import TEST_NOISE_SEED, accuracy, noise_sweep, psnr
from .runtime import seed_everything
from .training import SETTINGS

CACHE = "evaluation.json"
"""File in a run folder that keeps the results of slow evaluations (e.g. importance sampling)."""

EVALUATION_SEED = 0
"""Seed of the sampling inside the metrics (importance samples, generated images)."""

DAE_TEST_NOISES = {"gaussian": 0.5, "salt-and-pepper": 0.5, "masking": 0.5}
"""Noises a DAE is evaluated on (besides the one it was trained with)."""


def _saved_settings(folder: Path) -> dict[str, Any]:
    """The settings a run folder was trained with (its ``name`` says which model)."""
    path = folder / SETTINGS
    if not path.exists():
        raise FileNotFoundError(f"{folder} is not a run folder (no {SETTINGS})")
    return json.loads(path.read_text())


def _test_set(trained: recipes.Trained, test_size: int | None
              ) -> tuple[dict[str, Any], ImageSet, torch.nn.Module]:
    """The run's saved settings, the first ``test_size`` test images of its dataset (all when
    ``None``), and its model on their device in evaluation mode."""
    settings = _saved_settings(trained.folder)
    test = load_splits(settings["dataset"]).test.subset(test_size)
    return settings, test, trained.model.to(test.images.device).eval()


def evaluate_dae(trained: recipes.Trained, *, test_size: int | None = None) -> dict[str, Any]:
    """Test MSE and PSNR of noisy input and of the DAE, per noise type, on the first
    ``test_size`` test images (default: all 10k)."""
    settings, test, model = _test_set(trained, test_size)
    noises = {**DAE_TEST_NOISES, settings["noise"]: settings["level"]}
    results: dict[str, Any] = {"model": "dae", "run": str(trained.folder),
                               "test_images": len(test), "noise_seed": TEST_NOISE_SEED}
    for kind, level in noises.items():
        sweep = noise_sweep({"dae": model}, test.images, kind, [level])
        results[f"{kind}@{level}"] = {
            "noisy_mse": sweep["noisy input"][0], "noisy_psnr_db": psnr(sweep["noisy input"][0]),
            "dae_mse": sweep["dae"][0], "dae_psnr_db": psnr(sweep["dae"][0]),
        }
    return results


def cached(folder: Path, key: dict[str, Any], compute: Callable[[], dict[str, Any]]
           ) -> dict[str, Any]:
    """``compute()``, or its result saved under ``key`` in the run folder's :data:`CACHE`.

    A finished run never changes, so its metrics can be kept with it; the key also holds a
    hash of the ``metrics`` module's source, so editing a metric recomputes it."""
    code = hashlib.sha256(inspect.getsource(metrics).encode()).hexdigest()[:10]
    name = json.dumps({**key, "metrics_code": code}, sort_keys=True)
    path = folder / CACHE
    saved = json.loads(path.read_text()) if path.exists() else {}
    if name not in saved:
        saved[name] = compute()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(saved, indent=1))
        tmp.replace(path)
    return saved[name]


def evaluate_vae(trained: recipes.Trained, *, samples: int = 100,
                 test_size: int | None = None) -> dict[str, Any]:
    """Negative ELBO (and its two terms) and the importance-weighted estimate of
    $-\\log p(x)$ with ``samples`` samples per image, in nats per image, on the first
    ``test_size`` test images (default: all 10k). Kept in the run folder once computed."""
    _, test_set, model = _test_set(trained, test_size)
    test = test_set.images

    def compute() -> dict[str, Any]:
        seed_everything(EVALUATION_SEED)
        elbo = metrics.negative_elbo(model, test)
        iw = metrics.importance_weighted_nll(model, test, samples=samples)
        return {**{f"test_{k}": v for k, v in elbo.items()}, "test_iw_nll": iw}

    key = {"metric": "vae", "samples": samples, "test_images": len(test),
           "seed": EVALUATION_SEED}
    return {"model": "vae", "run": str(trained.folder), "test_images": len(test),
            "iw_samples": samples, **cached(trained.folder, key, compute)}


def evaluate_classifier(trained: recipes.Trained, *,
                        test_size: int | None = None) -> dict[str, Any]:
    """The evaluation classifier's accuracy on the first ``test_size`` test images (default:
    all 10k)."""
    settings, test, model = _test_set(trained, test_size)
    return {"model": "classifier", "run": str(trained.folder), "dataset": settings["dataset"],
            "test_images": len(test),
            "test_accuracy": accuracy(model, test.images, test.labels)}


def reference_classifier(dataset: str, progress: bool | str = True) -> recipes.Trained:
    """The evaluation classifier of ``dataset`` that generators are measured with: the
    default-profile run, trained first if no finished run exists."""
    return recipes.train_classifier(recipes.classifier_settings("default", dataset=dataset),
                                    progress=progress)


def _classifier_for(trained: recipes.Trained,
                    classifier: recipes.Trained | None) -> recipes.Trained:
    """``classifier``, or else the :func:`reference_classifier` of the run's dataset."""
    if classifier is not None:
        return classifier
    return reference_classifier(_saved_settings(trained.folder)["dataset"])


def evaluate_generator(trained: recipes.Trained, name: str, *,
                       classifier: recipes.Trained | None = None, samples: int = 10_000,
                       test_size: int | None = None) -> dict[str, Any]:
    """Sample quality of a generative model ``name`` ("gan", "vae", ...): ``samples`` images
    (seed :data:`EVALUATION_SEED`) against the first ``test_size`` test images, in the
    features of ``classifier`` (default: :func:`reference_classifier`). See
    :func:`~genadv_utils.metrics.sample_quality`. Kept in the run folder once computed."""
    _, test, model = _test_set(trained, test_size)
    classifier = _classifier_for(trained, classifier)
    net = classifier.model.to(test.images.device).eval()

    def compute() -> dict[str, Any]:
        generator = torch.Generator(device=test.images.device).manual_seed(EVALUATION_SEED)
        images = metrics.sample_in_batches(model, samples, generator)
        return metrics.sample_quality(net, images, test.images)

    key = {"metric": "samples", "samples": samples, "test_images": len(test),
           "seed": EVALUATION_SEED, "classifier": classifier.folder.name}
    return {"model": name, "run": str(trained.folder), "test_images": len(test),
            "samples": samples, "classifier": str(classifier.folder),
            **cached(trained.folder, key, compute)}


def evaluate_gan(trained: recipes.Trained, **options: Any) -> dict[str, Any]:
    """:func:`evaluate_generator` for a GAN run."""
    return evaluate_generator(trained, "gan", **options)


def reconstruction_quality(trained: recipes.Trained, *,
                           classifier: recipes.Trained | None = None,
                           test_size: int | None = None) -> dict[str, Any]:
    """How faithfully an autoencoder run (DAE, VAE or VAE-GAN) reconstructs the first
    ``test_size`` clean test images (through ``model.reconstruct``): pixel MSE, sharpness of
    the reconstructions (and of the originals, for reference), and the share that keep their
    class under ``classifier`` (default: :func:`reference_classifier`). Kept in the run folder
    once computed."""
    _, test, model = _test_set(trained, test_size)
    classifier = _classifier_for(trained, classifier)
    net = classifier.model.to(test.images.device).eval()

    def compute() -> dict[str, Any]:
        rec = metrics.apply_in_batches(model.reconstruct, test.images)
        return {"reconstruction_mse": metrics.mse(rec, test.images),
                "reconstruction_sharpness": metrics.sharpness(rec),
                "test_sharpness": metrics.sharpness(test.images),
                "reconstruction_class_kept": metrics.class_kept(net, test.images, rec)}

    key = {"metric": "reconstructions", "test_images": len(test),
           "classifier": classifier.folder.name}
    return cached(trained.folder, key, compute)


def evaluate_vaegan(trained: recipes.Trained, *, classifier: recipes.Trained | None = None,
                    samples: int = 10_000, test_size: int | None = None) -> dict[str, Any]:
    """:func:`evaluate_generator` and :func:`reconstruction_quality` of a VAE-GAN run."""
    classifier = _classifier_for(trained, classifier)  # resolved once for both parts
    return {**evaluate_generator(trained, "vaegan", classifier=classifier, samples=samples,
                                 test_size=test_size),
            **reconstruction_quality(trained, classifier=classifier, test_size=test_size)}


def evaluate_run(folder: Path, *, test_size: int | None = None,
                 classifier: recipes.Trained | None = None) -> dict[str, Any]:
    """Metrics of the finished run in ``folder``, whatever its model, on the first
    ``test_size`` test images (default: all); generators are measured in the features of
    ``classifier`` (default: :func:`reference_classifier`)."""
    name = _saved_settings(folder).get("name")
    if name == "dae":
        return evaluate_dae(recipes.load_dae(folder), test_size=test_size)
    if name == "classifier":
        return evaluate_classifier(recipes.load_classifier(folder), test_size=test_size)
    if name == "vae":
        return evaluate_vae(recipes.load_vae(folder), test_size=test_size)
    if name == "gan":
        return evaluate_gan(recipes.load_gan(folder), test_size=test_size,
                            classifier=classifier)
    if name == "vaegan":
        return evaluate_vaegan(recipes.load_vaegan(folder), test_size=test_size,
                               classifier=classifier)
    raise ValueError(f"{folder} holds a {name!r} run, which cannot be evaluated yet")


def compare(runs: Mapping[str, recipes.Trained], *, classifier: recipes.Trained,
            samples: int = 10_000, test_size: int | None = None) -> dict[str, dict[str, Any]]:
    """Every run of ``runs`` (label -> finished run) measured the same way: training time and
    parameter count; for models that sample, :func:`evaluate_generator`; for models that
    reconstruct, :func:`reconstruction_quality`. All in ``classifier``'s features."""
    results = {}
    for label, trained in runs.items():
        name = _saved_settings(trained.folder)["name"]
        row: dict[str, Any] = {"model": name, "train_seconds": trained.history.seconds,
                               "parameters": sum(p.numel() for p in trained.model.parameters())}
        if hasattr(trained.model, "sample"):
            row.update(evaluate_generator(trained, name, classifier=classifier,
                                          samples=samples, test_size=test_size))
        if hasattr(trained.model, "reconstruct"):
            row.update(reconstruction_quality(trained, classifier=classifier,
                                              test_size=test_size))
        results[label] = row
    return results


def sanity_sets(splits: Splits, n: int, seed: int = EVALUATION_SEED) -> dict[str, torch.Tensor]:
    """Image sets whose sample metrics we can predict, to check the yardstick: ``n`` real
    training images (a perfect generator), the same images blurred by a 3×3 box filter,
    uniform noise, and ``n`` training images of one class only (a collapsed generator)."""
    train = splits.train
    if not 0 < n <= len(train):
        raise ValueError(f"n must be between 1 and {len(train)}, got {n}")
    real = train.images[:n]
    blurred = torch.nn.functional.avg_pool2d(real, 3, stride=1, padding=1,
                                             count_include_pad=False)
    generator = torch.Generator(device=real.device).manual_seed(seed)
    noise = torch.rand(real.shape, generator=generator, device=real.device)
    ones = train.of_class(1).images
    one_class = ones[torch.arange(n, device=ones.device) % len(ones)]  # repeated if needed
    return {"training images": real, "blurred training images": blurred,
            "uniform noise": noise, "one class only": one_class}


def sanity_checks(classifier: recipes.Trained, splits: Splits, *, n: int = 10_000,
                  test_size: int | None = None) -> dict[str, dict[str, Any]]:
    """:func:`~genadv_utils.metrics.sample_quality` of each of :func:`sanity_sets` against the
    first ``test_size`` test images. Kept in the classifier's run folder once computed."""
    test = splits.test.subset(test_size)
    net = classifier.model.to(test.images.device).eval()

    def compute() -> dict[str, Any]:
        return {name: metrics.sample_quality(net, images, test.images)
                for name, images in sanity_sets(splits, n).items()}

    key = {"metric": "sanity", "n": n, "test_images": len(test), "seed": EVALUATION_SEED,
           "dataset": splits.name}
    return cached(classifier.folder, key, compute)
