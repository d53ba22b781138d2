"""Where code runs and how big a run is: the device, seeding, the faster CPU kernels, and run
profiles. A command or a notebook resolves its device once (:func:`pick_device`) and hands it
down; the training code applies the rest to every recipe (``Recipe.start``), so a chapter module
builds its networks and optimisers as the paper does and meets the machine only in the one
``fused`` argument it passes on to Adam."""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn

PROFILE_ENV = "GENADV_PROFILE"
DEVICE_ENV = "GENADV_DEVICE"
PROFILES = ("default", "smoke")
"""Run profiles: ``default`` is what the website shows, ``smoke`` a small run for CI and tests."""


def resolve_folder(path: str | os.PathLike[str] | None, env: str, subfolder: str) -> Path:
    """``path`` if given, else ``$env`` if set, else ``<user cache>/genadv/<subfolder>``
    (the cache is ``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    if path is not None:
        return Path(path).expanduser()
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "genadv" / subfolder


def pick_device(preference: str | None = None) -> torch.device:
    """Return the device to compute on: CUDA, then Apple MPS, then the CPU.

    ``preference`` (or the ``GENADV_DEVICE`` environment variable) overrides the choice,
    e.g. ``"cpu"`` or ``"cuda:1"``.
    """
    choice = preference or os.environ.get(DEVICE_ENV)
    if choice:
        try:
            device = torch.device(choice)
        except (RuntimeError, TypeError):
            raise ValueError(f"unknown device {choice!r}; try cpu, cuda or mps") from None
        if device.type not in ("cpu", "cuda", "mps"):
            raise ValueError(f"device {choice!r} cannot train or run the models here; try cpu, "
                             f"cuda or mps")
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {choice!r} asked for, but CUDA is not available here")
        if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
            raise ValueError(f"device {choice!r} asked for, but this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"device {choice!r} asked for, but Apple MPS is not available here")
        if device.type == "cpu" and device.index not in (None, 0):
            raise ValueError(f"device {choice!r}: there is one CPU device, cpu (or cpu:0)")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random number generators (all devices)."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


OPTIMISED = True
"""Whether runs get the kernels that measured faster here (``benchmarks/throughput.py`` times
both, each in its own process, and sets this to ``False`` for the plain baseline): for runs
placed with ``fast``, activations in the channels-last layout (:func:`place`) and Adam's fused
update (:func:`fused_adam`). The same maths; the numbers agree to float rounding. A run's key
covers this code."""


def fused_adam(device: torch.device, fast: bool = True) -> bool | None:
    """The ``fused`` argument of ``torch.optim.Adam`` for a run on ``device``: ``True`` (one
    kernel for the whole update) where PyTorch has it (the CPU, CUDA) and the run is ``fast``;
    else ``None``, PyTorch's own choice."""
    return True if fast and OPTIMISED and device.type in ("cpu", "cuda") else None


def place(modules: Iterable[nn.Module], device: torch.device, fast: bool = True) -> None:
    """Put freshly built networks on ``device``, in place (their optimisers keep the same
    parameters); with ``fast`` and :data:`OPTIMISED`, in the channels-last layout that oneDNN's
    convolutions run fastest in."""
    for module in modules:
        module.to(device)
        if fast and OPTIMISED:
            module.to(memory_format=torch.channels_last)


def profile_name(name: str | None = None) -> str:
    """The active profile: ``name`` if given, else ``$GENADV_PROFILE``, else ``"default"``."""
    chosen = name or os.environ.get(PROFILE_ENV) or "default"
    if chosen not in PROFILES:
        raise ValueError(f"unknown profile {chosen!r}; choose one of {', '.join(PROFILES)} "
                         f"(argument or ${PROFILE_ENV})")
    return chosen


def select_profile(settings: Mapping[str, Mapping[str, Any]],
                   name: str | None = None) -> SimpleNamespace:
    """Pick one profile's settings from a notebook's parameters cell.

    ``settings`` maps each profile name to its numbers, e.g.
    ``{"default": {"epochs": 10}, "smoke": {"epochs": 1}}``; both profiles must name the same
    settings, so that the two sizes run the same code. Returns the chosen numbers as attributes,
    plus ``profile`` (the name).
    """
    chosen = profile_name(name)
    missing = [p for p in PROFILES if p not in settings]
    if missing:
        raise ValueError(f"settings lack the profile(s) {', '.join(missing)}")
    unknown = sorted(set(settings) - set(PROFILES))
    if unknown:
        raise ValueError(f"unknown profile(s) {', '.join(unknown)}; known: {', '.join(PROFILES)}")
    keys = {p: set(settings[p]) for p in PROFILES}
    if keys["default"] != keys["smoke"]:
        differ = sorted(keys["default"] ^ keys["smoke"])
        raise ValueError(f"profiles must name the same settings; these are in only one: {differ}")
    return SimpleNamespace(profile=chosen, **settings[chosen])
