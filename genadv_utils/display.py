"""Notebook display helpers: results tables, docstrings and source code rendered in the page,
figures as HTML images that other pages can paste, and animations that play offline. Like
:mod:`~genadv_utils.plotting`, this module stands apart from the models: it imports only the
plotting module. The website's bookkeeping (the numbers its text quotes, the checks of its
sentences) is :mod:`~genadv_utils.book`'s."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure

from .plotting import Images, _png, _show_array, image_grid, style


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


# matplotlib's animation player draws its buttons with Font Awesome icons from a CDN; offline
# they would be blank, so the player gets the link removed and these Unicode symbols instead.
_PLAYER_ICONS = {
    "fa fa-fast-backward": "\u23ee", "fa fa-step-backward": "\u23f4\u23f4",
    "fa fa-play fa-flip-horizontal": "\u25c0", "fa fa-pause": "\u23f8", "fa fa-play": "\u25b6",
    "fa fa-step-forward": "\u23f5\u23f5", "fa fa-fast-forward": "\u23ed", "fa fa-minus": "\u2212",
    "fa fa-plus": "+",
}
_FONT_AWESOME_LINK = re.compile(r'<link rel="stylesheet"\s+href="[^"]*font-awesome[^"]*">')


def animate_grids(grids: Sequence[Images], titles: Sequence[str] | None = None, *,
                  nrow: int = 8, interval_ms: int = 400,
                  alt: str = "Animation of image grids, one frame per step") -> Any:
    """A play/pause animation of image grids (e.g. fixed-noise samples during training).

    Rendered as self-contained JavaScript and embedded PNG frames (``to_jshtml``): it plays in
    a static web page, offline, without ffmpeg. ``alt`` describes it to screen readers.
    Returns an ``IPython.display.HTML`` object.
    """
    from IPython.display import HTML  # only needed where the animation is displayed

    if not grids:
        raise ValueError("no grids to animate")
    if titles is not None and len(titles) != len(grids):
        raise ValueError(f"{len(titles)} titles for {len(grids)} grids")
    frames = [image_grid(g, nrow=nrow) for g in grids]
    h, w = frames[0].shape
    with style():
        fig = Figure(figsize=(w / 40 + 0.2, h / 40 + 0.5), layout="constrained")
        ax = fig.subplots()
        _show_array(ax, frames[0])
        image = ax.images[0]
        heading = ax.set_title(titles[0] if titles else "")

        def draw(i: int) -> list[Any]:
            image.set_data(frames[i])
            heading.set_text(titles[i] if titles else "")
            return [image, heading]

        anim = FuncAnimation(fig, draw, frames=len(frames), interval=interval_ms, blit=False)
        return HTML(_offline_player(anim.to_jshtml(default_mode="loop"), alt))


def _offline_player(html: str, alt: str) -> str:
    """The animation's HTML without its only external resource (the icon font), and with
    ``alt`` text on its frame."""
    html = _FONT_AWESOME_LINK.sub("", html)
    html = html.replace("<img id=", f'<img alt="{escape(alt)}" id=', 1)
    for icon, symbol in _PLAYER_ICONS.items():
        html = html.replace(f'<i class="{icon}"></i>', symbol)
    return html
