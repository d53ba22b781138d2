import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genadv_utils import data, runtime, store, training


def toy_data(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 4, 4, generator=g)
    return data.ImageSet(images, torch.zeros(n, dtype=torch.long))


def build(width=3, lr=0.05, seed=0):
    """A tiny autoencoder with dropout, so that training also uses the global RNG."""
    runtime.seed_everything(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, width), nn.Tanh(), nn.Dropout(0.2),
                        nn.Linear(width, 16))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    return training.TrainState({"net": net}, {"net": opt}, {"net": sched})


def step(state, batch):
    images, _ = batch
    net, opt = state.modules["net"], state.optimizers["net"]
    noisy = images + 0.1 * torch.randn_like(images)
    loss = F.mse_loss(net(noisy), images.flatten(1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return {"mse": loss}


def weights(state):
    return [p.detach().clone() for p in state.modules["net"].parameters()]


def batches(seed=0, n=96):
    return data.Batches(toy_data(n), batch_size=16, seed=seed)


def test_fit_lowers_the_loss_and_records_history():
    state = build()
    val = toy_data(32, seed=1)
    history = training.fit(state, step, batches(), epochs=6, progress=False,
                           validate=lambda s: {"mse": F.mse_loss(s.modules["net"](val.images),
                                                                  val.images.flatten(1))})
    train = history.series("train_mse")
    assert len(train) == 6 and train[-1] < 0.5 * train[0]
    assert history.series("val_mse")[-1] < history.series("val_mse")[0]
    assert history.series("lr_net")[1] == pytest.approx(0.05 * 0.9)
    assert len(history.steps) == 6 * 6 and history.finished
    with pytest.raises(KeyError, match="known"):
        history.series("nope")


def test_fit_is_deterministic_under_a_seed():
    a = build()
    training.fit(a, step, batches(), epochs=2, progress=False)
    b = build()
    training.fit(b, step, batches(), epochs=2, progress=False)
    assert all(torch.equal(x, y) for x, y in zip(weights(a), weights(b)))


class Interrupt(Exception):
    pass


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    uninterrupted = build()
    training.fit(uninterrupted, step, batches(), epochs=4, run_dir=tmp_path / "a", progress=False)

    calls = {"n": 0}

    def failing_step(state, batch):
        calls["n"] += 1
        if calls["n"] == 6 * 2 + 3:  # in the middle of epoch 3
            raise Interrupt
        return step(state, batch)

    with pytest.raises(Interrupt):
        training.fit(build(), failing_step, batches(), epochs=4, run_dir=tmp_path / "b",
                     progress=False)
    saved = json.loads((tmp_path / "b" / "history.json").read_text())
    assert len(saved["epochs"]) == 2 and not saved["finished"]

    # A new process would rebuild the model from scratch, draw other random numbers, ...
    resumed = build(seed=123)
    torch.rand(10)
    history = training.fit(resumed, step, batches(seed=0), epochs=4, run_dir=tmp_path / "b",
                           progress=False)
    assert [r["epoch"] for r in history.epochs] == [1, 2, 3, 4]
    assert all(torch.equal(x, y) for x, y in zip(weights(uninterrupted), weights(resumed)))


def test_non_finite_loss_stops_with_a_clear_message(tmp_path):
    def exploding(state, batch):
        losses = step(state, batch)
        return {"mse": float("nan")} if len(seen) >= 8 else (seen.append(1) or losses)

    seen: list[int] = []
    with pytest.raises(training.NonFiniteLossError, match=r"mse = nan at epoch 2, step 3"):
        training.fit(build(), exploding, batches(), epochs=3, run_dir=tmp_path, progress=False)
    kept = json.loads((tmp_path / "history.json").read_text())
    assert len(kept["epochs"]) == 1  # the last complete epoch is kept


def test_corrupt_checkpoint_is_an_error_and_left_untouched(tmp_path):
    training.fit(build(), step, batches(), epochs=1, run_dir=tmp_path, progress=False)
    ckpt = tmp_path / store.CHECKPOINT
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(store.CheckpointError, match="unreadable"):
        training.fit(build(), step, batches(), epochs=2, run_dir=tmp_path, progress=False)
    assert ckpt.read_bytes() == b"not a checkpoint"


def test_mismatched_checkpoint_is_an_error_and_left_untouched(tmp_path):
    training.fit(build(width=3), step, batches(), epochs=1, run_dir=tmp_path, progress=False)
    before = (tmp_path / store.CHECKPOINT).read_bytes()
    with pytest.raises(store.CheckpointError, match="does not fit this model"):
        training.fit(build(width=5), step, batches(), epochs=2, run_dir=tmp_path, progress=False)
    assert (tmp_path / store.CHECKPOINT).read_bytes() == before


def test_train_or_load_reloads_a_finished_run_without_training(tmp_path):
    settings = {"epochs": 2, "lr": 0.05}
    first = build()
    folder = tmp_path / "run"
    history = training.train_or_load(folder, {"name": "toy", **settings}, first, step,
                                     batches(), epochs=2, progress=False)
    assert json.loads((folder / "settings.json").read_text()) == {"name": "toy", **settings}

    def must_not_train(state, batch):
        raise AssertionError("a finished run was trained again")

    second = build(seed=9)
    again = training.train_or_load(folder, {"name": "toy", **settings}, second, must_not_train,
                                   batches(), epochs=2, progress=False)
    assert again.epochs == history.epochs
    assert all(torch.equal(x, y) for x, y in zip(weights(first), weights(second)))


def test_train_or_load_refuses_a_folder_with_other_settings(tmp_path):
    training.train_or_load(tmp_path, {"name": "toy", "epochs": 1}, build(), step, batches(),
                           epochs=1, progress=False)
    with pytest.raises(store.CheckpointError, match="other settings .*epochs"):
        training.train_or_load(tmp_path, {"name": "toy", "epochs": 2}, build(), step,
                               batches(), epochs=2, progress=False)


def test_fit_rejects_bad_epochs():
    with pytest.raises(ValueError, match="epochs"):
        training.fit(build(), step, batches(), epochs=0, progress=False)


def test_epochs_progress_mode_prints_one_line_per_epoch(capsys, monkeypatch):
    monkeypatch.setenv("GENADV_PROGRESS", "epochs")
    training.fit(build(), step, batches(), epochs=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("epoch 2/2: train mse ")
    monkeypatch.setenv("GENADV_PROGRESS", "loud")
    with pytest.raises(ValueError, match="unknown progress mode 'loud'"):
        training.fit(build(), step, batches(), epochs=1)
