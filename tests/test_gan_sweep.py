"""The GAN search (benchmarks/gan_sweep.py): its candidates, read from
benchmarks/results/gan-sweep-candidates.json, are settings of its models, and its own training
step, the learning-rate schedule, runs in the shared training loop."""

import importlib.util
from pathlib import Path

from genadv_utils import data, gan, registry

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "gan_sweep.py"
_SPEC = importlib.util.spec_from_file_location("gan_sweep", _PATH)
gan_sweep = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(gan_sweep)

SETTINGS = gan.settings("smoke", width=4, latent_size=8, dense=16, epochs=2, train_size=128)


def test_every_candidate_is_a_setting_of_its_model():
    for model, candidates in gan_sweep.CANDIDATES.items():
        recipe = registry.get(model)
        assert "defaults" in candidates
        for changes in candidates.values():
            recipe.settings("default", **changes)  # raises on an unknown field or value


def test_the_annealed_step_decays_both_rates_every_epoch(tmp_path):
    splits = data.load_splits("mnist")
    step = gan_sweep._own(gan_sweep.annealed_step, decay=0.5)(SETTINGS)
    trained = gan.RECIPE.train(SETTINGS, splits, step=step, run_dir=tmp_path, progress=False)
    g, d = SETTINGS.lr_generator, SETTINGS.lr_discriminator
    assert trained.history.series("lr_generator") == [g, g * 0.5]
    assert trained.history.series("lr_discriminator") == [d, d * 0.5]


def test_every_own_step_belongs_to_a_candidate_with_its_epochs():
    candidates = {**gan_sweep.CANDIDATES["gan"], **gan_sweep.CANDIDATES["vaegan"]}
    for name in gan_sweep.OWN_STEPS:
        assert "epochs" in candidates[name]
