"""Metrics of a finished run on the validation or the test images, the same for the notebooks,
the benchmarks and the command line.

Every measurement names the images it scores (``split``, no default): ``"val"`` for every
choice (a search, a sweep, a tuned setting), ``"test"`` once, for a final table.

Each recipe names the measurements that fit its model (``Recipe.evaluations``):
``denoising`` (the DAE), ``likelihood`` (the VAE), ``accuracy`` (the classifier), ``samples``
(any model that samples) and ``reconstructions`` (any autoencoder). Every measurement takes the
caller's splits (loaded once, on the caller's device). Slow results are kept in the run's folder
(:func:`cached`), keyed by everything that decides them: the code that computes them
(:func:`~genadv_utils.keys.measure_code`), the weights measured and those of the classifier that
measures them, the samples drawn and the images scored.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from . import classifier, metrics, registry, store
from .classifier import accuracy
from .data import Batches, ImageSet, Splits
from .keys import measure_code, record_key, weights_digest
from .losses import negative_elbo
from .metrics import TEST_NOISE_SEED, noise_sweep, psnr
from .recipe import Trained
from .runtime import seed_everything
from .store import finished, read_settings

EVALUATION_SEED = 0
"""Seed of the sampling inside the metrics (importance samples, generated images)."""

DAE_TEST_NOISES = {"gaussian": 0.5, "salt-and-pepper": 0.5, "masking": 0.5}
"""Noises a DAE is evaluated on (besides the one it was trained with)."""

REFERENCE = classifier.RECIPE
"""The evaluation classifier's recipe: generators are measured in its features."""


def cached(folder: Path, key: dict[str, Any], compute: Callable[[], dict[str, Any]]
           ) -> dict[str, Any]:
    """``compute()``, or its result kept under ``key`` in the run folder
    (:func:`~genadv_utils.store.cached`), keyed also by the code that measures
    (:func:`~genadv_utils.keys.measure_code`)."""
    return store.cached(folder, key, measure_code(), compute)


SPLITS = ("val", "test")
"""The images a run can be scored on: ``val`` to choose, ``test`` to report once."""


def scored_images(splits: Splits, split: str, size: int | None = None) -> ImageSet:
    """The first ``size`` images (all when ``None``) of ``splits``' ``split``."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'val' (to choose a setting) or 'test' (to report a "
                         f"final result), got {split!r}")
    return getattr(splits, split).subset(size)


def _scored(trained: Trained, splits: Splits, split: str, size: int | None
            ) -> tuple[Any, ImageSet, torch.nn.Module]:
    """The run's settings, the images scored (:func:`scored_images`), and its model on their
    device in evaluation mode; splits of another dataset than the run's are refused."""
    settings = trained.settings
    if splits.name != settings.dataset:
        raise ValueError(f"{trained.folder} is a {settings.dataset} run, but the splits given "
                         f"are {splits.name}'s")
    images = scored_images(splits, split, size)
    return settings, images, trained.model.to(images.images.device).eval()


def evaluate_dae(trained: Trained, splits: Splits, *, split: str, size: int | None = None,
                 **_: Any) -> dict[str, Any]:
    """MSE and PSNR of noisy input and of the DAE, per noise type, on the first ``size``
    images of ``split`` (default: all)."""
    settings, test, model = _scored(trained, splits, split, size)
    noises = {**DAE_TEST_NOISES, settings.noise: settings.level}
    results: dict[str, Any] = {"split": split, "images": len(test),
                               "noise_seed": TEST_NOISE_SEED}
    for kind, level in noises.items():
        sweep = noise_sweep({"model": model}, test.images, kind, [level])
        results[f"{kind}@{level}"] = {
            "noisy_mse": sweep["noisy input"][0], "noisy_psnr_db": psnr(sweep["noisy input"][0]),
            "dae_mse": sweep["model"][0], "dae_psnr_db": psnr(sweep["model"][0]),
        }
    return results


def evaluate_vae(trained: Trained, splits: Splits, *, split: str, samples: int = 100,
                 size: int | None = None, **_: Any) -> dict[str, Any]:
    """Negative ELBO (``neg_elbo``, and its two terms ``rec`` and ``kl``) and the
    importance-weighted estimate of $-\\log p(x)$ (``iw_nll``) with ``samples`` samples per
    image, in nats per image, on the first ``size`` images of ``split`` (default: all). Kept in
    the run folder once computed."""
    _, scored, model = _scored(trained, splits, split, size)
    images = scored.images

    def compute() -> dict[str, Any]:
        seed_everything(EVALUATION_SEED)
        elbo = negative_elbo(model, images)
        iw = metrics.importance_weighted_nll(model, images, samples=samples, progress=True)
        return {**elbo, "iw_nll": iw}

    key = {"metric": "likelihood", "samples": samples, "split": split, "images": len(images),
           "dataset": trained.settings.dataset, "seed": EVALUATION_SEED,
           "weights": weights_digest(model)}
    return {"split": split, "images": len(images), "iw_samples": samples,
            **cached(trained.folder, key, compute)}


def evaluate_classifier(trained: Trained, splits: Splits, *, split: str,
                        size: int | None = None, **_: Any) -> dict[str, Any]:
    """The classifier's accuracy on the first ``size`` images of ``split`` (default: all)."""
    settings, scored, model = _scored(trained, splits, split, size)
    return {"dataset": settings.dataset, "split": split, "images": len(scored),
            "accuracy": accuracy(model, scored.images, scored.labels)}


def reference_classifier(splits: Splits, progress: bool | str = True) -> Trained:
    """The evaluation classifier of the dataset of ``splits`` that generators are measured with:
    always the default-profile run, so numbers stay comparable. When it is missing it is trained
    first, and a line on standard error says so, with the time it should take here."""
    dataset = splits.name
    settings = REFERENCE.settings("default", dataset=dataset)
    folder = REFERENCE.folder(settings)
    if not finished(folder):
        steps = len(Batches(splits.train.subset(settings.train_size), settings.batch_size))
        minutes = REFERENCE.seconds_per_step(settings, splits, steps=5) * steps \
            * settings.epochs / 60
        print(f"evaluation: training the {dataset} evaluation classifier first (default "
              f"profile, {settings.epochs} epochs, about {minutes:.0f} min here; kept in "
              f"{folder} for later evaluations)", file=sys.stderr)
    return REFERENCE.train(settings, splits, progress=progress)


def _classifier_for(trained: Trained, splits: Splits, classifier: Trained | None) -> Trained:
    """``classifier``, or else the :func:`reference_classifier` of the run's dataset. A
    classifier of another dataset is refused: its features would measure the wrong thing."""
    if classifier is None:
        return reference_classifier(splits)
    theirs, ours = getattr(classifier.settings, "dataset", None), trained.settings.dataset
    if theirs != ours:
        raise ValueError(f"the classifier {classifier.folder} was trained on {theirs}, but "
                         f"{trained.folder} is a {ours} run; give a {ours} classifier, or none "
                         f"(the {ours} default is used)")
    return classifier


def evaluate_generator(trained: Trained, splits: Splits, *, split: str,
                       classifier: Trained | None = None, samples: int = 10_000,
                       size: int | None = None, **_: Any) -> dict[str, Any]:
    """Sample quality of a generative model: ``samples`` images (seed
    :data:`EVALUATION_SEED`) against the first ``size`` images of ``split``, in the features of
    ``classifier`` (default: :func:`reference_classifier`). See
    :func:`~genadv_utils.metrics.sample_quality`. Kept in the run folder once computed. The
    distance is biased by the sample count: compare runs at the same ``samples``."""
    _, test, model = _scored(trained, splits, split, size)
    classifier = _classifier_for(trained, splits, classifier)
    net = classifier.model.to(test.images.device).eval()

    def compute() -> dict[str, Any]:
        generator = torch.Generator().manual_seed(EVALUATION_SEED)
        images = metrics.sample_in_batches(model, samples, generator)
        return metrics.sample_quality(net, images, test.images)

    key = {"metric": "samples", "samples": samples, "split": split, "images": len(test),
           "dataset": trained.settings.dataset, "seed": EVALUATION_SEED,
           "weights": weights_digest(model), REFERENCE.name: weights_digest(net)}
    return {"split": split, "images": len(test), "samples": samples,
            REFERENCE.name: str(classifier.folder),
            **cached(trained.folder, key, compute)}


def reconstruction_quality(trained: Trained, splits: Splits, *, split: str,
                           classifier: Trained | None = None, size: int | None = None,
                           **_: Any) -> dict[str, Any]:
    """How faithfully an autoencoder run (DAE, VAE or VAE-GAN) reconstructs the first ``size``
    clean images of ``split`` (through ``model.reconstruct``): pixel MSE, sharpness of the
    reconstructions (and of the originals, ``original_sharpness``, for reference), and the
    share that keep their class under ``classifier`` (default: :func:`reference_classifier`).
    Kept in the run folder once computed."""
    _, test, model = _scored(trained, splits, split, size)
    classifier = _classifier_for(trained, splits, classifier)
    net = classifier.model.to(test.images.device).eval()

    def compute() -> dict[str, Any]:
        rec = metrics.apply_in_batches(model.reconstruct, test.images)
        return {"reconstruction_mse": metrics.mse(rec, test.images),
                "reconstruction_sharpness": metrics.sharpness(rec),
                "original_sharpness": metrics.sharpness(test.images),
                "reconstruction_class_kept": metrics.class_kept(net, test.images, rec)}

    key = {"metric": "reconstructions", "split": split, "images": len(test),
           "dataset": trained.settings.dataset, "weights": weights_digest(model),
           REFERENCE.name: weights_digest(net)}
    return cached(trained.folder, key, compute)


EVALUATIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "denoising": evaluate_dae,
    "likelihood": evaluate_vae,
    "accuracy": evaluate_classifier,
    "samples": evaluate_generator,
    "reconstructions": reconstruction_quality,
}
"""Each measurement a recipe can name in ``Recipe.evaluations``."""


def evaluate(trained: Trained, splits: Splits, *, split: str,
             classifier: Trained | None = None, size: int | None = None,
             **options: Any) -> dict[str, Any]:
    """Every measurement that ``trained``'s recipe names, on ``split``, in one dictionary
    (generators in the features of ``classifier``, resolved once; default:
    :func:`reference_classifier`)."""
    kinds = registry.get(trained.name).evaluations
    if classifier is None and {"samples", "reconstructions"} & set(kinds):
        classifier = _classifier_for(trained, splits, None)
    results: dict[str, Any] = {"model": trained.name, "run": str(trained.folder)}
    for kind in kinds:
        results.update(EVALUATIONS[kind](trained, splits, split=split, classifier=classifier,
                                         size=size, **options))
    return results


def load_run(folder: Path, device: torch.device | str = "cpu") -> Trained:
    """The finished run in ``folder``, whatever its model, on ``device``."""
    name = read_settings(folder).get("name")
    return registry.get(str(name)).load(folder, device=device)


def trained_parameters(model: torch.nn.Module) -> int:
    """How many numbers training sets: the parameters that receive gradients (a generator's
    weight average is a copy that only follows them, and is not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def compare(runs: Mapping[str, Trained], splits: Splits, *, split: str, classifier: Trained,
            samples: int = 10_000, size: int | None = None) -> dict[str, dict[str, Any]]:
    """Every run of ``runs`` (label -> finished run) measured the same way on ``split``:
    training time and
    :func:`trained_parameters`; for models that sample, :func:`evaluate_generator`; for models that
    reconstruct, :func:`reconstruction_quality`. All in ``classifier``'s features."""
    results = {}
    for label, trained in runs.items():
        row: dict[str, Any] = {"model": trained.name, "train_seconds": trained.history.seconds,
                               "parameters": trained_parameters(trained.model)}
        if hasattr(trained.model, "sample"):
            row.update(evaluate_generator(trained, splits, split=split, classifier=classifier,
                                          samples=samples, size=size))
        if hasattr(trained.model, "reconstruct"):
            row.update(reconstruction_quality(trained, splits, split=split,
                                              classifier=classifier, size=size))
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


def sanity_checks(classifier: Trained, splits: Splits, *, split: str, n: int = 10_000,
                  size: int | None = None) -> dict[str, dict[str, Any]]:
    """:func:`~genadv_utils.metrics.sample_quality` of each of :func:`sanity_sets` against the
    first ``size`` images of ``split``. Kept in the classifier's run folder once computed."""
    test = scored_images(splits, split, size)
    net = classifier.model.to(test.images.device).eval()

    def compute() -> dict[str, Any]:
        sets = sanity_sets(splits, n)
        return {name: metrics.sample_quality(net, sets[name], test.images)
                for name in metrics.with_bar(list(sets), "sanity checks", True, unit="set")}

    key = {"metric": "sanity", "n": n, "split": split, "images": len(test),
           "seed": EVALUATION_SEED,
           "dataset": splits.name, REFERENCE.name: weights_digest(net)}
    return cached(classifier.folder, key, compute)


COMPARED = tuple(name for name in registry.RECIPES if name != REFERENCE.name)
"""The chapters' models that chapter 5 compares, in the order of the book."""


def comparison_key(dataset: str, profile: str = "default") -> dict[str, str]:
    """What decides chapter 5's numbers on ``dataset`` (:func:`~genadv_utils.keys.record_key`):
    the run folder of each compared model's recipe and of the evaluation classifier (each named
    by its settings and its code), and the code that measures them."""
    recipes = [registry.get(name) for name in (REFERENCE.name, *COMPARED)]
    return record_key({r.name: r.folder(r.settings(profile, dataset=dataset)).name
                       for r in recipes})


def publish(path: Path, dataset: str, record: Mapping[str, Any]) -> None:
    """Write ``record`` (a benchmark's measured tables, and where it ran) to ``path`` as JSON,
    with the :func:`comparison_key` of ``dataset`` that decided it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"dataset": dataset, "key": comparison_key(dataset), **record},
                               indent=1, default=float) + "\n")


def published(path: Path) -> tuple[dict[str, Any], list[str]]:
    """A record written by :func:`publish`, and what has changed since it was measured: the
    names in its key whose run folder (settings, code) or metrics code differ from today's."""
    if not path.is_file():
        raise FileNotFoundError(f"no published results at {path}; write them with "
                                f"benchmarks/comparison.py --save")
    record = json.loads(path.read_text())
    today = comparison_key(record["dataset"])
    return record, sorted(k for k in today if record["key"].get(k) != today[k])
