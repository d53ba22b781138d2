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
    (copy / "data.py").write_text("# a comment\n" + text.replace('"""', '"""Edited. ', 1))
    assert ext.build_key() == before  # comments and docstrings do not re-execute the book
    (copy / "data.py").write_text(text.replace("SPLIT_SEED = 0", "SPLIT_SEED = 1"))
    assert ext.build_key() != before


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
