"""The website's bookkeeping: the numbers a chapter's text quotes (:func:`glue`), the checks
that hold its sentences to them (:func:`check`), the machine line beside every time, and the
benchmarks' published records a chapter reads (:func:`published`). A notebook calls these in
the cells the website hides; what a reader looks at is :mod:`~genadv_utils.display`'s. Nothing
here changes a number, so no key covers this module (:data:`~genadv_utils.keys.ROLES`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .keys import RECORDS


def glue(name: str, value: Any) -> Any:
    """Keep ``value`` under ``name`` for the page's prose, which quotes it with a format, e.g.
    ``{glue:text}`gan_fd:.1f` `` (myst-nb's glue): numbers in the text then always come from the
    cell that computed them. Outside a book build without myst-nb, it only returns ``value``."""
    try:
        from myst_nb import glue as keep
    except ImportError:
        return value
    keep(name, _Plain(value) if isinstance(value, str) else value, display=False)
    return value


class _Plain:
    """A string that displays without quotes (a glued class name reads as text)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def machine() -> str:
    """The machine this runs on, in words, for times quoted in the text: the GPU if PyTorch
    uses one, else the CPU's model and the number of cores PyTorch uses."""
    import platform

    import torch

    if torch.cuda.is_available():
        return f"one {torch.cuda.get_device_name()} GPU"
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            name = next(line.split(":", 1)[1].strip() for line in info
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{torch.get_num_threads()} cores of an {name}"


Record = tuple[dict[str, Any], list[str]]  # a published record, and what changed since


def record(name: str) -> Path:
    """The published record ``name`` (``genadv_utils/records/NAME.json``), which comes with the
    package wherever it is installed."""
    return RECORDS / f"{name}.json"


def published(path: str | os.PathLike[str], read: Callable[[Path], Record],
              writes: str) -> Record | tuple[None, list[str]]:
    """A record that a benchmark published at ``path``, and what has changed since it was
    measured, as ``read`` (:func:`~genadv_utils.evaluation.published`) gives them, after a line
    saying where and when it was measured; ``(None, [])`` where the file is not here (on Colab,
    without the repository's files), after a line naming the command that ``writes`` it."""
    path = Path(path)
    if not path.is_file():
        print(f"{path} is not here: the published record lives in the repository ({writes} "
              "writes it)")
        return None, []
    record, changed = read(path)
    print(f"measured on {record['date']} on {record['machine']}, torch {record['torch']}"
          + (f"; changed since: {', '.join(changed)}" if changed else ""))
    return record, changed


TEXT_DATASET = "mnist"
"""The dataset the chapters' prose describes (the website's runs)."""

BOOK_ENV = "GENADV_BOOK"
"""Set by the book's build (``book/_ext/genadv_book.py``) for the kernels it starts: only there
does a false sentence stop the notebook."""


def check(holds: bool, claim: str, profile: str, dataset: str = TEXT_DATASET, *,
          describes: str = TEXT_DATASET) -> None:
    """Hold a sentence of the text, ``claim``, to this run's numbers. The website's build
    (:data:`BOOK_ENV` set, the ``default`` profile, the dataset the sentence ``describes``,
    :data:`TEXT_DATASET` unless said) stops when it is false. Anywhere else a false claim prints
    one line and the notebook goes on: a reader's run (another device, another seed, the tiny
    ``smoke`` runs, another dataset) may land on other numbers than the website's."""
    if holds:
        return
    if profile == "default" and dataset == describes:
        if os.environ.get(BOOK_ENV):
            raise AssertionError(f"the text says: {claim!r}, but this build's numbers disagree")
        print(f"(your run differs from the website's: the text says {claim!r}, which does not "
              f"hold for your numbers)")
        return
    why = "for these tiny runs" if profile != "default" else \
        f"on {dataset} (the text describes the {describes} runs)"
    print(f"({profile} profile: the text's claim {claim!r} does not hold {why})")
