r"""Chapter 3: the generative adversarial network, in the DCGAN form (Goodfellow et al. 2014;
Radford et al. 2016).

Read top to bottom: the generator, the discriminator, the pair, the settings and profiles, the
training step, the recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import nn

from .blocks import check_images, dcgan_init, standard_normal
from .losses import discriminator_loss, generator_loss
from .recipe import Device, Recipe, check_positive, fresh
from .runtime import seed_everything
from .training import Render, TrainState


class DCGANGenerator(nn.Module):
    r"""$G(z)$: noise $z \in \mathbb{R}^d$ → image $[N, 1, 28, 28]$ in $[0, 1]$ (DCGAN).

    A linear map to $2w \times 7 \times 7$ features, then two stride-2 transposed convolutions
    ($7 \to 14 \to 28$), with batch norm and ReLU after every layer but the last, whose output
    goes through $\tfrac12(\tanh + 1)$: the DCGAN's tanh, rescaled to the pixel range.
    """

    def __init__(self, latent_size: int = 64, width: int = 32) -> None:
        super().__init__()
        if latent_size <= 0 or width <= 0:
            raise ValueError("latent_size and width must be positive")
        self.latent_size = latent_size
        self.net = nn.Sequential(
            nn.Linear(latent_size, 2 * width * 7 * 7, bias=False),
            nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU(), nn.Unflatten(1, (2 * width, 7, 7)),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.net(z) + 1.0)


class DCGANDiscriminator(nn.Module):
    r"""$D(x)$: image $[N, 1, 28, 28]$ in $[0, 1]$ → one logit per image (DCGAN).

    Pixels are rescaled to $[-1, 1]$, then two stride-2 convolutions ($28 \to 14 \to 7$,
    ``width`` and ``2·width`` channels) with LeakyReLU(0.2), batch norm on the second, and a
    linear map of the features to the logit $\ell(x)$; $D(x) = \operatorname{sigmoid}(\ell(x))$
    is the probability that $x$ is real. ``features`` gives the last convolution's
    activations (the VAE-GAN compares images through them).
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError("width must be positive")
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2), nn.Flatten(),
        )
        self.head = nn.Linear(2 * width * 7 * 7, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The flattened activations of the last convolution, ``[N, 2·width·7·7]``."""
        check_images(x)
        return self.body(2.0 * x - 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N]`` (positive: "real")."""
        return self.head(self.features(x)).squeeze(1)

    def logits_and_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both the logits and :meth:`features`, from one pass."""
        features = self.features(x)
        return self.head(features).squeeze(1), features


class GAN(nn.Module):
    r"""A generative adversarial network (Goodfellow et al. 2014) in the DCGAN form: a
    :class:`DCGANGenerator` $G$ and a :class:`DCGANDiscriminator` $D$, initialised with
    :func:`~genadv_utils.blocks.dcgan_init`. The two play

    $$\min_G \max_D \; \mathbb{E}_{x \sim p_\text{data}} \log D(x)
      + \mathbb{E}_{z \sim \mathcal{N}(0, I)} \log\big(1 - D(G(z))\big).$$
    """

    def __init__(self, latent_size: int = 64, width: int = 32) -> None:
        super().__init__()
        self.latent_size = latent_size
        self.generator = DCGANGenerator(latent_size, width)
        self.discriminator = DCGANDiscriminator(width)
        self.apply(dcgan_init)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""``n`` noise vectors $z \sim \mathcal{N}(0, I)$ on the model's device."""
        return standard_normal(self, n, self.latent_size, generator)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` generated images in $[0, 1]$, ``[n, 1, 28, 28]``."""
        return self.generator(self.noise(n, generator))


LOSSES = ("non-saturating", "saturating")


@dataclass(frozen=True)
class GANSettings:
    """Everything that defines a DCGAN run (and names its folder)."""

    dataset: str = "mnist"
    latent_size: int = 64
    width: int = 32  # channels of D's first convolution and of G's last hidden layer
    epochs: int = 8
    batch_size: int = 64
    lr_generator: float = 1e-3  # DCGAN: 2e-4; 5x faster learned better in the same time here
    lr_discriminator: float = 2e-4
    beta1: float = 0.5  # Adam's first-moment decay; DCGAN lowers it from 0.9
    loss: str = "non-saturating"  # the generator's loss, or "saturating" (the minimax one)
    train_size: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive(self, "latent_size", "width")
        if not 0 <= self.beta1 < 1:
            raise ValueError(f"beta1 must be in [0, 1), got {self.beta1}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")


PROFILES: dict[str, dict[str, Any]] = {
    "default": {"epochs": 8, "train_size": None},
    "smoke": {"epochs": 2, "train_size": 4000},
}
"""What each profile changes in :class:`GANSettings`; the chapter reads them from here."""


def gan_step(state: TrainState, batch: tuple[torch.Tensor, torch.Tensor], *,
             saturating: bool = False) -> dict[str, torch.Tensor]:
    """One GAN step: a discriminator update on a real and a fake batch, then a
    generator update that tries to make the discriminator call fakes real."""
    real, _ = batch
    gan = state.modules["gan"]
    d_opt = state.optimizers["discriminator"]
    g_opt = state.optimizers["generator"]
    fake = gan.generator(gan.noise(len(real)))

    real_logits = gan.discriminator(real)
    fake_logits = gan.discriminator(fake.detach())  # detach: G is left alone
    d_loss = discriminator_loss(real_logits, fake_logits)
    d_opt.zero_grad()
    d_loss.backward()
    d_opt.step()

    gan.discriminator.requires_grad_(False)  # G's update needs no gradient for D's weights
    fooled = gan.discriminator(fake)  # the fakes, scored by the updated D
    g_loss = generator_loss(fooled, saturating)
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    gan.discriminator.requires_grad_(True)
    return {"d_loss": d_loss, "g_loss": g_loss,
            "d_real": torch.sigmoid(real_logits).mean(),
            "d_fake": torch.sigmoid(fake_logits).mean()}


def network(settings: GANSettings) -> GAN:
    """The untrained pair these settings describe."""
    return GAN(settings.latent_size, settings.width)


def build(settings: GANSettings, device: Device = None) -> TrainState:
    """A freshly initialised DCGAN (seeded) and one Adam optimiser per network."""
    seed_everything(settings.seed)
    gan = fresh(network(settings), device)
    betas = (settings.beta1, 0.999)
    return TrainState({"gan": gan}, {
        "generator": torch.optim.Adam(gan.generator.parameters(), settings.lr_generator,
                                      betas=betas),
        "discriminator": torch.optim.Adam(gan.discriminator.parameters(),
                                          settings.lr_discriminator, betas=betas),
    })


FIXED_NOISE_SEED = 1234
"""Seed of the fixed noise batch whose images are snapshotted during training."""


def fixed_noise(model: nn.Module, n: int = 64) -> torch.Tensor:
    """The same ``n`` noise vectors every time (seed :data:`FIXED_NOISE_SEED`), on any
    device, for a model with ``latent_size`` (the GAN, the VAE-GAN)."""
    generator = torch.Generator().manual_seed(FIXED_NOISE_SEED)
    return standard_normal(model, n, model.latent_size, generator)


def snapshot(settings: GANSettings, state: TrainState) -> Render:
    """The generator's images of :func:`fixed_noise`, for the training animation."""
    z = fixed_noise(state.modules["gan"])
    return lambda s: s.modules["gan"].generator(z)


RECIPE = Recipe(
    name="gan", settings_type=GANSettings, profiles=PROFILES, network=network, build=build,
    step=lambda s: partial(gan_step, saturating=s.loss == "saturating"), snapshot=snapshot,
    evaluations=("samples",))
settings, train, load = RECIPE.settings, RECIPE.train, RECIPE.load
