"""The training loop and its bookkeeping: progress bar, history, checkpoints, snapshots, resume.

A model's *training step* (one mini-batch: forward, loss, backward, optimiser step) is a plain
function ``step(state, batch) -> {"loss name": value}`` that the chapters show and explain.
:func:`fit` runs any such step over the epochs and does the rest:

- a ``tqdm`` progress bar with the live losses;
- a per-epoch :class:`History` (training means, validation numbers, learning rates, seconds);
- after every epoch a checkpoint in the run folder (written by :mod:`~genadv_utils.store`), so
  an interrupted run resumes from its last complete epoch and ends with the same weights;
- a clear stop when a loss becomes NaN or infinite;
- after every epoch, each network's own ``end_of_epoch()``, if it has one (the GANs' weight
  averages re-estimate their batch-norm statistics there), before validation;
- optional *snapshots*: a fixed input rendered by the networks a few times during the first
  epoch and after every epoch (e.g. a generator's samples of one noise batch), kept with the
  checkpoint so a training animation survives interruption and caching.

:func:`train_or_load` trains a run into its folder, or just loads it when it is finished there.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import __version__
from .data import Batches
from .store import (CHECKPOINT, CheckpointError, History, check_ownable, claim, finished,
                    finite_weights, load_into, locked, read_checkpoint, read_settings,
                    refuse_diverged, repair_history, write_checkpoint)

with warnings.catch_warnings():  # without ipywidgets, tqdm.auto falls back to text and says so
    warnings.simplefilter("ignore")
    from tqdm.auto import tqdm

PROGRESS_ENV = "GENADV_PROGRESS"
PROGRESS_MODES = ("bar", "epochs", "off")
"""``bar``: a live progress bar (default); ``epochs``: one printed line per epoch, for logs
and static pages; ``off``: silent. Chosen by ``$GENADV_PROGRESS`` or ``fit(progress=...)``."""

Batch = tuple[torch.Tensor, torch.Tensor]
Losses = Mapping[str, "float | torch.Tensor"]


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite during training."""


@dataclass
class TrainState:
    """What a run trains and checkpoints: named networks, their optimisers and LR schedulers."""

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = field(default_factory=dict)

    def train(self, mode: bool = True) -> None:
        """Put every network in training (or, with ``mode=False``, evaluation) mode."""
        for module in self.modules.values():
            module.train(mode)

    def state_dict(self) -> dict[str, Any]:
        return {
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any], path: Path) -> None:
        """Load every network, optimiser and scheduler from a checkpoint's ``state``."""
        for part, owned in (("modules", self.modules), ("optimizers", self.optimizers),
                            ("schedulers", self.schedulers)):
            load_into(path, owned, state[part])


Step = Callable[[TrainState, Batch], Losses]
Validate = Callable[[TrainState], Mapping[str, float]]
Render = Callable[[TrainState], torch.Tensor]


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": list(random.getstate()[1]),
        "python_gauss": random.getstate()[2],
        "numpy": torch.from_numpy(np.random.get_state()[1].astype(np.int64)),
        "numpy_pos": int(np.random.get_state()[2]),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), state["python_gauss"]))
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), state["numpy_pos"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(run_dir: Path, state: TrainState, history: History, batches: Batches) -> None:
    """Save everything needed to resume after the last complete epoch."""
    payload = {"state": state.state_dict(), "history": history.to_json(), "rng": _rng_state(),
               "batches": batches.state(), "version": __version__,
               "snapshots": {"steps": [s for s, _ in history.snapshots],
                             "tensors": [t for _, t in history.snapshots]}}
    write_checkpoint(run_dir, payload, history)


def load_checkpoint(run_dir: Path, state: TrainState, batches: Batches | None = None, *,
                    restore_rng: bool = False) -> History:
    """Load a run folder's checkpoint into ``state``; return its history. To resume training,
    ``restore_rng`` also restores the random number generators, and ``batches`` its shuffling.

    Raises :class:`~genadv_utils.store.CheckpointError`, leaving the file as it is, when the
    checkpoint is unreadable or does not fit ``state``.
    """
    payload, history = read_checkpoint(run_dir)
    state.load_state_dict(payload["state"], run_dir / CHECKPOINT)
    refuse_diverged(run_dir, state.modules, history)
    if history.finished:
        repair_history(run_dir, history)
    if restore_rng:
        _set_rng_state(payload["rng"])
    if batches is not None:
        batches.set_state(payload["batches"])
    return history


def _number(value: float | torch.Tensor) -> float:
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


def _check_finite(numbers: Mapping[str, float], epoch: int, where: str,
                  run_dir: Path | None) -> None:
    """Stop with a message that says truthfully what was kept when a number is not finite."""
    bad = {k: v for k, v in numbers.items() if not math.isfinite(v)}
    if bad:
        kept = ""
        if run_dir is not None:
            kept = (f" The last complete epoch ({epoch - 1}) is kept in {run_dir}." if epoch > 1
                    else " No epoch was complete, so nothing was kept.")
        raise NonFiniteLossError(
            f"training stopped: {', '.join(f'{k} = {v}' for k, v in bad.items())} at epoch "
            f"{epoch}, {where}. Try a lower learning rate or check the inputs.{kept}")


def progress_mode(progress: bool | str) -> str:
    """``progress`` as one of :data:`PROGRESS_MODES` (``True``: ``$GENADV_PROGRESS``, default
    ``bar``; ``False``: ``off``)."""
    if progress is False:
        return "off"
    mode = os.environ.get(PROGRESS_ENV, "bar") if progress is True else progress
    if mode not in PROGRESS_MODES:
        raise ValueError(f"unknown progress mode {mode!r}; choose one of "
                         f"{', '.join(PROGRESS_MODES)} (argument or ${PROGRESS_ENV})")
    return mode


def _epoch_line(record: Mapping[str, float], epochs: int) -> str:
    numbers = [f"{k.replace('_', ' ')} {v:.4g}" for k, v in record.items()
               if k.startswith(("train_", "val_"))]
    return f"epoch {int(record['epoch'])}/{epochs}: " + " | ".join(numbers) + \
        f" | {record['seconds']:.1f} s"


def _render(state: TrainState, render: Render) -> torch.Tensor:
    """``render(state)`` in evaluation mode, without gradients, on the CPU."""
    state.train(False)
    with torch.no_grad():
        out = render(state).detach().cpu()
    state.train(True)
    return out


def fit(state: TrainState, step: Step, batches: Batches, *, epochs: int,
        run_dir: str | os.PathLike[str] | None = None, validate: Validate | None = None,
        progress: bool | str = True, desc: str = "training", snapshot: Render | None = None,
        snapshots_in_first_epoch: int = 4) -> History:
    """Train ``state`` with ``step`` for ``epochs`` passes over ``batches``.

    With a ``run_dir`` every epoch is checkpointed there, and a checkpoint found there is
    resumed (or, if it finished, simply loaded). ``validate(state)`` runs after each epoch with
    the networks in evaluation mode and without gradients; its numbers are recorded with a
    ``val_`` prefix. ``progress``: ``True`` for ``$GENADV_PROGRESS`` (default ``"bar"``),
    ``False`` for silence, or one of :data:`PROGRESS_MODES`. ``snapshot(state)``, if given, is
    rendered before training, ``snapshots_in_first_epoch`` times during the first epoch and
    after every epoch, into ``history.snapshots``.
    """
    mode = progress_mode(progress)
    if epochs <= 0:
        raise ValueError(f"epochs must be positive, got {epochs}")
    folder = Path(run_dir) if run_dir is not None else None
    history = History()
    if folder is not None and (folder / CHECKPOINT).exists():
        history = load_checkpoint(folder, state, batches, restore_rng=True)
        if len(history.epochs) > epochs:
            raise CheckpointError(f"{folder} holds {len(history.epochs)} epochs, more than the "
                                  f"{epochs} asked for; choose another run folder")
    done = len(history.epochs)
    if snapshot is not None and done == 0:
        history.snapshots = [(0, _render(state, snapshot))]
    bar = tqdm(total=epochs * len(batches), initial=done * len(batches), desc=desc,
               disable=mode != "bar" or done == epochs, unit="step", dynamic_ncols=True,
               mininterval=1.0)
    try:
        for epoch in range(done + 1, epochs + 1):
            watch = _first_epoch_watch(state, snapshot, snapshots_in_first_epoch, len(batches),
                                       history) if epoch == 1 else None
            history.epochs.append(_run_epoch(state, step, batches, epoch, epochs, validate,
                                             history, bar, folder, watch))
            if snapshot is not None:
                history.snapshots.append((epoch * len(batches), _render(state, snapshot)))
            if mode == "epochs":
                print(_epoch_line(history.epochs[-1], epochs), flush=True)
            history.finished = epoch == epochs
            if folder is not None:
                save_checkpoint(folder, state, history, batches)
    finally:
        bar.close()
    history.finished = True
    state.train(False)
    return history


def _first_epoch_watch(state: TrainState, snapshot: Render | None, count: int, steps: int,
                       history: History) -> Callable[[int], None] | None:
    """Called after each step of the first epoch: renders ``count`` evenly spaced snapshots."""
    if snapshot is None or count <= 0:
        return None
    when = {round(steps * k / (count + 1)) for k in range(1, count + 1)} - {0, steps}

    def watch(i: int) -> None:
        if i in when:
            history.snapshots.append((i, _render(state, snapshot)))
    return watch


def _run_epoch(state: TrainState, step: Step, batches: Batches, epoch: int, epochs: int,
               validate: Validate | None, history: History, bar: Any,
               folder: Path | None, watch: Callable[[int], None] | None = None
               ) -> dict[str, float]:
    """One pass over the data; returns the epoch's record."""
    start = time.perf_counter()
    record: dict[str, float] = {"epoch": epoch}
    record.update({f"lr_{k}": o.param_groups[0]["lr"] for k, o in state.optimizers.items()})
    sums: dict[str, float] = {}
    state.train(True)
    bar.set_description(f"epoch {epoch}/{epochs}")
    for i, batch in enumerate(batches, start=1):
        losses = {k: _number(v) for k, v in step(state, batch).items()}
        _check_finite(losses, epoch, f"step {i}", folder)
        history.steps.append(losses)
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + v
        if watch is not None:
            watch(i)
        bar.update(1)
        bar.set_postfix({k: f"{v:.4g}" for k, v in losses.items()}, refresh=False)
    record.update({f"train_{k}": v / len(batches) for k, v in sums.items()})
    for module in state.modules.values():
        if hasattr(module, "end_of_epoch"):
            module.end_of_epoch()
    if validate is not None:
        state.train(False)
        with torch.no_grad():
            record.update({f"val_{k}": float(v) for k, v in validate(state).items()})
    _check_finite({k: v for k, v in record.items() if k.startswith("val_")}, epoch,
                  "in validation", folder)
    _check_finite({name: float("nan") for name, m in state.modules.items()
                   if not finite_weights(m)}, epoch, "in the weights after the epoch", folder)
    for scheduler in state.schedulers.values():
        scheduler.step()
    record["seconds"] = time.perf_counter() - start
    return record


def train_or_load(folder: Path, settings: Mapping[str, Any], state: TrainState, step: Step,
                  batches: Batches, *, epochs: int, validate: Validate | None = None,
                  progress: bool | str = True, snapshot: Render | None = None) -> History:
    """Train, resume or just load the run in ``folder``, whose ``settings`` (JSON-serialisable,
    with ``name``) are checked against the folder's (:func:`~genadv_utils.store.claim`): a
    folder that holds anything else is refused before it is touched
    (:func:`~genadv_utils.store.check_ownable`), one that holds another run is an error, never
    overwritten. A second process training the same folder waits for the first, then finds
    the run finished. A finished run is loaded without the lock, so it can live on read-only
    storage. Returns the history."""
    wanted = json.loads(json.dumps(dict(settings), sort_keys=True))
    check_ownable(folder)
    if finished(folder) and read_settings(folder) == wanted:  # nothing to write
        return fit(state, step, batches, epochs=epochs, run_dir=folder, progress=progress)
    with locked(folder):
        claim(folder, wanted)
        return fit(state, step, batches, epochs=epochs, run_dir=folder, validate=validate,
                   progress=progress, desc=str(wanted.get("name", "training")),
                   snapshot=snapshot)
