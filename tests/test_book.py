"""The book: its build's execution cache is keyed on the package and the profile, its live
files are copied, a false claim stops its build and only its build; and ``genadv_utils.book``,
the bookkeeping its chapters call (checks, published records)."""

import importlib.util
import json
from pathlib import Path

import pytest

from genadv_utils import book

ROOT = Path(__file__).resolve().parents[1]


def load_extension():
    spec = importlib.util.spec_from_file_location("genadv_book", ROOT / "book/_ext/genadv_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_key_changes_with_the_profile(monkeypatch):
    ext = load_extension()
    monkeypatch.setenv("GENADV_PROFILE", "smoke")
    smoke = ext.build_key()
    assert smoke == ext.build_key()
    monkeypatch.setenv("GENADV_PROFILE", "default")
    assert ext.build_key() != smoke
    assert ext.build_key().startswith("default-")


def test_build_key_changes_with_the_package_source(monkeypatch, tmp_path):
    ext = load_extension()
    copy = tmp_path / "genadv_utils"
    copy.mkdir()
    for source in (ROOT / "genadv_utils").glob("*.py"):
        (copy / source.name).write_text(source.read_text())
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = importlib.util.spec_from_file_location("genadv_utils", copy / "__init__.py",
                                                  submodule_search_locations=[str(copy)])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    before = ext.build_key()
    text = (copy / "data.py").read_text()
    (copy / "data.py").write_text(text.replace("SPLIT_SEED = 0", "SPLIT_SEED = 1"))
    assert ext.build_key() != before
    (copy / "data.py").write_text(text)
    assert ext.build_key() == before
    (copy / "data.py").write_text("# a comment\n" + text)
    assert ext.build_key() != before  # the pages show source and docstrings: never stale


def test_live_files_used_by_the_pages_are_copied_into_the_site(monkeypatch, tmp_path):
    from types import SimpleNamespace

    import pytest

    from genadv_utils import live

    ext = load_extension()
    out, models, runtime = tmp_path / "html", tmp_path / "live", tmp_path / "ort"
    (out / "notebooks").mkdir(parents=True)
    models.mkdir()
    runtime.mkdir()
    (runtime / "ort.wasm.min.js").write_text("runtime")
    (models / "abc123.onnx").write_bytes(b"used")
    (models / "def456.onnx").write_bytes(b"not used")
    (out / "notebooks" / "ch.html").write_text('{"models": {"g": "site:_live/abc123.onnx"}}')
    (out / "_live").mkdir()
    (out / "_live" / "0ld.onnx").write_bytes(b"left by an earlier build")
    monkeypatch.setenv(live.LIVE_DIR_ENV, str(models))
    monkeypatch.setattr(live, "fetch_runtime", lambda: runtime)
    app = SimpleNamespace(outdir=str(out), builder=SimpleNamespace(format="html"))
    ext._copy_live_files(app, None)
    assert sorted(p.name for p in (out / "_live").iterdir()) == ["abc123.onnx"]
    assert (out / "_static" / "ort" / "ort.wasm.min.js").read_text() == "runtime"
    (out / "notebooks" / "ch.html").write_text('"site:_live/feed00.onnx"')
    with pytest.raises(RuntimeError, match="feed00.onnx, which is not in"):
        ext._copy_live_files(app, None)


FALSE_CLAIM = """from genadv_utils import book
book.check(2 + 2 == 5, "two and two make five", "default", "mnist")"""


def _claim_notebook(folder):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# A page with a claim"),
                      nbformat.v4.new_code_cell(FALSE_CLAIM),
                      nbformat.v4.new_code_cell('print("the end")')]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = folder / "claim.ipynb"
    nbformat.write(notebook, path)
    return path


def test_a_false_claim_stops_the_book_build_and_not_a_readers_notebook(tmp_path, monkeypatch):
    """The same notebook, in the default profile: a reader's plain kernel prints one line at the
    false claim and runs to the end; the book's build (its extension) stops on it."""
    import subprocess
    import sys

    import nbformat
    from nbclient import NotebookClient

    from genadv_utils import book

    path = _claim_notebook(tmp_path)
    monkeypatch.setenv("GENADV_PROFILE", "default")
    monkeypatch.delenv(book.BOOK_ENV, raising=False)
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, kernel_name="python3", timeout=300).execute()
    outputs = ["".join(o.get("text", "") for o in cell.outputs)
               for cell in notebook.cells if cell.cell_type == "code"]
    assert outputs[0].startswith("(your run differs from the website's")
    assert outputs[1] == "the end\n"

    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: claim\n")
    (tmp_path / "_config.yml").write_text(
        "title: claim\nexecute:\n  execute_notebooks: force\n  raise_on_error: true\n"
        f"sphinx:\n  local_extensions:\n    genadv_book: {ROOT / 'book/_ext'}\n")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    build = subprocess.run([str(jupyter_book), "build", "--all",
                            str(tmp_path)], capture_output=True, text=True, timeout=600)
    log = build.stdout + build.stderr
    assert build.returncode != 0, log
    assert "two and two make five" in log and "this build's numbers disagree" in log


def test_check_holds_only_the_websites_runs_to_the_text(capsys, monkeypatch):
    monkeypatch.setenv(book.BOOK_ENV, "1")  # as in the book's build
    book.check(True, "always", "default", "mnist")  # a true claim passes silently
    assert capsys.readouterr().out == ""
    with pytest.raises(AssertionError, match="the text says: 'the sky is green'"):
        book.check(False, "the sky is green", "default", "mnist")
    book.check(False, "the sky is green", "smoke", "mnist")
    assert "for these tiny runs" in capsys.readouterr().out
    book.check(False, "the sky is green", "default", "fashion-mnist")
    assert "on fashion-mnist (the text describes the mnist runs)" in capsys.readouterr().out


def test_outside_the_book_a_false_claim_prints_one_line_and_goes_on(capsys, monkeypatch):
    monkeypatch.delenv(book.BOOK_ENV, raising=False)  # a reader's Jupyter or Colab kernel
    book.check(False, "the sky is green", "default", "mnist")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("(your run differs from the website's")
    assert "'the sky is green'" in out


def test_check_holds_a_page_about_fashion_mnist_to_its_own_dataset(capsys, monkeypatch):
    monkeypatch.setenv(book.BOOK_ENV, "1")
    with pytest.raises(AssertionError, match="clothes"):
        book.check(False, "clothes", "default", "fashion-mnist", describes="fashion-mnist")
    book.check(False, "clothes", "default", "mnist", describes="fashion-mnist")
    assert "(the text describes the fashion-mnist runs)" in capsys.readouterr().out


def test_a_published_record_says_when_it_was_measured_or_how_to_write_it(capsys, tmp_path):
    path = tmp_path / "seeds.json"
    writes = "benchmarks/comparison.py --seeds 3 --save"
    assert book.published(path, json.loads, writes) == (None, [])  # not here, as on Colab
    assert capsys.readouterr().out == (f"{path} is not here: the published record lives in "
                                       f"the repository ({writes} writes it)\n")
    path.write_text(json.dumps({"date": "2026-12-03", "machine": "2 cores", "torch": "2.15"}))
    read = lambda p: (json.loads(p.read_text()), ["vaegan"])  # noqa: E731
    record, changed = book.published(path, read, writes)
    assert record["date"] == "2026-12-03" and changed == ["vaegan"]
    assert capsys.readouterr().out == ("measured on 2026-12-03 on 2 cores, torch 2.15; "
                                       "changed since: vaegan\n")
