r"""Numbers that say how good a model is, computed the same way in every chapter.

Reconstruction quality is measured against the clean image $x$ with pixels in $[0, 1]$:

$$\mathrm{MSE} = \frac{1}{N D} \sum_{i=1}^{N} \lVert \hat{x}_i - x_i \rVert^2, \qquad
\mathrm{PSNR} = 10 \log_{10} \frac{1}{\mathrm{MSE}} \ \text{dB},$$

with the MSE taken over the whole set (so the PSNR of a set is that of its mean squared error).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .losses import bernoulli_nll, gaussian_kl, gaussian_log_density
from .noise import corrupt, seeded

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


@torch.no_grad()
def apply_in_batches(model: Denoiser, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """``model`` applied to ``images`` a batch at a time, without gradients."""
    return torch.cat([model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])


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
def negative_elbo(model: torch.nn.Module, images: torch.Tensor,
                  batch_size: int = 1000) -> dict[str, float]:
    r"""Mean negative ELBO of a VAE over ``images`` in nats per image, split into the
    reconstruction term and the KL term (one sample of $z$ per image)."""
    rec, kl = [], []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        logits, mu, logvar = model(x)
        rec.append(bernoulli_nll(logits, x))
        kl.append(gaussian_kl(mu, logvar).sum(1))
    r, k = torch.cat(rec).mean().item(), torch.cat(kl).mean().item()
    return {"neg_elbo": r + k, "rec": r, "kl": k}


@torch.no_grad()
def importance_weighted_nll(model: torch.nn.Module, images: torch.Tensor, samples: int = 100,
                            batch_size: int = 250) -> float:
    r"""An estimate of $-\log p_\theta(x)$ in nats per image (Burda et al.'s bound):

    $$-\log p(x) \approx -\log \frac{1}{K} \sum_{k=1}^{K}
      \frac{p_\theta(x \mid z_k)\, p(z_k)}{q_\phi(z_k \mid x)}, \quad z_k \sim q_\phi(z \mid x),$$

    tighter than the negative ELBO (the case $K = 1$) and equal to $-\log p(x)$ as
    $K \to \infty$."""
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    total = 0.0
    for i in range(0, len(images), batch_size):
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
