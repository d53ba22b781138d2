"""The run store: finished runs load without data or optimisers, and a run's files are
written whole."""

import pytest
import torch

from genadv_utils import dae, store


def test_loading_a_finished_run_builds_no_optimiser(tmp_path, monkeypatch):
    settings = dae.settings("smoke", code_size=4, width=4, epochs=1, train_size=256)
    trained = dae.train(settings, run_dir=tmp_path / "run", progress=False, device="cpu")
    monkeypatch.setattr(torch.optim, "Adam", None)  # any optimiser built now would fail
    loaded = dae.load(tmp_path / "run", device="cpu")
    assert not loaded.model.training and loaded.name == "dae"
    for a, b in zip(trained.model.state_dict().values(), loaded.model.state_dict().values()):
        assert torch.equal(a, b)


def test_read_settings_is_the_one_reader(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        store.read_settings(tmp_path)
    (tmp_path / store.SETTINGS).write_text("[1, 2")
    with pytest.raises(store.CheckpointError, match="unreadable"):
        store.read_settings(tmp_path)


def test_run_folders_are_named_after_their_settings(tmp_path):
    a = store.run_folder("dae", {"epochs": 1}, "code", root=tmp_path)
    assert a == store.run_folder("dae", {"epochs": 1}, "code", root=tmp_path)
    assert a != store.run_folder("dae", {"epochs": 2}, "code", root=tmp_path)
    assert a != store.run_folder("dae", {"epochs": 1}, "other code", root=tmp_path)
    assert a.parent == tmp_path and a.name.startswith("dae-")
