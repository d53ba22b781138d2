"""What a chapter's model needs to be trained, reloaded and used, in one record.

Each chapter module (``dae``, ``vae``, ``gan``, ``vaegan``, ``classifier``) ends with one
:class:`Recipe`: its name, its settings dataclass and profiles, how to build its networks and
optimisers, its default training step, and what to record while training. The methods here are
the same for every model: settings of a profile, start a seeded run on a device, train (or
reload the finished run), load, and time a step. :mod:`~genadv_utils.registry` lists the
recipes. A chapter module imports what it needs of the plumbing from here (the types below).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data import Batches, Splits, load_splits
from .keys import callable_digest, run_code
from .runtime import fused_adam, place, profile_name, seed_everything
from .store import History, load_weights, read_settings, run_folder
from .training import Render, Step, TrainState, Validate, train_or_load

__all__ = ["Recipe", "Trained", "check_settings", "check_types", "Render", "Splits", "Step", "TrainState",
           "Validate"]

Device = torch.device | str | None  # None: the CPU (or, for train, the splits' device)
MAX_MINUTES = 7 * 24 * 60


TYPES: dict[str, type | tuple[type, ...]] = {"int": int, "float": (int, float), "bool": bool,
                                            "str": str}
"""What a settings field of each annotated type accepts (a ``float`` field also takes an int)."""


def check_types(settings: Any) -> None:
    """Each field of a settings dataclass holds its annotated type (``int``, ``float``,
    ``bool``, ``str``, or ``… | None``): ``True`` is no number, ``1.5`` and ``"3"`` are no int,
    and a float must be finite. One line names the field; an int given to a float field is
    stored as a float, so ``gamma=0`` and ``gamma=0.0`` name the same run."""
    for field in fields(settings):
        annotation = getattr(field.type, "__name__", str(field.type))  # "int", "int | None"
        value, kinds = getattr(settings, field.name), annotation.replace(" ", "").split("|")
        if (value is None and "None" in kinds) or not set(kinds) <= {*TYPES, "None"}:
            continue  # another annotation: not checked here
        wanted = [k for k in kinds if k != "None"]
        if not any(isinstance(value, TYPES[k]) and (k == "bool" or not isinstance(value, bool))
                   for k in wanted):
            expected = " or ".join(wanted + ["None"] * ("None" in kinds))
            raise TypeError(f"{type(settings).__name__}.{field.name} must be {expected}, got "
                            f"{value!r} ({type(value).__name__})")
        if "float" in wanted and not isinstance(value, bool) and isinstance(value, (int, float)):
            try:
                number = float(value)  # an int too large for a float overflows here
            except OverflowError:
                number = math.inf
            if not math.isfinite(number):
                raise ValueError(f"{type(settings).__name__}.{field.name} must be a finite "
                                 f"number, got {value!r}")
            object.__setattr__(settings, field.name, number)


def check_settings(settings: Any, *positive: str) -> None:
    """Shared checks of a settings dataclass: every field of its type (:func:`check_types`);
    the ``positive`` fields, the epochs, the batch size and every learning rate (``lr``,
    ``lr_*``) positive; ``lr_decay`` (if any) in (0, 1]; Adam's ``beta1`` and a weight
    average's ``average_decay`` (if any) in [0, 1)."""
    check_types(settings)
    rates = [f.name for f in fields(settings) if f.name == "lr"
             or (f.name.startswith("lr_") and f.name != "lr_decay")]
    for name in (*positive, "epochs", "batch_size", *rates):
        if getattr(settings, name) <= 0:
            raise ValueError(f"{name} must be positive, got {getattr(settings, name)}")
    if not 0 < getattr(settings, "lr_decay", 1.0) <= 1:
        raise ValueError(f"lr_decay must be in (0, 1], got {settings.lr_decay}")
    for name in ("beta1", "average_decay"):
        if not 0 <= getattr(settings, name, 0.0) < 1:
            raise ValueError(f"{name} must be in [0, 1), got {getattr(settings, name)}")


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

    ``network(settings)`` builds the (untrained) network; ``build(settings, fused)`` builds it
    and its optimisers, as the paper would, on the CPU (``fused``: Adam's ``fused`` argument for
    the device the run goes to); :meth:`start` seeds before and moves the networks to the
    device after (their optimisers hold the same parameters); ``step(settings)`` is the default
    training step ``step(state, batch)``; ``validate(settings, splits)`` and
    ``snapshot(settings, state)`` give what :func:`~genadv_utils.training.fit` records (or ``None``). ``evaluations`` names
    the measurements :mod:`~genadv_utils.evaluation` makes of a finished run. ``fast_kernels``:
    whether the run may use the faster kernels (:func:`~genadv_utils.runtime.place`,
    :func:`~genadv_utils.runtime.fused_adam`)."""

    name: str
    settings_type: type
    profiles: Mapping[str, Mapping[str, Any]]
    network: Callable[[Any], nn.Module]
    build: Callable[..., TrainState]
    step: Callable[[Any], Step]
    evaluations: tuple[str, ...]
    validate: Callable[[Any, Splits], Validate | None] = lambda settings, splits: None
    snapshot: Callable[[Any, TrainState], Render | None] = lambda settings, state: None
    fast_kernels: bool = True

    @property
    def module(self) -> str:
        """The chapter module that defines this recipe (its code keys the runs)."""
        return self.build.__module__.rsplit(".", 1)[-1]

    def settings(self, profile: str | None = None, **overrides: Any) -> Any:
        """The settings of a profile (default: ``$GENADV_PROFILE``), with ``overrides``: the
        dataclass's defaults, then what the profile changes, then ``overrides``."""
        unknown = set(overrides) - {f.name for f in fields(self.settings_type)}
        if unknown:
            raise ValueError(f"unknown {self.settings_type.__name__} field(s): "
                             f"{', '.join(sorted(unknown))}")
        return self.settings_type(**{**self.profiles[profile_name(profile)], **overrides})

    def start(self, settings: Any, device: Device = "cpu") -> TrainState:
        """A fresh run of these settings: the random generators seeded with ``settings.seed``,
        the networks and optimisers built (Adam fused where ``device`` has it), then placed on
        ``device`` with :func:`~genadv_utils.runtime.place`."""
        device = torch.device(device or "cpu")
        seed_everything(settings.seed)
        state = self.build(settings, fused=fused_adam(device, self.fast_kernels))
        place(state.modules.values(), device, fast=self.fast_kernels)
        return state

    def folder(self, settings: Any, step: Step | None = None) -> Path:
        """The run folder of these settings (and of a reader's own ``step``, if any)."""
        return run_folder(self.name, self._key(settings, step), run_code(self.module))

    def _key(self, settings: Any, step: Step | None) -> dict[str, Any]:
        own = {} if step is None else {"step": f"{getattr(step, '__name__', 'step')}-"
                                               f"{callable_digest(step)}"}
        return {**asdict(settings), **own}

    def train(self, settings: Any, splits: Splits | None = None, *, step: Step | None = None,
              run_dir: str | Path | None = None, progress: bool | str = True,
              device: Device = None) -> Trained:
        """Train the model these settings describe, or load its finished run. ``step``
        replaces the default step (called as ``step(state, batch)``) and gets its own folder.
        The data come from ``settings.dataset`` (``splits``, if given, must be that dataset's).
        Training runs on ``device``; without one, on the splits' device if splits are given,
        else on the CPU. Splits elsewhere are moved."""
        if not isinstance(settings, self.settings_type):
            raise TypeError(f"expected {self.settings_type.__name__}, got "
                            f"{type(settings).__name__}")
        if splits is not None and splits.name != settings.dataset:
            raise ValueError(f"the settings ask for {settings.dataset!r} but the splits are "
                             f"{splits.name!r}")
        if device is None:
            device = splits.train.images.device if splits is not None else "cpu"
        device = torch.device(device)
        splits = load_splits(settings.dataset, device=device) if splits is None \
            else splits.to(device)
        state = self.start(settings, device)
        batches = Batches(splits.train.subset(settings.train_size), settings.batch_size,
                          seed=settings.seed)
        folder = Path(run_dir) if run_dir is not None else self.folder(settings, step)
        history = train_or_load(folder, {"name": self.name, **self._key(settings, step)},
                                state, step or self.step(settings), batches,
                                epochs=settings.epochs, validate=self.validate(settings, splits),
                                progress=progress, snapshot=self.snapshot(settings, state))
        return Trained(self.name, state.modules[self.name], history, folder, settings)

    def load(self, folder: str | Path, device: Device = "cpu") -> Trained:
        """A finished run of this model from its folder: its network only (no data, no
        optimisers), in evaluation mode on ``device``, placed as training places it (the
        same memory layout, so the same kernels and the same numbers as the trained model)."""
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
        place([model], torch.device(device or "cpu"), fast=self.fast_kernels)
        return Trained(self.name, model.eval(), history, folder, settings)

    def seconds_per_step(self, settings: Any, splits: Splits, steps: int = 10) -> float:
        """Measured seconds of one training step here (after two warm-up steps), for the
        recipe's batch size. A fresh model is built and thrown away."""
        state = self.start(settings, splits.train.images.device)
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
            raise ValueError(f"minutes must be a number of minutes between 0 and {MAX_MINUTES} "
                             f"(a week), got {minutes}")
        batches = len(Batches(splits.train.subset(settings.train_size), settings.batch_size))
        per_epoch = self.seconds_per_step(settings, splits) * batches
        return max(1, int(min(minutes * 60 // per_epoch, 10_000)))


