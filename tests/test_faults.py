"""Runs, caches and the command line under faults, races and bad input: nothing lost, nothing
wrong or stale served. Each case ends in the right result or one line on standard error, with
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

from genadv_utils import dae, data, evaluation, store, training, vae
from genadv_utils.__main__ import main
from test_files import _nodes

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
    assert main(["evaluate", "--run", str(run), "--split", "val"]) == 1
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
    evaluation.cached(folder, {"k": 1}, lambda: {"x": 1})
    assert victim.read_text() == "precious" and trained.history.finished


# 4. Two writers -------------------------------------------------------------------------------

def _cli(*args, progress="off"):
    return subprocess.Popen([sys.executable, "-m", "genadv_utils", *args],
                            env={**ENV, "GENADV_PROGRESS": progress},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_trainings_of_one_folder_train_once(tmp_path):
    folder = tmp_path / "run"
    args = ["train", "dae", "--profile", "smoke", "--epochs", "3", "--quiet",
            "--out", str(folder)]
    first = _cli(*args)
    deadline = time.time() + 120  # the second starts once the first holds the lock
    while time.time() < deadline and not ((folder / store.LOCK).exists()
                                          and (folder / store.LOCK).read_text()):
        time.sleep(0.05)
    second = _cli(*args)
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
    jobs = [_cli("evaluate", "--run", str(folder), "--split", "val", "--images", str(n)) for n in (50, 60)]
    for job in jobs:
        out, err = job.communicate(timeout=300)
        assert job.returncode == 0, err
    saved = json.loads((folder / store.CACHE).read_text())
    assert sorted(json.loads(k)["images"] for k in saved) == [50, 60]


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


KILLED_BETWEEN_WRITES = """
import io, os, signal, sys
from genadv_utils import store
from genadv_utils.__main__ import main
write = store.atomic_write
def dying_write(path, fill):  # SIGKILL after the last checkpoint, before its history
    if path.name == store.HISTORY:
        text = io.BytesIO()
        fill(text)
        if b'"finished": true' in text.getvalue():
            os.kill(os.getpid(), signal.SIGKILL)
    write(path, fill)
store.atomic_write = dying_write
sys.exit(main(sys.argv[1:]))
"""


def test_a_kill_between_the_checkpoint_and_its_history_loses_nothing(tmp_path, small_disk,
                                                                      capsys):
    """The last checkpoint says finished, the history written before it does not: the run is
    finished, its history is repaired where it can be written, and it loads read-only too. A
    history that says finished without a checkpoint trains again, under the lock, validated."""
    args = ["train", "dae", "--profile", "smoke", "--epochs", "2", "--quiet"]
    folder = tmp_path / "run"
    job = subprocess.run([sys.executable, "-c", KILLED_BETWEEN_WRITES, *args, "--out",
                          str(folder)], env=ENV, capture_output=True, text=True, timeout=600)
    assert job.returncode == -signal.SIGKILL, job.stderr
    assert not json.loads((folder / store.HISTORY).read_text())["finished"]
    assert store.finished(folder)
    disk = small_disk("64m")
    frozen = disk.path / "run"
    shutil.copytree(folder, frozen)
    (frozen / store.LOCK).unlink(missing_ok=True)
    disk.read_only()
    assert main([*args, "--out", str(frozen)]) == 0  # loads, read-only: nothing to write
    checkpoint = (folder / store.CHECKPOINT).read_bytes()
    assert main([*args, "--out", str(folder)]) == 0
    assert (folder / store.CHECKPOINT).read_bytes() == checkpoint  # loaded, not retrained
    history = json.loads((folder / store.HISTORY).read_text())
    assert history["finished"] and len(history["epochs"]) == 2
    (folder / store.CHECKPOINT).unlink()
    assert not store.finished(folder)
    assert main([*args, "--out", str(folder)]) == 0
    history = json.loads((folder / store.HISTORY).read_text())
    assert history["finished"] and all("val_mse" in e for e in history["epochs"])
    assert (folder / store.CHECKPOINT).exists()


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
    assert main(["evaluate", "--run", str(run), "--split", "val"]) == 1
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


# 8. Real small and read-only filesystems ------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """Mount a real tmpfs of the size asked for (root only; elsewhere the test is skipped), and
    optionally make it read-only later: ``disk = small_disk("1m"); disk.read_only()``."""
    mounts = []

    class Disk:
        def __init__(self, size, inodes=None):
            self.path = tmp_path / f"disk{len(mounts)}"
            self.path.mkdir()
            options = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs",
                                   str(self.path)], capture_output=True, text=True)
            if done.returncode:
                pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
            mounts.append(self.path)

        def read_only(self):
            subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)

    yield Disk
    for path in mounts:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_real_full_disk_during_a_checkpoint_gives_one_line_and_keeps_the_last(
        small_disk, capsys):
    """torch.save's zip writer fails with RuntimeError, not OSError, on a full disk: the
    command still says so in one line, and the first epoch's checkpoint stays as it was."""
    disk = small_disk("8m")  # one DAE checkpoint (about 5.8 MB) fits, a second beside it not
    folder = disk.path / "run"
    assert main(["train", "dae", "--profile", "smoke", "--epochs", "2", "--quiet",
                 "--out", str(folder)]) == 1
    one_line_error(capsys, "could not write", "checkpoint.pt", "it was left as it was")
    payload = torch.load(folder / store.CHECKPOINT, weights_only=True)
    assert len(json.loads(payload["history"])["epochs"]) == 1
    assert not list(folder.glob(".*.tmp"))


def test_a_full_disk_while_taking_the_lock_names_the_lock(small_disk, capsys):
    disk = small_disk("1m", inodes=2)  # the root and the run folder: no inode for the lock
    folder = disk.path / "run"
    assert main(["train", "dae", *TINY, "--out", str(folder)]) == 1
    one_line_error(capsys, str(folder / store.LOCK))


@pytest.fixture(scope="module")
def small_vae(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults") / "vae"
    assert main(["train", "vae", *TINY, "--out", str(folder)]) == 0
    return folder


def test_sample_out_on_a_full_disk_leaves_the_old_file(small_vae, small_disk, capsys):
    disk = small_disk("1m")
    out = disk.path / "samples.npy"
    assert main(["sample", "vae", "--run", str(small_vae), "--n", "5", "--out", str(out)]) == 0
    before = out.read_bytes()
    capsys.readouterr()
    assert main(["sample", "vae", "--run", str(small_vae), "--n", "2000", "--out",
                 str(out)]) == 1  # 6.3 MB do not fit
    one_line_error(capsys, "could not write", str(out))
    assert out.read_bytes() == before and np.load(out).shape == (5, 28, 28)
    assert sorted(p.name for p in disk.path.iterdir()) == ["samples.npy"]


def test_a_killed_sample_leaves_the_old_file(small_vae, tmp_path):
    out = tmp_path / "samples.npy"
    assert main(["sample", "vae", "--run", str(small_vae), "--n", "5", "--out", str(out)]) == 0
    before = out.read_bytes()
    for _ in range(3):  # kill it while it writes its temporary file
        job = _cli("sample", "vae", "--run", str(small_vae), "--n", "100000", "--out", str(out))
        deadline = time.time() + 300
        while job.poll() is None and time.time() < deadline:
            if list(tmp_path.glob(".samples.npy.*.tmp")):
                os.kill(job.pid, signal.SIGKILL)
                break
            time.sleep(0.002)
        job.communicate()
        if job.returncode == -signal.SIGKILL:
            break
        out.write_bytes(before)  # it finished before it could be caught: try again
    assert job.returncode == -signal.SIGKILL
    assert out.read_bytes() == before
    left = list(tmp_path.glob(".samples.npy.*.tmp"))
    assert left  # what the kill left behind, gone with the next write to the same file
    assert main(["sample", "vae", "--run", str(small_vae), "--n", "5", "--out", str(out)]) == 0
    assert not list(tmp_path.glob(".samples.npy.*.tmp"))


@pytest.mark.parametrize("name", [store.CHECKPOINT, store.SETTINGS, "new.npy"])
def test_outputs_are_never_written_inside_a_run_folder(small_vae, tmp_path, capsys, name):
    run = _copy(small_vae, tmp_path)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert main(["sample", "vae", "--run", str(run), "--n", "2", "--out", str(run / name)]) == 1
    one_line_error(capsys, "inside the run folder")
    np.save(tmp_path / "x.npy", np.zeros((2, 28, 28), np.float32))
    assert main(["reconstruct", "vae", "--run", str(run), "--input", str(tmp_path / "x.npy"),
                 "--out", str(run / name)]) == 1
    one_line_error(capsys, "inside the run folder")
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    vae.load(run)


def test_finished_runs_on_read_only_storage_train_and_evaluate(small_vae, small_disk, capsys,
                                                               monkeypatch):
    monkeypatch.setenv("GENADV_PROGRESS", "off")  # the evaluation's bars: only its messages here
    disk = small_disk("64m")
    run = disk.path / "vae"
    shutil.copytree(small_vae, run)
    (run / store.CACHE).unlink(missing_ok=True)
    (run / store.LOCK).unlink(missing_ok=True)
    disk.read_only()
    capsys.readouterr()
    assert main(["train", "vae", *TINY, "--out", str(run)]) == 0
    assert json.loads(capsys.readouterr().out)["epochs"] == 1
    trained = vae.train(vae.settings("smoke", epochs=1), run_dir=run, progress=False)
    assert trained.history.finished
    assert main(["evaluate", "--run", str(run), "--split", "val", "--images", "20"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["images"] == 20
    assert captured.err.count("\n") == 1 and "was not kept" in captured.err


# 9. Damaged caches, bad inputs, devices, downloads --------------------------------------------

@pytest.mark.parametrize("entry", [None, [1, 2], 3.5, "text"])
def test_a_cache_entry_of_the_wrong_type_is_computed_again(tmp_path, entry, monkeypatch):
    monkeypatch.setattr(evaluation, "measure_code", lambda: "code")
    key = json.dumps({"metric": "m", "code": "code"}, sort_keys=True)
    (tmp_path / store.CACHE).write_text(json.dumps({key: entry}))
    assert evaluation.cached(tmp_path, {"metric": "m"}, lambda: {"x": 1}) == {"x": 1}
    assert json.loads((tmp_path / store.CACHE).read_text())[key] == {"x": 1}


def test_bad_image_files_give_one_line(small_vae, tmp_path, capsys):
    np.savez(tmp_path / "images.npz", np.zeros((2, 28, 28), np.float32))
    huge = tmp_path / "huge.npy"
    with open(huge, "wb") as file:
        np.lib.format.write_array_header_1_0(
            file, {"descr": "<f4", "fortran_order": False, "shape": (10 ** 12, 28, 28)})
        file.write(bytes(64))
    for path, message in [(tmp_path / "images.npz", "it is an .npz archive"),
                          (huge, "its header says (1000000000000, 28, 28)")]:
        assert main(["reconstruct", "vae", "--run", str(small_vae), "--input", str(path),
                     "--out", str(tmp_path / "out.npy")]) == 1
        one_line_error(capsys, message)
    assert not (tmp_path / "out.npy").exists()


@pytest.mark.parametrize("device", ["meta", "cpu:3", "xla"])
def test_devices_that_cannot_train_are_refused_before_anything_is_made(tmp_path, capsys,
                                                                       device):
    assert main(["train", "dae", *TINY, "--device", device, "--out", str(tmp_path / "r")]) == 1
    one_line_error(capsys, repr(device))
    assert not (tmp_path / "r").exists()


def test_seeds_out_of_range_name_the_option(small_vae, tmp_path, capsys):
    for argv in (["train", "dae", *TINY, "--seed", str(2 ** 64)],
                 ["sample", "vae", "--run", str(small_vae), "--n", "2", "--seed", "-1",
                  "--out", str(tmp_path / "s.npy")]):
        assert main(argv) == 1
        one_line_error(capsys, "--seed must be an integer from 0 to 2**63 - 1")


def test_ctrl_c_outside_training_says_nothing_was_written(small_vae, tmp_path):
    out = tmp_path / "s.npy"
    job = _cli("sample", "vae", "--run", str(small_vae), "--n", "100000", "--out", str(out),
               progress="bar")
    seen = ""
    while "sampling" not in seen and job.poll() is None:  # its progress bar: inside main
        seen += job.stderr.read(1)
    job.send_signal(signal.SIGINT)
    _, err = job.communicate(timeout=120)
    assert job.returncode == 130, seen + err
    assert "interrupted: nothing was written" in err and "epoch" not in err
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


def test_a_stalled_download_stops_with_one_line_and_leaves_nothing(tmp_path, monkeypatch,
                                                                  capsys):
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held = []  # connections accepted and never answered
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
    address = f"http://127.0.0.1:{server.getsockname()[1]}/"
    monkeypatch.setattr(data.datasets.MNIST, "mirrors", [address])
    monkeypatch.setattr(data, "DOWNLOAD_TIMEOUT", 1.0)
    monkeypatch.setenv("GENADV_DATA", str(tmp_path / "data"))
    start = time.time()
    assert main(["train", "dae", *TINY, "--out", str(tmp_path / "r")]) == 1
    one_line_error(capsys, "mnist is not in", address, "GENADV_DATA")
    assert time.time() - start < 60 and held
    assert not (tmp_path / "data").exists() and not (tmp_path / "r").exists()
    server.close()


def test_a_truncated_history_is_repaired(small_vae, tmp_path):
    run = _copy(small_vae, tmp_path)
    (run / store.HISTORY).write_text('{"epochs": [{"epo')
    assert store.finished(run)  # the checkpoint, written first, says so
    assert main(["train", "vae", *TINY, "--out", str(run)]) == 0
    assert store.finished(run)
    assert json.loads((run / store.HISTORY).read_text())["epochs"][0]["epoch"] == 1


def test_out_onto_a_device_fifo_or_link_is_refused_and_left_as_it_was(small_vae, tmp_path,
                                                                      capsys):
    for name, (path, kind) in _nodes(tmp_path).items():
        before = path.lstat()
        assert main(["sample", "vae", "--run", str(small_vae), "--n", "3", "--out",
                     str(path)]) == 1, name
        one_line_error(capsys, str(path), f"is {kind}, not a regular file")
        after = path.lstat()
        assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino), name
    assert (tmp_path / "real.npy").read_bytes() == b"kept"


def _while_first_epoch(folder, job):
    """Wait until ``job`` trains ``folder``'s first epoch: settings written, no checkpoint."""
    deadline = time.time() + 300
    while time.time() < deadline and job.poll() is None:
        if (folder / store.SETTINGS).exists() and not (folder / store.CHECKPOINT).exists():
            return
        time.sleep(0.01)
    raise AssertionError("the training never reached its first epoch")


def test_ctrl_c_in_the_first_epoch_says_no_epoch_was_kept(tmp_path):
    folder = tmp_path / "run"
    job = _cli("train", "vae", "--profile", "smoke", "--epochs", "5", "--quiet", "--out",
               str(folder))
    _while_first_epoch(folder, job)
    job.send_signal(signal.SIGINT)
    _, err = job.communicate(timeout=120)
    assert job.returncode == 130, err
    assert err.strip().splitlines()[-1] == (
        f"interrupted: no epoch was complete, so {folder} holds no checkpoint; run the same "
        "command to start again")
    assert not (folder / store.CHECKPOINT).exists()


def test_a_run_another_process_is_training_is_reported_as_such_not_as_damaged(tmp_path,
                                                                               capsys):
    folder = tmp_path / "run"
    job = _cli("train", "vae", "--profile", "smoke", "--epochs", "5", "--quiet", "--out",
               str(folder))
    try:
        _while_first_epoch(folder, job)
        assert main(["sample", "vae", "--run", str(folder), "--n", "3", "--out",
                     str(tmp_path / "s.npy")]) == 1
        err = one_line_error(capsys, str(folder), f"being trained by process {job.pid}")
        assert "delete" not in err and "unreadable" not in err
    finally:
        job.kill()
        job.communicate()


def test_ctrl_c_while_evaluate_trains_the_classifier_says_what_it_kept(tmp_path):
    reference = evaluation.REFERENCE
    folder = reference.folder(reference.settings("default", dataset="mnist"))
    if store.finished(folder):
        pytest.skip("the default classifier is already trained in this run store")
    generator = tmp_path / "gan"  # its samples are scored in the classifier's features
    assert main(["train", "gan", *TINY, "--out", str(generator)]) == 0
    job = _cli("evaluate", "--run", str(generator), "--split", "val", "--images", "20")
    _while_first_epoch(folder, job)
    job.send_signal(signal.SIGINT)
    _, err = job.communicate(timeout=120)
    assert job.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith(f"interrupted: no epoch was complete, so "
                                                   f"{folder} holds no checkpoint")
