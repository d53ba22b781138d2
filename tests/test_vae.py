"""The VAE's building blocks (chapter 2 builds on them): losses, model, step and metrics."""

import math

import pytest
import torch

from genadv_utils import dae, data, evaluation, losses, metrics, runtime, store, vae


def test_conv_vae_shapes():
    net = vae.ConvVAE(latent_size=4, width=8, hidden=32)
    logits, mu, logvar = net(torch.rand(6, 1, 28, 28))
    assert logits.shape == (6, 1, 28, 28) and mu.shape == logvar.shape == (6, 4)
    assert net.decode(torch.randn(2, 4)).shape == (2, 1, 28, 28)


@pytest.fixture(scope="module")
def tiny_vae():
    splits = data.load_splits("mnist", device="cpu")
    settings = vae.settings("smoke", latent_size=4, width=8, hidden=32, train_size=1024,
                                    epochs=3, batch_size=64)
    return vae.train(settings, splits, progress=False), splits


def test_vae_training_lowers_the_negative_elbo_and_decays_the_lr(tiny_vae):
    trained, _ = tiny_vae
    h = trained.history
    assert h.series("val_neg_elbo")[-1] < h.series("val_neg_elbo")[0]
    assert h.series("lr_vae")[1] == pytest.approx(h.series("lr_vae")[0] * 0.8)
    record = h.epochs[-1]
    assert record["val_neg_elbo"] == pytest.approx(record["val_rec"] + record["val_kl"])


def test_importance_weighting_tightens_the_bound(tiny_vae):
    trained, splits = tiny_vae
    x = splits.test.images[:200]
    runtime.seed_everything(0)
    elbo = losses.negative_elbo(trained.model, x)["neg_elbo"]
    iw = metrics.importance_weighted_nll(trained.model, x, samples=50)
    assert iw < elbo and math.isfinite(iw)
    runtime.seed_everything(1)
    again = metrics.importance_weighted_nll(trained.model, x, samples=50)
    runtime.seed_everything(1)
    assert metrics.importance_weighted_nll(trained.model, x, samples=50) == again
    with pytest.raises(ValueError, match="samples"):
        metrics.importance_weighted_nll(trained.model, x, samples=0)


def test_the_bound_shows_a_bar_only_where_asked_and_the_same_number(tiny_vae, capsys,
                                                                    monkeypatch):
    trained, splits = tiny_vae
    x = splits.test.images[:100]
    runtime.seed_everything(2)
    silent = metrics.importance_weighted_nll(trained.model, x, samples=5)
    assert capsys.readouterr().err == ""
    runtime.seed_everything(2)
    shown = metrics.importance_weighted_nll(trained.model, x, samples=5, progress="bar")
    assert shown == silent and "IW bound, K = 5" in capsys.readouterr().err
    monkeypatch.setenv("GENADV_PROGRESS", "epochs")  # the website's build: no bar
    metrics.importance_weighted_nll(trained.model, x, samples=5, progress=True)
    assert capsys.readouterr().err == ""


def test_load_vae_restores_the_trained_model(tiny_vae):
    trained, _ = tiny_vae
    loaded = vae.load(trained.folder, device="cpu")
    for a, b in zip(trained.model.state_dict().values(), loaded.model.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="not a 'dae' run"):
        dae.load(trained.folder)


def test_kl_per_dimension_adds_up_to_the_kl_term(tiny_vae):
    trained, splits = tiny_vae
    x = splits.test.images[:300]
    per_dim = metrics.kl_per_dimension(trained.model.eval(), x)
    assert per_dim.shape == (4,) and torch.all(per_dim >= 0)
    assert per_dim.sum().item() == pytest.approx(losses.negative_elbo(trained.model, x)["kl"],
                                                 rel=1e-4)
    assert 0 <= metrics.active_units(trained.model, x) <= 4


def test_a_collapsed_encoder_has_no_active_units_and_no_kl():
    net = vae.ConvVAE(latent_size=3, width=4, hidden=8).eval()
    for p in net.encoder.head.parameters():
        torch.nn.init.zeros_(p)  # mu = 0 and log sigma^2 = 0 for every image: q = p(z)
    x = torch.rand(50, 1, 28, 28)
    assert metrics.active_units(net, x) == 0
    assert torch.allclose(metrics.kl_per_dimension(net, x), torch.zeros(3))


def test_samples_and_reconstructions_are_images(tiny_vae):
    model = tiny_vae[0].model.eval()
    a = model.sample(5, torch.Generator().manual_seed(3))
    b = model.sample(5, torch.Generator().manual_seed(3))
    assert a.shape == (5, 1, 28, 28) and torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    assert model.reconstruct(tiny_vae[1].test.images[:4]).shape == (4, 1, 28, 28)
    with pytest.raises(ValueError, match="positive"):
        model.sample(0)


def test_vae_evaluation_is_kept_in_the_run_folder(tiny_vae, monkeypatch):
    trained, _ = tiny_vae
    first = evaluation.evaluate_vae(trained, tiny_vae[1], split="test", samples=5, size=200)
    assert first["iw_nll"] < first["neg_elbo"] and first["images"] == 200
    assert (trained.folder / store.CACHE).exists()

    def fail(*args, **kwargs):
        raise AssertionError("recomputed a cached evaluation")

    monkeypatch.setattr(metrics, "importance_weighted_nll", fail)
    assert evaluation.evaluate_vae(trained, tiny_vae[1], split="test", samples=5, size=200) == first
    with pytest.raises(AssertionError, match="recomputed"):
        evaluation.evaluate_vae(trained, tiny_vae[1], split="test", samples=6, size=200)
