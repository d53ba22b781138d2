"""Chapter 3: the generative adversarial network in the DCGAN form (Goodfellow et al. 2014;
Radford et al. 2016). Read top to bottom: generator, discriminator, the pair, settings, the
training step with its two losses and R1, the recipe. Shapes beside each layer: N images, w = width."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import update_bn

from .blocks import check_images, dcgan_init, fixed_noise, in_batches, standard_normal
from .recipe import Recipe, Render, Splits, Step, TrainState, Validate, check_settings


class DCGANGenerator(nn.Module):
    r"""$G(z)$: noise $[N, d]$ → image $[N, 1, 28, 28]$ in $[0, 1]$ (DCGAN): a linear map to
    $2w \times 7 \times 7$, two stride-2 transposed convolutions ($7 \to 14 \to 28$), batch
    norm and ReLU after all but the last, then $\tfrac12(\tanh + 1)$. ``refine``: a $3 \times 3$
    convolution at each resolution to fix what the up-sampling left; a last one draws the image."""

    def __init__(self, latent_size: int = 64, width: int = 32, refine: bool = False) -> None:
        super().__init__()
        self.latent_size, w = latent_size, width
        layers = [
            nn.Linear(latent_size, 2 * w * 7 * 7, bias=False),  # (N, 2w·7·7)
            nn.BatchNorm1d(2 * w * 7 * 7), nn.ReLU(),
            nn.Unflatten(1, (2 * w, 7, 7)),  # (N, 2w, 7, 7)
        ]
        if refine:
            layers += [
                nn.Conv2d(2 * w, 2 * w, 3, padding=1, bias=False),  # (N, 2w, 7, 7)
                nn.BatchNorm2d(2 * w), nn.ReLU(),
                nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False),  # (N, w, 14, 14)
                nn.BatchNorm2d(w), nn.ReLU(),
                nn.Conv2d(w, w, 3, padding=1, bias=False),  # (N, w, 14, 14)
                nn.BatchNorm2d(w), nn.ReLU(),
                nn.ConvTranspose2d(w, w // 2, 4, 2, 1, bias=False),  # (N, w/2, 28, 28)
                nn.BatchNorm2d(w // 2), nn.ReLU(),
                nn.Conv2d(w // 2, 1, 3, padding=1),  # (N, 1, 28, 28)
            ]
        else:
            layers += [
                nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False),  # (N, w, 14, 14)
                nn.BatchNorm2d(w), nn.ReLU(),
                nn.ConvTranspose2d(w, 1, 4, 2, 1),  # (N, 1, 28, 28)
            ]
        self.net = nn.Sequential(*layers, nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.net(z) + 1.0)  # (N, 1, 28, 28) in [0, 1]


class DCGANDiscriminator(nn.Module):
    r"""$D(x)$: image $[N, 1, 28, 28]$ in $[0, 1]$ → logit $\ell(x)$ $[N]$ (DCGAN): pixels in
    $[-1, 1]$, two stride-2 convolutions with LeakyReLU(0.2), batch norm on the second, a linear
    map to the logit (``dense`` > 0: through a hidden layer of that width, as in the VAE-GAN's
    paper); $D(x) = \operatorname{sigmoid}(\ell(x))$, the probability that $x$ is real."""

    def __init__(self, width: int = 32, dense: int = 0) -> None:
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1), nn.LeakyReLU(0.2),  # (N, w, 14, 14)
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False),  # (N, 2w, 7, 7)
            nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
            nn.Flatten(),  # (N, 2w·7·7)
        )
        self.head = (nn.Linear(2 * w * 7 * 7, 1) if not dense else nn.Sequential(  # (N, 1)
            nn.Linear(2 * w * 7 * 7, dense), nn.LeakyReLU(0.2), nn.Linear(dense, 1)))

    def features(self, x: torch.Tensor) -> torch.Tensor:  # the last convolution's (N, 2w·7·7)
        check_images(x)
        return self.body(2.0 * x - 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # logits (N,), positive: "real"
        return self.head(self.features(x)).squeeze(1)


AVERAGE_SEED = 4321  # of the noise that re-estimates the average's batch-norm statistics


class ImageGenerator(nn.Module):
    r"""What the GAN and chapter 4's VAE-GAN share: a ``generator`` $G$ of noise
    $z \sim \mathcal{N}(0, I)$ of ``latent_size`` dimensions, and ``average`` (or ``None``): a
    copy of $G$ whose weights follow $G$'s (:meth:`update_average`) and draws the samples."""

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""``n`` noise vectors $z \sim \mathcal{N}(0, I)$ on the model's device."""
        return standard_normal(self, n, self.latent_size, generator)

    def generate(self, z: torch.Tensor) -> torch.Tensor:  # by G's average if any, else by G
        return (self.generator if self.average is None else self.average)(z)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.generate(self.noise(n, generator))  # n images (n, 1, 28, 28) in [0, 1]

    @torch.no_grad()
    def update_average(self, decay: float) -> None:
        r"""$\bar\theta \leftarrow \beta \bar\theta + (1 - \beta)\,\theta$, $\beta$ = ``decay``: about
        $1 / (1 - \beta)$ steps averaged (Yazıcı et al. 2019), nearer the point G circles."""
        for mean, weight in zip(self.average.parameters(), self.generator.parameters()):
            mean.lerp_(weight, 1.0 - decay)

    @torch.no_grad()
    def refresh_average(self, images: int = 2000, batch_size: int = 500) -> None:
        """The average's batch-norm statistics anew, from ``images`` of its own (not G's)."""
        generator = torch.Generator().manual_seed(AVERAGE_SEED)
        update_bn([self.noise(min(batch_size, images - start), generator)
                   for start in range(0, images, batch_size)], self.average)
        self.average.eval()

    def end_of_epoch(self) -> None:  # the training loop calls it after every epoch
        if self.average is not None:
            self.refresh_average()


class GAN(ImageGenerator):
    r"""A GAN (Goodfellow et al. 2014): a :class:`DCGANGenerator` $G$ and a
    :class:`DCGANDiscriminator` $D$ (DCGAN initialisation) that play
    $\min_G \max_D \mathbb{E}_{x} \log D(x) + \mathbb{E}_{z} \log(1 - D(G(z)))$; with
    ``keep_average``, $G$'s weight average draws the samples."""

    def __init__(self, latent_size: int = 64, width: int = 32, *, refine: bool = False,
                 keep_average: bool = False, dense: int = 0) -> None:
        super().__init__()
        self.latent_size = latent_size
        self.generator = DCGANGenerator(latent_size, width, refine)
        self.discriminator = DCGANDiscriminator(width, dense)
        self.apply(dcgan_init)
        self.average = copy.deepcopy(self.generator).requires_grad_(False) if keep_average else None


@dataclass(frozen=True)
class GANSettings:
    """Everything that defines a DCGAN run (and names its folder)."""

    dataset: str = "mnist"
    latent_size: int = 64
    width: int = 32  # channels of D's first convolution and of G's last hidden layer
    refine: bool = True  # a 3x3 convolution at each of G's resolutions
    dense: int = 512  # a hidden layer of this width before D's logit, as the VAE-GAN's (0: none)
    average_decay: float = 0.999  # decay of G's weight average (0: no average)
    r1_gamma: float = 0.1  # weight of the R1 penalty on D's slope at real images (0: none)
    r1_every: int = 4  # R1 lazily: a separate step of D every this many steps
    epochs: int = 4  # 5 before R1, which learns more in an epoch
    batch_size: int = 64
    lr_generator: float = 1e-3  # DCGAN: 2e-4 for both; faster learned better in the same time
    lr_discriminator: float = 2e-3
    beta1: float = 0.5  # Adam's first-moment decay; DCGAN lowers it from 0.9
    saturating: bool = False  # G minimises log(1 - D(G(z))), the minimax loss, instead
    train_size: int | None = None  # None: all 55 000 training images
    seed: int = 0

    def __post_init__(self) -> None:
        check_settings(self, "latent_size", "width", "r1_every")
        if self.width < 2 or self.r1_gamma < 0:
            raise ValueError(f"need width >= 2, r1_gamma >= 0; got {self.width}, {self.r1_gamma}")


PROFILES: dict[str, dict[str, Any]] = {"default": {}, "smoke": {"epochs": 2, "train_size": 4000}}
"""What each profile changes in :class:`GANSettings`."""

FIRST_RECIPE: dict[str, Any] = {"refine": False, "average_decay": 0.0, "lr_discriminator": 2e-4,
                                "dense": 0, "r1_gamma": 0.0}
"""What the chapter's first recipe, the plain DCGAN, sets differently (compared at equal time)."""


def steps_taken(optimizer: torch.optim.Optimizer) -> int:
    """How many steps ``optimizer`` has taken: Adam counts them, and a checkpoint keeps them."""
    return int(optimizer.state[optimizer.param_groups[0]["params"][0]].get("step", 0))


def lazy_r1(discriminator: DCGANDiscriminator, optimizer: torch.optim.Optimizer,
            real: torch.Tensor, gamma: float, every: int) -> torch.Tensor:
    r"""A step of D down R1 (Mescheder et al. 2018), $\tfrac{\gamma}{2}\,\mathbb{E}_x \lVert\nabla_x
    \ell(x)\rVert^2$ on real images, ``every`` times as strong: lazy (Karras et al. 2020)."""
    real = real.detach().requires_grad_(True)  # (N, 1, 28, 28)
    slope, = torch.autograd.grad(discriminator(real).sum(), real, create_graph=True)  # dl/dx
    penalty = 0.5 * gamma * every * slope.pow(2).flatten(1).sum(1).mean()
    optimizer.zero_grad()
    penalty.backward()
    optimizer.step()
    return penalty.detach()


def gan_step(state: TrainState, batch: tuple[torch.Tensor, torch.Tensor], *,
             saturating: bool = False, average_decay: float = 0.0, r1_gamma: float = 0.0,
             r1_every: int = 4) -> dict[str, torch.Tensor]:
    """One step: D learns from a real and a fake batch, G from the same fakes,
    then lazy R1. For logits l: -log D = softplus(-l), -log(1 - D) = softplus(l)."""
    real, _ = batch  # (N, 1, 28, 28)
    gan = state.modules["gan"]
    d_opt, g_opt = state.optimizers["discriminator"], state.optimizers["generator"]
    fake = gan.generator(gan.noise(len(real)))  # (N, 1, 28, 28)

    # (1) Update D: maximise log D(x) + log(1 - D(G(z))), i.e. minimise
    #     softplus(-l(x)) + softplus(l(G(z))): "real" = 1, "fake" = 0.
    real_logits = gan.discriminator(real)  # (N,)
    fake_logits = gan.discriminator(fake.detach())  # detach: G is left alone
    d_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    d_opt.zero_grad()
    d_loss.backward()
    d_opt.step()

    # (2) Update G: maximise log D(G(z)): minimise softplus(-l(G(z))); with
    #     `saturating`, the minimax log(1 - D(G(z))) = -softplus(l(G(z))). The
    #     updated D scores the same fakes, frozen: G needs no gradient for D.
    gan.discriminator.requires_grad_(False)
    fooled = gan.discriminator(fake)  # (N,)
    g_loss = (-F.softplus(fooled).mean() if saturating
              else F.softplus(-fooled).mean())
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    gan.discriminator.requires_grad_(True)

    if average_decay:  # (3) the weight average follows G
        gan.update_average(average_decay)
    if r1_gamma and steps_taken(g_opt) % r1_every == 0:  # (4) every r1_every steps, R1 on D
        lazy_r1(gan.discriminator, d_opt, real, r1_gamma, r1_every)
    return {"d_loss": d_loss, "g_loss": g_loss, "d_real": torch.sigmoid(real_logits).mean(),
            "d_fake": torch.sigmoid(fake_logits).mean()}


def network(settings: GANSettings) -> GAN:
    """The untrained pair these settings describe."""
    return GAN(settings.latent_size, settings.width, refine=settings.refine,
               keep_average=settings.average_decay > 0, dense=settings.dense)


def build(settings: GANSettings, fused: bool | None = None) -> TrainState:
    """A DCGAN and one Adam optimiser per network (``fused``: one kernel for each update)."""
    gan = network(settings)
    adam = partial(torch.optim.Adam, betas=(settings.beta1, 0.999), fused=fused)
    g_opt = adam(gan.generator.parameters(), settings.lr_generator)
    d_opt = adam(gan.discriminator.parameters(), settings.lr_discriminator)
    return TrainState({"gan": gan}, {"generator": g_opt, "discriminator": d_opt})


def snapshot(settings: GANSettings, state: TrainState) -> Render:
    """G's images of :func:`~genadv_utils.blocks.fixed_noise`, for the training animation."""
    z = fixed_noise(state.modules["gan"])
    return lambda s: s.modules["gan"].generator(z)


def validate(settings: GANSettings, splits: Splits) -> Validate:
    """D's mean $D(x)$ on 1000 validation images (lower than on training images: memorising)."""
    val = splits.val.images[:1000]
    return lambda s: {"d_real": torch.sigmoid(
        in_batches(s.modules["gan"].discriminator, val)).mean().item()}


def step(settings: GANSettings) -> Step:
    """The training step these settings ask for, called as ``step(state, batch)``."""
    return partial(gan_step, saturating=settings.saturating,
                   average_decay=settings.average_decay, r1_gamma=settings.r1_gamma,
                   r1_every=settings.r1_every)


RECIPE = Recipe(
    name="gan", settings_type=GANSettings, profiles=PROFILES, network=network, build=build,
    step=step, validate=validate, snapshot=snapshot, evaluations=("samples",))
settings, train, load = RECIPE.settings, RECIPE.train, RECIPE.load
