"""Figures in one style: image grids, labelled rows, curves, scatters, bars and animations.

Every helper returns a :class:`matplotlib.figure.Figure` (created without pyplot, so nothing is
shown twice or kept alive behind your back); a notebook displays it when it is the cell's last
value. Helpers that draw one panel take ``ax=`` to draw into a panel of your own figure instead.
Figures have an opaque white background, so they stay readable in a dark page theme.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import wraps
from html import escape
from typing import Any

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torchvision.utils import make_grid

STYLE: dict[str, Any] = {
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.facecolor": "white",
    "figure.dpi": 110,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "axes.prop_cycle": mpl.cycler(color=mpl.colormaps["tab10"].colors),
    "animation.embed_limit": 50.0,
}
"""The series' figure style (matplotlib rcParams), applied by every helper here."""

Images = torch.Tensor | np.ndarray

@contextmanager
def style() -> Iterator[None]:
    """Draw inside this block to use the series' style in figures of your own."""
    with mpl.rc_context(STYLE):
        yield


class NotebookFigure(Figure):
    """A figure that shows itself as a PNG when it is a notebook cell's value, without pyplot."""

    def _repr_png_(self) -> bytes:
        return _png(self)


def _png(fig: Figure) -> bytes:
    """The figure as PNG bytes, at the style's resolution and cropped to its content."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=STYLE["figure.dpi"], bbox_inches="tight")
    return buffer.getvalue()


def _styled(draw: Any) -> Any:
    """Run a drawing helper inside :func:`style`, so every text and line gets the style."""
    @wraps(draw)
    def styled(*args: Any, **kwargs: Any) -> Any:
        with style():
            return draw(*args, **kwargs)
    return styled


def _figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] = (6.0, 4.0),
            **kwargs: Any) -> tuple[Figure, Any]:
    with style():
        fig = NotebookFigure(figsize=size, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def panels(nrows: int = 1, ncols: int = 1,
           size: tuple[float, float] = (11.0, 4.0)) -> tuple[Figure, np.ndarray]:
    """An empty figure with a grid of panels (a flat array of axes) in the series' style, to
    fill with the helpers' ``ax=`` argument, e.g. two scatters side by side."""
    with style():
        fig, axes = _figure(nrows, ncols, size=size)
    return fig, axes.ravel()


def _panel(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.get_figure(), ax
    fig, axes = _figure(size=size)
    return fig, axes[0, 0]


def _as_images(images: Images) -> torch.Tensor:
    """``[N, 28, 28]`` or ``[N, 1, H, W]`` floats in [0, 1] as a CPU tensor ``[N, 1, H, W]``."""
    t = torch.as_tensor(np.asarray(images) if isinstance(images, np.ndarray) else images)
    t = t.detach().to("cpu", torch.float32)
    if t.ndim == 3:
        t = t.unsqueeze(1)
    if t.ndim != 4 or t.shape[1] != 1:
        raise ValueError(f"expected images [N, H, W] or [N, 1, H, W], got shape {tuple(t.shape)}")
    if len(t) == 0:
        raise ValueError("no images to show")
    return t.clamp(0.0, 1.0)


def image_grid(images: Images, nrow: int = 8, padding: int = 2) -> np.ndarray:
    """Tile images into one 2-D array (``nrow`` images per row) with torchvision's ``make_grid``."""
    grid = make_grid(_as_images(images), nrow=nrow, padding=padding, pad_value=1.0)
    return grid[0].numpy()


def _show_array(ax: Axes, array: np.ndarray) -> None:
    ax.imshow(array, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()


@_styled
def show_images(images: Images, nrow: int = 8, title: str | None = None,
                ax: Axes | None = None) -> Figure:
    """A grid of grey-level images, ``nrow`` per row."""
    n = len(images)
    rows = -(-n // nrow)
    fig, ax = _panel(ax, (min(nrow, n) * 0.55 + 0.4, rows * 0.55 + 0.5))
    _show_array(ax, image_grid(images, nrow=nrow))
    if title:
        ax.set_title(title)
    return fig


def _label_grid(axes: np.ndarray, row_labels: Sequence[str],
                col_labels: Sequence[str] | None) -> None:
    """Write each row's label left of its first panel and column labels above the top row."""
    for r, text in enumerate(row_labels):
        axes[r, 0].text(-0.15, 0.5, text, transform=axes[r, 0].transAxes, ha="right",
                        va="center", fontsize=STYLE["font.size"])
    if col_labels is not None:
        if len(col_labels) > axes.shape[1]:
            raise ValueError(f"{len(col_labels)} column labels for {axes.shape[1]} columns")
        for c, text in enumerate(col_labels):
            axes[0, c].set_title(text, fontsize=8, fontweight="normal")


@_styled
def image_rows(rows: Mapping[str, Images], title: str | None = None, size: float = 0.7,
               col_labels: Sequence[str] | None = None) -> Figure:
    """Rows of images, each labelled on its left, e.g. ``{"original": x, "noisy": y}``;
    ``col_labels`` puts a label above each column."""
    if not rows:
        raise ValueError("no rows to show")
    tensors = {label: _as_images(images) for label, images in rows.items()}
    ncols = max(len(t) for t in tensors.values())
    fig, axes = _figure(len(tensors), ncols, size=(ncols * size + 1.2, len(tensors) * size + 0.4))
    for r, imgs in enumerate(tensors.values()):
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_axis_off()
            if c < len(imgs):
                ax.imshow(imgs[c, 0].numpy(), cmap="gray", vmin=0.0, vmax=1.0,
                          interpolation="nearest")
    _label_grid(axes, list(tensors), col_labels)
    if title:
        fig.suptitle(title, fontweight="bold")
    return fig


@_styled
def heatmap_rows(rows: Mapping[str, Images], *, col_labels: Sequence[str] | None = None,
                 title: str | None = None, cmap: str = "magma", label: str = "",
                 size: float = 0.75) -> Figure:
    """Rows of single-channel maps (e.g. mean error images) on one shared colour scale, with a
    colour bar; ``rows`` maps a row label to maps ``[N, H, W]`` or ``[N, 1, H, W]``."""
    if not rows:
        raise ValueError("no rows to show")
    maps = {k: torch.as_tensor(v).detach().cpu().float() for k, v in rows.items()}
    maps = {k: (v[:, 0] if v.ndim == 4 else v) for k, v in maps.items()}
    vmax = max(float(v.max()) for v in maps.values()) or 1.0
    ncols = max(len(v) for v in maps.values())
    fig, axes = _figure(len(maps), ncols, size=(ncols * size + 2.0, len(maps) * size + 0.6))
    image = None
    for r, values in enumerate(maps.values()):
        for c in range(ncols):
            axes[r, c].set_axis_off()
            if c < len(values):
                image = axes[r, c].imshow(values[c].numpy(), cmap=cmap, vmin=0.0, vmax=vmax)
    _label_grid(axes, list(maps), col_labels)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label=label)
    if title:
        fig.suptitle(title, fontweight="bold")
    return fig


@_styled
def plot_curves(x: Sequence[float], curves: Mapping[str, Sequence[float]], *, xlabel: str,
                ylabel: str, title: str | None = None, logy: bool = False,
                logx: bool = False, ax: Axes | None = None) -> Figure:
    """Named curves over a shared x axis, e.g. PSNR against noise level for several methods."""
    fig, ax = _panel(ax, (6.0, 3.6))
    for label, y in curves.items():
        if len(y) != len(x):
            raise ValueError(f"curve {label!r} has {len(y)} points for {len(x)} x values")
        ax.plot(x, y, marker="o" if len(x) <= 30 else None, markersize=4, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    if title:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    return fig


@_styled
def plot_history(history: Any, keys: Sequence[str], *, ylabel: str, title: str | None = None,
                 logy: bool = False, ax: Axes | None = None) -> Figure:
    """Per-epoch curves from a training :class:`~genadv_utils.training.History`,
    e.g. ``keys=["train_mse", "val_mse"]``."""
    epochs = history.series("epoch")
    curves = {k.replace("_", " "): history.series(k) for k in keys}
    return plot_curves(epochs, curves, xlabel="epoch", ylabel=ylabel, title=title, logy=logy, ax=ax)


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Moving average over ``window`` points (shorter at the start), for noisy per-step losses."""
    v = np.asarray(values, dtype=float)
    if window <= 1 or len(v) == 0:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


@_styled
def plot_steps(history: Any, keys: Sequence[str], *, ylabel: str, window: int = 50,
               title: str | None = None, steps_per_epoch: int | None = None,
               labels: Mapping[str, str] | None = None, ax: Axes | None = None) -> Figure:
    """Per-step values (raw, faint) and their moving average, e.g. a GAN's two losses; with
    ``steps_per_epoch`` the x axis counts epochs. ``labels`` renames keys in the legend."""
    fig, ax = _panel(ax, (6.5, 3.6))
    scale = steps_per_epoch or 1
    for key in keys:
        values = [s[key] for s in history.steps]
        x = np.arange(1, len(values) + 1) / scale
        line, = ax.plot(x, values, alpha=0.2, linewidth=0.8)
        name = (labels or {}).get(key, key.replace("_", " "))
        ax.plot(x, smooth(values, window), color=line.get_color(), label=name)
    ax.set(xlabel="epoch" if steps_per_epoch else "step", ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return fig


@_styled
def scatter_codes(codes: Images, labels: Images, class_names: Sequence[str] | None = None, *,
                  title: str | None = None, xlabel: str = "component 1",
                  ylabel: str = "component 2", ax: Axes | None = None) -> Figure:
    """2-D codes (``[N, 2]``) as points coloured by class, with a legend of class names."""
    pts = np.asarray(torch.as_tensor(codes).detach().cpu())
    lab = np.asarray(torch.as_tensor(labels).detach().cpu())
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"codes must be [N, 2], got shape {pts.shape}")
    if len(lab) != len(pts):
        raise ValueError(f"{len(pts)} codes but {len(lab)} labels")
    names = list(class_names) if class_names is not None else [str(c) for c in np.unique(lab)]
    fig, ax = _panel(ax, (6.0, 5.0))
    cmap = mpl.colormaps["tab10"]
    order = np.random.default_rng(0).permutation(len(pts))  # no class hides under another
    ax.scatter(pts[order, 0], pts[order, 1], s=4, alpha=0.6, c=cmap(lab[order] % 10),
               rasterized=True)
    for c in np.unique(lab):  # legend entries only
        ax.scatter([], [], s=4, color=cmap(int(c) % 10),
                   label=names[int(c)] if int(c) < len(names) else str(c))
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.legend(markerscale=3, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


@_styled
def plot_bars(groups: Mapping[str, Sequence[float]], labels: Sequence[str], *, ylabel: str,
              xlabel: str | None = None, title: str | None = None,
              reference: float | None = None, ax: Axes | None = None) -> Figure:
    """Grouped bars: one bar per label for each named group of values (a dotted line at
    ``reference`` if given), e.g. the KL of each latent dimension for two models."""
    fig, ax = _panel(ax, (7.0, 3.4))
    width = 0.8 / max(len(groups), 1)
    x = np.arange(len(labels))
    for i, (name, values) in enumerate(groups.items()):
        v = np.asarray(values, dtype=float)
        if len(v) != len(labels):
            raise ValueError(f"{name!r} has {len(v)} values for {len(labels)} labels")
        ax.bar(x + (i - (len(groups) - 1) / 2) * width, v, width, label=name)
    ax.set_xticks(x, labels, rotation=30 if max(map(len, labels)) > 2 else 0)
    ax.set(ylabel=ylabel, xlabel=xlabel)
    if reference is not None:
        ax.axhline(reference, color="grey", linestyle=":", linewidth=1)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.2)
    if title:
        ax.set_title(title)
    if len(groups) > 1:
        ax.legend(ncols=len(groups))
    return fig


def plot_class_counts(counts: Mapping[str, Sequence[int]], class_names: Sequence[str], *,
                      title: str | None = None, ax: Axes | None = None) -> Figure:
    """Grouped bars of each set's class shares (in %), e.g. train/validation/test."""
    shares = {}
    for label, values in counts.items():
        v = np.asarray(values, dtype=float)
        if len(v) != len(class_names):
            raise ValueError(f"{label!r} has {len(v)} counts for {len(class_names)} classes")
        shares[label] = 100 * v / v.sum()
    return plot_bars(shares, class_names, ylabel="share of images (%)", title=title,
                     reference=100 / len(class_names), ax=ax)


@_styled
def plot_histogram(values: Images, *, bins: int = 50, xlabel: str, title: str | None = None,
                   logy: bool = False, ax: Axes | None = None) -> Figure:
    """A histogram of all values (flattened)."""
    v = np.asarray(torch.as_tensor(values).detach().cpu()).ravel()
    fig, ax = _panel(ax, (6.0, 3.4))
    ax.hist(v, bins=bins, color=STYLE["axes.prop_cycle"].by_key()["color"][0])
    ax.set(xlabel=xlabel, ylabel="count")
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    return fig


@_styled
def plot_points(points: Mapping[str, tuple[float, float]], *, xlabel: str, ylabel: str,
                title: str | None = None, reference: tuple[str, float] | None = None,
                colors: Mapping[str, str] | None = None, ax: Axes | None = None,
                below: tuple[str, ...] = ()) -> Figure:
    """Named points in a plane, each labelled beside its marker, e.g. models placed by two
    metrics; ``reference`` = (label, y) draws a dotted horizontal line, e.g. the real data's
    value. ``colors`` (name -> colour) keeps a model's colour the same across panels; the
    points named in ``below`` have their label under the marker, apart from a close neighbour's."""
    fig, ax = _panel(ax, (5.5, 4.0))
    for i, (name, (x, y)) in enumerate(points.items()):
        color = (colors or {}).get(name, f"C{i}")
        ax.scatter([x], [y], s=60, color=color, zorder=3)
        ax.annotate(name, (x, y), xytext=(6, -14 if name in below else 6),
                    textcoords="offset points", color=color, fontweight="bold")
    if reference is not None:
        label, y = reference
        ax.axhline(y, color="grey", linestyle=":", linewidth=1)
        ax.annotate(label, (0.01, y), xycoords=("axes fraction", "data"), xytext=(0, 4),
                    textcoords="offset points", color="grey", fontsize=8)
    ax.margins(0.25)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    return fig
