r"""Principal component analysis of images: the linear baseline the chapters compare against.

For centred data $X \in \mathbb{R}^{N \times D}$ (one flattened image per row), PCA finds the
orthonormal directions $U_k \in \mathbb{R}^{D \times k}$ that keep the most variance; projecting
onto them and back,

$$\hat{x} = \mu + U_k U_k^\top (x - \mu),$$

is the rank-$k$ reconstruction with the smallest mean squared error.

As a *denoiser* (fitted on clean images, applied to noisy ones) truncation keeps or drops each
component whole. The best linear denoiser in squared error, the Wiener (linear least-squares)
filter, is fitted on pairs of noisy and clean images instead (:func:`fit_wiener`); for white
noise of variance $\sigma^2$ added to the image it shrinks the $i$-th principal component by
$\lambda_i / (\lambda_i + \sigma^2)$, where $\lambda_i$ is that component's variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.decomposition import PCA


def _flat(images: torch.Tensor) -> np.ndarray:
    return images.detach().reshape(len(images), -1).to("cpu", torch.float64).numpy()


def _images(flat: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """Flat rows clipped to [0, 1], back in the shape and on the device of ``like``."""
    out = torch.from_numpy(np.clip(flat, 0.0, 1.0)).float()
    return out.reshape(like.shape).to(like.device)


def fit_pca(images: torch.Tensor, n_components: int | None = None, seed: int = 0) -> PCA:
    """Fit PCA to images ``[N, 1, H, W]`` (all components when ``n_components`` is ``None``)."""
    if len(images) < 2:
        raise ValueError("PCA needs at least two images")
    return PCA(n_components=n_components, svd_solver="full", random_state=seed).fit(_flat(images))


def components_for_variance(pca: PCA, fraction: float) -> int:
    """The fewest components that explain at least ``fraction`` of the variance."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    cumulative = np.cumsum(pca.explained_variance_ratio_)
    return int(min(np.searchsorted(cumulative, fraction - 1e-12) + 1, len(cumulative)))


def project(pca: PCA, images: torch.Tensor, k: int) -> torch.Tensor:
    """The first ``k`` principal coordinates of each image: ``[N, k]``."""
    _check_k(pca, k)
    centred = _flat(images) - pca.mean_
    return torch.from_numpy(centred @ pca.components_[:k].T).float()


def reconstruct(pca: PCA, images: torch.Tensor, k: int) -> torch.Tensor:
    """Rank-``k`` reconstructions, clipped to [0, 1], in the images' shape."""
    _check_k(pca, k)
    w = pca.components_[:k]
    return _images((_flat(images) - pca.mean_) @ w.T @ w + pca.mean_, images)


def _check_k(pca: PCA, k: int) -> None:
    if not 1 <= k <= pca.n_components_:
        raise ValueError(f"k must be between 1 and {pca.n_components_}, got {k}")


K_CANDIDATES = [5, 10, 20, 30, 40, 60, 80, 120, 160, 240]
"""The numbers of components the PCA denoiser chooses from (chapter 1, the Fashion-MNIST page)."""


def choose_k(pca: PCA, noisy: torch.Tensor, clean: torch.Tensor,
             candidates: list[int] = K_CANDIDATES) -> tuple[int, list[float]]:
    """The number of components whose reconstruction of ``noisy`` is closest to ``clean``
    (mean squared error), among ``candidates``; returns it and each candidate's error.
    Use validation images, never the test set."""
    if not candidates:
        raise ValueError("no candidate numbers of components")
    errors = [torch.mean((reconstruct(pca, noisy, k) - clean) ** 2).item() for k in candidates]
    return candidates[min(range(len(errors)), key=errors.__getitem__)], errors


@dataclass(frozen=True)
class Wiener:
    r"""The linear least-squares denoiser $\hat{x} = \mu_x + W (\tilde{x} - \mu_{\tilde{x}})$,
    $W = C_{x\tilde{x}} C_{\tilde{x}\tilde{x}}^{-1}$: of all affine maps of the noisy image, the one
    with the smallest expected squared error. Call it on noisy images ``[N, 1, H, W]``; the
    output is clipped to [0, 1], as :func:`reconstruct`'s is."""

    mean_clean: np.ndarray  # [D]
    mean_noisy: np.ndarray  # [D]
    weight: np.ndarray  # [D, D]

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if images[0].numel() != len(self.weight):
            raise ValueError(f"this Wiener filter takes images of {len(self.weight)} pixels, "
                             f"got {tuple(images.shape[1:])}")
        return _images((_flat(images) - self.mean_noisy) @ self.weight.T + self.mean_clean,
                       images)

    def gains(self, pca: PCA) -> np.ndarray:
        r"""The filter's gain on each principal component (of ``pca``, fitted on clean images):
        $u_i^\top W u_i$. Truncation's gain is 1 up to $k$ and 0 after; for white noise added to
        the image the Wiener filter's is $\lambda_i / (\lambda_i + \sigma^2)$, below 1. For
        noise clipped to [0, 1] (chapter 1) it can exceed 1 on the strongest components."""
        u = pca.components_
        return np.einsum("id,de,ie->i", u, self.weight, u)


def white_noise_gains(variances: np.ndarray, sd: float) -> np.ndarray:
    r"""The Wiener filter's gain $\lambda_i / (\lambda_i + \sigma^2)$ on principal components of
    variances $\lambda_i$, for white noise of standard deviation $\sigma$ added to the image (and
    not clipped): each component keeps its share of signal."""
    return variances / (variances + sd ** 2)


def fit_wiener(clean: torch.Tensor, noisy: torch.Tensor, ridge: float = 1e-6) -> Wiener:
    """The Wiener filter fitted on pairs of ``clean`` images and their ``noisy`` versions
    (``[N, 1, H, W]`` each, row by row the same images), by least squares. ``ridge`` (relative to
    the noisy pixels' mean variance) keeps the solve stable where a pixel never varies."""
    if clean.shape != noisy.shape:
        raise ValueError(f"clean {tuple(clean.shape)} and noisy {tuple(noisy.shape)} images "
                         "must pair up one to one")
    if len(clean) < 2:
        raise ValueError("the Wiener filter needs at least two pairs of images")
    x, y = _flat(clean), _flat(noisy)
    mean_x, mean_y = x.mean(0), y.mean(0)
    x, y = x - mean_x, y - mean_y
    c_yy = y.T @ y / len(y)
    c_yy[np.diag_indices_from(c_yy)] += ridge * np.trace(c_yy) / len(c_yy)
    c_xy = x.T @ y / len(y)
    weight = np.linalg.solve(c_yy, c_xy.T).T  # C_xy C_yy^-1 (C_yy is symmetric)
    return Wiener(mean_x, mean_y, weight)
