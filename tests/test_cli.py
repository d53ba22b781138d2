import json

import numpy as np
import pytest
import torch

from genadv_utils.__main__ import main


def train_smoke_run(tmp_path_factory, model):
    """A one-epoch smoke-profile run of ``model``, trained through the command line."""
    folder = tmp_path_factory.mktemp("cli") / f"{model}-run"
    assert main(["train", model, "--profile", "smoke", "--epochs", "1", "--out",
                 str(folder), "--quiet"]) == 0
    return folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return train_smoke_run(tmp_path_factory, "dae")


def test_train_writes_a_run_folder(run_dir, capsys):
    assert (run_dir / "checkpoint.pt").exists() and (run_dir / "history.json").exists()
    settings = json.loads((run_dir / "settings.json").read_text())
    assert settings["name"] == "dae" and settings["epochs"] == 1


def test_reconstruct_keeps_the_shape(run_dir, tmp_path, capsys):
    noisy = np.random.default_rng(0).random((7, 28, 28), dtype=np.float32)
    np.save(tmp_path / "in.npy", noisy)
    assert main(["reconstruct", "dae", "--run", str(run_dir), "--input",
                 str(tmp_path / "in.npy"), "--out", str(tmp_path / "out.npy")]) == 0
    out = np.load(tmp_path / "out.npy")
    assert out.shape == (7, 28, 28) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1


def test_evaluate_prints_json_metrics(run_dir, capsys):
    assert main(["evaluate", "--run", str(run_dir), "--split", "test"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "dae" and result["split"] == "test" and result["images"] == 10_000
    gaussian = result["gaussian@0.5"]
    assert gaussian["dae_mse"] < gaussian["noisy_mse"]
    assert {"salt-and-pepper@0.5", "masking@0.5"} <= set(result)


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "--run", "/no/such/folder", "--split", "val"], "does not exist"),
    (["reconstruct", "dae", "--run", "RUN", "--input", "BAD", "--out", "x.npy"], "[N, 28, 28]"),
    (["train", "dae", "--epochs", "0", "--out", "OUT"], "epochs must be positive"),
])
def test_errors_are_one_line_with_a_non_zero_exit(argv, message, run_dir, tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros((3, 28, 27), dtype=np.float32))
    argv = [str(run_dir) if a == "RUN" else str(tmp_path / "bad.npy") if a == "BAD"
            else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_unknown_model_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["train", "nonsense"])
    assert caught.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_train_and_evaluate_the_classifier(tmp_path, capsys):
    folder = tmp_path / "classifier"
    assert main(["train", "classifier", "--profile", "smoke", "--out", str(folder),
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--run", str(folder), "--split", "val"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "classifier" and 0.8 < result["accuracy"] <= 1.0


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    return train_smoke_run(tmp_path_factory, "vae")


def test_sample_and_reconstruct_with_a_vae(vae_run, tmp_path, capsys):
    out = tmp_path / "samples.npy"
    assert main(["sample", "vae", "--run", str(vae_run), "--n", "1200", "--seed", "1",
                 "--out", str(out)]) == 0
    samples = np.load(out)
    assert samples.shape == (1200, 28, 28) and samples.dtype == np.float32
    assert samples.min() >= 0 and samples.max() <= 1
    assert len(np.unique(samples[:, 14, 14])) > 100  # different codes, different images
    assert main(["reconstruct", "vae", "--run", str(vae_run), "--input", str(out),
                 "--out", str(tmp_path / "rec.npy")]) == 0
    assert np.load(tmp_path / "rec.npy").shape == (1200, 28, 28)


def test_evaluate_a_vae_in_nats(vae_run, capsys):
    assert main(["evaluate", "--run", str(vae_run), "--split", "test", "--images", "100"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "vae" and result["images"] == 100
    assert result["iw_samples"] == 100
    assert 0 < result["iw_nll"] < result["neg_elbo"]


@pytest.mark.parametrize("argv, message", [
    (["sample", "vae", "--run", "RUN", "--n", "0", "--out", "x.npy"], "--n must be between 1 and 100,000"),
    (["sample", "vae", "--run", "DAE", "--n", "3", "--out", "x.npy"], "not a 'vae' run"),
    (["evaluate", "--run", "RUN", "--split", "val", "--images", "0"], "must be positive"),
])
def test_vae_errors_are_one_line(argv, message, vae_run, run_dir, capsys):
    argv = [str(vae_run) if a == "RUN" else str(run_dir) if a == "DAE" else a for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_train_for_minutes_picks_the_epochs_that_fit(tmp_path, capsys):
    folder = tmp_path / "gan"
    assert main(["train", "gan", "--profile", "smoke", "--minutes", "0.05", "--out",
                 str(folder), "--quiet"]) == 0
    captured = capsys.readouterr()
    epochs = json.loads((folder / "settings.json").read_text())["epochs"]
    assert epochs >= 1 and f"{epochs} epoch(s) fit in about 0.05 minutes" in captured.err
    assert json.loads(captured.out)["epochs"] == epochs
    assert main(["train", "gan", "--minutes", "0", "--out", str(tmp_path / "x")]) == 1


def test_train_takes_a_device_and_rejects_a_bad_one(tmp_path, capsys):
    assert main(["train", "dae", "--profile", "smoke", "--epochs", "1", "--device", "quantum",
                 "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: unknown device 'quantum'; try cpu, cuda or mps"
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def smoke_classifier(tmp_path_factory):
    from genadv_utils import classifier

    folder = tmp_path_factory.mktemp("classifier") / "run"
    return classifier.train(classifier.settings("smoke"), run_dir=folder, progress=False)


def test_train_sample_and_evaluate_a_gan(tmp_path, smoke_classifier, capsys):
    from genadv_utils import data, evaluation, gan

    run = tmp_path / "gan"
    assert main(["train", "gan", "--profile", "smoke", "--epochs", "1", "--out", str(run),
                 "--quiet"]) == 0
    out = tmp_path / "samples.npy"
    assert main(["sample", "gan", "--run", str(run), "--n", "20", "--out", str(out)]) == 0
    samples = np.load(out)
    assert samples.shape == (20, 28, 28) and samples.dtype == np.float32
    assert 0 <= samples.min() and samples.max() <= 1
    model = gan.load(run, device="cpu").model
    expected = model.sample(20, torch.Generator().manual_seed(0))[:, 0].numpy()
    assert np.allclose(samples, expected, atol=1e-6)  # the seed's draw, as --seed says
    capsys.readouterr()
    assert main(["evaluate", "--run", str(run), "--split", "val", "--images", "300", "--classifier",
                 str(smoke_classifier.folder)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "gan" and sum(result["class_counts"]) == 10_000
    direct = evaluation.evaluate(gan.load(run), data.load_splits("mnist"), split="val", size=300,
                                 classifier=smoke_classifier)
    assert result["frechet_distance"] == pytest.approx(direct["frechet_distance"])
    assert main(["sample", "gan", "--run", str(tmp_path / "nothing"), "--n", "2", "--out",
                 str(out)]) == 1


def test_reconstruct_sample_and_evaluate_a_vaegan(tmp_path, smoke_classifier, capsys):
    from genadv_utils import data, evaluation, vaegan

    settings = vaegan.settings("smoke", latent_size=8, width=8, encoder_width=8, hidden=32,
                               train_size=512, epochs=1)
    trained = vaegan.train(settings, run_dir=tmp_path / "vaegan", progress=False)
    run = str(trained.folder)
    images = data.load_splits("mnist", device="cpu").test.images[:6, 0].numpy()
    np.save(tmp_path / "in.npy", images)
    assert main(["reconstruct", "vaegan", "--run", run, "--input", str(tmp_path / "in.npy"),
                 "--out", str(tmp_path / "out.npy")]) == 0
    expected = trained.model.cpu().reconstruct(torch.from_numpy(images)[:, None])[:, 0]
    assert np.allclose(np.load(tmp_path / "out.npy"), expected.numpy(), atol=1e-5)
    assert main(["sample", "vaegan", "--run", run, "--n", "5", "--out",
                 str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (5, 28, 28)
    capsys.readouterr()
    assert main(["evaluate", "--run", run, "--split", "val", "--images", "200", "--classifier",
                 str(smoke_classifier.folder)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "vaegan"
    again = evaluation.evaluate(vaegan.load(run), data.load_splits("mnist"), split="val", size=200,
                                classifier=smoke_classifier)
    for key in ("reconstruction_class_kept", "reconstruction_mse", "frechet_distance"):
        assert result[key] == pytest.approx(again[key])
