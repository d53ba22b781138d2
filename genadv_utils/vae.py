r"""Chapter 2: the variational autoencoder (Kingma & Welling 2014).

Read top to bottom: the network, its settings and profiles, the negative ELBO it minimises, the
training step, the recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import nn

from .blocks import ConvDecoder, ConvEncoder, standard_normal
from .losses import bernoulli_nll, gaussian_kl, negative_elbo
from .recipe import Recipe, Splits, Step, TrainState, Validate, check_settings


class ConvVAE(nn.Module):
    r"""A convolutional variational autoencoder (Kingma & Welling 2014).

    Encoder: $(\mu, \log\sigma^2) = e_\phi(x)$, the parameters of
    $q_\phi(z \mid x) = \mathcal{N}(\mu, \operatorname{diag}\sigma^2)$ over $z \in \mathbb{R}^d$.
    Reparameterisation: $z = \mu + \sigma \odot \varepsilon$ with
    $\varepsilon \sim \mathcal{N}(0, I)$, so gradients flow through $\mu$ and $\sigma$.
    Decoder: pixel logits $\ell = g_\theta(z)$ of $p_\theta(x \mid z) = \prod_j
    \operatorname{Bern}(x_j; \operatorname{sigmoid}(\ell_j))$. Prior: $p(z) = \mathcal{N}(0, I)$.
    Encoder and decoder are :class:`~genadv_utils.blocks.ConvEncoder` and
    :class:`~genadv_utils.blocks.ConvDecoder`, each with a hidden dense layer of ``hidden``
    units.
    """

    def __init__(self, latent_size: int = 16, width: int = 16, hidden: int = 512) -> None:
        super().__init__()
        self.latent_size = latent_size
        self.encoder = ConvEncoder(2 * latent_size, width, hidden)  # (N, 1, 28, 28) -> (N, 2d)
        self.decoder = ConvDecoder(latent_size, width, hidden)  # (N, d) -> (N, 1, 28, 28)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""$(\mu, \log\sigma^2)$, each $[N, d]$."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    @staticmethod
    def reparameterise(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        r"""A sample $z = \mu + e^{\log\sigma^2 / 2} \odot \varepsilon$."""
        return mu + (0.5 * logvar).exp() * torch.randn_like(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits ``[N, 1, 28, 28]`` (``torch.sigmoid`` gives the Bernoulli means)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits of a reconstruction from one sample of $z$, and $(\\mu, \\log\\sigma^2)$."""
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterise(mu, logvar)), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""``n`` images from the model: $z \sim \mathcal{N}(0, I)$, decoded to the Bernoulli
        means $\operatorname{sigmoid}(g_\theta(z)) \in [0, 1]$ (the usual way to show them)."""
        z = standard_normal(self, n, self.latent_size, generator)
        return torch.sigmoid(self.decode(z))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        r"""The mean reconstruction $\operatorname{sigmoid}(g_\theta(\mu_\phi(x)))$ in $[0, 1]$."""
        return torch.sigmoid(self.decode(self.encode(x)[0]))


@dataclass(frozen=True)
class VAESettings:
    """Everything that defines a variational-autoencoder run (and names its folder)."""

    dataset: str = "mnist"
    latent_size: int = 16
    width: int = 16  # channels of the first convolution (the second has twice as many)
    hidden: int = 512  # units of the dense layer between convolutions and code, both ways
    beta: float = 1.0  # weight of the KL term (1: the ELBO; other values: a beta-VAE)
    epochs: int = 8
    batch_size: int = 128
    lr: float = 4e-3
    lr_decay: float = 0.8  # ExponentialLR: the learning rate is multiplied by this every epoch
    train_size: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_settings(self, "latent_size", "width", "hidden")
        if self.beta < 0:
            raise ValueError(f"beta must be non-negative, got {self.beta}")


PROFILES: dict[str, dict[str, Any]] = {"default": {}, "smoke": {"epochs": 2, "train_size": 4000}}
"""What each profile changes in :class:`VAESettings`."""

PLANE: dict[str, dict[str, Any]] = {
    "default": {"latent_size": 2, "epochs": 3},
    "smoke": {"latent_size": 2, "epochs": 2},
}
"""What the two-dimensional VAE, whose latent plane chapter 2 and the Fashion-MNIST page draw,
changes in each profile's settings (the same settings find the same run)."""


def vae_step(state: TrainState, batch: tuple[torch.Tensor, torch.Tensor], *,
             beta: float = 1.0) -> dict[str, torch.Tensor]:
    """One VAE step: encode, sample z by reparameterisation, decode, and descend
    the negative ELBO: reconstruction + beta * KL, in nats per image."""
    images, _ = batch  # (N, 1, 28, 28)
    model, optimizer = state.modules["vae"], state.optimizers["vae"]
    logits, mu, logvar = model(images)  # (N, 1, 28, 28), (N, d), (N, d)
    # -ELBO = -E_q log p(x | z) + beta * KL(q(z | x) || N(0, I)), per image
    reconstruction = bernoulli_nll(logits, images).mean()
    kl = gaussian_kl(mu, logvar).sum(1).mean()
    loss = reconstruction + beta * kl
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return {"loss": loss, "rec": reconstruction, "kl": kl}


def network(settings: VAESettings) -> ConvVAE:
    """The untrained network these settings describe."""
    return ConvVAE(settings.latent_size, settings.width, settings.hidden)


def build(settings: VAESettings, fused: bool | None = None) -> TrainState:
    """A VAE, its Adam optimiser (``fused``: one kernel for its whole update) and exponential
    LR schedule."""
    model = network(settings)
    optimizer = torch.optim.Adam(model.parameters(), settings.lr, fused=fused)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=settings.lr_decay)
    return TrainState({"vae": model}, {"vae": optimizer}, {"vae": schedule})


def validate(settings: VAESettings, splits: Splits) -> Validate:
    """The negative ELBO and its two terms on the validation split, in nats per image."""
    return lambda s: negative_elbo(s.modules["vae"], splits.val.images)


def step(settings: VAESettings) -> Step:
    """The training step with these settings' KL weight, called as ``step(state, batch)``."""
    return partial(vae_step, beta=settings.beta)


RECIPE = Recipe(
    name="vae", settings_type=VAESettings, profiles=PROFILES, network=network, build=build,
    step=step, validate=validate,
    evaluations=("likelihood",))
settings, train, load = RECIPE.settings, RECIPE.train, RECIPE.load
