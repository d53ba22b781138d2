"""Every key follows what the code does, through the modules whose role can change what it
keys, not its comments or messages; a reader's own step keeps one folder across sessions."""

import functools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from genadv_utils import dae, evaluation, keys, registry

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = {p.stem[:2]: json.loads(p.read_text())
            for p in sorted((ROOT / "notebooks").glob("*.ipynb"))}


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A copy of the package's sources that a test may edit; the store reads it instead."""
    copy = tmp_path / "pkg"
    copy.mkdir()
    for path in keys.PACKAGE.glob("*.py"):
        (copy / path.name).write_text(path.read_text())
    monkeypatch.setattr(keys, "PACKAGE", copy)
    return copy


def _keys():
    return {name: keys.run_code(r.module) for name, r in registry.RECIPES.items()}


def _chapters():
    return {number: keys.chapter_key(notebook) for number, notebook in CHAPTERS.items()}


def _everything():
    """Every key there is: runs', the measurements', the chapters' and the records'."""
    return {"runs": _keys(), "measure": keys.measure_code(), "chapters": _chapters(),
            "records": {d: evaluation.comparison_key(d) for d in ("mnist", "fashion-mnist")}}


def test_every_package_module_has_a_role():
    assert {p.stem for p in keys.PACKAGE.glob("*.py")} == set(keys.ROLES)
    with pytest.raises(KeyError, match="has no role in keys.ROLES"):
        keys.role("newcomer")


def _edit(folder: Path, module: str, old: str, new: str) -> None:
    path = folder / f"{module}.py"
    text = path.read_text()
    assert old in text, (module, old)
    path.write_text(text.replace(old, new, 1))


def test_comments_docstrings_and_layout_retrain_nothing(package_copy):
    before = _keys()
    for module in ("gan", "training", "runtime", "blocks", "vae"):
        path = package_copy / f"{module}.py"
        text = path.read_text()
        text = text.replace('"""', '"""An edited docstring. ', 1)  # the module docstring
        path.write_text("# a new comment\n\n" + text + "\n\n# and another\n")
    assert _keys() == before


def test_an_edit_to_the_gan_retrains_the_gan_and_the_vaegan_only(package_copy):
    before = _keys()
    _edit(package_copy, "gan", "nn.LeakyReLU(0.2)", "nn.LeakyReLU(0.1)")
    after = _keys()
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"gan", "vaegan"}


@pytest.mark.parametrize("module, old, new", [
    ("training", "record[\"seconds\"] = time.perf_counter() - start",
     "record[\"seconds\"] = 1.0 + time.perf_counter() - start"),
    ("runtime", "torch.manual_seed(seed)", "torch.manual_seed(seed + 1)"),
])
def test_an_edit_to_the_loop_or_to_seeding_retrains_everything(package_copy, module, old, new):
    before = _keys()
    _edit(package_copy, module, old, new)
    after = _keys()
    assert all(before[name] != after[name] for name in before)


def test_plotting_the_store_and_the_keys_never_change_a_run_key(package_copy):
    before = _keys()
    _edit(package_copy, "plotting", "def smooth(", "def smooth_(")
    _edit(package_copy, "store", 'LOCK = ".lock"', 'LOCK = ".lock"\nUNUSED = 1')
    _edit(package_copy, "keys", "PACKAGE = Path", "PACKAGE_ = 1\nPACKAGE = Path")
    assert _keys() == before


def test_a_reworded_message_or_docstring_moves_no_key_at_all(package_copy):
    """A message in the run store, a docstring in a chapter, the book's bookkeeping, a plot:
    no run, measurement, chapter or record is keyed differently."""
    before = _everything()
    _edit(package_copy, "store", "choose another folder", "pick another folder")
    _edit(package_copy, "gan", "One step: D learns", "One step of the game: D learns")
    _edit(package_copy, "book", "your run differs from the website's",
          "your numbers differ from the website's")
    _edit(package_copy, "display", "no grids to animate", "nothing to animate")
    _edit(package_copy, "plotting", "def smooth(", "def smooth_(")
    assert _everything() == before


def test_the_gans_learning_rate_marks_stale_exactly_what_shows_gan_numbers(package_copy):
    """Chapters 3, 4 (the VAE-GAN builds on the GAN) and 5, and both records."""
    before = _everything()
    _edit(package_copy, "gan", "lr_generator: float = 1e-3", "lr_generator: float = 2e-3")
    after = _everything()
    assert {c for c in before["chapters"] if before["chapters"][c] != after["chapters"][c]} \
        == {"03", "04", "05"}
    assert all(before["records"][d] != after["records"][d] for d in before["records"])
    assert after["measure"] == before["measure"]
    assert {n for n in before["runs"] if before["runs"][n] != after["runs"][n]} \
        == {"gan", "vaegan"}


def test_a_chapter_module_moves_no_measurement_and_the_metrics_move_no_run(package_copy):
    before = _everything()
    _edit(package_copy, "vae", "(0.5 * logvar).exp()", "torch.exp(0.5 * logvar)")
    after = _everything()
    assert after["measure"] == before["measure"]
    assert {n for n in before["runs"] if before["runs"][n] != after["runs"][n]} == {"vae"}
    _edit(package_copy, "metrics", "RECOGNISED_CONFIDENCE = 0.9", "RECOGNISED_CONFIDENCE = 0.8")
    last = _everything()
    assert last["runs"] == after["runs"] and last["measure"] != after["measure"]


def test_a_chapters_key_reads_its_code_cells_as_meaning_and_its_records(tmp_path):
    notebook = {"cells": [{"cell_type": "code", "source": "from genadv_utils import gan\n"
                           "x = 1  # a comment\nseeds = book.record('r')"}]}
    (tmp_path / "r.json").write_text("{}")
    key = keys.chapter_key(notebook, tmp_path)
    reworded = {"cells": [{"cell_type": "code", "source": "from genadv_utils import gan\n"
                           "x = 1  # another comment\nseeds = book.record('r')"}]}
    assert keys.chapter_key(reworded, tmp_path) == key
    (tmp_path / "r.json").write_text('{"fd": 1}')
    assert keys.chapter_key(notebook, tmp_path) != key


def _my_step(state, batch, *, level):
    return dae.dae_step(state, batch, noise_kind="gaussian", level=level)


def test_a_partial_step_keeps_one_folder_across_sessions(tmp_path):
    """The folder of a run with a ``functools.partial`` step is the same in a new process."""
    settings = dae.settings("smoke")
    step = functools.partial(_my_step, level=0.3)
    here = dae.RECIPE.folder(settings, step)
    assert here == dae.RECIPE.folder(settings, functools.partial(_my_step, level=0.3))
    assert here != dae.RECIPE.folder(settings, functools.partial(_my_step, level=0.4))
    assert here != dae.RECIPE.folder(settings)
    script = textwrap.dedent(f"""
        import functools, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_keys import _my_step
        from genadv_utils import dae
        print(dae.RECIPE.folder(dae.settings("smoke"), functools.partial(_my_step, level=0.3)))
    """)
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert other == str(here)
