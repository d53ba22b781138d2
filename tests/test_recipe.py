"""The recipe record: settings from a profile, a seeded start placed on the device (the one
place where a run meets the machine), training on the device asked for however the data
arrive, and timing a step."""

import copy
import dataclasses

import pytest
import torch

from genadv_utils import dae, data, gan, recipe, runtime, vae


@pytest.fixture(scope="module")
def splits():
    return data.load_splits("mnist", device="cpu")


def test_settings_are_the_defaults_then_the_profile_then_the_overrides():
    assert gan.settings("default") == gan.GANSettings()
    smoke = gan.settings("smoke", seed=3)
    assert (smoke.epochs, smoke.train_size, smoke.seed) == (2, 4000, 3)
    assert smoke.lr_generator == gan.GANSettings.lr_generator
    with pytest.raises(ValueError, match="unknown GANSettings field"):
        gan.settings("smoke", epoch=3)
    with pytest.raises(TypeError, match="expected GANSettings"):
        gan.train(vae.settings("smoke"))


@pytest.mark.parametrize("field, value, expected", [
    ("epochs", "3", "must be int, got '3'"), ("epochs", 1.5, "must be int, got 1.5"),
    ("epochs", True, "must be int, got True"), ("batch_size", 64.5, "must be int"),
    ("lr_generator", "0.1", "must be float, got '0.1'"), ("refine", 1, "must be bool"),
    ("train_size", 2.0, "must be int or None"), ("dataset", None, "must be str"),
])
def test_settings_are_checked_by_type_naming_the_field(field, value, expected):
    with pytest.raises(TypeError, match=f"GANSettings.{field} {expected}") as caught:
        gan.settings("smoke", **{field: value})
    assert "\n" not in str(caught.value)


def test_a_float_field_takes_an_int_as_the_same_float_and_refuses_nan():
    as_int, as_float = gan.settings("smoke", r1_gamma=0), gan.settings("smoke", r1_gamma=0.0)
    assert gan.RECIPE.folder(as_int) == gan.RECIPE.folder(as_float)  # one run, one folder
    assert isinstance(as_int.r1_gamma, float)
    with pytest.raises(ValueError, match="GANSettings.r1_gamma must be a finite number"):
        gan.settings("smoke", r1_gamma=float("nan"))
    with pytest.raises(ValueError, match="GANSettings.r1_gamma must be a finite number"):
        gan.settings("smoke", r1_gamma=10 ** 400)  # too large for a float
    with pytest.raises(ValueError, match="DAESettings.level must be a finite number"):
        dae.settings("smoke", level=float("inf"))


@pytest.mark.parametrize("field, value", [("level", "0.5"), ("level", None), ("noise", None),
                                          ("code_size", 8.0)])
def test_a_dae_settings_type_error_names_its_field_before_the_noise_is_tried(field, value):
    with pytest.raises(TypeError, match=f"DAESettings.{field} must be"):
        dae.settings("smoke", **{field: value})


def test_start_seeds_builds_and_places_with_the_faster_kernels():
    settings = gan.settings("smoke", width=4, latent_size=8)
    a, b = gan.RECIPE.start(settings, "cpu"), gan.RECIPE.start(settings, "cpu")
    for x, y in zip(a.modules["gan"].state_dict().values(), b.modules["gan"].state_dict().values()):
        assert torch.equal(x, y)
    conv = a.modules["gan"].discriminator.body[2].weight  # w -> 2w channels
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert all(o.param_groups[0]["fused"] for o in a.optimizers.values())  # made fused
    # the optimisers still hold the networks' own parameters after the move
    held = {id(p) for p in a.optimizers["generator"].param_groups[0]["params"]}
    assert held == {id(p) for p in a.modules["gan"].generator.parameters()}
    other = gan.RECIPE.start(dataclasses.replace(settings, seed=1), "cpu")
    assert not torch.equal(other.modules["gan"].discriminator.body[2].weight, conv)


class Placed(Exception):
    pass


def test_train_honours_the_device_however_the_data_arrive(splits, monkeypatch, tmp_path):
    """Asked for a device, training builds there and moves the splits there, whether the
    splits were given (on another device) or loaded; without one, it follows the splits."""
    seen = []

    def spy(modules, device, fast=True):
        seen.append(device)
        raise Placed

    moved = []
    monkeypatch.setattr(recipe, "place", spy)
    monkeypatch.setattr(data.Splits, "to", lambda self, device: moved.append(
        torch.device(device)) or self)
    settings = gan.settings("smoke")
    for kwargs in ({"splits": splits, "device": "cpu:0"}, {"splits": splits},
                   {"device": "cpu:0"}):
        with pytest.raises(Placed):
            gan.train(settings, run_dir=tmp_path / "run", progress=False, **kwargs)
    assert seen == [torch.device("cpu:0"), torch.device("cpu"), torch.device("cpu:0")]
    assert moved[:2] == [torch.device("cpu:0"), torch.device("cpu")]
    assert not (tmp_path / "run").exists()  # nothing written before the run could start


def test_seconds_per_step_times_the_steps_it_says(splits):
    calls = []

    def counting(settings):
        step = gan.RECIPE.step(settings)
        return lambda state, batch: calls.append(1) or step(state, batch)

    timed = dataclasses.replace(gan.RECIPE, step=counting)
    settings = gan.settings("smoke", width=4, latent_size=8, train_size=640)
    import time
    start = time.perf_counter()
    seconds = timed.seconds_per_step(settings, splits, steps=3)
    elapsed = time.perf_counter() - start
    assert len(calls) == 2 + 3 and 0 < seconds < elapsed / 3


def test_epochs_for_minutes_divides_the_budget_by_an_epochs_time(splits, monkeypatch):
    monkeypatch.setattr(recipe.Recipe, "seconds_per_step", lambda self, s, sp, steps=10: 0.0625)
    settings = gan.settings("smoke", train_size=640, batch_size=64)  # 10 steps: 0.625 s
    assert gan.RECIPE.epochs_for_minutes(settings, splits, 0.5) == 48  # 30 s / 0.625 s
    assert gan.RECIPE.epochs_for_minutes(settings, splits, 1e-6) == 1
    assert gan.RECIPE.epochs_for_minutes(settings, splits, 10_000) == 10_000
    for bad in (0, -1, float("nan"), float("inf"), 1e9):
        with pytest.raises(ValueError, match="minutes must be a number of minutes"):
            gan.RECIPE.epochs_for_minutes(settings, splits, bad)


@pytest.mark.parametrize("name", ["dae", "vae", "gan", "vaegan"])
def test_the_faster_kernels_give_the_plain_steps_losses(name, splits, monkeypatch, tmp_path):
    """Channels-last activations and the fused Adam change the kernels, not the maths: three
    steps on one fixed batch give the same losses to float rounding. Each step starts both
    from the plain run's weights and optimiser state, because the games (and Adam's
    normalised first updates) amplify rounding from one step to the next."""
    from genadv_utils import registry

    chapter = registry.get(name)
    settings = chapter.settings("smoke")
    batch = splits.train.images[:16], splits.train.labels[:16]
    states = {}
    for optimised in (False, True):
        monkeypatch.setattr(runtime, "OPTIMISED", optimised)
        states[optimised] = chapter.start(settings, "cpu")
        states[optimised].train(True)
    plain, fast = states[False], states[True]
    assert plain.optimizers[next(iter(plain.optimizers))].param_groups[0]["fused"] is None
    step = chapter.step(settings)

    def losses(state, seed):
        torch.manual_seed(seed)
        return {k: float(torch.as_tensor(v).detach()) for k, v in step(state, batch).items()}

    for seed in range(3):
        fast.load_state_dict(copy.deepcopy(plain.state_dict()), tmp_path)
        a, b = losses(plain, seed), losses(fast, seed)
        for key in a:  # 1e-3: a loss taken after an Adam step in the same step (the GAN's G
            # loss, after D's update) carries its sign-like first update, which turns a
            # rounded gradient of the other sign into a full step of that weight
            assert b[key] == pytest.approx(a[key], rel=1e-3, abs=1e-5), (seed, key)
