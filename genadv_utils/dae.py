r"""Chapter 1: the denoising autoencoder (Vincent et al. 2008).

Read top to bottom: the network, its settings and profiles, the training step with its loss,
the recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import noise
from .blocks import ConvDecoder, ConvEncoder, in_batches
from .recipe import Recipe, Splits, Step, TrainState, Validate, check_settings


class DenoisingAutoencoder(nn.Module):
    r"""A convolutional denoising autoencoder (Vincent et al. 2008).

    $\hat{x} = \sigma\big(g(e(\tilde{x}))\big)$: the encoder $e$ maps a corrupted image
    $\tilde{x}$ to a code $h = e(\tilde{x}) \in \mathbb{R}^{d}$ (the bottleneck), the decoder $g$
    maps it back to pixel logits, and the sigmoid $\sigma$ to values in $[0, 1]$. Training
    minimises $\lVert \hat{x} - x \rVert^2$ against the *clean* image $x$.
    """

    def __init__(self, code_size: int = 64, width: int = 32) -> None:
        super().__init__()
        self.code_size = code_size
        self.encoder = ConvEncoder(code_size, width)  # (N, 1, 28, 28) -> (N, d)
        self.decoder = ConvDecoder(code_size, width)  # (N, d) -> (N, 1, 28, 28) logits

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The bottleneck code $h = e(x)$, shape $[N, d]$."""
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        r"""Images $\sigma(g(h))$ in $[0, 1]$ from codes."""
        return torch.sigmoid(self.decoder(code))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        r"""$\hat{x}$ in $[0, 1]$ for images $x$ (noisy or clean), without gradients: the same
        call as the other autoencoders' ``reconstruct``."""
        return self(x)


@dataclass(frozen=True)
class DAESettings:
    """Everything that defines a denoising-autoencoder run (and names its folder)."""

    dataset: str = "mnist"
    noise: str = "gaussian"
    level: float = 0.5
    code_size: int = 64
    width: int = 32
    epochs: int = 6
    batch_size: int = 128
    lr: float = 3e-3
    train_size: int | None = None  # None: all 55 000 training images
    seed: int = 0

    def __post_init__(self) -> None:
        check_settings(self, "code_size", "width")
        noise.corrupt(torch.zeros(1), self.noise, self.level)  # checks the noise and level


PROFILES: dict[str, dict[str, Any]] = {"default": {}, "smoke": {"epochs": 2, "train_size": 4000}}
"""What each profile changes in :class:`DAESettings`."""

VALIDATION_NOISE_SEED = 1
"""Seed of the fixed corruption of the validation images used to track training."""


def dae_step(state: TrainState, batch: tuple[torch.Tensor, torch.Tensor], *,
             noise_kind: str, level: float) -> dict[str, torch.Tensor]:
    """One denoising step: corrupt the clean batch, reconstruct it, and move the
    weights down the gradient of the squared error against the *clean* image."""
    clean, _ = batch  # (N, 1, 28, 28)
    model, optimizer = state.modules["dae"], state.optimizers["dae"]
    noisy = noise.corrupt(clean, noise_kind, level)  # x~ ~ q(x~ | x)
    loss = F.mse_loss(model(noisy), clean)  # mean of (g(e(x~)) - x)^2
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return {"mse": loss}


def network(settings: DAESettings) -> DenoisingAutoencoder:
    """The untrained network these settings describe."""
    return DenoisingAutoencoder(settings.code_size, settings.width)


def build(settings: DAESettings, fused: bool | None = None) -> TrainState:
    """A DAE and its Adam optimiser (``fused``: one kernel for its whole update)."""
    model = network(settings)
    optimizer = torch.optim.Adam(model.parameters(), settings.lr, fused=fused)
    return TrainState({"dae": model}, {"dae": optimizer})


def step(settings: DAESettings) -> Step:
    """The training step with these settings' noise, called as ``step(state, batch)``."""
    return partial(dae_step, noise_kind=settings.noise, level=settings.level)


def validate(settings: DAESettings, splits: Splits) -> Validate:
    """Validation MSE of the DAE's output on a fixed corruption of the validation images."""
    val = splits.val.images
    noisy = noise.corrupt(val, settings.noise, settings.level,
                          noise.seeded(VALIDATION_NOISE_SEED, val.device))
    return lambda s: {"mse": F.mse_loss(in_batches(s.modules["dae"], noisy), val).item()}


RECIPE = Recipe(
    name="dae", settings_type=DAESettings, profiles=PROFILES, network=network, build=build,
    step=step,
    validate=validate, evaluations=("denoising",))
settings, train, load = RECIPE.settings, RECIPE.train, RECIPE.load
