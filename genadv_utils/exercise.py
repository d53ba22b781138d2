"""Checks for the exercises in which a student completes code.

A chapter's exercise hands the student a function to finish (the Wiener filter's gain, the
reparameterisation, the discriminator's loss, the equilibrium rule) and a check cell that calls
:func:`check`: it runs the student's function and the reference on the same inputs and prints
one line saying whether they agree. It never stops the notebook: an unfinished exercise prints
"not yet" and the chapter runs on. The folded solution ends with ``assert check(...)``, so a
solution that stops agreeing with the reference fails the chapter's tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch


def _agree(got: Any, want: Any, tolerance: float) -> str | None:
    """Why ``got`` differs from ``want`` (``None`` when it does not)."""
    if isinstance(want, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(want):
            return f"expected {len(want)} values, got {got!r}"
        for g, w in zip(got, want):
            if (why := _agree(g, w, tolerance)) is not None:
                return why
        return None
    if isinstance(want, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"expected a tensor, got {type(got).__name__}"
        if got.shape != want.shape:
            return f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
        gap = (got.double() - want.double()).abs().max().item() if want.numel() else 0.0
        return None if gap <= tolerance else f"largest difference {gap:.3g}"
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        value = float(got.item() if isinstance(got, torch.Tensor) and got.numel() == 1 else got)
        gap = abs(value - float(want))
        return None if gap <= tolerance else f"expected {float(want):.4g}, got {value:.4g}"
    return None if got == want else f"expected {want!r}, got {got!r}"


def check(candidate: Callable[..., Any], reference: Callable[..., Any],
          cases: Iterable[Sequence[Any]], tolerance: float = 1e-5) -> bool:
    """Run ``candidate`` and ``reference`` on every case (a tuple of arguments), print one line
    (right, or the first case where they differ and how) and return whether they agree."""
    name = getattr(candidate, "__name__", "your function")
    cases = list(cases)
    if not cases:
        raise ValueError("check needs at least one case to run")
    for number, args in enumerate(cases, 1):
        try:
            got = candidate(*args)
        except NotImplementedError:
            print(f"Not yet: {name} still raises NotImplementedError; fill in its body.")
            return False
        except Exception as error:  # the student's bug, reported in one line, never raised
            print(f"Not yet: {name} raised {type(error).__name__} on case {number}: {error}")
            return False
        why = _agree(got, reference(*args), tolerance)
        if why is not None:
            print(f"Not yet: {name} differs from the reference on case {number}: {why}.")
            return False
    print(f"Right: {name} agrees with the reference on all {len(cases)} cases.")
    return True
