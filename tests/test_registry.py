"""Every registered recipe goes through settings → start → one step → a short run → reload;
the command line offers exactly the registered models; and the layout keeps its promises
(chapter modules short and reading few shared modules, defaults written once)."""

import ast
from pathlib import Path

import pytest
import torch

from genadv_utils import data, registry
from genadv_utils.__main__ import _parser

PACKAGE = Path(registry.__file__).parent
CHAPTERS = set(registry.RECIPES)


@pytest.fixture(scope="module")
def splits():
    return data.load_splits("mnist", device="cpu")


@pytest.mark.parametrize("name", sorted(registry.RECIPES))
def test_each_recipe_trains_a_short_run_and_reloads_it(name, splits, tmp_path):
    recipe = registry.get(name)
    assert recipe.profiles["default"] == {}  # the settings' defaults are the default profile
    assert recipe.module == name and set(recipe.evaluations)
    settings = recipe.settings("smoke", epochs=1, train_size=256)
    state = recipe.start(settings, "cpu")
    assert set(state.modules) == {name}
    state.train(True)
    batch = splits.train.images[:16], splits.train.labels[:16]
    losses = recipe.step(settings)(state, batch)
    assert losses and all(torch.isfinite(torch.as_tensor(v)) for v in losses.values())
    trained = recipe.train(settings, splits, run_dir=tmp_path / "run", progress=False)
    assert len(trained.history.epochs) == 1 and trained.history.finished
    loaded = recipe.load(trained.folder, device="cpu")
    assert type(loaded.model) is type(recipe.network(settings)) and loaded.settings == settings
    for a, b in zip(trained.model.state_dict().values(), loaded.model.state_dict().values()):
        assert torch.equal(a.cpu(), b)


def test_the_command_line_offers_the_registered_models():
    verbs = _parser()._subparsers._group_actions[0].choices
    model = {verb: next(a for a in parser._actions if a.dest == "model").choices
             for verb, parser in verbs.items() if verb != "evaluate"}
    assert tuple(model["train"]) == tuple(registry.RECIPES)
    assert tuple(registry.TITLES) == tuple(registry.RECIPES)  # a title for every model
    assert set(model["sample"]) == {"vae", "gan", "vaegan"}
    assert set(model["reconstruct"]) == {"dae", "vae", "vaegan"}
    with pytest.raises(ValueError, match="unknown model 'flow'"):
        registry.get("flow")


def test_model_names_are_literals_only_in_their_modules_and_the_registry():
    for path in PACKAGE.glob("*.py"):
        if path.stem in CHAPTERS | {"registry", "keys"}:  # keys: the table of module roles
            continue
        literals = {node.value for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.Constant) and isinstance(node.value, str)}
        assert not CHAPTERS & literals, (path.name, CHAPTERS & literals)


def _package_imports(path):
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {a.name for a in node.names}
    return found


def test_chapter_modules_are_short_and_read_at_most_three_shared_modules():
    for name in CHAPTERS:
        path = PACKAGE / f"{name}.py"
        assert len(path.read_text().splitlines()) <= 270, name
        shared = _package_imports(path) - CHAPTERS
        assert len(shared) <= 3, (name, sorted(shared))


def test_no_module_is_over_400_lines():
    for path in PACKAGE.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path.name
