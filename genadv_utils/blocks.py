r"""Network blocks for 28 × 28 grey images, shared by the chapters' models.

The convolutional encoder halves the resolution twice (28 → 14 → 7) and maps to a vector; the
decoder mirrors it. :func:`standard_normal` draws the prior noise of every generative model, so
that a seed gives the same draw on every device.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

IMAGE_SHAPE = (1, 28, 28)


def check_images(x: torch.Tensor) -> None:
    """Raise a clear error unless ``x`` is a batch of images ``[N, 1, 28, 28]``."""
    if x.ndim != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(f"expected images [N, 1, 28, 28], got shape {tuple(x.shape)}")


def standard_normal(model: nn.Module, n: int, size: int,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    r"""``n`` draws of $z \sim \mathcal{N}(0, I_{size})$ on ``model``'s device.

    The draw is made on ``generator``'s own device (the CPU without one) and then moved to the
    model's, so one seed gives the same noise, and the same samples, on CPU, CUDA and MPS."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    device = next(model.parameters()).device
    where = generator.device if generator is not None else torch.device("cpu")
    return torch.randn(n, size, generator=generator, device=where).to(device)


FIXED_NOISE_SEED = 1234
"""Seed of the fixed noise batch whose images are snapshotted during training."""


def fixed_noise(model: nn.Module, n: int = 64) -> torch.Tensor:
    """The same ``n`` noise vectors every time (seed :data:`FIXED_NOISE_SEED`), on any
    device, for a model with ``latent_size`` (the GAN, the VAE-GAN)."""
    generator = torch.Generator().manual_seed(FIXED_NOISE_SEED)
    return standard_normal(model, n, model.latent_size, generator)


@torch.no_grad()
def in_batches(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
               batch_size: int = 1000) -> torch.Tensor:
    """``fn`` applied to ``x`` a batch at a time, without gradients, results concatenated."""
    return torch.cat([fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def dense(inputs: int, hidden: int, outputs: int) -> nn.Module:
    """A linear map, or two with ``hidden`` ReLU units between them when ``hidden`` > 0."""
    if hidden == 0:
        return nn.Linear(inputs, outputs)
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, outputs))


class ConvEncoder(nn.Module):
    r"""$e(x)$: image $[N, 1, 28, 28]$ → vector $[N, d]$.

    Two stride-2 convolutions with ReLU ($28 \to 14 \to 7$, ``width`` and ``2·width``
    channels), then a linear map of the $2w \cdot 7 \cdot 7$ features to $d$ = ``out_features``
    (with ``hidden`` > 0: a hidden layer of that many ReLU units in between).
    """

    def __init__(self, out_features: int, width: int = 32, hidden: int = 0) -> None:
        super().__init__()
        if out_features <= 0 or width <= 0 or hidden < 0:
            raise ValueError("out_features and width must be positive, hidden non-negative")
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),  # (N, w, 14, 14)
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), nn.ReLU(),  # (N, 2w, 7, 7)
            nn.Flatten(),  # (N, 2w·7·7)
        )
        self.head = dense(2 * w * 7 * 7, hidden, out_features)  # (N, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x)
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    r"""$g(z)$: vector $[N, d]$ → image logits $[N, 1, 28, 28]$.

    A linear map to $2w \times 7 \times 7$ features (with ``hidden`` > 0: through a hidden
    layer of that many ReLU units), then two stride-2 transposed convolutions
    ($7 \to 14 \to 28$) with ReLU between. Returns logits: apply a sigmoid for pixel values.
    """

    def __init__(self, in_features: int, width: int = 32, hidden: int = 0) -> None:
        super().__init__()
        if in_features <= 0 or width <= 0 or hidden < 0:
            raise ValueError("in_features and width must be positive, hidden non-negative")
        self.width = w = width
        self.head = nn.Sequential(dense(in_features, hidden, 2 * w * 7 * 7),  # (N, 2w·7·7)
                                  nn.BatchNorm1d(2 * w * 7 * 7), nn.ReLU())
        self.upsample = nn.Sequential(  # from (N, 2w, 7, 7)
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),  # (N, w, 14, 14)
            nn.ConvTranspose2d(w, 1, 4, 2, 1),  # (N, 1, 28, 28)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.head(z).view(-1, 2 * self.width, 7, 7))


def dcgan_init(module: nn.Module) -> None:
    r"""The DCGAN initialisation: convolution and linear weights from $\mathcal{N}(0, 0.02^2)$
    (Radford et al. 2016), batch-norm scales from $\mathcal{N}(1, 0.02^2)$ (from the DCGAN
    reference code, not the paper), biases zero. Use as ``net.apply(dcgan_init)``."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
