"""The book build's execution cache is keyed on the package and the profile."""

import importlib.util
from pathlib import Path

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


FALSE_CLAIM = """from genadv_utils import display
display.check(2 + 2 == 5, "two and two make five", "default", "mnist")"""


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

    from genadv_utils import display

    path = _claim_notebook(tmp_path)
    monkeypatch.setenv("GENADV_PROFILE", "default")
    monkeypatch.delenv(display.BOOK_ENV, raising=False)
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
