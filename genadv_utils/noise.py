r"""Corruption processes for denoising: additive Gaussian, salt-and-pepper and masking noise.

Each takes clean images $x \in [0, 1]$ and returns corrupted images $\tilde{x} \in [0, 1]$ of the
same shape, drawing its randomness from ``generator`` (or PyTorch's global generator):

- Gaussian: $\tilde{x} = \operatorname{clip}_{[0,1]}(x + \sigma \varepsilon)$,
  $\varepsilon \sim \mathcal{N}(0, I)$;
- salt-and-pepper: a fraction $p$ of the pixels, chosen at random, is replaced by 0 or 1 with
  equal probability (the classic "50 % noise" is $p = 0.5$);
- masking: a fraction $p$ of the pixels is set to 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Noise = Callable[[torch.Tensor, float, "torch.Generator | None"], torch.Tensor]


def _check(images: torch.Tensor, level: float, name: str, upper: float | None) -> None:
    if not torch.is_floating_point(images):
        raise TypeError(f"images must be floats in [0, 1], got {images.dtype}")
    if not level >= 0 or (upper is not None and not level <= upper):  # nan is neither
        bound = f"between 0 and {upper}" if upper is not None else "non-negative"
        raise ValueError(f"{name} must be {bound}, got {level}")


def _uniform(images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Uniform [0, 1) numbers shaped like ``images``, drawn on the generator's device."""
    device = generator.device if generator is not None else images.device
    return torch.rand(images.shape, generator=generator, device=device).to(images.device)


def gaussian(images: torch.Tensor, sigma: float,
             generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Add $\mathcal{N}(0, \sigma^2)$ noise to every pixel and clip to [0, 1]."""
    _check(images, sigma, "sigma", None)
    device = generator.device if generator is not None else images.device
    eps = torch.randn(images.shape, generator=generator, device=device).to(images.device)
    return (images + sigma * eps).clamp_(0.0, 1.0)


def salt_and_pepper(images: torch.Tensor, p: float,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace a fraction ``p`` of the pixels by 0 or 1 (each with probability 1/2)."""
    _check(images, p, "p", 1.0)
    hit = _uniform(images, generator) < p
    salt = _uniform(images, generator) < 0.5
    return torch.where(hit, salt.to(images.dtype), images)


def masking(images: torch.Tensor, p: float,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Set a fraction ``p`` of the pixels to 0."""
    _check(images, p, "p", 1.0)
    return images.masked_fill(_uniform(images, generator) < p, 0.0)


NOISES: dict[str, Noise] = {
    "gaussian": gaussian,
    "salt-and-pepper": salt_and_pepper,
    "masking": masking,
}
"""The noise types by name, each called as ``noise(images, level, generator)``."""


def corrupt(images: torch.Tensor, kind: str, level: float,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Corrupt ``images`` with the noise named ``kind`` at ``level`` (sigma or fraction p)."""
    try:
        noise = NOISES[kind]
    except KeyError:
        raise ValueError(f"unknown noise {kind!r}; choose one of {', '.join(NOISES)}") from None
    return noise(images, level, generator)


def seeded(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator for reproducible corruption, e.g. of a fixed test set."""
    return torch.Generator(device=device).manual_seed(seed)
