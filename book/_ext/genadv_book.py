"""Sphinx extension for the book: no stale notebook outputs, and readable training logs.

Jupyter Book's execution cache is keyed on the notebooks' code cells only, so a change to what
``genadv_utils`` does, to the run profile or to the installed PyTorch would otherwise be served
from the cache. This extension computes a key from all of those (the package by its source
text: the chapters show its code and docstrings, so an edited comment must show too) and

- points the execution cache at ``<cache>/<key>``, so a new key means fresh execution, and
- records the key as a Sphinx setting that rebuilds every page when it changes.

The few most recently used cache folders are kept, so switching profiles back and forth is cheap.

A live progress bar redraws itself hundreds of times; a static page would show every redraw.
The extension sets ``GENADV_PROGRESS=epochs`` for the kernels the build starts, so training
prints one summary line per epoch instead (see :func:`genadv_utils.training.fit`).

Sphinx 7 adds each inline script registered before the builder starts twice (once with the
file name ``None``, once with ``""``); sphinx-thebe's ``const THEBE_JS_URL`` declared twice is a
JavaScript error on every page. The extension drops repeated scripts from each page.

Live widgets (:mod:`genadv_utils.live`): the extension sets ``$GENADV_LIVE_DIR`` to
``_build/.genadv-live`` (beside the execution cache, which keeps the outputs that point at it),
where the notebooks write their exported networks. When the build has finished, it copies the
networks the pages use into ``_live/`` and the pinned onnxruntime-web files (fetched once from the
npm registry, checked against their integrity hash) into ``_static/ort/``, so the pages need no
network.

The extension also sets ``$GENADV_BOOK`` (:data:`genadv_utils.book.BOOK_ENV`) for the
kernels: there, and only there, a sentence whose claim the numbers contradict stops the build
(:func:`genadv_utils.book.check`); a reader's kernel prints one line and goes on.

Reader's notebooks (``genadv_reader``): the committed copies in ``reader/`` are what the Colab
buttons open (the extension points them there) and what the pages' download button gives. A
default-profile build leaves them alone (a user's build leaves the checkout as it was) and ends
by writing ``_build/jupyter_execute/genadv-build.json``: when, where and at which commit it ran,
and each chapter's key; ``python book/_ext/genadv_reader.py --from-build`` then remakes the
copies from its numbers, a maintainer's step.

Figures have captions but no numbers: sphinx-jupyterbook-latex switches ``numfig`` on for every
builder, which would number the figures across the whole book ("Fig. 50" in chapter 5).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
from pathlib import Path

KEEP_CACHES = 3


def build_key() -> str:
    """The execution cache's key: the run profile, the package's source text
    (:func:`genadv_utils.keys.source_digest`: the pages show its code and docstrings, so a
    comment edit re-executes the notebooks, which reload their runs) and PyTorch's version."""
    from genadv_utils.keys import source_digest
    from genadv_utils.runtime import profile_name

    spec = importlib.util.find_spec("genadv_utils")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("genadv_utils is not installed: run `pip install -r requirements.txt`")
    versions = "-".join(importlib.metadata.version(d) for d in ("torch", "torchvision"))
    package = Path(next(iter(spec.submodule_search_locations)))
    return f"{profile_name()}-{source_digest(package)}-{versions}"


def _prune(cache_root: Path, current: Path) -> None:
    if not cache_root.is_dir():
        return
    older = sorted((p for p in cache_root.iterdir() if p.is_dir() and p != current),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in older[KEEP_CACHES - 1:]:
        shutil.rmtree(stale, ignore_errors=True)


def _key_the_cache(app, config) -> None:
    key = build_key()
    config.genadv_build_key = key
    root = Path(config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")
    if not root.is_absolute():
        root = Path(app.srcdir) / root
    current = root / key
    _prune(root, current)
    current.mkdir(parents=True, exist_ok=True)
    os.utime(current)
    config.nb_execution_cache_path = str(current)


def _drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    seen, kept = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})
        filename = getattr(script, "filename", script) or ""  # None and "" both mean inline
        key = (str(filename), tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def _live_folder(app, config) -> None:
    from genadv_utils.live import LIVE_DIR_ENV

    os.environ[LIVE_DIR_ENV] = str(Path(app.outdir).parent / ".genadv-live")


def _copy_live_files(app, exception) -> None:
    """The runtime and every network a page refers to, into the built site."""
    if exception is not None or app.builder.format != "html":
        return
    from genadv_utils.live import (LIVE_DIR_ENV, SITE_MODELS, SITE_RUNTIME, fetch_runtime,
                                   site_models)

    out = Path(app.outdir)
    used = set()
    for page in out.rglob("*.html"):
        used |= site_models(page.read_text(errors="replace"))
    if not used:
        return
    source = Path(os.environ[LIVE_DIR_ENV])
    (out / SITE_MODELS).mkdir(parents=True, exist_ok=True)
    for stale in (out / SITE_MODELS).glob("*.onnx"):  # left by an earlier build
        if stale.name not in used:
            stale.unlink()
    for name in sorted(used):
        if not (source / name).is_file():
            raise RuntimeError(f"a page uses the live model {name}, which is not in {source}: "
                               f"rebuild with --all after removing _build/.jupyter_cache")
        shutil.copy2(source / name, out / SITE_MODELS / name)
    runtime = fetch_runtime()
    shutil.copytree(runtime, out / SITE_RUNTIME, dirs_exist_ok=True)


def _record_the_build(app, exception) -> None:
    """After a default-profile build: what the reader copies need to be remade from its numbers
    (``genadv_reader.record_build``); the copies themselves are left as committed."""
    if exception is not None or app.builder.format != "html":
        return
    from genadv_utils.book import machine
    from genadv_utils.runtime import profile_name

    import genadv_reader

    if profile_name() == "default":
        info = genadv_reader.record_build(Path(app.outdir).parent / "jupyter_execute", machine())
        print(f"default build recorded in {info.relative_to(genadv_reader.ROOT)}; remake the "
              "reader copies from its numbers with: python book/_ext/genadv_reader.py "
              "--from-build")
    downloads = Path(app.outdir) / "_sources" / genadv_reader.SOURCES.name
    for copy in genadv_reader.READER.glob("*.ipynb"):
        if (downloads / copy.name).is_file():  # the page's download button gives the copy
            shutil.copy2(copy, downloads / copy.name)


def _colab_opens_the_reader_copy(app, pagename, templatename, context, doctree) -> None:
    """The launch buttons of a chapter open its reader copy, not the book's source."""
    import genadv_reader

    file = f"{pagename.rsplit('/', 1)[-1]}.ipynb"
    source, target = f"/{genadv_reader.SOURCES.name}/{file}", f"/{genadv_reader.READER.name}/{file}"
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) if isinstance(group, dict) else []:
            url = button.get("url", "")
            if url.startswith("https://") and url.endswith(source):  # not the download button
                button["url"] = button["url"][: -len(source)] + target


def _no_figure_numbers(app, config) -> None:
    config.numfig = False


def setup(app):
    from genadv_utils.book import BOOK_ENV
    from genadv_utils.training import PROGRESS_ENV

    os.environ.setdefault(PROGRESS_ENV, "epochs")
    os.environ[BOOK_ENV] = "1"  # the kernels it starts hold the text to their numbers
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)  # after the others
    app.add_config_value("genadv_build_key", "", "env")
    app.connect("config-inited", _key_the_cache)
    app.connect("config-inited", _live_folder)
    app.connect("build-finished", _copy_live_files)
    app.connect("build-finished", _record_the_build)
    app.connect("html-page-context", _colab_opens_the_reader_copy, priority=600)  # after the theme
    app.connect("config-inited", _no_figure_numbers, priority=900)  # after jupyterbook-latex
    return {"parallel_read_safe": True, "parallel_write_safe": True}
