"""Every model of the book, by name: the one list that the command line, the evaluation, the
benchmarks and the tests read. Adding a model is one new chapter module and its line in each
table here."""

from __future__ import annotations

from typing import get_type_hints

from . import classifier, dae, gan, vae, vaegan
from .recipe import Recipe

RECIPES: dict[str, Recipe] = {r.name: r for r in (
    classifier.RECIPE,
    dae.RECIPE,
    vae.RECIPE,
    gan.RECIPE,
    vaegan.RECIPE,
)}
TITLES: dict[str, str] = {"classifier": "classifier", "dae": "DAE", "vae": "VAE",
                          "gan": "GAN", "vaegan": "VAE-GAN"}
"""How the book writes each model's name (a run's key never reads it)."""


def get(name: str) -> Recipe:
    """The recipe of model ``name``, or a clear error."""
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(RECIPES)}") from None


def names(can: str | None = None) -> tuple[str, ...]:
    """Names of the models whose network has method ``can`` (``"sample"``,
    ``"reconstruct"``), or of all models."""
    return tuple(n for n, r in RECIPES.items()
                 if can is None or hasattr(get_type_hints(r.network)["return"], can))
