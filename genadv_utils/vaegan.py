r"""Chapter 4: the VAE-GAN (Larsen et al. 2016), from chapter 2's encoder and chapter 3's networks
and sampling. Top to bottom: the network, its settings, the balancing rule, the step with its
three losses and their gradient routing, the pixel-likelihood baseline, the recipe."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F

from .blocks import ConvEncoder, dcgan_init, fixed_noise, in_batches
from .gan import (DCGANDiscriminator, DCGANGenerator, GANSettings, ImageGenerator, lazy_r1,
                  steps_taken)
from .losses import bernoulli_nll, feature_reconstruction, gaussian_kl
from .recipe import Recipe, Render, Splits, Step, TrainState, Validate, check_settings


class VAEGAN(ImageGenerator):
    r"""A VAE whose decoder is also a GAN's generator, its reconstructions compared with the
    input in the discriminator's features: chapter 2's encoder for $q_\phi(z \mid x) =
    \mathcal{N}(\mu, \operatorname{diag}\sigma^2)$, a DCGAN generator as the decoder
    $\operatorname{Dec}(z)$, a DCGAN discriminator with features $\operatorname{Dis}_l(x)$.
    Sampling and the decoder's average are the GAN's (:class:`~genadv_utils.gan.ImageGenerator`)."""

    def __init__(self, latent_size: int = 32, width: int = 32, encoder_width: int = 16,
                 hidden: int = 512, *, refine: bool = False, keep_average: bool = False,
                 dense: int = 0) -> None:
        super().__init__()
        self.latent_size = latent_size
        self.encoder = ConvEncoder(2 * latent_size, encoder_width, hidden)  # (N, 2d): mu, logvar
        self.decoder = DCGANGenerator(latent_size, width, refine)  # (N, d) -> (N, 1, 28, 28)
        self.discriminator = DCGANDiscriminator(width, dense)  # (N, 1, 28, 28) -> (N,)
        self.decoder.apply(dcgan_init)
        self.discriminator.apply(dcgan_init)
        self.average = copy.deepcopy(self.decoder).requires_grad_(False) if keep_average else None

    @property
    def generator(self) -> DCGANGenerator:  # the decoder, in its other role: a GAN's generator
        return self.decoder

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""$(\mu, \log\sigma^2)$ of $q_\phi(z \mid x)$, each $[N, d]$."""
        return self.encoder(x).chunk(2, dim=1)  # (N, 2d) -> (mu, logvar)

    @staticmethod
    def reparameterise(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        r"""A sample $z = \mu + e^{\log\sigma^2 / 2} \odot \varepsilon$ of $q_\phi(z \mid x)$."""
        return mu + (0.5 * logvar).exp() * torch.randn_like(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        r"""$\operatorname{Dec}(z)$: ``[N, 1, 28, 28]`` in $[0, 1]$, by the decoder itself."""
        return self.decoder(z)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        r"""$\operatorname{Dec}(\mu_\phi(x))$ in $[0, 1]$, by the decoder's average if any."""
        return self.generate(self.encode(x)[0])


CHANCE = math.log(2)  # D's cross-entropy on real and on fake images when it answers 1/2
NETWORKS = ("encoder", "decoder", "discriminator")  # each with its own Adam and learning rate


@dataclass(frozen=True)
class VAEGANSettings:
    """Everything that defines a VAE-GAN run (and names its folder)."""

    dataset: str = "mnist"
    latent_size: int = 32
    width: int = 32  # the decoder's and discriminator's channels, as in the DCGAN
    encoder_width: int = 16  # the encoder's, as in the VAE
    hidden: int = 512
    dense: int = 512  # a hidden layer between Dis_l and D's logit, as in the paper (0: none)
    similarity: str = "learned"  # "pixels": the same networks trained as a VAE, no D
    judge_reconstructions: bool = False  # D judges x_p only, as the authors' runs (True: x~ too)
    refine: bool = True  # as in the GAN: a 3x3 convolution at each of the decoder's resolutions
    average_decay: float = 0.999  # as in the GAN: decay of the decoder's weight average (0: none)
    r1_gamma: float = GANSettings.r1_gamma  # as in the GAN: R1 on D every r1_every steps
    r1_every: int = GANSettings.r1_every
    gamma: float = 0.01  # weight of the feature reconstruction in the decoder's loss
    kl_weight: float = 0.03  # weight of the KL in the encoder's loss (1: the VAE's bound)
    balance: bool = True  # the equilibrium rule; False updates both players every step
    equilibrium: float = CHANCE  # the band's centre: D's costs at chance
    margin: float = 0.35  # the band's half-width, the authors' value
    epochs: int = 5  # judging samples only, a step is cheaper than judging both was
    batch_size: int = 64
    lr_encoder: float = 1e-3
    lr_decoder: float = 1e-3
    lr_discriminator: float = GANSettings.lr_discriminator  # reconstructions kept class more
    lr_decay: float = 0.7  # ExponentialLR: the decayed networks' rates times this every epoch
    decayed: str = "encoder discriminator"  # whose rates decay; the decoder keeps learning
    beta1: float = 0.5
    train_size: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_settings(self, "latent_size", "width", "encoder_width", "hidden", "r1_every",
                       "equilibrium")
        if min(self.gamma, self.margin, self.kl_weight, self.dense, self.r1_gamma) < 0:
            raise ValueError("gamma, kl_weight, margin, dense and r1_gamma must be >= 0")
        if self.similarity not in ("learned", "pixels"):
            raise ValueError(f"similarity must be 'learned' or 'pixels', got {self.similarity!r}")
        if not set(self.decayed.split()) <= set(NETWORKS):
            raise ValueError(f"decayed names encoder, decoder, discriminator; got {self.decayed!r}")


PROFILES: dict[str, dict[str, Any]] = {"default": {}, "smoke": {"epochs": 2, "train_size": 3000}}
"""What each profile changes in :class:`VAEGANSettings`."""

FIRST_RECIPE: dict[str, Any] = {"refine": False, "average_decay": 0.0, "dense": 0, "r1_gamma": 0.0,
                                "lr_discriminator": 2e-4, "judge_reconstructions": True,
                                "gamma": 0.01, "lr_decay": 1.0}
"""What the chapter's first recipe (the book's earlier editions) sets differently."""


def band(equilibrium: float = VAEGANSettings.equilibrium,
         margin: float = VAEGANSettings.margin) -> tuple[float, float]:
    """The interval ``(low, high)`` the rule keeps both of D's costs in, centred at chance."""
    return equilibrium - margin, equilibrium + margin


def in_band(real_cost: float, fake_cost: float, *where: float) -> bool:
    """Whether both of D's costs lie inside the :func:`band` (``where``: centre, half-width)."""
    low, high = band(*where)
    return low <= min(real_cost, fake_cost) and max(real_cost, fake_cost) <= high


def equilibrium_rule(real_cost: float, fake_cost: float, *where: float) -> tuple[bool, bool]:
    """Which players to update: ``(discriminator, decoder's GAN term)``, as in the authors'
    code (there a paused decoder skips its whole update). D pauses when its cost on real or on
    fake images falls below the :func:`band` (winning too easily); the GAN term pauses when
    either rises above it (D is lost, its verdict no guide). If both would pause, both train."""
    low, high = band(*where)
    train_d = min(real_cost, fake_cost) >= low
    train_g = max(real_cost, fake_cost) <= high
    return (train_d, train_g) if train_d or train_g else (True, True)


def vaegan_step(state: TrainState, batch: tuple[torch.Tensor, torch.Tensor], *, gamma: float,
                balance: bool = True, equilibrium: float = VAEGANSettings.equilibrium,
                margin: float = VAEGANSettings.margin, average_decay: float = 0.0,
                kl_weight: float = 1.0, judge_reconstructions: bool = True, r1_gamma: float = 0.0,
                r1_every: int = 4) -> dict[str, Any]:
    """One VAE-GAN step with the paper's gradient routing: the encoder descends
    kl_weight * KL + feature reconstruction, the decoder gamma * feature reconstruction
    + its GAN loss, the discriminator its GAN loss only (and lazy R1, as the GAN's)."""
    real, _ = batch  # (N, 1, 28, 28)
    model = state.modules["vaegan"]
    dis = model.discriminator
    mu, logvar = model.encode(real)  # (N, d) each
    # x~ = Dec(z) with z ~ q(z | x); x_p = Dec(z_p) with z_p ~ N(0, I)
    reconstruction = model.decode(model.reparameterise(mu, logvar))
    sampled = model.decode(model.noise(len(real)))
    real_features = dis.features(real)  # Dis_l(x): (N, 2w·7·7)
    rec_features = dis.features(reconstruction)  # Dis_l(x~)
    real_logits = dis.head(real_features).squeeze(1)  # (N,)
    rec_logits = dis.head(rec_features).squeeze(1)
    sampled_logits = dis(sampled)

    # L_prior = KL(q(z | x) || N(0, I))
    kl = gaussian_kl(mu, logvar).sum(1).mean()
    # L_llike = -log N(Dis_l(x); Dis_l(x~), I)
    feature_rec = feature_reconstruction(real_features, rec_features).mean()
    # D's costs, with -log D = softplus(-l) and -log(1 - D) = softplus(l):
    judged = [rec_logits, sampled_logits] if judge_reconstructions else [sampled_logits]
    real_cost = F.softplus(-real_logits).mean()  # -log D(x)
    fake_cost = sum(F.softplus(l).mean() for l in judged) / len(judged)  # -log(1 - D(fake))
    costs = real_cost.item(), fake_cost.item()
    train_d, train_g = equilibrium_rule(*costs, equilibrium, margin) if balance else (True, True)
    # The decoder's GAN term, non-saturating: -log D(x~) - log D(x_p) (or x_p's alone)
    fool = sum(F.softplus(-l).mean() for l in judged)
    objectives = {
        "encoder": kl_weight * kl + feature_rec,
        "decoder": gamma * feature_rec + (fool if train_g else 0.0),
        "discriminator": real_cost + fake_cost,  # real against generated, 1:1
    }
    updated = [n for n in objectives if n != "discriminator" or train_d]
    for name in updated:  # each network: the gradient of its own loss only
        params = list(getattr(model, name).parameters())
        for p, g in zip(params, torch.autograd.grad(objectives[name], params, retain_graph=True)):
            p.grad = g
    for name in updated:
        state.optimizers[name].step()
    if average_decay:
        model.update_average(average_decay)
    if r1_gamma and steps_taken(state.optimizers["encoder"]) % r1_every == 0:
        lazy_r1(dis, state.optimizers["discriminator"], real, r1_gamma, r1_every)
    return {"kl": kl, "feature_rec": feature_rec, "d_real_cost": real_cost,
            "d_fake_cost": fake_cost, "acc_real": (real_logits > 0).float().mean(),
            "acc_rec": (rec_logits < 0).float().mean(),
            "acc_sampled": (sampled_logits < 0).float().mean(),
            "skip_d": float(not train_d), "skip_g": float(not train_g),
            "in_band": float(in_band(*costs, equilibrium, margin))}


def pixel_vae_step(state: TrainState, batch: tuple[torch.Tensor, torch.Tensor], *,
                   average_decay: float = 0.0, kl_weight: float = 1.0) -> dict[str, torch.Tensor]:
    """Larsen et al.'s baseline: the same networks as a VAE, chapter 2's Bernoulli in pixels."""
    real, _ = batch  # (N, 1, 28, 28)
    model = state.modules["vaegan"]
    mu, logvar = model.encode(real)  # (N, d) each
    z = model.reparameterise(mu, logvar)
    # The decoder draws (tanh(a) + 1) / 2 = sigmoid(2a): its logits are 2a
    logits = 2.0 * model.decoder.net[:-1](z)  # (N, 1, 28, 28), before the tanh
    kl = gaussian_kl(mu, logvar).sum(1).mean()  # KL(q(z | x) || N(0, I))
    nll = bernoulli_nll(logits, real).mean()  # -log p(x | z)
    players = [state.optimizers["encoder"], state.optimizers["decoder"]]
    for optimizer in players:
        optimizer.zero_grad()
    (kl_weight * kl + nll).backward()
    for optimizer in players:
        optimizer.step()
    if average_decay:
        model.update_average(average_decay)
    return {"kl": kl, "pixel_nll": nll}


def network(settings: VAEGANSettings) -> VAEGAN:
    """The untrained network these settings describe."""
    return VAEGAN(settings.latent_size, settings.width, settings.encoder_width, settings.hidden,
                  refine=settings.refine, keep_average=settings.average_decay > 0,
                  dense=settings.dense)


def build(settings: VAEGANSettings, fused: bool | None = None) -> TrainState:
    """A VAE-GAN, one Adam per network (``fused``: one kernel an update), their LR schedules."""
    model = network(settings)
    adam = partial(torch.optim.Adam, betas=(settings.beta1, 0.999), fused=fused)
    optimizers = {name: adam(getattr(model, name).parameters(), getattr(settings, f"lr_{name}"))
                  for name in NETWORKS}
    decay = {name: torch.optim.lr_scheduler.ExponentialLR(optimizer, settings.lr_decay)
             for name, optimizer in optimizers.items() if name in settings.decayed.split()}
    return TrainState({"vaegan": model}, optimizers, decay)


def validate(settings: VAEGANSettings, splits: Splits) -> Validate:
    """Pixel MSE of the first 1000 validation images' reconstructions."""
    val = splits.val.images[:1000]
    return lambda s: {"rec_mse": F.mse_loss(in_batches(s.modules["vaegan"].reconstruct, val),
                                            val).item()}


def snapshot(settings: VAEGANSettings, state: TrainState) -> Render:
    """The decoder's images of :func:`~genadv_utils.blocks.fixed_noise`."""
    z = fixed_noise(state.modules["vaegan"])
    return lambda s: s.modules["vaegan"].decode(z)


def step(settings: VAEGANSettings) -> Step:
    """The training step these settings ask for, called as ``step(state, batch)``."""
    if settings.similarity == "pixels":
        return partial(pixel_vae_step, average_decay=settings.average_decay,
                       kl_weight=settings.kl_weight)
    return partial(vaegan_step, gamma=settings.gamma, balance=settings.balance,
                   equilibrium=settings.equilibrium, margin=settings.margin,
                   average_decay=settings.average_decay, kl_weight=settings.kl_weight,
                   judge_reconstructions=settings.judge_reconstructions,
                   r1_gamma=settings.r1_gamma, r1_every=settings.r1_every)


RECIPE = Recipe(
    name="vaegan", settings_type=VAEGANSettings, profiles=PROFILES, network=network, build=build,
    step=step, validate=validate, snapshot=snapshot, evaluations=("samples", "reconstructions"))
settings, train, load = RECIPE.settings, RECIPE.train, RECIPE.load
