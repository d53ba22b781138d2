"""Notebook hygiene: clean, listed in the book, one parameters cell, Colab set-up that agrees
with the repository address in _config.yml. (nbmake executes them: see pyproject.toml.)"""

import ast
from pathlib import Path

import nbformat
import pytest
import yaml

from genadv_utils import recipes

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
    assert 'f"git+{REPOSITORY}"' in first.source
    assert 'find_spec("genadv_utils") is None' in first.source


def test_book_has_colab_launch_buttons():
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert CONFIG["repository"]["url"].startswith("https://github.com/")


CHAPTER_RECIPES = {
    "01_denoising_autoencoder": (recipes.DAE_PROFILES, recipes.DAESettings(),
                                 {"noise_kind": "noise", "noise_level": "level"}),
    "02_variational_autoencoder": (recipes.VAE_PROFILES, recipes.VAESettings(),
                                   {"latent_size": "latent_size", "beta": "beta"}),
    "03_generative_adversarial_network": (recipes.GAN_PROFILES, recipes.GANSettings(),
                                          {"latent_size": "latent_size", "width": "width"}),
    "04_vae_gan": (recipes.VAEGAN_PROFILES, recipes.VAEGANSettings(),
                   {"latent_size": "latent_size", "gamma": "gamma"}),
}


@pytest.mark.parametrize("chapter", sorted(CHAPTER_RECIPES))
def test_notebook_parameters_match_the_recipe_profiles(chapter):
    """A chapter's parameters cell and the command line train the same default model."""
    profiles, defaults, fields = CHAPTER_RECIPES[chapter]
    nb = nbformat.read(ROOT / f"notebooks/{chapter}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    values = {}
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    for profile, changes in profiles.items():
        for key, value in changes.items():
            assert values["sizes"][profile][key] == value, (profile, key)
    for name, field in {**fields, "dataset": "dataset", "seed": "seed"}.items():
        assert values[name] == getattr(defaults, field), name


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
