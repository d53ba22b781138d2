"""Where code runs and how big a run is: the device, seeding, the faster CPU kernels, and run
profiles. The training code applies all of them to every recipe (``Recipe.start``), so a chapter
module builds its networks and optimisers as the paper does and never meets the machine."""

from __future__ import annotations

import ctypes
import functools
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
"""Whether training gets what measured faster here (``benchmarks/throughput.py`` times both, each
in its own process, and sets this to ``False`` for the plain baseline): for every run,
:func:`keep_freed_memory` (the same numbers, bit for bit); for runs placed with ``fast``,
activations in the channels-last layout and Adam's fused update (the same maths; the numbers
agree to float rounding). A run's key covers this code."""

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


def place(modules: Iterable[nn.Module], optimizers: Iterable[torch.optim.Optimizer],
          device: torch.device, fast: bool = True) -> None:
    """Put freshly built networks and their (not yet stepped) optimisers on ``device``, in
    place: the one spot where a run meets the machine. With :data:`OPTIMISED`, the allocator
    keeps freed memory (:func:`keep_freed_memory`); with ``fast`` too, activations take the
    channels-last layout that oneDNN's convolutions run fastest in, and Adam its fused
    single-kernel update (on the CPU or a CUDA GPU)."""
    if OPTIMISED:
        keep_freed_memory()
    modules, optimizers = list(modules), list(optimizers)
    for module in modules:
        module.to(device)  # moves the parameters in place: the optimisers keep theirs
        if fast and OPTIMISED:
            module.to(memory_format=torch.channels_last)
    for optimizer in optimizers:
        if optimizer.state:
            raise ValueError("place() takes optimisers that have not taken a step yet")
        if (fast and OPTIMISED and isinstance(optimizer, torch.optim.Adam)
                and device.type in ("cpu", "cuda")):
            for group in optimizer.param_groups:
                group["fused"] = True  # as torch.optim.Adam(..., fused=True) would set it


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
