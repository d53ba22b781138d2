"""What a chapter's model needs to be trained, reloaded and used, in one record.

Each chapter module (``dae``, ``vae``, ``gan``, ``vaegan``, ``classifier``) ends with one
:class:`Recipe`: its name, its settings dataclass and profiles, how to build its networks and
optimisers, its default training step, and what to record while training. The methods here are
the same for every model: settings of a profile, train (or reload the finished run), load,
and time a step. :mod:`~genadv_utils.registry` lists the recipes.
"""

from __future__ import annotations

import ctypes
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data import Batches, Splits, load_splits
from .runtime import pick_device, profile_name
from .store import (History, callable_digest, check_ownable, code_digest, load_weights, locked,
                    read_settings, run_folder)
from .training import Render, Step, TrainState, Validate, train_or_load

Device = torch.device | str | None
MAX_MINUTES = 7 * 24 * 60


def check_positive(settings: Any, *names: str) -> None:
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


@dataclass
class Trained:
    """A trained model with its name, training history and run folder."""

    name: str
    model: nn.Module
    history: History
    folder: Path
    settings: Any = None


@dataclass(frozen=True)
class Recipe:
    """How one model is made, trained and reloaded.

    ``network(settings)`` builds the (untrained) network; ``build(settings, device)`` seeds,
    builds it and its optimisers; ``step(settings)`` is the default training step
    ``step(state, batch)``; ``validate(settings, splits)`` and ``snapshot(settings, state)``
    give what :func:`~genadv_utils.training.fit` records (or ``None``). ``evaluations`` names
    the measurements :mod:`~genadv_utils.evaluation` makes of a finished run."""

    name: str
    settings_type: type
    profiles: Mapping[str, Mapping[str, Any]]
    network: Callable[[Any], nn.Module]
    build: Callable[[Any, Device], TrainState]
    step: Callable[[Any], Step]
    evaluations: tuple[str, ...]
    validate: Callable[[Any, Splits], Validate | None] = lambda settings, splits: None
    snapshot: Callable[[Any, TrainState], Render | None] = lambda settings, state: None

    @property
    def module(self) -> str:
        """The chapter module that defines this recipe (its code keys the runs)."""
        return self.build.__module__.rsplit(".", 1)[-1]

    def settings(self, profile: str | None = None, **overrides: Any) -> Any:
        """The settings of a profile (default: ``$GENADV_PROFILE``), with ``overrides``."""
        unknown = set(overrides) - {f.name for f in fields(self.settings_type)}
        if unknown:
            raise ValueError(f"unknown {self.settings_type.__name__} field(s): "
                             f"{', '.join(sorted(unknown))}")
        return self.settings_type(**{**self.profiles[profile_name(profile)], **overrides})

    def folder(self, settings: Any, step: Step | None = None) -> Path:
        """The run folder of these settings (and of a reader's own ``step``, if any)."""
        return run_folder(self.name, self._key(settings, step), code_digest(self.module))

    def _key(self, settings: Any, step: Step | None) -> dict[str, Any]:
        own = {} if step is None else {"step": f"{getattr(step, '__name__', 'step')}-"
                                               f"{callable_digest(step)}"}
        return {**asdict(settings), **own}

    def train(self, settings: Any, splits: Splits | None = None, *, step: Step | None = None,
              run_dir: str | Path | None = None, progress: bool | str = True,
              device: Device = None) -> Trained:
        """Train the model these settings describe, or load its finished run. ``step``
        replaces the default step (called as ``step(state, batch)``) and gets its own folder.
        The data come from ``settings.dataset`` (``splits``, if given, must be that dataset's),
        on ``device`` (default: the splits', else :func:`~genadv_utils.runtime.pick_device`)."""
        if not isinstance(settings, self.settings_type):
            raise TypeError(f"expected {self.settings_type.__name__}, got "
                            f"{type(settings).__name__}")
        if splits is None:
            splits = load_splits(settings.dataset, device=device)
        elif splits.name != settings.dataset:
            raise ValueError(f"the settings ask for {settings.dataset!r} but the splits are "
                             f"{splits.name!r}")
        state = self.build(settings, splits.train.images.device)
        batches = Batches(splits.train.subset(settings.train_size), settings.batch_size,
                          seed=settings.seed)
        folder = Path(run_dir) if run_dir is not None else self.folder(settings, step)
        check_ownable(folder)
        with locked(folder):  # a second process waits here, then finds the run finished
            history = train_or_load(folder, {"name": self.name, **self._key(settings, step)},
                                    state, step or self.step(settings), batches,
                                    epochs=settings.epochs,
                                    validate=self.validate(settings, splits),
                                    progress=progress, snapshot=self.snapshot(settings, state))
        return Trained(self.name, state.modules[self.name], history, folder, settings)

    def load(self, folder: str | Path, device: Device = None) -> Trained:
        """A finished run of this model from its folder: its network only (no data, no
        optimisers), in evaluation mode on ``device``."""
        folder = Path(folder)
        saved = read_settings(folder)
        if saved.get("name") != self.name:
            raise ValueError(f"{folder} holds a {saved.get('name')!r} run, not a "
                             f"{self.name!r} run")
        try:
            settings = self.settings_type(**{f.name: saved[f.name]
                                             for f in fields(self.settings_type)})
            model = self.network(settings)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{folder}: its settings do not describe a {self.name} run "
                             f"({type(err).__name__}: {err})") from None
        history = load_weights(folder, {self.name: model})
        return Trained(self.name, model.to(device or pick_device()).eval(), history, folder,
                       settings)

    def seconds_per_step(self, settings: Any, splits: Splits, steps: int = 10) -> float:
        """Measured seconds of one training step here (after two warm-up steps), for the
        recipe's batch size. A fresh model is built and thrown away."""
        state = self.build(settings, splits.train.images.device)
        step = self.step(settings)
        state.train(True)
        batches = iter(Batches(splits.train, settings.batch_size, seed=settings.seed))
        for _ in range(2):
            step(state, next(batches))
        start = time.perf_counter()
        for _ in range(steps):
            step(state, next(batches))
        return (time.perf_counter() - start) / steps

    def epochs_for_minutes(self, settings: Any, splits: Splits, minutes: float) -> int:
        """How many epochs fit into ``minutes`` of training here (at least 1)."""
        if not 0 < minutes <= MAX_MINUTES:
            raise ValueError(f"minutes must be a positive number up to {MAX_MINUTES} (a week), "
                             f"got {minutes}")
        batches = len(Batches(splits.train.subset(settings.train_size), settings.batch_size))
        per_epoch = self.seconds_per_step(settings, splits) * batches
        return max(1, int(min(minutes * 60 // per_epoch, 10_000)))


OPTIMISED = True
"""Whether training gets what measured faster here on the CPU (``benchmarks/throughput.py``
times both, each in its own process): for every recipe, :func:`keep_freed_memory` (the same
numbers, bit for bit); for recipes that ask for it (``fast=True``), activations in oneDNN's
native channels-last layout and Adam's fused update (the same maths; the numbers agree to
float rounding). The benchmark sets it to ``False`` for the plain baseline; a run's key covers
this code."""

GLIBC_MMAP_THRESHOLD, GLIBC_TRIM_THRESHOLD = -3, -1  # mallopt's parameter numbers (malloc.h)


@functools.cache
def keep_freed_memory() -> bool:
    """Ask glibc's ``malloc`` (Linux) to keep freed memory for reuse; ``False`` elsewhere.

    A training step allocates and frees the same activations at every step. By default glibc
    gives blocks above a threshold (128 KiB, growing with use up to 32 MiB) straight back to the
    system, and trims the free top of its heap, so the next step takes every page of its
    activations afresh from the kernel (a page fault per 4 KiB, each zero-filled): thousands a
    step for the classifier's 128 × 32 × 28 × 28 activations. Here blocks up to 32 MiB come
    from the heap, and up to 1 GiB of freed heap is kept. Only where memory comes from
    changes, never the arithmetic: the results are the same, bit for bit. Process-wide and
    once per process (cached)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # macOS, Windows, musl: their allocators already reuse freed memory
        return False
    return bool(libc.mallopt(GLIBC_MMAP_THRESHOLD, 32 << 20)
                and libc.mallopt(GLIBC_TRIM_THRESHOLD, 1 << 30))


def fresh(module: nn.Module, device: Device, fast: bool = False) -> nn.Module:
    """``module`` on ``device`` (default: :func:`~genadv_utils.runtime.pick_device`), with
    :func:`keep_freed_memory` (if :data:`OPTIMISED`), in the channels-last layout when
    ``fast`` (and :data:`OPTIMISED`)."""
    if OPTIMISED:
        keep_freed_memory()
    module = module.to(device or pick_device())
    if fast and OPTIMISED:
        module = module.to(memory_format=torch.channels_last)
    return module


def adam(params: Any, lr: float, *, betas: tuple[float, float] = (0.9, 0.999),
         fast: bool = False) -> torch.optim.Adam:
    """Adam; with ``fast`` (and :data:`OPTIMISED`) its fused single-kernel update, on the CPU
    or a CUDA GPU (elsewhere the default one)."""
    params = list(params)
    fused = fast and OPTIMISED and params[0].device.type in ("cpu", "cuda")
    return torch.optim.Adam(params, lr, betas=betas, fused=fused or None)
