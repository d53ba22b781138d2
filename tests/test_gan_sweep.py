"""The GAN search's own training steps (benchmarks/gan_sweep.py): the lazy R1 penalty, for the
GAN and the VAE-GAN, and the learning-rate schedule, in the shared training loop."""

import importlib.util
from pathlib import Path

import pytest
import torch

from genadv_utils import data, gan, vaegan

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "gan_sweep.py"
_SPEC = importlib.util.spec_from_file_location("gan_sweep", _PATH)
gan_sweep = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(gan_sweep)

SETTINGS = gan.settings("smoke", width=4, latent_size=8, dense=16, epochs=2, train_size=128)
VAEGAN = vaegan.settings("smoke", latent_size=4, width=4, encoder_width=4, hidden=8, dense=16)
REAL = torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def _input_slope(state, name: str) -> float:
    """D's mean squared input gradient on the real batch: what R1 penalises."""
    x = REAL.clone().requires_grad_(True)
    grad, = torch.autograd.grad(state.modules[name].discriminator(x).sum(), x)
    return grad.pow(2).flatten(1).sum(1).mean().item()


def _trained(recipe, settings, step, steps: int):
    state = recipe.start(settings, "cpu")
    state.train(True)
    for i in range(steps):
        torch.manual_seed(i)  # the same noise for both runs
        step(state, (REAL, None))
    return state


@pytest.mark.parametrize("recipe, settings", [(gan.RECIPE, SETTINGS), (vaegan.RECIPE, VAEGAN)])
def test_r1_flattens_the_discriminator_where_the_data_lie(recipe, settings):
    plain = _trained(recipe, settings, recipe.step(settings), 8)
    r1 = _trained(recipe, settings,
                  gan_sweep._own(gan_sweep.r1_step, gamma=10.0, every=1)(settings), 8)
    assert _input_slope(r1, recipe.name) < 0.5 * _input_slope(plain, recipe.name)


def test_lazy_r1_takes_its_own_step_every_k_steps():
    state = _trained(gan.RECIPE, SETTINGS,
                     gan_sweep._own(gan_sweep.r1_step, gamma=1.0, every=4)(SETTINGS), 9)
    d_opt = state.optimizers["discriminator"]
    steps = int(d_opt.state[d_opt.param_groups[0]["params"][0]]["step"])
    assert steps == 9 + 2  # D's own 9, and R1's after G's 4th and 8th


def test_the_annealed_step_decays_both_rates_every_epoch(tmp_path):
    splits = data.load_splits("mnist", device="cpu")
    step = gan_sweep._own(gan_sweep.annealed_step, decay=0.5)(SETTINGS)
    trained = gan.RECIPE.train(SETTINGS, splits, step=step, run_dir=tmp_path, progress=False)
    g, d = SETTINGS.lr_generator, SETTINGS.lr_discriminator
    assert trained.history.series("lr_generator") == [g, g * 0.5]
    assert trained.history.series("lr_discriminator") == [d, d * 0.5]


def test_every_own_step_belongs_to_a_candidate_with_its_epochs():
    candidates = {**gan_sweep.CANDIDATES["gan"], **gan_sweep.CANDIDATES["vaegan"]}
    for name in gan_sweep.OWN_STEPS:
        assert "epochs" in candidates[name]
