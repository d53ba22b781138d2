r"""Paths and grids in a latent space: what chapters decode to look inside a generative model.

Pure tensor functions (no models): linear and spherical interpolation between two codes, and a
grid of standard-normal quantiles for decoding a 2-D latent space.
"""

from __future__ import annotations

import torch

__all__ = ["interpolate", "lerp", "normal_grid", "slerp"]


def _fractions(steps: int, like: torch.Tensor) -> torch.Tensor:
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    return torch.linspace(0, 1, steps, device=like.device, dtype=like.dtype)


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"the two end points differ in shape: {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")


def lerp(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    r"""``steps`` points on the straight line from ``a`` to ``b`` (any shape), stacked:
    $(1 - t)\,a + t\,b$ for $t = 0, \dots, 1$."""
    _check_pair(a, b)
    t = _fractions(steps, a).view(-1, *([1] * a.dim()))
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    r"""``steps`` points of spherical interpolation between two vectors ``[d]``:

    $$\operatorname{slerp}(a, b; t) = \frac{\sin((1 - t)\,\Omega)}{\sin \Omega}\, a
      + \frac{\sin(t\,\Omega)}{\sin \Omega}\, b, \qquad
      \cos \Omega = \frac{a \cdot b}{\lVert a \rVert \lVert b \rVert}.$$

    Under a Gaussian prior in many dimensions almost all mass lies near the sphere of radius
    $\sqrt{d}$; a straight line between two codes cuts inside it, where the decoder saw few codes,
    while the arc keeps a typical norm. (Nearly parallel vectors fall back to :func:`lerp`.)"""
    _check_pair(a, b)
    if a.dim() != 1:
        raise ValueError(f"slerp takes vectors [d], got shape {tuple(a.shape)}")
    t = _fractions(steps, a).unsqueeze(1)
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-4:
        return lerp(a, b, steps)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def interpolate(a: torch.Tensor, b: torch.Tensor, steps: int, kind: str = "linear"
                ) -> torch.Tensor:
    """``steps`` codes from ``a`` to ``b``: ``kind`` is ``"linear"`` (:func:`lerp`) or
    ``"spherical"`` (:func:`slerp`)."""
    paths = {"linear": lerp, "spherical": slerp}
    if kind not in paths:
        raise ValueError(f"unknown interpolation {kind!r}; choose from {', '.join(paths)}")
    return paths[kind](a, b, steps)


def normal_grid(n: int, *, tail: float = 0.05,
                device: torch.device | str | None = None) -> torch.Tensor:
    r"""An ``n × n`` grid of 2-D codes ``[n*n, 2]`` at standard-normal quantiles,
    $z = (\Phi^{-1}(u_j), \Phi^{-1}(v_i))$ with $u, v$ evenly spaced in
    $[\text{tail}, 1 - \text{tail}]$. Equal steps in probability, not in $z$: each cell of the grid
    holds the same prior mass. Row-major, the first row at the *top* (largest $z_2$), so that
    decoding it and laying the images out in rows draws the latent plane as a picture."""
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    if not 0 < tail < 0.5:
        raise ValueError(f"tail must be in (0, 0.5), got {tail}")
    u = torch.linspace(tail, 1 - tail, n, device=device)
    q = torch.distributions.Normal(0.0, 1.0).icdf(u)
    z1, z2 = torch.meshgrid(q, q.flip(0), indexing="xy")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)
