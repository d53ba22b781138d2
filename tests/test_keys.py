"""Run keys follow what the code does, not its comments, and a reader's own step keeps one
folder across sessions."""

import functools
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from genadv_utils import dae, keys, registry


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
    return {name: keys.code_digest(r.module) for name, r in registry.RECIPES.items()}


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
