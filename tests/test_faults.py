"""Runs, caches and the command line under faults, races and bad input (issue: nothing lost,
nothing wrong served). Each case ends in the right result or one line on standard error, with
no traceback and no file touched outside the run folder."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from genadv_utils import dae, data, store, training, vae
from genadv_utils.__main__ import main

TINY = ["--profile", "smoke", "--epochs", "1", "--quiet"]
ENV = {**os.environ, "GENADV_PROGRESS": "off", "PYTHONUNBUFFERED": "1"}


def one_line_error(capsys, *parts):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for part in parts:
        assert part in err, (part, err)
    return err


@pytest.fixture(scope="module")
def dae_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults") / "dae"
    assert main(["train", "dae", *TINY, "--out", str(folder)]) == 0
    return folder


def _copy(run, tmp_path, name="copy"):
    target = tmp_path / name
    shutil.copytree(run, target)
    return target


# 1. A diverged run is never served ------------------------------------------------------------

def _poison_weights(folder):
    payload = torch.load(folder / store.CHECKPOINT, weights_only=True)
    weights = payload["state"]["modules"]["dae"]
    first = next(k for k, v in weights.items() if v.is_floating_point())
    weights[first].fill_(float("nan"))
    torch.save(payload, folder / store.CHECKPOINT)


def test_a_run_with_non_finite_weights_is_refused_everywhere(dae_run, tmp_path, capsys):
    run = _copy(dae_run, tmp_path)
    _poison_weights(run)
    with pytest.raises(store.CheckpointError, match="diverged"):
        dae.load(run)
    np.save(tmp_path / "in.npy", np.zeros((2, 28, 28), np.float32))
    assert main(["reconstruct", "dae", "--run", str(run), "--input", str(tmp_path / "in.npy"),
                 "--out", str(tmp_path / "out.npy")]) == 1
    one_line_error(capsys, "diverged", "lower learning rate")
    assert not (tmp_path / "out.npy").exists()
    assert main(["evaluate", "--run", str(run)]) == 1
    one_line_error(capsys, "diverged")
    settings = dae.settings("smoke", epochs=1)  # what the notebooks call: train, or reload
    with pytest.raises(store.CheckpointError, match="diverged"):
        dae.train(settings, run_dir=run, progress=False)


def _toy():
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 1)
    return training.TrainState({"net": net}, {"net": torch.optim.SGD(net.parameters(), 0.1)})


def _toy_batches():
    x = torch.randn(32, 4)
    return data.Batches(data.ImageSet(x, torch.zeros(32, dtype=torch.long)), 8, seed=0)


def _toy_step(state, batch):
    x, _ = batch
    loss = state.modules["net"](x).pow(2).mean()
    state.optimizers["net"].zero_grad()
    loss.backward()
    state.optimizers["net"].step()
    return {"loss": loss}


def test_divergence_inside_the_last_epoch_is_not_saved_as_finished(tmp_path):
    """The losses stay finite but the weights blow up in epoch 2: validation catches it."""
    def step(state, batch):
        losses = _toy_step(state, batch)
        if len(seen) == 7:  # the last step of epoch 2 (4 steps an epoch)
            state.modules["net"].weight.data.fill_(float("inf"))
        seen.append(1)
        return losses

    seen = []
    validate = lambda s: {"out": s.modules["net"](torch.ones(1, 4)).item()}  # noqa: E731
    with pytest.raises(training.NonFiniteLossError,
                       match=r"epoch 2, in validation.*last complete epoch \(1\) is kept"):
        training.fit(_toy(), step, _toy_batches(), epochs=2, run_dir=tmp_path,
                     validate=validate, progress=False)
    history = json.loads((tmp_path / store.HISTORY).read_text())  # strict JSON, no NaN
    assert len(history["epochs"]) == 1 and not history["finished"]


def test_an_early_divergence_says_nothing_was_kept(tmp_path):
    def step(state, batch):
        return {"loss": torch.tensor(float("nan"))}

    with pytest.raises(training.NonFiniteLossError, match="No epoch was complete"):
        training.fit(_toy(), step, _toy_batches(), epochs=2, run_dir=tmp_path, progress=False)
    with pytest.raises(ValueError):
        store.History([{"epoch": 1, "val_x": float("nan")}]).to_json()


# 2. and 3. Folders that are not ours, and planted links --------------------------------------

def test_train_refuses_a_folder_of_someone_elses_files(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "history.json").write_text("my own notes")
    (folder / "notes.txt").write_text("keep me")
    assert main(["train", "dae", *TINY, "--out", str(folder)]) == 1
    one_line_error(capsys, "already holds files that are not a run", "history.json")
    assert sorted(p.name for p in folder.iterdir()) == ["history.json", "notes.txt"]
    assert (folder / "history.json").read_text() == "my own notes"


@pytest.mark.parametrize("out, message", [("a-file", "is a file"),
                                          ("a-file/run", "is a file")])
def test_train_out_that_is_or_lies_under_a_file(tmp_path, capsys, out, message):
    (tmp_path / "a-file").write_text("x")
    assert main(["train", "dae", *TINY, "--out", str(tmp_path / out)]) == 1
    one_line_error(capsys, message)
    assert (tmp_path / "a-file").read_text() == "x"


def test_planted_links_at_temporary_paths_are_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("checkpoint.pt.tmp", "history.json.tmp", "settings.json.tmp",
                 "evaluation.tmp", ".checkpoint.pt.tmp"):
        (folder / name).symlink_to(victim)
    settings = dae.settings("smoke", code_size=4, width=4, epochs=1, train_size=256)
    with pytest.raises(store.CheckpointError, match="not a run"):  # the links are not ours
        dae.train(settings, run_dir=folder, progress=False, device="cpu")
    for link in list(folder.iterdir()):
        link.unlink()
    trained = dae.train(settings, run_dir=folder, progress=False, device="cpu")
    (folder / "evaluation.json.tmp").symlink_to(victim)
    store.cached(folder, {"k": 1}, "code", lambda: {"x": 1})
    assert victim.read_text() == "precious" and trained.history.finished


def test_a_full_disk_leaves_the_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    state, batches = _toy(), _toy_batches()
    training.fit(state, _toy_step, batches, epochs=1, run_dir=tmp_path, progress=False)
    before = (tmp_path / store.CHECKPOINT).read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(store.CheckpointError, match="No space left on device"):
        training.fit(_toy(), _toy_step, _toy_batches(), epochs=2, run_dir=tmp_path,
                     progress=False)
    assert (tmp_path / store.CHECKPOINT).read_bytes() == before
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


# 4. Two writers -------------------------------------------------------------------------------

def _cli(*args):
    return subprocess.Popen([sys.executable, "-m", "genadv_utils", *args], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_trainings_of_one_folder_train_once(tmp_path):
    folder = tmp_path / "run"
    args = ["train", "dae", *TINY, "--out", str(folder)]
    first, second = _cli(*args), _cli(*args)
    outs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outs
    runs = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert runs[0]["val_mse"] == runs[1]["val_mse"]
    assert any("waiting for process" in err for _, err in outs)
    assert json.loads((folder / store.HISTORY).read_text())["finished"]
    assert not list(folder.glob(".*.tmp"))


def test_two_evaluations_at_once_keep_both_results(tmp_path):
    folder = tmp_path / "vae"
    assert main(["train", "vae", *TINY, "--out", str(folder)]) == 0
    jobs = [_cli("evaluate", "--run", str(folder), "--test-images", str(n)) for n in (50, 60)]
    for job in jobs:
        out, err = job.communicate(timeout=300)
        assert job.returncode == 0, err
    saved = json.loads((folder / store.CACHE).read_text())
    assert sorted(json.loads(k)["test_images"] for k in saved) == [50, 60]


# 4b. A real SIGKILL, during training and during a checkpoint write --------------------------

KILLABLE = """
import os, sys, time, torch
from genadv_utils import store
from genadv_utils.__main__ import main
marker = sys.argv[1]
if os.environ.get("HANG_IN_WRITE"):
    save = torch.save
    def slow_save(obj, file):
        save(obj, file)
        open(marker, "w").close()
        time.sleep(600)  # killed here, half-way through the atomic write
    torch.save = slow_save
sys.exit(main(sys.argv[2:]))
"""


def _weights(folder):
    return torch.load(folder / store.CHECKPOINT, weights_only=True)["state"]["modules"]["dae"]


@pytest.mark.parametrize("during", ["training", "checkpoint write"])
def test_a_killed_run_resumes_to_the_same_weights(tmp_path, during):
    args = ["train", "dae", "--profile", "smoke", "--epochs", "3", "--quiet"]
    whole = tmp_path / "whole"
    assert main([*args, "--out", str(whole)]) == 0
    folder, marker = tmp_path / "killed", tmp_path / "marker"
    env = {**ENV, **({"HANG_IN_WRITE": "1"} if during == "checkpoint write" else {})}
    job = subprocess.Popen([sys.executable, "-c", KILLABLE, str(marker), *args, "--out",
                            str(folder)], env=env)
    deadline = time.time() + 300
    while time.time() < deadline:
        if during == "training" and (folder / store.HISTORY).exists():
            break
        if during == "checkpoint write" and marker.exists():
            break
        time.sleep(0.05)
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    assert main([*args, "--out", str(folder)]) == 0  # resumes (or starts over) and finishes
    for a, b in zip(_weights(whole).values(), _weights(folder).values()):
        assert torch.equal(a, b)
    assert not list(folder.glob(".*.tmp"))


# 5. and 6. One-line errors --------------------------------------------------------------------

@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "does not hold a run's settings"),
    ('{"name": "dae"}', "settings do not describe a dae run"),
    ('{"name": "dae", "dataset": "mnist", "noise": "gaussian", "level": 0.5, "code_size": '
     '"big", "width": 8, "epochs": 1, "batch_size": 8, "lr": 0.1, "train_size": null, '
     '"seed": 0}', "settings do not describe a dae run"),
    ("{not json", "unreadable"),
])
def test_damaged_settings_give_one_line(dae_run, tmp_path, capsys, content, message):
    run = _copy(dae_run, tmp_path)
    (run / store.SETTINGS).write_text(content)
    assert main(["evaluate", "--run", str(run)]) == 1
    one_line_error(capsys, message)
    assert main(["train", "dae", *TINY, "--out", str(run)]) == 1
    capsys.readouterr()


@pytest.mark.parametrize("minutes", ["nan", "inf", "1e308", "-1"])
def test_minutes_must_be_a_sane_number(tmp_path, capsys, minutes):
    assert main(["train", "gan", "--minutes", minutes, "--out", str(tmp_path / "r")]) == 1
    one_line_error(capsys, "minutes must be a number of minutes")


def test_sample_outputs(tmp_path, capsys):
    run = tmp_path / "vae"
    assert main(["train", "vae", *TINY, "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["sample", "vae", "--run", str(run), "--n", "3", "--out",
                 str(tmp_path / "noext")]) == 0
    assert f"wrote {tmp_path / 'noext'}: 3 images" in capsys.readouterr().out
    assert np.load(tmp_path / "noext").shape == (3, 28, 28)
    for out, message in [(tmp_path, "is a folder"), (tmp_path / "noext" / "x.npy", "is a file"),
                         (tmp_path / "missing" / "x.npy", "does not exist")]:
        assert main(["sample", "vae", "--run", str(run), "--n", "2", "--out", str(out)]) == 1
        one_line_error(capsys, message)
    assert main(["sample", "vae", "--run", str(run), "--n", str(10**12), "--out",
                 str(tmp_path / "x.npy")]) == 1
    one_line_error(capsys, "--n must be between 1 and 100,000")


# 7. Data integrity ----------------------------------------------------------------------------

@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    root = tmp_path / "data"
    shutil.copytree(data.data_root() / "MNIST", root / "MNIST")
    for path in (root / "MNIST" / "raw").iterdir():
        path.chmod(0o644)
    monkeypatch.setenv("GENADV_DATA", str(root))
    data._VERIFIED.clear()
    return root / "MNIST" / "raw"


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:1000], "1,000 bytes"),                      # truncated
    (lambda b: b"\x00" * 16 + b[16:], "MD5"),                   # a damaged header
    (lambda b: b[:16] + bytes(len(b) - 16), "MD5"),             # images overwritten with zeros
])
def test_a_damaged_dataset_file_is_named(data_copy, capsys, tmp_path, damage, message):
    path = data_copy / "t10k-images-idx3-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(data.DataCorruptError, match=message):
        data.load_splits("mnist", device="cpu")
    assert main(["train", "dae", *TINY, "--out", str(tmp_path / "r")]) == 1
    one_line_error(capsys, "t10k-images-idx3-ubyte is damaged")


def test_a_run_being_started_by_another_process_is_not_foreign(tmp_path):
    """A second process may look while the first writes its settings (a temporary file of the
    store's own, and the lock): that folder is a run in the making, not someone's files."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / store.LOCK).write_text("process 1 (training)")
    (folder / ".settings.json.0pmoj2yv.tmp").write_text("{")
    store.check_ownable(folder)
    (folder / ".notes.tmp").write_text("mine")
    with pytest.raises(store.CheckpointError, match="not a run"):
        store.check_ownable(folder)
