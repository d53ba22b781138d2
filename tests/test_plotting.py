import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from genadv_utils import display, plotting, store

IMAGES = torch.rand(12, 1, 28, 28)


def renders(fig: Figure) -> None:
    """The figure draws to a non-empty PNG, as a notebook would show it."""
    png = fig._repr_png_()
    assert png.startswith(b"\x89PNG") and len(png) > 1000


def test_image_grid_tiles_with_make_grid():
    grid = plotting.image_grid(IMAGES, nrow=4, padding=2)
    assert grid.shape == (3 * 30 + 2, 4 * 30 + 2)
    assert grid.min() >= 0 and grid.max() <= 1
    assert plotting.image_grid(IMAGES[:, 0].numpy(), nrow=4).shape == grid.shape  # [N, H, W] too


def test_show_images_and_rows():
    renders(plotting.show_images(IMAGES, nrow=6, title="twelve"))
    fig = plotting.image_rows({"a": IMAGES[:5], "b": IMAGES[:3]}, title="rows",
                              col_labels=list("vwxyz"))
    assert len(fig.axes) == 2 * 5
    renders(fig)


def test_image_helpers_reject_bad_shapes():
    with pytest.raises(ValueError, match="expected images"):
        plotting.show_images(torch.rand(4, 3, 28, 28))
    with pytest.raises(ValueError, match="no rows"):
        plotting.image_rows({})
    with pytest.raises(ValueError, match="column labels"):
        plotting.image_rows({"a": IMAGES[:2]}, col_labels=["1", "2", "3"])


def history():
    h = store.History()
    for e in range(1, 5):
        h.epochs.append({"epoch": e, "train_mse": 1 / e, "val_mse": 1.2 / e, "seconds": 1.0})
        h.steps.extend({"d": float(np.sin(i)), "g": 1.0} for i in range(10))
    return h


def test_curves_history_and_steps():
    fig = plotting.plot_history(history(), ["train_mse", "val_mse"], ylabel="MSE", logy=True)
    assert [line.get_label() for line in fig.axes[0].lines] == ["train mse", "val mse"]
    assert fig.axes[0].get_yscale() == "log"
    renders(fig)
    renders(plotting.plot_steps(history(), ["d", "g"], ylabel="loss", window=5))
    fig = plotting.plot_steps(history(), ["d", "g"], ylabel="loss", steps_per_epoch=10,
                              labels={"d": "discriminator"})
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and ax.lines[-1].get_xdata()[-1] == 4.0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["discriminator", "g"]
    with pytest.raises(ValueError, match="points"):
        plotting.plot_curves([1, 2], {"a": [1]}, xlabel="x", ylabel="y")


def test_smooth_is_a_running_mean():
    assert np.allclose(plotting.smooth([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])
    assert np.allclose(plotting.smooth([1, 2], 1), [1, 2])


def test_scatter_class_counts_and_histogram():
    codes, labels = torch.randn(100, 2), torch.arange(100) % 10
    fig = plotting.scatter_codes(codes, labels, [f"c{i}" for i in range(10)], title="codes")
    points = fig.axes[0].collections[0]
    assert len(points.get_offsets()) == 100  # one scatter, drawn in a shuffled order
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [f"c{i}" for i in range(10)]
    renders(fig)
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        plotting.scatter_codes(torch.randn(10, 3), labels[:10])
    renders(plotting.plot_class_counts({"a": [5] * 10, "b": list(range(1, 11))},
                                       [str(i) for i in range(10)]))
    with pytest.raises(ValueError, match="counts"):
        plotting.plot_class_counts({"a": [1, 2]}, ["x"])
    renders(plotting.plot_histogram(IMAGES, xlabel="pixel value", logy=True))


def test_helpers_draw_into_a_given_axes():
    fig = plotting.show_images(IMAGES)
    ax = fig.axes[0]
    assert plotting.plot_histogram(IMAGES, xlabel="v", ax=ax) is fig


def test_heatmap_rows_share_one_scale_and_check_their_labels():
    maps = {"a": torch.rand(3, 1, 5, 5), "b": torch.rand(3, 5, 5) * 2}
    fig = plotting.heatmap_rows(maps, col_labels=["x", "y", "z"], label="error")
    assert all(im.get_clim()[1] == pytest.approx(float(maps["b"].max()))
               for ax in fig.axes[:6] for im in ax.images)
    renders(fig)
    with pytest.raises(ValueError, match="4 column labels for 3 columns"):
        plotting.heatmap_rows(maps, col_labels=list("wxyz"))


def test_points_are_labelled_with_one_colour_per_name():
    fig = plotting.plot_points({"a": (1.0, 2.0), "b": (3.0, 0.5)}, xlabel="x", ylabel="y",
                               reference=("real", 1.0), colors={"b": "red"})
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts[:2] == ["a", "b"] and "real" in texts
    assert ax.texts[1].get_color() == "red"
    assert [tuple(c.get_offsets()[0]) for c in ax.collections] == [(1.0, 2.0), (3.0, 0.5)]
    renders(fig)
