"""Every key of the project: what a cached or derived result is keyed by, and nothing more.

Each package module has one role (:data:`ROLES`): it **decides weights** (a chapter's networks,
settings and step, and the plumbing that trains them: data, seeding, the loop), it **measures**
(computes a number from weights and data), it **only shows** (plots, tables, the book's
bookkeeping), or it is **plumbing** (the run store, these keys, the list of recipes, the command
line). A key hashes the code of its roots and of every package module they import, directly or
not, through the roles that can change what it keys; code is read as meaning (syntax trees without
docstrings), so comments, docstrings and layout never move a key, and modules that only show or
only store never do.

- :func:`run_code`: a run folder's code, its chapter module through the modules that decide
  weights. An edit to ``gan.py`` retrains the GAN and the VAE-GAN (which builds on it) only.
- :func:`measure_code`: the code of a cached measurement (the metrics, the evaluation and the
  classifier they measure in), kept in the run folder it measures (whose name covers the run's
  code) beside :func:`weights_digest` of the weights measured.
- :func:`record_key`: a published record's (``genadv_utils/records/``), the run folders that
  decided it and :func:`measure_code`.
- :func:`chapter_key`: the values a chapter quotes: the package modules its code imports
  through the modules that decide weights or measure, its code cells, and the records it reads.
- :func:`source_digest`: the book's execution cache, by the package's text (its pages show the
  package's docstrings and code, so there a comment edit counts).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import json
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

PACKAGE = Path(__file__).parent
NAME = "genadv_utils"  # how a notebook imports the package

WEIGHTS, MEASURES, SHOWS, PLUMBING = "decides weights", "measures", "only shows", "plumbing"
ROLES: dict[str, str] = {
    "classifier": WEIGHTS, "dae": WEIGHTS, "vae": WEIGHTS, "gan": WEIGHTS, "vaegan": WEIGHTS,
    "blocks": WEIGHTS, "losses": WEIGHTS, "noise": WEIGHTS, "recipe": WEIGHTS,
    "training": WEIGHTS, "data": WEIGHTS, "runtime": WEIGHTS,
    "metrics": MEASURES, "evaluation": MEASURES, "pca": MEASURES, "latent": MEASURES,
    "plotting": SHOWS, "display": SHOWS, "live": SHOWS, "book": SHOWS, "exercise": SHOWS,
    "store": PLUMBING, "files": PLUMBING, "keys": PLUMBING, "registry": PLUMBING,
    "__main__": PLUMBING, "__init__": PLUMBING,
}
"""The role of every package module: the one table every key is derived from."""


def role(module: str) -> str:
    """``module``'s role in :data:`ROLES`; a module without one is an error to fix here."""
    try:
        return ROLES[module]
    except KeyError:
        raise KeyError(f"genadv_utils/{module}.py has no role in keys.ROLES: give it one "
                       f"({WEIGHTS!r}, {MEASURES!r}, {SHOWS!r} or {PLUMBING!r})") from None


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


def _imports(tree: ast.AST) -> set[str]:
    """The names a syntax tree imports from the package: relative imports inside the package,
    ``genadv_utils`` imports elsewhere (a notebook's). Not every name is a module
    (:func:`_existing`)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level == 1 or node.module and (
                node.module.split(".")[0] == NAME)):
            inner = (node.module or "").split(".")[1:] if node.level == 0 else \
                (node.module or "").split(".")
            if inner and inner[0]:
                found.add(inner[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names
                         if a.name.startswith(NAME + "."))
    return found


def _existing(names: Iterable[str]) -> set[str]:
    """The ``names`` that are modules of the package now."""
    return {m for m in names if (PACKAGE / f"{m}.py").exists()}


@functools.lru_cache(maxsize=64)
def _parsed_imports(source: str) -> frozenset[str]:
    return frozenset(_imports(ast.parse(source)))


def _module_imports(module: str) -> set[str]:
    """The package modules that ``module`` imports."""
    return _existing(_parsed_imports((PACKAGE / f"{module}.py").read_text()))


def modules(roots: Iterable[str], follow: Iterable[str]) -> list[str]:
    """The ``roots`` and every package module they import, directly or not, through modules
    whose role is one of ``follow``."""
    follow = set(follow)
    roots = list(roots)
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or (name not in roots and role(name) not in follow):
            continue
        seen.add(name)
        todo.extend(_module_imports(name))
    return sorted(seen)


@functools.lru_cache(maxsize=256)
def _normalised_digest(source: str) -> str:
    return hashlib.sha256(normalised_source(source).encode()).hexdigest()


def code_digest(roots: Iterable[str], follow: Iterable[str]) -> str:
    """A hash of the normalised code of :func:`modules` of ``roots``."""
    digest = hashlib.sha256()
    for name in modules(roots, follow):
        digest.update(f"{name}:{_normalised_digest((PACKAGE / f'{name}.py').read_text())}"
                      .encode())
    return digest.hexdigest()[:16]


def run_code(module: str) -> str:
    """The code that decides the weights of a chapter module's runs: part of their folder's
    name (:func:`~genadv_utils.store.run_folder`)."""
    return code_digest([module], follow={WEIGHTS})


MEASURING = ("evaluation", "metrics", "classifier")
"""The roots of :func:`measure_code`: the metrics, their evaluation, and the classifier whose
features are the yardstick."""


def measure_code() -> str:
    """The code that computes a cached measurement of given weights. It stops at the modules
    that decide weights (the networks' own methods, the losses, the noise, the data), which the
    measured run's folder name covers: a measurement is kept in that folder, so an edit there
    starts a new folder with no measurement in it."""
    return code_digest(MEASURING, follow={MEASURES})


def weights_digest(model: torch.nn.Module) -> str:
    """A digest of a network's weights and buffers: what a cached measurement of it, or in its
    features, is keyed by (a run folder's name does not change when its run is replaced)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def values_digest(values: torch.Tensor) -> str:
    """A digest of a tensor's dtype, shape and values: what a result computed from images (not
    from a network) is keyed by, such as the real images' side of a sample score."""
    digest = hashlib.blake2b(str((values.dtype, tuple(values.shape))).encode())
    digest.update(values.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


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


def record_key(folders: Mapping[str, str]) -> dict[str, str]:
    """A published record's key: the run folder (named by settings and :func:`run_code`) of each
    model that decided it, and the :func:`measure_code` that measured them."""
    return {**folders, "metrics": measure_code()}


RECORDS = PACKAGE / "records"
"""The published records (benchmarks' measured tables), shipped with the package."""

RECORD = re.compile(r"""record\(\s*["']([\w.-]+)["']\s*\)""")
"""How a chapter's code names a published record it reads: ``book.record("mnist-seeds")``."""


def cell_text(cell: Mapping[str, Any]) -> str:
    """A notebook cell's source as one string."""
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def _cell_meaning(text: str) -> str:
    """A code cell as meaning (its syntax tree), or as text where it is not Python."""
    try:
        return normalised_source(text)
    except SyntaxError:
        return text.strip()


def chapter_key(notebook: Mapping[str, Any], records: Path = RECORDS) -> str:
    """A hash of what decides the values a chapter quotes: the package modules its code cells
    import, through the modules that decide weights or measure, as meaning; its code cells, as
    meaning; and the published records in ``records`` that its code reads."""
    cells = [cell_text(c) for c in notebook["cells"] if c["cell_type"] == "code"]
    imported: set[str] = set()
    for text in cells:
        try:
            imported |= _imports(ast.parse(text))
        except SyntaxError:
            continue
    roots = [m for m in _existing(imported) if role(m) in (WEIGHTS, MEASURES)]
    digest = hashlib.sha256(code_digest(roots, follow={WEIGHTS, MEASURES}).encode())
    for text in cells:
        digest.update(_cell_meaning(text).encode())
    for name in sorted({m.group(1) for text in cells for m in RECORD.finditer(text)}):
        path = records / f"{name}.json"
        digest.update(name.encode() + (path.read_bytes() if path.is_file() else b"missing"))
    return digest.hexdigest()[:16]


def source_digest(package: Path = PACKAGE) -> str:
    """A hash of the package's source text, every file, and of its published records: the
    book's execution cache is keyed by it, since the pages show the package's code and
    docstrings and quote the records."""
    digest = hashlib.sha256()
    for path in sorted([*package.rglob("*.py"), *package.glob("records/*.json")]):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
