"""Notebook display helpers: results tables, docstrings and source code rendered in the page,
and figures as HTML images that other pages can paste. Like :mod:`~genadv_utils.plotting`, this
module stands apart from the models: it imports only the plotting module."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from html import escape
from typing import Any

from matplotlib.figure import Figure

from .plotting import _png


def table(rows: Mapping[str, Mapping[str, float | str]], *, digits: int = 4) -> Any:
    """A results table (``{row: {column: value}}``) that renders in notebooks and the book;
    numbers get ``digits`` significant digits (integers and large numbers are shown in full),
    strings are shown as they are."""
    from IPython.display import Markdown  # only needed where the table is displayed

    columns = list(dict.fromkeys(c for values in rows.values() for c in values))
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, values in rows.items():
        cells = [_cell(values[c], digits) if c in values else "" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return Markdown("\n".join(lines))


def _cell(value: float | str, digits: int) -> str:
    """Strings as they are, integers in full (``1,234``), other numbers with ``digits``
    significant digits, but never in scientific notation when they are large."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) or abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


_SPHINX_ROLE = re.compile(r":(?:class|func|meth|data|attr|mod):`~?(?:[\w.]*\.)?([\w]+)`")


def docstring_markdown(doc: str) -> str:
    """A docstring's Sphinx markup as Markdown: roles such as ``:class:`~a.B` `` become code
    (``B``), and double-backquoted literals single-backquoted ones."""
    return _SPHINX_ROLE.sub(r"`\1`", doc).replace("``", "`")


def show_doc(obj: Any) -> Any:
    """An object's docstring rendered as Markdown (with its math) in the notebook."""
    import inspect

    from IPython.display import Markdown

    doc = inspect.getdoc(obj)
    if not doc:
        raise ValueError(f"{obj!r} has no docstring")
    return Markdown(docstring_markdown(doc))


def show_source(obj: Any) -> Any:
    """The source code of a function or class, syntax-highlighted in the notebook."""
    import inspect

    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")


def html_image(fig: Figure, alt: str, width: str = "100%") -> Any:
    """``fig`` as an ``IPython.display.HTML`` ``<img>`` with embedded PNG and ``alt`` text: a
    figure that other pages can paste (with myst-nb's ``glue``) and that screen readers can
    describe."""
    from IPython.display import HTML  # only needed where the image is displayed

    data = base64.b64encode(_png(fig)).decode("ascii")
    return HTML(f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}" '
                f'style="width: {escape(width)}; max-width: 100%">')
