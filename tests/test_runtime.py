import ast
import random
from pathlib import Path

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


def test_place_moves_in_place_in_the_fast_layout():
    net = torch.nn.Conv2d(2, 3, 3)
    weight = net.weight
    runtime.place([net], torch.device("cpu"), fast=True)
    assert net.weight is weight  # an optimiser built before still holds it
    assert net.weight.is_contiguous(memory_format=torch.channels_last)
    assert not net.weight.is_contiguous()
    plain = torch.nn.Conv2d(2, 3, 3)
    runtime.place([plain], torch.device("cpu"), fast=False)
    assert plain.weight.is_contiguous()


def test_adam_is_fused_where_pytorch_has_it_and_the_run_is_fast(monkeypatch):
    assert runtime.fused_adam(torch.device("cpu")) is True
    assert runtime.fused_adam(torch.device("cuda")) is True
    assert runtime.fused_adam(torch.device("mps")) is None  # PyTorch's own choice there
    assert runtime.fused_adam(torch.device("cpu"), fast=False) is None
    monkeypatch.setattr(runtime, "OPTIMISED", False)
    assert runtime.fused_adam(torch.device("cpu")) is None


def test_the_package_leaves_the_allocator_alone():
    """The C library's allocator settings belong to the throughput benchmark, not to a course
    run: no package module reaches the C library."""
    for path in Path(runtime.__file__).parent.glob("*.py"):
        imported = {alias.name for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, (ast.Import, ast.ImportFrom))
                    for alias in node.names} | {node.module for node in ast.walk(ast.parse(
                        path.read_text())) if isinstance(node, ast.ImportFrom)}
        assert "ctypes" not in imported, path.name
