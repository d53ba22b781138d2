"""Each chapter's model, assembled: default settings per profile, the training step, and
``train_*`` / ``load_*`` functions that the notebooks, the command line and the benchmarks share.

A run's folder is named after its settings (:func:`genadv_utils.training.run_folder`), so the
notebook and ``python -m genadv_utils train dae`` with the same settings use the same folder.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from dataclasses import asdict, dataclass, fields, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from . import noise
from .data import Batches, Splits, load_splits
from .losses import (
    bernoulli_nll,
    discriminator_loss,
    feature_reconstruction,
    gaussian_kl,
    generator_loss,
)
from .metrics import accuracy, apply_in_batches, mse, negative_elbo
from .models import GAN, VAEGAN, Classifier, ConvVAE, DenoisingAutoencoder
from .runtime import pick_device, profile_name, seed_everything
from .training import (
    SETTINGS,
    History,
    Render,
    Step,
    TrainState,
    load_checkpoint,
    run_folder,
    train_or_load,
)

VALIDATION_NOISE_SEED = 1
"""Seed of the fixed corruption of the validation images used to track training."""


def _check_positive(settings: Any, *names: str) -> None:
    """Shared checks of a settings dataclass: the named fields, the epochs, the batch size and
    every learning rate (``lr``, ``lr_*``) must be positive, and ``lr_decay`` (if any) in
    (0, 1]."""
    rates = [f.name for f in fields(settings) if f.name == "lr"
             or (f.name.startswith("lr_") and f.name != "lr_decay")]
    for name in (*names, "epochs", "batch_size", *rates):
        if getattr(settings, name) <= 0:
            raise ValueError(f"{name} must be positive, got {getattr(settings, name)}")
    if not 0 < getattr(settings, "lr_decay", 1.0) <= 1:
        raise ValueError(f"lr_decay must be in (0, 1], got {settings.lr_decay}")


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
        noise.corrupt(torch.zeros(1), self.noise, self.level)  # checks the noise and level
        _check_positive(self, "code_size", "width")


DAE_PROFILES: dict[str, dict[str, Any]] = {
    "default": {"epochs": 6, "train_size": None},
    "smoke": {"epochs": 2, "train_size": 4000},
}
"""What each profile changes in :class:`DAESettings`: the chapter's parameters cell shows the
same numbers (a test checks that they agree)."""


def _settings(cls: type, profiles: dict[str, dict[str, Any]], profile: str | None,
              overrides: dict[str, Any]) -> Any:
    unknown = set(overrides) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(sorted(unknown))}")
    return cls(**{**profiles[profile_name(profile)], **overrides})


def dae_settings(profile: str | None = None, **overrides: Any) -> DAESettings:
    """The DAE settings of a profile (default: ``$GENADV_PROFILE``), with ``overrides``."""
    return _settings(DAESettings, DAE_PROFILES, profile, overrides)


def dae_step(state: TrainState, batch: tuple[torch.Tensor, torch.Tensor], *, noise_kind: str,
             level: float) -> dict[str, torch.Tensor]:
    """One denoising step: corrupt the clean batch, reconstruct it, and move the weights
    down the gradient of the mean squared error against the *clean* images."""
    clean, _ = batch
    model, optimizer = state.modules["dae"], state.optimizers["dae"]
    noisy = noise.corrupt(clean, noise_kind, level)
    loss = F.mse_loss(model(noisy), clean)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return {"mse": loss}


def _step_id(step: Step | None) -> dict[str, str]:
    """Settings entry for a reader's own step, so its runs get their own folder."""
    if step is None:
        return {}
    try:
        source = inspect.getsource(step)
    except (OSError, TypeError):
        source = repr(step)
    return {"step": f"{getattr(step, '__name__', 'step')}-"
                    f"{hashlib.sha256(source.encode()).hexdigest()[:8]}"}


def build_dae(settings: DAESettings, device: torch.device | str | None = None) -> TrainState:
    """A freshly initialised DAE (seeded by ``settings.seed``) and its Adam optimiser."""
    seed_everything(settings.seed)
    model = DenoisingAutoencoder(settings.code_size, settings.width).to(device or pick_device())
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    return TrainState({"dae": model}, {"dae": optimizer})


@dataclass
class Trained:
    """A trained model with its training history and run folder."""

    model: torch.nn.Module
    history: History
    folder: Path


def train_dae(settings: DAESettings, splits: Splits | None = None, *, step: Step | None = None,
              run_dir: str | Path | None = None, progress: bool | str = True) -> Trained:
    """Train the DAE these settings describe, or load it if its run folder holds a finished
    run. ``step`` replaces :func:`dae_step` (called as ``step(state, batch)``)."""
    splits = splits or load_splits(settings.dataset)
    device = splits.train.images.device
    state = build_dae(settings, device)
    val = splits.val.images
    val_noisy = noise.corrupt(val, settings.noise, settings.level,
                              noise.seeded(VALIDATION_NOISE_SEED, device))

    def validate(s: TrainState) -> dict[str, float]:
        return {"mse": mse(apply_in_batches(s.modules["dae"], val_noisy), val)}

    return _train("dae", settings, state, splits, default_step("dae", settings), validate,
                  custom=step,
                  run_dir=run_dir, progress=progress)


def _train(name: str, settings: Any, state: TrainState, splits: Splits, step: Step,
           validate: Any, *, custom: Step | None, run_dir: str | Path | None,
           progress: bool | str, snapshot: Render | None = None) -> Trained:
    """Shared by the ``train_*`` recipes: batches of the training split, then
    :func:`~genadv_utils.training.train_or_load` (a reader's own step gets its own folder)."""
    batches = Batches(splits.train.subset(settings.train_size), settings.batch_size,
                      seed=settings.seed)
    history, folder = train_or_load(name, {**asdict(settings), **_step_id(custom)}, state,
                                    custom or step, batches, epochs=settings.epochs,
                                    validate=validate, run_dir=run_dir, progress=progress,
                                    snapshot=snapshot)
    return Trained(state.modules[name], history, folder)


def dae_folder(settings: DAESettings) -> Path:
    """Where :func:`train_dae` keeps the run with these settings."""
    return run_folder("dae", asdict(settings))


def _load(run_dir: str | Path, name: str, cls: type, build: Any,
          device: torch.device | str | None) -> Trained:
    """Rebuild a finished run of model ``name`` from its folder's settings and checkpoint."""
    folder = Path(run_dir)
    if not (folder / SETTINGS).exists():
        raise FileNotFoundError(f"{folder} is not a run folder (no {SETTINGS})")
    saved = json.loads((folder / SETTINGS).read_text())
    if saved.get("name") != name:
        raise ValueError(f"{folder} holds a {saved.get('name')!r} run, not a {name!r} run")
    settings = replace(cls(), **{f.name: saved[f.name] for f in fields(cls)})
    state = build(settings, device)
    history = load_checkpoint(folder, state)
    if not history.finished:
        raise ValueError(f"{folder} holds an unfinished run ({len(history.epochs)} of "
                         f"{settings.epochs} epochs); train it to the end first")
    return Trained(state.modules[name].eval(), history, folder)


def load_dae(run_dir: str | Path, device: torch.device | str | None = None) -> Trained:
    """Load a finished DAE run from its folder (as written by :func:`train_dae`)."""
    return _load(run_dir, "dae", DAESettings, build_dae, device)


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
        _check_positive(self, "latent_size", "width", "hidden")
        if self.beta < 0:
            raise ValueError(f"beta must be non-negative, got {self.beta}")


VAE_PROFILES: dict[str, dict[str, Any]] = {
    "default": {"epochs": 8, "train_size": None},
    "smoke": {"epochs": 2, "train_size": 4000},
}
"""What each profile changes in :class:`VAESettings` (the chapter shows the same numbers)."""


def vae_settings(profile: str | None = None, **overrides: Any) -> VAESettings:
    """The VAE settings of a profile (default: ``$GENADV_PROFILE``), with ``overrides``."""
    return _settings(VAESettings, VAE_PROFILES, profile, overrides)


def vae_step(state: TrainState, batch: tuple[torch.Tensor, torch.Tensor], *,
             beta: float = 1.0) -> dict[str, torch.Tensor]:
    """One VAE step: encode, sample z by reparameterisation, decode, and descend the negative
    ELBO (reconstruction + beta * KL, in nats per image, averaged over the batch)."""
    images, _ = batch
    model, optimizer = state.modules["vae"], state.optimizers["vae"]
    logits, mu, logvar = model(images)
    reconstruction = bernoulli_nll(logits, images).mean()
    kl = gaussian_kl(mu, logvar).sum(1).mean()
    loss = reconstruction + beta * kl
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return {"loss": loss, "rec": reconstruction, "kl": kl}


def build_vae(settings: VAESettings, device: torch.device | str | None = None) -> TrainState:
    """A freshly initialised VAE (seeded), its Adam optimiser and exponential LR schedule."""
    seed_everything(settings.seed)
    model = ConvVAE(settings.latent_size, settings.width, settings.hidden)
    model = model.to(device or pick_device())
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=settings.lr_decay)
    return TrainState({"vae": model}, {"vae": optimizer}, {"vae": schedule})


def train_vae(settings: VAESettings, splits: Splits | None = None, *, step: Step | None = None,
              run_dir: str | Path | None = None, progress: bool | str = True) -> Trained:
    """Train the VAE these settings describe, or load its finished run. Validation records
    the negative ELBO and its two terms on the validation split, in nats per image."""
    splits = splits or load_splits(settings.dataset)
    state = build_vae(settings, splits.train.images.device)

    def validate(s: TrainState) -> dict[str, float]:
        return negative_elbo(s.modules["vae"], splits.val.images)

    return _train("vae", settings, state, splits, default_step("vae", settings), validate,
                  custom=step,
                  run_dir=run_dir, progress=progress)


def load_vae(run_dir: str | Path, device: torch.device | str | None = None) -> Trained:
    """Load a finished VAE run from its folder (as written by :func:`train_vae`)."""
    return _load(run_dir, "vae", VAESettings, build_vae, device)


@dataclass(frozen=True)
class ClassifierSettings:
    """The evaluation classifier's run (one per dataset), cached like any other run."""

    dataset: str = "mnist"
    epochs: int = 5
    batch_size: int = 128
    lr: float = 2e-3
    lr_decay: float = 0.6  # ExponentialLR: the learning rate is multiplied by this every epoch
    train_size: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        _check_positive(self)


CLASSIFIER_PROFILES: dict[str, dict[str, Any]] = {
    "default": {"epochs": 5, "train_size": None},
    "smoke": {"epochs": 1, "train_size": 4000},
}


def classifier_settings(profile: str | None = None, **overrides: Any) -> ClassifierSettings:
    """The evaluation classifier's settings for a profile, with ``overrides``."""
    return _settings(ClassifierSettings, CLASSIFIER_PROFILES, profile, overrides)


def classifier_step(state: TrainState, batch: tuple[torch.Tensor, torch.Tensor]
                    ) -> dict[str, torch.Tensor]:
    """One supervised step: cross-entropy of the predicted class logits."""
    images, labels = batch
    model, optimizer = state.modules["classifier"], state.optimizers["classifier"]
    loss = F.cross_entropy(model(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return {"cross_entropy": loss}


def build_classifier(settings: ClassifierSettings,
                     device: torch.device | str | None = None) -> TrainState:
    """A freshly initialised evaluation classifier (seeded), Adam and an exponential LR decay."""
    seed_everything(settings.seed)
    model = Classifier().to(device or pick_device())
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=settings.lr_decay)
    return TrainState({"classifier": model}, {"classifier": optimizer}, {"classifier": schedule})


def train_classifier(settings: ClassifierSettings, splits: Splits | None = None, *,
                     run_dir: str | Path | None = None,
                     progress: bool | str = True) -> Trained:
    """Train the evaluation classifier, or load its finished run; records validation
    accuracy per epoch."""
    splits = splits or load_splits(settings.dataset)
    state = build_classifier(settings, splits.train.images.device)

    def validate(s: TrainState) -> dict[str, float]:
        return {"accuracy": accuracy(s.modules["classifier"], splits.val.images,
                                     splits.val.labels)}

    return _train("classifier", settings, state, splits, default_step("classifier", settings),
                  validate, custom=None, run_dir=run_dir, progress=progress)


def load_classifier(run_dir: str | Path, device: torch.device | str | None = None) -> Trained:
    """Load a finished classifier run from its folder."""
    return _load(run_dir, "classifier", ClassifierSettings, build_classifier, device)


GAN_LOSSES = ("non-saturating", "saturating")
FIXED_NOISE_SEED = 1234
"""Seed of the fixed noise batch whose images are snapshotted during GAN training."""


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
        _check_positive(self, "latent_size", "width")
        if not 0 <= self.beta1 < 1:
            raise ValueError(f"beta1 must be in [0, 1), got {self.beta1}")
        if self.loss not in GAN_LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {', '.join(GAN_LOSSES)}")


GAN_PROFILES: dict[str, dict[str, Any]] = {
    "default": {"epochs": 8, "train_size": None},
    "smoke": {"epochs": 2, "train_size": 4000},
}
"""What each profile changes in :class:`GANSettings` (the chapter shows the same numbers)."""


def gan_settings(profile: str | None = None, **overrides: Any) -> GANSettings:
    """The GAN settings of a profile (default: ``$GENADV_PROFILE``), with ``overrides``."""
    return _settings(GANSettings, GAN_PROFILES, profile, overrides)


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

    fooled = gan.discriminator(fake)  # the fakes, scored by the updated D
    g_loss = generator_loss(fooled, saturating)
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    return {"d_loss": d_loss, "g_loss": g_loss,
            "d_real": torch.sigmoid(real_logits).mean(),
            "d_fake": torch.sigmoid(fake_logits).mean()}


def build_gan(settings: GANSettings, device: torch.device | str | None = None) -> TrainState:
    """A freshly initialised DCGAN (seeded) and one Adam optimiser per network."""
    seed_everything(settings.seed)
    gan = GAN(settings.latent_size, settings.width).to(device or pick_device())
    betas = (settings.beta1, 0.999)
    return TrainState({"gan": gan}, {
        "generator": torch.optim.Adam(gan.generator.parameters(), settings.lr_generator,
                                      betas=betas),
        "discriminator": torch.optim.Adam(gan.discriminator.parameters(),
                                          settings.lr_discriminator, betas=betas),
    })


def fixed_noise(gan: GAN | VAEGAN, n: int = 64) -> torch.Tensor:
    """The same ``n`` noise vectors every time (seed :data:`FIXED_NOISE_SEED`)."""
    generator = torch.Generator().manual_seed(FIXED_NOISE_SEED)
    return torch.randn(n, gan.latent_size, generator=generator).to(
        next(gan.parameters()).device)


def train_gan(settings: GANSettings, splits: Splits | None = None, *, step: Step | None = None,
              run_dir: str | Path | None = None, progress: bool | str = True) -> Trained:
    """Train the GAN these settings describe, or load its finished run. The history's
    snapshots are the generator's images of :func:`fixed_noise`, during and after each epoch."""
    splits = splits or load_splits(settings.dataset)
    state = build_gan(settings, splits.train.images.device)
    gan = state.modules["gan"]
    z = fixed_noise(gan)

    return _train("gan", settings, state, splits, default_step("gan", settings), None,
                  custom=step,
                  run_dir=run_dir, progress=progress,
                  snapshot=lambda s: s.modules["gan"].generator(z))


def load_gan(run_dir: str | Path, device: torch.device | str | None = None) -> Trained:
    """Load a finished GAN run from its folder (as written by :func:`train_gan`)."""
    return _load(run_dir, "gan", GANSettings, build_gan, device)


@dataclass(frozen=True)
class VAEGANSettings:
    """Everything that defines a VAE-GAN run (and names its folder)."""

    dataset: str = "mnist"
    latent_size: int = 32
    width: int = 32  # the decoder's and discriminator's channels, as in the DCGAN
    encoder_width: int = 16  # the encoder's, as in the VAE
    hidden: int = 512
    gamma: float = 1e-2  # weight of the feature reconstruction in the decoder's loss
    balance: bool = True  # the equilibrium rule; False updates both players every step
    equilibrium: float = 0.68
    margin: float = 0.35
    epochs: int = 5
    batch_size: int = 64
    lr_encoder: float = 1e-3
    lr_decoder: float = 1e-3
    lr_discriminator: float = 2e-4
    beta1: float = 0.5
    train_size: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        _check_positive(self, "latent_size", "width", "encoder_width", "hidden")
        if self.gamma < 0 or self.margin < 0 or self.equilibrium <= 0:
            raise ValueError("gamma and margin must be non-negative, equilibrium positive")
        if not 0 <= self.beta1 < 1:
            raise ValueError(f"beta1 must be in [0, 1), got {self.beta1}")


VAEGAN_PROFILES: dict[str, dict[str, Any]] = {
    "default": {"epochs": 5, "train_size": None},
    "smoke": {"epochs": 2, "train_size": 3000},
}
"""What each profile changes in :class:`VAEGANSettings` (the chapter shows the same numbers)."""


def vaegan_settings(profile: str | None = None, **overrides: Any) -> VAEGANSettings:
    """The VAE-GAN settings of a profile (default: ``$GENADV_PROFILE``), with ``overrides``."""
    return _settings(VAEGANSettings, VAEGAN_PROFILES, profile, overrides)


def equilibrium_rule(real_cost: float, fake_cost: float,
                     equilibrium: float = 0.68,
                     margin: float = 0.35) -> tuple[bool, bool]:
    """Which players to update, as in the VAE-GAN authors' code:
    ``(discriminator, decoder's GAN term)``.

    The discriminator pauses when its cross-entropy on real or on fake images
    falls below ``equilibrium - margin`` (it is winning too easily); the
    decoder's GAN term pauses when either rises above ``equilibrium + margin``
    (the discriminator is lost, so its verdict is no guide). If both would
    pause, both train."""
    train_d = min(real_cost, fake_cost) >= equilibrium - margin
    train_g = max(real_cost, fake_cost) <= equilibrium + margin
    if not (train_d or train_g):
        return True, True
    return train_d, train_g


def vaegan_step(state: TrainState, batch: tuple[torch.Tensor, torch.Tensor], *,
                gamma: float, balance: bool = True, equilibrium: float = 0.68,
                margin: float = 0.35) -> dict[str, torch.Tensor | float]:
    """One VAE-GAN step with the paper's gradient routing: the encoder descends
    KL + feature reconstruction, the decoder gamma * feature reconstruction +
    its GAN loss, the discriminator its GAN loss only."""
    real, _ = batch
    model = state.modules["vaegan"]
    dis = model.discriminator
    mu, logvar = model.encode(real)
    reconstruction = model.decode(model.reparameterise(mu, logvar))
    sampled = model.decode(model.noise(len(real)))
    real_logits, real_features = dis.logits_and_features(real)
    rec_logits, rec_features = dis.logits_and_features(reconstruction)
    sampled_logits = dis(sampled)

    kl = gaussian_kl(mu, logvar).sum(1).mean()
    feature_rec = feature_reconstruction(real_features, rec_features).mean()
    real_cost = F.softplus(-real_logits).mean()  # -log D(x)
    fake_cost = 0.5 * (F.softplus(rec_logits).mean()  # -log(1 - D(fake))
                       + F.softplus(sampled_logits).mean())
    train_d, train_g = True, True
    if balance:
        train_d, train_g = equilibrium_rule(
            real_cost.item(), fake_cost.item(), equilibrium, margin)
    fool = generator_loss(rec_logits) + generator_loss(sampled_logits)
    objectives = {
        "encoder": kl + feature_rec,
        "decoder": gamma * feature_rec + (fool if train_g else 0.0),
        "discriminator": real_cost + 2 * fake_cost,
    }
    updated = [n for n in objectives if n != "discriminator" or train_d]
    for name in updated:  # each network: the gradient of its own loss only
        params = list(getattr(model, name).parameters())
        grads = torch.autograd.grad(objectives[name], params,
                                    retain_graph=True)
        for p, g in zip(params, grads):
            p.grad = g
    for name in updated:
        state.optimizers[name].step()
    return {"kl": kl, "feature_rec": feature_rec,
            "d_real_cost": real_cost, "d_fake_cost": fake_cost,
            "acc_real": (real_logits > 0).float().mean(),
            "acc_rec": (rec_logits < 0).float().mean(),
            "acc_sampled": (sampled_logits < 0).float().mean(),
            "skip_d": float(not train_d), "skip_g": float(not train_g)}


def build_vaegan(settings: VAEGANSettings,
                 device: torch.device | str | None = None) -> TrainState:
    """A freshly initialised VAE-GAN (seeded) and one Adam optimiser per network."""
    seed_everything(settings.seed)
    model = VAEGAN(settings.latent_size, settings.width, settings.encoder_width,
                   settings.hidden).to(device or pick_device())
    betas = (settings.beta1, 0.999)
    rates = {"encoder": settings.lr_encoder, "decoder": settings.lr_decoder,
             "discriminator": settings.lr_discriminator}
    return TrainState({"vaegan": model}, {
        name: torch.optim.Adam(getattr(model, name).parameters(), rate, betas=betas)
        for name, rate in rates.items()})


def train_vaegan(settings: VAEGANSettings, splits: Splits | None = None, *,
                 step: Step | None = None, run_dir: str | Path | None = None,
                 progress: bool | str = True) -> Trained:
    """Train the VAE-GAN these settings describe, or load its finished run. Validation records
    the pixel MSE of the reconstructions of 1000 validation images; the snapshots are the
    decoder's images of :func:`fixed_noise`."""
    splits = splits or load_splits(settings.dataset)
    state = build_vaegan(settings, splits.train.images.device)
    model = state.modules["vaegan"]
    z = fixed_noise(model)
    val = splits.val.images[:1000]

    def validate(s: TrainState) -> dict[str, float]:
        return {"rec_mse": mse(s.modules["vaegan"].reconstruct(val), val)}

    return _train("vaegan", settings, state, splits, default_step("vaegan", settings),
                  validate, custom=step,
                  run_dir=run_dir, progress=progress,
                  snapshot=lambda s: s.modules["vaegan"].decode(z))


def load_vaegan(run_dir: str | Path, device: torch.device | str | None = None) -> Trained:
    """Load a finished VAE-GAN run from its folder (as written by :func:`train_vaegan`)."""
    return _load(run_dir, "vaegan", VAEGANSettings, build_vaegan, device)


def default_step(name: str, settings: Any) -> Step:
    """The training step that ``train_<name>`` uses with these settings, as ``step(state,
    batch)``."""
    steps: dict[str, Any] = {
        "classifier": lambda: classifier_step,
        "dae": lambda: partial(dae_step, noise_kind=settings.noise, level=settings.level),
        "vae": lambda: partial(vae_step, beta=settings.beta),
        "gan": lambda: partial(gan_step, saturating=settings.loss == "saturating"),
        "vaegan": lambda: partial(vaegan_step, gamma=settings.gamma, balance=settings.balance,
                                  equilibrium=settings.equilibrium, margin=settings.margin),
    }
    if name not in steps:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(steps)}")
    return steps[name]()


BUILDERS: dict[str, Any] = {"classifier": build_classifier, "dae": build_dae, "vae": build_vae,
                            "gan": build_gan, "vaegan": build_vaegan}
"""Each model's ``build_*`` function: fresh networks and optimisers from its settings."""


def seconds_per_step(name: str, settings: Any, splits: Splits, steps: int = 10) -> float:
    """Measured seconds of one training step of model ``name`` on this machine (after two
    warm-up steps), for its batch size. A fresh model is built and thrown away."""
    state = BUILDERS[name](settings, splits.train.images.device)
    step = default_step(name, settings)
    state.train(True)
    batches = iter(Batches(splits.train, settings.batch_size, seed=settings.seed))
    for _ in range(2):
        step(state, next(batches))
    start = time.perf_counter()
    for _ in range(steps):
        step(state, next(batches))
    return (time.perf_counter() - start) / steps


def epochs_for_minutes(name: str, settings: Any, splits: Splits, minutes: float) -> int:
    """How many epochs of model ``name`` fit into ``minutes`` of training here (at least 1),
    from :func:`seconds_per_step` and the number of batches per epoch."""
    if minutes <= 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    batches = len(Batches(splits.train.subset(settings.train_size), settings.batch_size))
    per_epoch = seconds_per_step(name, settings, splits) * batches
    return max(1, int(minutes * 60 // per_epoch))
