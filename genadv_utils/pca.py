r"""Principal component analysis of images: the linear baseline the chapters compare against.

For centred data $X \in \mathbb{R}^{N \times D}$ (one flattened image per row), PCA finds the
orthonormal directions $W_k \in \mathbb{R}^{D \times k}$ that keep the most variance; projecting
onto them and back,

$$\hat{x} = \mu + W_k W_k^\top (x - \mu),$$

is the rank-$k$ reconstruction with the smallest mean squared error.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.decomposition import PCA


def _flat(images: torch.Tensor) -> np.ndarray:
    return images.detach().reshape(len(images), -1).to("cpu", torch.float64).numpy()


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
    flat = (_flat(images) - pca.mean_) @ w.T @ w + pca.mean_
    out = torch.from_numpy(np.clip(flat, 0.0, 1.0)).float()
    return out.reshape(images.shape).to(images.device)


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
