"""Notebook display helpers: tables, docstrings, source, pasted images, the offline
animation player and the benchmarks' published records."""

import json

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


def test_check_holds_only_the_websites_runs_to_the_text(capsys, monkeypatch):
    monkeypatch.setenv(display.BOOK_ENV, "1")  # as in the book's build
    display.check(True, "always", "default", "mnist")  # a true claim passes silently
    assert capsys.readouterr().out == ""
    with pytest.raises(AssertionError, match="the text says: 'the sky is green'"):
        display.check(False, "the sky is green", "default", "mnist")
    display.check(False, "the sky is green", "smoke", "mnist")
    assert "for these tiny runs" in capsys.readouterr().out
    display.check(False, "the sky is green", "default", "fashion-mnist")
    assert "on fashion-mnist (the text describes the mnist runs)" in capsys.readouterr().out


def test_outside_the_book_a_false_claim_prints_one_line_and_goes_on(capsys, monkeypatch):
    monkeypatch.delenv(display.BOOK_ENV, raising=False)  # a reader's Jupyter or Colab kernel
    display.check(False, "the sky is green", "default", "mnist")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("(your run differs from the website's")
    assert "'the sky is green'" in out


def test_check_holds_a_page_about_fashion_mnist_to_its_own_dataset(capsys, monkeypatch):
    monkeypatch.setenv(display.BOOK_ENV, "1")
    with pytest.raises(AssertionError, match="clothes"):
        display.check(False, "clothes", "default", "fashion-mnist", describes="fashion-mnist")
    display.check(False, "clothes", "default", "mnist", describes="fashion-mnist")
    assert "(the text describes the fashion-mnist runs)" in capsys.readouterr().out


def test_a_published_record_says_when_it_was_measured_or_how_to_write_it(capsys, tmp_path):
    path = tmp_path / "seeds.json"
    writes = "benchmarks/comparison.py --seeds 3 --save"
    assert display.published(path, json.loads, writes) == (None, [])  # not here, as on Colab
    assert capsys.readouterr().out == (f"{path} is not here: the published record lives in "
                                       f"the repository ({writes} writes it)\n")
    path.write_text(json.dumps({"date": "2026-12-03", "machine": "2 cores", "torch": "2.15"}))
    read = lambda p: (json.loads(p.read_text()), ["vaegan"])  # noqa: E731
    record, changed = display.published(path, read, writes)
    assert record["date"] == "2026-12-03" and changed == ["vaegan"]
    assert capsys.readouterr().out == ("measured on 2026-12-03 on 2 cores, torch 2.15; "
                                       "changed since: vaegan\n")
