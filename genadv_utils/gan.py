r"""Chapter 3: the generative adversarial network, in the DCGAN form (Goodfellow et al. 2014;
Radford et al. 2016).

Read top to bottom: the generator, the discriminator, the pair, the settings and profiles, the
training step, the recipe.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import nn

from .blocks import check_images, dcgan_init, in_batches, standard_normal
from .data import Splits
from .losses import (discriminator_loss, generator_loss, hinge_discriminator_loss,
                     hinge_generator_loss)
from .recipe import Device, Recipe, adam, check_positive, fresh
from .runtime import seed_everything
from .training import Render, TrainState, Validate


class DCGANGenerator(nn.Module):
    r"""$G(z)$: noise $z \in \mathbb{R}^d$ → image $[N, 1, 28, 28]$ in $[0, 1]$ (DCGAN).

    A linear map to $2w \times 7 \times 7$ features, then two stride-2 transposed convolutions
    ($7 \to 14 \to 28$), with batch norm and ReLU after every layer but the last, whose output
    goes through $\tfrac12(\tanh + 1)$: the DCGAN's tanh, rescaled to the pixel range.

    With ``refine``, a $3 \times 3$ convolution (batch norm, ReLU) follows the features at
    7 × 7 and at 14 × 14, and the second transposed convolution makes $w/2$ channels at
    28 × 28 that a last $3 \times 3$ convolution turns into the image: each resolution gets a
    layer that can fix what the up-sampling left (its checkerboard, broken strokes).
    """

    def __init__(self, latent_size: int = 64, width: int = 32, refine: bool = False) -> None:
        super().__init__()
        if latent_size <= 0 or width <= 1:
            raise ValueError("latent_size must be positive and width at least 2")
        self.latent_size = latent_size

        def up(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                    nn.BatchNorm2d(c_out), nn.ReLU()]

        def same(c: int) -> list[nn.Module]:
            return [nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]

        layers = [nn.Linear(latent_size, 2 * width * 7 * 7, bias=False),
                  nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU(),
                  nn.Unflatten(1, (2 * width, 7, 7))]
        if refine:
            layers += [*same(2 * width), *up(2 * width, width), *same(width),
                       *up(width, width // 2), nn.Conv2d(width // 2, 1, 3, padding=1)]
        else:
            layers += [*up(2 * width, width),
                       nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1)]
        self.net = nn.Sequential(*layers, nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.net(z) + 1.0)


class DCGANDiscriminator(nn.Module):
    r"""$D(x)$: image $[N, 1, 28, 28]$ in $[0, 1]$ → one logit per image (DCGAN).

    Pixels are rescaled to $[-1, 1]$, then two stride-2 convolutions ($28 \to 14 \to 7$,
    ``width`` and ``2·width`` channels) with LeakyReLU(0.2), batch norm on the second, and a
    linear map of the features to the logit $\ell(x)$; $D(x) = \operatorname{sigmoid}(\ell(x))$
    is the probability that $x$ is real. ``features`` gives the last convolution's
    activations (the VAE-GAN compares images through them).

    With ``spectral``, every layer's weight $W$ (a convolution's kernel reshaped to a matrix)
    is divided by its largest singular value $\sigma(W)$ (spectral normalisation, Miyato et al.
    2018, estimated by one power iteration per training call) and batch norm is left out. A
    dense layer is then 1-Lipschitz, a $4 \times 4$ stride-2 convolution at most 2-Lipschitz
    (each input pixel meets at most four kernel positions), LeakyReLU 1-Lipschitz, so the logit
    is Lipschitz with a fixed bound: the discriminator cannot become arbitrarily steep, and
    the generator's gradient through it stays bounded.
    """

    def __init__(self, width: int = 32, spectral: bool = False) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError("width must be positive")
        norm = nn.utils.parametrizations.spectral_norm if spectral else (lambda layer: layer)
        self.body = nn.Sequential(
            norm(nn.Conv2d(1, width, 4, stride=2, padding=1)), nn.LeakyReLU(0.2),
            norm(nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=spectral)),
            nn.Identity() if spectral else nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        self.head = norm(nn.Linear(2 * width * 7 * 7, 1))

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


AVERAGE_SEED = 4321
"""Seed of the noise that re-estimates the averaged generator's batch-norm statistics."""


class GAN(nn.Module):
    r"""A generative adversarial network (Goodfellow et al. 2014) in the DCGAN form: a
    :class:`DCGANGenerator` $G$ and a :class:`DCGANDiscriminator` $D$, initialised with
    :func:`~genadv_utils.blocks.dcgan_init`. The two play

    $$\min_G \max_D \; \mathbb{E}_{x \sim p_\text{data}} \log D(x)
      + \mathbb{E}_{z \sim \mathcal{N}(0, I)} \log\big(1 - D(G(z))\big).$$

    With ``average``, the pair also keeps ``average``: an exponential moving average of the
    generator's weights (see :meth:`update_average`), which samples instead of $G$.
    """

    def __init__(self, latent_size: int = 64, width: int = 32, *, refine: bool = False,
                 spectral: bool = False, average: bool = False) -> None:
        super().__init__()
        self.latent_size = latent_size
        self.generator = DCGANGenerator(latent_size, width, refine)
        self.discriminator = DCGANDiscriminator(width, spectral)
        self.apply(dcgan_init)
        self.average = copy.deepcopy(self.generator).requires_grad_(False) if average else None

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""``n`` noise vectors $z \sim \mathcal{N}(0, I)$ on the model's device."""
        return standard_normal(self, n, self.latent_size, generator)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """The images of noise ``z``: by the averaged generator if there is one, else by $G$."""
        return (self.generator if self.average is None else self.average)(z)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` generated images in $[0, 1]$, ``[n, 1, 28, 28]``."""
        return self.generate(self.noise(n, generator))

    @torch.no_grad()
    def update_average(self, decay: float) -> None:
        r"""One step of the exponential moving average of the generator's weights (Polyak
        averaging with a horizon of about $1 / (1 - \beta)$ steps):
        $\bar\theta \leftarrow \beta \bar\theta + (1 - \beta)\,\theta$. The game makes $\theta$
        circle around a good point rather than settle on it; the average sits nearer it."""
        for mean, weight in zip(self.average.parameters(), self.generator.parameters()):
            mean.lerp_(weight, 1.0 - decay)

    @torch.no_grad()
    def refresh_average(self, images: int = 2000, batch_size: int = 500) -> None:
        """Re-estimate the averaged generator's batch-norm statistics from ``images`` of its
        own (fixed noise): averaged weights need their own means and variances, not the
        running ones of $G$."""
        norms = [m for m in self.average.modules()
                 if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a plain average over the batches below
        self.average.train()
        generator = torch.Generator().manual_seed(AVERAGE_SEED)
        for start in range(0, images, batch_size):
            self.average(self.noise(min(batch_size, images - start), generator))
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        self.average.eval()


LOSSES = {
    "non-saturating": (discriminator_loss, generator_loss),
    "saturating": (discriminator_loss, partial(generator_loss, saturating=True)),
    "hinge": (hinge_discriminator_loss, hinge_generator_loss),
}
"""Each loss's name and its pair (the discriminator's loss, the generator's loss)."""


@dataclass(frozen=True)
class GANSettings:
    """Everything that defines a DCGAN run (and names its folder)."""

    dataset: str = "mnist"
    latent_size: int = 64
    width: int = 32  # channels of D's first convolution and of G's last hidden layer
    refine: bool = True  # a 3x3 convolution at each of G's resolutions
    spectral: bool = False  # spectral normalisation in D (instead of its batch norm)
    average: float = 0.999  # decay of G's weight average (0: no average)
    epochs: int = 6
    batch_size: int = 64
    lr_generator: float = 1e-3  # DCGAN: 2e-4 for both; faster learned better in the same time
    lr_discriminator: float = 2e-3
    beta1: float = 0.5  # Adam's first-moment decay; DCGAN lowers it from 0.9
    loss: str = "non-saturating"  # or "saturating" (the minimax one), or "hinge"
    train_size: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive(self, "latent_size", "width")
        if not 0 <= self.beta1 < 1:
            raise ValueError(f"beta1 must be in [0, 1), got {self.beta1}")
        if not 0 <= self.average < 1:
            raise ValueError(f"average must be in [0, 1), got {self.average}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")


PROFILES: dict[str, dict[str, Any]] = {
    "default": {"epochs": 6, "train_size": None},
    "smoke": {"epochs": 2, "train_size": 4000},
}
"""What each profile changes in :class:`GANSettings`; the chapter reads them from here."""

FIRST_RECIPE: dict[str, Any] = {"refine": False, "average": 0.0, "lr_discriminator": 2e-4}
"""What the chapter's first recipe, the plain DCGAN of the book's earlier editions (8 epochs in
the default profile), sets differently from :class:`GANSettings`'s defaults; the chapter and
``benchmarks/gan_sweep.py`` compare it with today's recipe at equal training time."""


def gan_step(state: TrainState, batch: tuple[torch.Tensor, torch.Tensor], *,
             loss: str = "non-saturating", average: float = 0.0) -> dict[str, torch.Tensor]:
    """One GAN step: a discriminator update on a real and a fake batch, then a
    generator update that tries to make the discriminator call fakes real
    (then, with ``average``, one step of the generator's weight average)."""
    real, _ = batch
    gan = state.modules["gan"]
    d_opt = state.optimizers["discriminator"]
    g_opt = state.optimizers["generator"]
    fake = gan.generator(gan.noise(len(real)))

    real_logits = gan.discriminator(real)
    fake_logits = gan.discriminator(fake.detach())  # detach: G is left alone
    d_loss_of, g_loss_of = LOSSES[loss]
    d_loss = d_loss_of(real_logits, fake_logits)
    d_opt.zero_grad()
    d_loss.backward()
    d_opt.step()

    gan.discriminator.requires_grad_(False)  # G's update needs no gradient for D's weights
    fooled = gan.discriminator(fake)  # the fakes, scored by the updated D
    g_loss = g_loss_of(fooled)
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    gan.discriminator.requires_grad_(True)
    if average:
        gan.update_average(average)
    return {"d_loss": d_loss, "g_loss": g_loss,
            "d_real": torch.sigmoid(real_logits).mean(),
            "d_fake": torch.sigmoid(fake_logits).mean()}


def network(settings: GANSettings) -> GAN:
    """The untrained pair these settings describe."""
    return GAN(settings.latent_size, settings.width, refine=settings.refine,
               spectral=settings.spectral, average=settings.average > 0)


def build(settings: GANSettings, device: Device = None) -> TrainState:
    """A freshly initialised DCGAN (seeded) and one Adam optimiser per network (with the
    faster CPU kernels of :func:`~genadv_utils.recipe.fresh` and :func:`~.recipe.adam`)."""
    seed_everything(settings.seed)
    gan = fresh(network(settings), device, fast=True)
    betas = (settings.beta1, 0.999)
    return TrainState({"gan": gan}, {
        "generator": adam(gan.generator.parameters(), settings.lr_generator, betas=betas,
                          fast=True),
        "discriminator": adam(gan.discriminator.parameters(), settings.lr_discriminator,
                              betas=betas, fast=True),
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


def validate(settings: GANSettings, splits: Splits) -> Validate:
    """After each epoch: the averaged generator's batch-norm statistics re-estimated (if
    there is an average), and D's mean score $D(x)$ of 1000 validation images (a
    discriminator that memorises the training set scores them lower than training images)."""
    val = splits.val.images[:1000]

    def run(state: TrainState) -> dict[str, float]:
        gan = state.modules["gan"]
        if gan.average is not None:
            gan.refresh_average()
        return {"d_real": torch.sigmoid(in_batches(gan.discriminator, val)).mean().item()}
    return run


RECIPE = Recipe(
    name="gan", settings_type=GANSettings, profiles=PROFILES, network=network, build=build,
    step=lambda s: partial(gan_step, loss=s.loss, average=s.average), validate=validate,
    snapshot=snapshot, evaluations=("samples",))
settings, train, load = RECIPE.settings, RECIPE.train, RECIPE.load
