import random

import numpy as np
import pytest
import torch

from genadv_utils import runtime


def test_pick_device_respects_preference_and_env(monkeypatch):
    assert runtime.pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("GENADV_DEVICE", "cpu")
    assert runtime.pick_device() == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_pick_device_rejects_missing_cuda():
    with pytest.raises(ValueError, match="CUDA is not available"):
        runtime.pick_device("cuda")


def test_seed_everything_makes_all_generators_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    runtime.seed_everything(3)
    first = draw()
    runtime.seed_everything(3)
    assert draw() == first
    runtime.seed_everything(4)
    assert draw() != first


def test_seed_must_be_a_non_negative_integer():
    with pytest.raises(ValueError, match="seed"):
        runtime.seed_everything(-1)


SIZES = {"default": {"epochs": 10, "n": 1000}, "smoke": {"epochs": 1, "n": 10}}


def test_select_profile_by_name_and_environment(monkeypatch):
    assert runtime.select_profile(SIZES, "default").epochs == 10
    monkeypatch.setenv("GENADV_PROFILE", "smoke")
    chosen = runtime.select_profile(SIZES)
    assert (chosen.profile, chosen.epochs, chosen.n) == ("smoke", 1, 10)
    monkeypatch.delenv("GENADV_PROFILE")
    assert runtime.select_profile(SIZES).profile == "default"


def test_unknown_profile_is_an_error(monkeypatch):
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        runtime.select_profile(SIZES, "huge")
    monkeypatch.setenv("GENADV_PROFILE", "tiny")
    with pytest.raises(ValueError, match="GENADV_PROFILE"):
        runtime.profile_name()


def test_profiles_must_name_the_same_settings():
    with pytest.raises(ValueError, match="only one"):
        runtime.select_profile({"default": {"a": 1, "b": 2}, "smoke": {"a": 1}}, "smoke")
    with pytest.raises(ValueError, match="lack"):
        runtime.select_profile({"default": {"a": 1}}, "default")
