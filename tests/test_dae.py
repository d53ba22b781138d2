import pytest
import torch

from genadv_utils import blocks, dae, data

TINY = dict(code_size=8, width=8, train_size=512, batch_size=64)


@pytest.fixture(scope="module")
def splits():
    return data.load_splits("mnist", device="cpu")


def test_dae_learns_to_denoise(splits, tmp_path):
    settings = dae.settings("smoke", epochs=3, **TINY)
    trained = dae.train(settings, splits, run_dir=tmp_path, progress=False)
    val = trained.history.series("val_mse")
    assert val[-1] < val[0] < 0.2
    assert trained.history.series("train_mse")[-1] < trained.history.series("train_mse")[0]


def test_same_settings_reload_the_same_model(splits, monkeypatch, tmp_path):
    monkeypatch.setenv("GENADV_RUNS", str(tmp_path))
    settings = dae.settings("smoke", epochs=1, **TINY)
    first = dae.train(settings, splits, progress=False)
    assert first.folder == dae.RECIPE.folder(settings)
    loaded = dae.load(first.folder, device="cpu")
    for a, b in zip(first.model.state_dict().values(), loaded.model.state_dict().values()):
        assert torch.equal(a, b)
    again = dae.train(settings, splits, progress=False,
                              step=None)
    assert again.folder == first.folder and again.history.epochs == first.history.epochs


def test_a_custom_step_gets_its_own_run_folder(splits, monkeypatch, tmp_path):
    monkeypatch.setenv("GENADV_RUNS", str(tmp_path))
    settings = dae.settings("smoke", epochs=1, **TINY)
    calls = []

    def my_step(state, batch):
        calls.append(1)
        return dae.dae_step(state, batch, noise_kind="masking", level=0.3)

    custom = dae.train(settings, splits, step=my_step, progress=False)
    assert calls and custom.folder != dae.RECIPE.folder(settings)


def test_settings_are_checked():
    with pytest.raises(ValueError, match="unknown DAESettings field"):
        dae.settings("smoke", colour="red")
    with pytest.raises(ValueError, match="unknown noise"):
        dae.settings("smoke", noise="speckle")
    with pytest.raises(ValueError, match="epochs must be positive"):
        dae.settings("smoke", epochs=0)
    assert dae.settings("default") == dae.DAESettings()


def test_load_dae_rejects_folders_that_are_not_dae_runs(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        dae.load(tmp_path)


def test_autoencoder_shapes_and_range():
    net = dae.DenoisingAutoencoder(code_size=16, width=8).eval()
    x = torch.rand(5, 1, 28, 28)
    assert net.encode(x).shape == (5, 16)
    out = net(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\]"):
        net(torch.rand(5, 28, 28))
    with pytest.raises(ValueError, match="positive"):
        blocks.ConvEncoder(0)
