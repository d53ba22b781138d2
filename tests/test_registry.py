"""Every registered recipe goes through settings → build → one training step → reload, and the
command line offers exactly the registered models."""

import ast
import copy
from pathlib import Path

import pytest
import torch

from genadv_utils import data, registry
from genadv_utils.__main__ import _parser

PACKAGE = Path(registry.__file__).parent


@pytest.fixture(scope="module")
def batch():
    train = data.load_splits("mnist", device="cpu").train
    return train.images[:16], train.labels[:16]


@pytest.mark.parametrize("name", sorted(registry.RECIPES))
def test_each_recipe_builds_steps_and_names_its_module(name, batch):
    recipe = registry.get(name)
    settings = recipe.settings("smoke")
    assert recipe.settings("default") == recipe.settings_type()  # defaults live in one place
    state = recipe.build(settings, "cpu")
    assert set(state.modules) == {name} and recipe.module == name
    state.train(True)
    losses = recipe.step(settings)(state, batch)
    assert losses and all(torch.isfinite(torch.as_tensor(v)) for v in losses.values())
    assert set(recipe.evaluations) and isinstance(recipe.network(settings), torch.nn.Module)


def test_the_command_line_offers_the_registered_models():
    verbs = _parser()._subparsers._group_actions[0].choices
    model = {verb: next(a for a in parser._actions if a.dest == "model").choices
             for verb, parser in verbs.items() if verb != "evaluate"}
    assert tuple(model["train"]) == tuple(registry.RECIPES)
    assert set(model["sample"]) == {"vae", "gan", "vaegan"}
    assert set(model["reconstruct"]) == {"dae", "vae", "vaegan"}
    with pytest.raises(ValueError, match="unknown model 'flow'"):
        registry.get("flow")


def test_model_names_are_literals_only_in_their_modules_and_the_registry():
    names = set(registry.RECIPES)
    for path in PACKAGE.glob("*.py"):
        if path.stem in names | {"registry"}:
            continue
        literals = {node.value for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.Constant) and isinstance(node.value, str)}
        assert not names & literals, (path.name, names & literals)


def test_no_module_is_over_400_lines():
    for path in PACKAGE.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path.name


@pytest.mark.parametrize("name", sorted(registry.RECIPES))
def test_the_optimised_step_gives_the_plain_steps_losses(name, batch, monkeypatch, tmp_path):
    """Channels-last activations and the fused Adam (recipe.OPTIMISED) change the kernels,
    not the maths: three steps on one fixed batch give the same losses to float rounding.
    Each step starts both from the plain run's weights and optimiser state, because the
    games (and Adam's normalised first updates) amplify rounding from one step to the next."""
    from genadv_utils import recipe as recipe_module

    recipe = registry.get(name)
    settings = recipe.settings("smoke")
    states = {}
    for optimised in (False, True):
        monkeypatch.setattr(recipe_module, "OPTIMISED", optimised)
        states[optimised] = recipe.build(settings, "cpu")
        states[optimised].train(True)
    plain, fast = states[False], states[True]
    step = recipe.step(settings)

    def losses(state, seed):
        torch.manual_seed(seed)
        return {k: float(torch.as_tensor(v).detach()) for k, v in step(state, batch).items()}

    for seed in range(3):
        fast.load_state_dict(copy.deepcopy(plain.state_dict()), tmp_path)
        a, b = losses(plain, seed), losses(fast, seed)
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-5), (seed, key, a[key], b[key])
