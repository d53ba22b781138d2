"""What a cached result is keyed by: the code that decides it, read as meaning.

A run's key hashes the syntax trees, without docstrings, of its chapter module and every package
module that it imports but :data:`NOT_WEIGHTS` (:func:`code_digest`). Comments, docstrings and
layout never change a key; an edit to ``gan.py`` retrains the GAN and the VAE-GAN (which imports
it), an edit to the training loop or to seeding retrains everything. The evaluation cache is
keyed the same way (the book's execution cache keys on the source text, since its pages show it).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).parent
NOT_WEIGHTS = frozenset({"__init__", "__main__", "keys", "store", "registry", "metrics",
                         "evaluation", "plotting", "display", "latent", "pca"})
"""Package modules that never change a trained model's weights, so never part of a run key."""


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
    return tree


def normalised_source(source: str) -> str:
    """``source`` as a syntax-tree dump without docstrings: comments, docstrings and layout
    leave it unchanged."""
    return ast.dump(_strip_docstrings(ast.parse(textwrap.dedent(source))))


def _imports(module: str) -> set[str]:
    """The package modules that ``module`` imports (relative imports)."""
    found = set()
    for node in ast.walk(ast.parse((PACKAGE / f"{module}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return {m for m in found if (PACKAGE / f"{m}.py").exists()}


def code_modules(*roots: str) -> list[str]:
    """The ``roots`` and every package module they import, directly or not, except those of
    :data:`NOT_WEIGHTS`: the code that decides the weights of a chapter module's runs (or, for
    the evaluation cache, the numbers measured)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or (name in NOT_WEIGHTS and name not in roots):
            continue
        seen.add(name)
        todo.extend(_imports(name))
    return sorted(seen)


@functools.lru_cache(maxsize=256)
def _normalised_digest(source: str) -> str:
    return hashlib.sha256(normalised_source(source).encode()).hexdigest()


def code_digest(*roots: str) -> str:
    """A hash of the normalised code of :func:`code_modules` of ``roots``."""
    digest = hashlib.sha256()
    for name in code_modules(*roots):
        digest.update(f"{name}:{_normalised_digest((PACKAGE / f'{name}.py').read_text())}"
                      .encode())
    return digest.hexdigest()[:16]


def callable_digest(fn: Callable[..., Any]) -> str:
    """A hash of what a function does: its normalised source, and for a ``functools.partial``
    also its bound arguments, so a reader's own step keeps one folder across sessions."""
    if isinstance(fn, functools.partial):
        bound = json.dumps([repr(a) for a in fn.args]
                           + sorted(f"{k}={v!r}" for k, v in fn.keywords.items()))
        return hashlib.sha256((callable_digest(fn.func) + bound).encode()).hexdigest()[:8]
    try:
        text = normalised_source(inspect.getsource(fn))
    except (OSError, TypeError, SyntaxError):
        text = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', type(fn).__name__)}"
    return hashlib.sha256(text.encode()).hexdigest()[:8]
