"""Notebook display helpers: tables, docstrings, source, pasted images and the offline
animation player."""

import pytest
import torch

from genadv_utils import display, plotting



def test_animation_embeds_every_frame_as_offline_html():
    grids = [torch.full((4, 1, 28, 28), v) for v in (0.0, 0.5, 1.0)]
    html = display.animate_grids(grids, titles=["a", "b", "c"], nrow=2).data
    assert "<script" in html and "cdn" not in html.lower()
    assert html.count("data:image/png;base64") == 3
    assert '<img alt="Animation of image grids, one frame per step" id=' in html
    with pytest.raises(ValueError, match="titles"):
        display.animate_grids(grids, titles=["a"])
    with pytest.raises(ValueError, match="no grids"):
        display.animate_grids([])


def test_table_source_and_doc_render_for_notebooks():
    md = display.table({"a": {"x": 1.23456, "y": "text"}, "b": {"x": 2.0}}, digits=3).data
    assert md.splitlines()[0] == "| | x | y |"
    assert "| a | 1.23 | text |" in md and "| b | 2 |  |" in md
    big = display.table({"r": {"n": 1_234_567, "s": 2345.6, "f": 0.000123}}, digits=3).data
    assert "| r | 1,234,567 | 2,346 | 0.000123 |" in big
    assert "def smooth" in display.show_source(plotting.smooth).data
    assert "Moving average" in display.show_doc(plotting.smooth).data


def test_docstrings_lose_their_sphinx_markup_in_the_notebook():
    text = "A :class:`DCGANGenerator`, :func:`~genadv_utils.training.fit` and ``x``."
    assert display.docstring_markdown(text) == "A `DCGANGenerator`, `fit` and `x`."


def test_html_image_embeds_the_png_with_alt_text():
    fig = plotting.show_images(torch.rand(4, 1, 28, 28), nrow=4)
    html = display.html_image(fig, alt='Four "random" images').data
    assert html.startswith('<img src="data:image/png;base64,iVBOR')
    assert 'alt="Four &quot;random&quot; images"' in html
