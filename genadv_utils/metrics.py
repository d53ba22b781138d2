r"""Numbers that say how good a model is, computed the same way in every chapter.

Reconstruction quality is measured against the clean image $x$ with pixels in $[0, 1]$:

$$\mathrm{MSE} = \frac{1}{N D} \sum_{i=1}^{N} \lVert \hat{x}_i - x_i \rVert^2, \qquad
\mathrm{PSNR} = 10 \log_{10} \frac{1}{\mathrm{MSE}} \ \text{dB},$$

with the MSE taken over the whole set (so the PSNR of a set is that of its mean squared error).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .blocks import in_batches
from .keys import values_digest, weights_digest
from .losses import bernoulli_nll, gaussian_kl, gaussian_log_density
from .noise import corrupt, seeded
from .training import progress_mode

Denoiser = Callable[[torch.Tensor], torch.Tensor]


def _same_shape(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} and {tuple(b.shape)}")


def mse(estimate: torch.Tensor, clean: torch.Tensor) -> float:
    """Mean squared error over all pixels of all images."""
    _same_shape(estimate, clean)
    return torch.mean((estimate - clean) ** 2).item()


def psnr(mean_squared_error: float, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in decibels for a given MSE (pixels in [0, ``peak``])."""
    if mean_squared_error <= 0:
        return math.inf
    return 10.0 * math.log10(peak ** 2 / mean_squared_error)


def apply_in_batches(model: Denoiser, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """``model`` applied to ``images`` a batch at a time, without gradients."""
    return in_batches(model, images, batch_size)


@torch.no_grad()
def sample_in_batches(model: torch.nn.Module, n: int, generator: torch.Generator | None = None,
                      batch_size: int = 1000, progress: bool | str = False) -> torch.Tensor:
    """``n`` images from ``model.sample`` drawn ``batch_size`` at a time (one ``generator``
    throughout, so the draw depends only on its seed), with a progress bar if asked."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    starts = with_bar(range(0, n, batch_size), "sampling", progress)
    return torch.cat([model.sample(min(batch_size, n - i), generator) for i in starts])


def with_bar(items: Any, desc: str, progress: bool | str, unit: str = "batch") -> Any:
    """``items``, behind a progress bar when ``progress`` (``True``: ``$GENADV_PROGRESS``)
    asks for a bar; a measurement prints nothing in the ``epochs`` and ``off`` modes."""
    if progress_mode(progress) != "bar":
        yield from items
        return
    from tqdm.auto import tqdm

    with tqdm(items, desc=desc, unit=unit, mininterval=1.0, dynamic_ncols=True) as bar:
        yield from bar


def residual_by_class(estimate: torch.Tensor, clean: torch.Tensor,
                      labels: torch.Tensor) -> torch.Tensor:
    r"""Mean absolute residual image $\frac{1}{N_c} \sum_{i: y_i = c} |\hat{x}_i - x_i|$ for each
    class $c$ present in ``labels``, shape ``[classes, 1, H, W]`` (all classes first: row 0
    is the mean over every image)."""
    _same_shape(estimate, clean)
    residual = (estimate - clean).abs()
    per_class = [residual[labels == c].mean(0) for c in labels.unique().tolist()]
    return torch.stack([residual.mean(0), *per_class])


TEST_NOISE_SEED = 123
"""Seed of the fixed corruption of test images, so every method sees the same noisy digits."""


def noise_sweep(denoisers: dict[str, Denoiser], clean: torch.Tensor, kind: str,
                levels: list[float], seed: int = TEST_NOISE_SEED) -> dict[str, list[float]]:
    """MSE of each denoiser's output against ``clean`` at each noise level, with ``"noisy
    input"`` (no denoising) as the reference. Every method sees the same corrupted images."""
    results: dict[str, list[float]] = {"noisy input": [], **{name: [] for name in denoisers}}
    for level in levels:
        noisy = corrupt(clean, kind, level, seeded(seed, clean.device))
        results["noisy input"].append(mse(noisy, clean))
        for name, denoise in denoisers.items():
            results[name].append(mse(apply_in_batches(denoise, noisy), clean))
    return results


@torch.no_grad()
def importance_weighted_nll(model: torch.nn.Module, images: torch.Tensor, samples: int = 100,
                            batch_size: int = 25, progress: bool | str = False) -> float:
    r"""An estimate of $-\log p_\theta(x)$ in nats per image (Burda et al.'s bound):

    $$-\log p(x) \approx -\log \frac{1}{K} \sum_{k=1}^{K}
      \frac{p_\theta(x \mid z_k)\, p(z_k)}{q_\phi(z_k \mid x)}, \quad z_k \sim q_\phi(z \mid x),$$

    tighter than the negative ELBO (the case $K = 1$) and equal to $-\log p(x)$ as
    $K \to \infty$. ``progress``: a bar over the batches (:func:`with_bar`)."""
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    total = 0.0
    for i in with_bar(range(0, len(images), batch_size), f"IW bound, K = {samples}", progress):
        x = images[i:i + batch_size]
        mu, logvar = model.encode(x)
        z = mu + (0.5 * logvar).exp() * torch.randn((samples, *mu.shape), device=mu.device)
        logits = model.decode(z.flatten(0, 1))
        repeated = x.expand(samples, *x.shape).flatten(0, 1)
        log_px_z = -bernoulli_nll(logits, repeated).view(samples, len(x))
        log_pz = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z))
        log_qz = gaussian_log_density(z, mu, logvar)
        log_w = log_px_z + log_pz - log_qz
        log_px = torch.logsumexp(log_w, dim=0) - math.log(samples)
        total += -log_px.sum().item()
    return total / len(images)


@torch.no_grad()
def kl_per_dimension(model: torch.nn.Module, images: torch.Tensor,
                     batch_size: int = 1000) -> torch.Tensor:
    r"""Mean KL divergence $\mathrm{KL}(q_\phi(z_i \mid x) \,\Vert\, \mathcal{N}(0, 1))$ of each
    latent dimension $i$ over ``images``, in nats, shape ``[d]``. They sum to the KL term of the
    ELBO; a dimension whose KL is close to 0 carries no information about $x$ (it is
    *inactive*, or has *collapsed* to the prior)."""
    kl = [gaussian_kl(*model.encode(images[i:i + batch_size])).sum(0)
          for i in range(0, len(images), batch_size)]
    return torch.stack(kl).sum(0) / len(images)


@torch.no_grad()
def active_units(model: torch.nn.Module, images: torch.Tensor, threshold: float = 0.01,
                 batch_size: int = 1000) -> int:
    r"""Number of latent dimensions whose posterior mean varies with the input
    (Burda et al. 2016): $\operatorname{Var}_x\big(\mathbb{E}_{q_\phi(z \mid x)}[z_i]\big)$
    above ``threshold``."""
    means = torch.cat([model.encode(images[i:i + batch_size])[0]
                       for i in range(0, len(images), batch_size)])
    return int((means.var(0) > threshold).sum())


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    r"""Fréchet distance between Gaussians fitted to two sets of feature vectors ``[N, d]``:

    $$d^2 = \lVert \mu_a - \mu_b \rVert^2 + \operatorname{Tr}\big(\Sigma_a + \Sigma_b
      - 2 (\Sigma_a \Sigma_b)^{1/2}\big).$$

    With the evaluation classifier's features this is a *classifier-feature* Fréchet distance,
    comparable only with numbers computed with the same classifier (it is not the Inception FID).
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two [N, d] feature sets, got {tuple(a.shape)} and {tuple(b.shape)}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("need at least two vectors in each set")
    x, y = a.double().cpu().numpy(), b.double().cpu().numpy()
    mu_x, mu_y = x.mean(0), y.mean(0)
    cov_x, cov_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    # Tr((S_x S_y)^(1/2)) = sum of the square roots of the eigenvalues of the symmetric
    # S_x^(1/2) S_y S_x^(1/2): stable even when a covariance is singular.
    w, v = np.linalg.eigh(cov_x)
    root_x = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_x @ cov_y @ root_x), 0.0, None)).sum()
    value = ((mu_x - mu_y) ** 2).sum() + np.trace(cov_x) + np.trace(cov_y) - 2.0 * cross
    return float(max(value, 0.0))


CHUNK = 1000
"""Points whose distances to a whole set are taken at once in the k-NN measures
(``CHUNK`` × N distances in memory)."""


def _kth_neighbour_radius(points: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    radii = []
    for i in range(0, len(points), chunk):
        d = torch.cdist(points[i:i + chunk], points)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # k + 1: the point itself is at 0
    return torch.cat(radii)


def _inside_any_ball(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                     chunk: int) -> torch.Tensor:
    inside = []
    for i in range(0, len(queries), chunk):
        inside.append((torch.cdist(queries[i:i + chunk], centres) <= radii).any(1))
    return torch.cat(inside)


def precision_recall_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 3,
                              chunk: int = CHUNK, real_radii: torch.Tensor | None = None
                              ) -> dict[str, float]:
    r"""Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al.
    2020) of a sample set ``fake`` against ``real``, in the same feature space, with
    $k$-nearest-neighbour balls (each point's ball reaches its $k$-th nearest neighbour in its
    own set):

    - precision: share of fake points inside some real point's ball (are samples realistic?);
    - recall: share of real points inside some fake point's ball (is the data covered?);
    - density: real balls holding a fake point, on average, divided by $k$ (about 1 for samples
      distributed like the data; unlike precision, one real outlier's large ball adds little);
    - coverage: share of real points whose own ball holds a fake point (unlike recall, a fake
      outlier's large ball does not count).

    Failure mode: an outlier has a large ball, so precision and recall can be fooled by a few
    outliers; density and coverage are Naeem et al.'s answer. Read the four together.
    ``real_radii``: the real balls' radii, if already computed (:func:`real_side`).
    """
    if k < 1 or len(real) <= k or len(fake) <= k:
        raise ValueError(f"need k >= 1 and more than k points in each set (k = {k})")
    real, fake = real.float().cpu(), fake.float().cpu()
    if real_radii is None:
        real_radii = _kth_neighbour_radius(real, k, chunk)
    elif real_radii.shape != (len(real),):
        raise ValueError(f"need one radius per real point, got {tuple(real_radii.shape)} "
                         f"for {len(real)} points")
    real_radii = real_radii.float().cpu()
    fake_radii = _kth_neighbour_radius(fake, k, chunk)
    balls = torch.cat([(torch.cdist(fake[i:i + chunk], real) <= real_radii).sum(1)
                       for i in range(0, len(fake), chunk)])  # real balls holding each fake
    covered = torch.zeros(len(real), dtype=torch.bool)
    for i in range(0, len(real), chunk):
        nearest_fake = torch.cdist(real[i:i + chunk], fake).min(1).values
        covered[i:i + chunk] = nearest_fake <= real_radii[i:i + chunk]
    return {
        "precision": (balls > 0).float().mean().item(),
        "recall": _inside_any_ball(real, fake, fake_radii, chunk).float().mean().item(),
        "density": balls.float().mean().item() / k,
        "coverage": covered.float().mean().item(),
    }


@torch.no_grad()
def classifier_score(classifier: torch.nn.Module, images: torch.Tensor) -> float:
    r"""The "inception score" with the evaluation classifier:
    $\exp\big(\mathbb{E}_x \mathrm{KL}(p(y \mid x) \Vert p(y))\big)$, between 1 and the number
    of classes; high when each image is clearly one class and all classes appear."""
    return _score(_probabilities(classifier, images))


def _probabilities(classifier: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    return apply_in_batches(lambda x: classifier(x).softmax(1), images)


def _score(probs: torch.Tensor) -> float:
    probs = probs.double()
    marginal = probs.mean(0, keepdim=True)
    kl = (probs * (probs.clamp_min(1e-12).log() - marginal.log())).sum(1)
    return float(kl.mean().exp())


RECOGNISED_CONFIDENCE = 0.9
"""A sample counts as *recognised* when the evaluation classifier gives its top class at least
this probability (real test digits: about 96 % are)."""


@torch.no_grad()
def recognised(classifier: torch.nn.Module, images: torch.Tensor,
               confidence: float = RECOGNISED_CONFIDENCE) -> float:
    """Share of ``images`` whose most likely class has at least ``confidence`` probability
    under the classifier: how many samples a reader would take for a clear digit."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return _recognised(_probabilities(classifier, images), confidence)


def _recognised(probs: torch.Tensor, confidence: float = RECOGNISED_CONFIDENCE) -> float:
    return (probs.amax(1) >= confidence).float().mean().item()


_REAL_SIDES: dict[tuple[str, str, int], tuple[torch.Tensor, torch.Tensor]] = {}
"""The last few :func:`real_side` results, by classifier weights, images and ``k``."""


@torch.no_grad()
def real_side(classifier: torch.nn.Module, real: torch.Tensor, k: int = 3
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """The features of ``real`` images in ``classifier`` and their ``k``-th-neighbour radii:
    the half of :func:`sample_quality` that does not depend on the samples. A chapter scores
    many sample sets against one set of test images, so the last few results are kept in
    memory, keyed by the classifier's weights, the images' values and ``k``."""
    key = (weights_digest(classifier), values_digest(real), k)
    if key not in _REAL_SIDES:
        features = apply_in_batches(classifier.eval().features, real)
        while len(_REAL_SIDES) >= 2:
            _REAL_SIDES.pop(next(iter(_REAL_SIDES)))
        _REAL_SIDES[key] = features, _kth_neighbour_radius(features.float().cpu(), k, CHUNK)
    return _REAL_SIDES[key]


@torch.no_grad()
def sample_quality(classifier: torch.nn.Module, samples: torch.Tensor, real: torch.Tensor,
                   k: int = 3) -> dict[str, Any]:
    """How a generator's ``samples`` compare with ``real`` images, in the evaluation
    classifier's features: the classifier-feature Fréchet distance, precision, recall and
    coverage (``k`` neighbours), the classifier score, the share :func:`recognised`, and the
    predicted class of each sample counted per class (``class_counts``)."""
    classifier = classifier.eval()
    fake_features = apply_in_batches(classifier.features, samples)
    real_features, real_radii = real_side(classifier, real, k)
    # In evaluation mode the classifier is head(features): one pass serves the last three
    probs = apply_in_batches(lambda f: classifier.head(f).softmax(1), fake_features)
    counts = torch.bincount(probs.argmax(1).cpu(), minlength=classifier.head.out_features)
    return {"frechet_distance": frechet_distance(fake_features, real_features),
            **precision_recall_coverage(real_features, fake_features, k,
                                        real_radii=real_radii),
            "classifier_score": _score(probs),
            "recognised": _recognised(probs),
            "class_counts": counts.tolist()}


def nearest_images(queries: torch.Tensor, pool: torch.Tensor, k: int = 3,
                   chunk: int = 5000) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` images of ``pool`` nearest to each query in pixel space (Euclidean):
    distances and indices, each ``[len(queries), k]``. A memorisation check for generators."""
    if k < 1 or k > len(pool):
        raise ValueError(f"k must be between 1 and {len(pool)}, got {k}")
    q = queries.flatten(1).float()
    best_d, best_i = [], []
    for start in range(0, len(pool), chunk):
        d = torch.cdist(q, pool[start:start + chunk].flatten(1).float().to(q.device))
        values, indices = d.topk(min(k, d.shape[1]), dim=1, largest=False)
        best_d.append(values)
        best_i.append(indices + start)
    d, i = torch.cat(best_d, 1), torch.cat(best_i, 1)
    order = d.argsort(1)[:, :k]
    return d.gather(1, order), i.gather(1, order)


@torch.no_grad()
def neighbours_agree(codes: torch.Tensor, labels: torch.Tensor, k: int = 10,
                     chunk: int = 2000) -> torch.Tensor:
    """For each code ``[N, d]``, whether the most common class among its ``k`` nearest other
    codes (Euclidean; ties go to the lower class) is its own: ``[N]`` booleans. The share that
    agree says how much of the class a code keeps without a classifier being trained on it.
    Distances are taken ``chunk`` codes at a time (``chunk × N``, not ``N × N``, in memory)."""
    if codes.ndim != 2 or len(codes) != len(labels):
        raise ValueError(f"expected codes [N, d] and N labels, got {tuple(codes.shape)} and "
                         f"{tuple(labels.shape)}")
    if not 1 <= k < len(codes):
        raise ValueError(f"k must be between 1 and {len(codes) - 1}, got {k}")
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    codes = codes.float()
    nearest = []
    for start in range(0, len(codes), chunk):
        distances = torch.cdist(codes[start:start + chunk], codes)
        rows = torch.arange(len(distances), device=codes.device)
        distances[rows, rows + start] = float("inf")  # a code is not its own neighbour
        nearest.append(distances.topk(k, dim=1, largest=False).indices)
    return labels[torch.cat(nearest)].mode(dim=1).values == labels


@torch.no_grad()
def class_kept(classifier: torch.nn.Module, originals: torch.Tensor,
               reconstructions: torch.Tensor) -> float:
    """Share of reconstructions that the classifier puts in the same class as their originals
    (a reconstruction can be sharp and still turn a 4 into a 9)."""
    _same_shape(originals, reconstructions)
    classifier = classifier.eval()
    before = apply_in_batches(classifier, originals).argmax(1)
    after = apply_in_batches(classifier, reconstructions).argmax(1)
    return (before == after).float().mean().item()


def sharpness(images: torch.Tensor) -> float:
    r"""Mean absolute difference between neighbouring pixels (across and down),
    $\frac{1}{2}\big(\overline{|x_{i,j+1} - x_{i,j}|} + \overline{|x_{i+1,j} - x_{i,j}|}\big)$:
    crisp strokes have large steps at their edges, blurry ones small steps."""
    if images.ndim != 4:
        raise ValueError(f"expected images [N, C, H, W], got shape {tuple(images.shape)}")
    across = (images[..., 1:] - images[..., :-1]).abs().mean()
    down = (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
    return float(0.5 * (across + down))
