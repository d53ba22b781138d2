"""Notebook hygiene: clean, listed in the book, one parameters cell, Colab set-up that agrees
with the repository address in _config.yml. (nbmake executes their reader copies, reader/, which
tests/test_reader.py holds to them: see pyproject.toml.)"""

import ast
from pathlib import Path

import nbformat
import pytest
import yaml

from genadv_utils import dae, gan, vae, vaegan

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_the_table_of_contents(path):
    assert f"notebooks/{path.stem}" in toc_files()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_one_parameters_cell_with_a_profile(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    assert "profile = None" in tagged[0].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_setup_installs_from_the_configured_repository(path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert f'REPOSITORY = "{CONFIG["repository"]["url"]}"' in first.source
    assert 'COMMIT = "main"' in first.source and 'f"git+{REPOSITORY}@{COMMIT}"' in first.source
    assert 'GENADV_RUNS' in first.source  # how to keep runs past a Colab runtime
    assert 'find_spec("genadv_utils") is None' in first.source


def test_book_has_colab_launch_buttons():
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert CONFIG["repository"]["url"].startswith("https://github.com/")


CHAPTERS = {"01_denoising_autoencoder": dae, "02_variational_autoencoder": vae,
            "03_generative_adversarial_network": gan, "04_vae_gan": vaegan}


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_notebook_parameters_read_the_model_from_its_module(chapter):
    """A chapter's parameters cell repeats none of its model's settings: they come from the
    chapter module (one source), changed only through ``changes``."""
    values = _parameters(chapter)
    fields = set(CHAPTERS[chapter].RECIPE.settings_type.__dataclass_fields__) - {"seed", "dataset"}
    assert values["changes"] == {}
    assert not fields & set(values), fields & set(values)
    for sizes in values["sizes"].values():
        assert not fields & set(sizes), fields & set(sizes)


def _parameters(chapter):
    nb = nbformat.read(ROOT / f"notebooks/{chapter}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return {node.targets[0].id: ast.literal_eval(node.value)
            for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)}


def test_comparison_chapter_measures_like_chapter_4():
    """Chapter 5 reuses chapter 4's cached sample metrics only if it asks for the same sizes."""
    comparison, vaegan = _parameters("05_comparison"), _parameters("04_vae_gan")
    for profile in ("default", "smoke"):
        for key in ("samples", "test_size"):
            assert comparison["sizes"][profile][key] == vaegan["sizes"][profile][key]
    assert comparison["dataset"] == vaegan["dataset"]
