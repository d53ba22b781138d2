import platform
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


EXACT_RUN = """
import hashlib, sys, torch
from genadv_utils import classifier, runtime
runtime.OPTIMISED = sys.argv[1] == "on"
settings = classifier.settings("smoke")
state = classifier.RECIPE.start(settings, "cpu")
state.train(True)
step = classifier.RECIPE.step(settings)
g = torch.Generator().manual_seed(0)
for _ in range(3):  # 128 x 32 x 28 x 28 activations: blocks far above glibc's first threshold
    step(state, (torch.rand(128, 1, 28, 28, generator=g), torch.randint(0, 10, (128,), generator=g)))
digest = hashlib.sha256()
for tensor in state.modules["classifier"].state_dict().values():
    digest.update(tensor.numpy().tobytes())
print(runtime.keep_freed_memory.cache_info().currsize == 1, digest.hexdigest())
"""


def test_keeping_freed_memory_changes_no_number():
    """keep_freed_memory changes where memory comes from, not the arithmetic: the classifier
    (which takes no other optimisation) trains to the same weights, bit for bit, in a process
    with it and in one without (it holds for a whole process, hence two processes)."""
    import subprocess
    import sys

    out = {flag: subprocess.run([sys.executable, "-c", EXACT_RUN, flag], capture_output=True,
                                text=True, check=True).stdout.split()
           for flag in ("off", "on")}
    assert out["off"][0] == "False" and out["on"][0] == "True"  # asked for only when on
    assert out["on"][1] == out["off"][1]


def test_keep_freed_memory_says_whether_it_applied():
    assert runtime.keep_freed_memory() is (platform.libc_ver()[0] == "glibc")
    runtime.keep_freed_memory()
    assert runtime.keep_freed_memory.cache_info().misses == 1  # glibc asked once


def test_place_moves_in_place_and_refuses_an_optimiser_that_has_stepped():
    net = torch.nn.Conv2d(2, 3, 3)
    opt = torch.optim.Adam(net.parameters(), 0.1)
    weight = net.weight
    runtime.place([net], [opt], torch.device("cpu"), fast=True)
    assert net.weight is weight and opt.param_groups[0]["params"][0] is weight
    assert opt.param_groups[0]["fused"] is True
    assert net.weight.is_contiguous(memory_format=torch.channels_last)
    assert not net.weight.is_contiguous()
    net(torch.rand(1, 2, 5, 5)).sum().backward()
    opt.step()
    with pytest.raises(ValueError, match="not taken a step"):
        runtime.place([net], [opt], torch.device("cpu"))
    plain = torch.nn.Linear(2, 2)
    plain_opt = torch.optim.Adam(plain.parameters(), 0.1)
    runtime.place([plain], [plain_opt], torch.device("cpu"), fast=False)
    assert not plain_opt.param_groups[0]["fused"]
