"""Every registered recipe goes through settings → build → one training step → reload, and the
command line offers exactly the registered models."""

import ast
import copy
import platform
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


EXACT_RUN = """
import hashlib, sys, torch
from genadv_utils import classifier, recipe
recipe.OPTIMISED = sys.argv[1] == "on"
settings = classifier.settings("smoke")
state = classifier.RECIPE.build(settings, "cpu")
state.train(True)
step = classifier.RECIPE.step(settings)
g = torch.Generator().manual_seed(0)
for _ in range(3):  # 128 x 32 x 28 x 28 activations: blocks far above glibc's first threshold
    step(state, (torch.rand(128, 1, 28, 28, generator=g), torch.randint(0, 10, (128,), generator=g)))
digest = hashlib.sha256()
for tensor in state.modules["classifier"].state_dict().values():
    digest.update(tensor.numpy().tobytes())
print(recipe.keep_freed_memory() if recipe.OPTIMISED else None, digest.hexdigest())
"""


def test_keeping_freed_memory_changes_no_number():
    """recipe.keep_freed_memory changes where memory comes from, not the arithmetic: the
    classifier (which takes no other optimisation) trains to the same weights, bit for bit, in a
    process with it and in one without (it holds for a whole process, hence two processes)."""
    import subprocess
    import sys

    out = {flag: subprocess.run([sys.executable, "-c", EXACT_RUN, flag], capture_output=True,
                                text=True, check=True).stdout.split()
           for flag in ("off", "on")}
    assert out["off"][0] == "None"
    assert out["on"][0] == str(platform.libc_ver()[0] == "glibc")
    assert out["on"][1] == out["off"][1]


def test_keep_freed_memory_says_whether_it_applied():
    from genadv_utils import recipe as recipe_module

    assert recipe_module.keep_freed_memory() is (platform.libc_ver()[0] == "glibc")
    assert recipe_module.keep_freed_memory() is recipe_module.keep_freed_memory()
