"""The VAE's building blocks (chapter 2 builds on them): losses, model, step and metrics."""

import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal

from genadv_utils import data, losses, metrics, models, recipes, runtime


def test_bernoulli_nll_matches_torch_distributions():
    logits, x = torch.randn(3, 1, 28, 28), torch.rand(3, 1, 28, 28).round()
    expected = -Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(losses.bernoulli_nll(logits, x), expected, atol=1e-4)
    with pytest.raises(ValueError, match="shapes differ"):
        losses.bernoulli_nll(logits, x[:2])


def test_gaussian_kl_and_log_density():
    assert torch.all(losses.gaussian_kl(torch.zeros(2, 4), torch.zeros(2, 4)) == 0)
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    q, p = Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros(3), torch.ones(3))
    expected = torch.distributions.kl_divergence(q, p)
    assert torch.allclose(losses.gaussian_kl(mu, logvar), expected, atol=1e-5)
    z = torch.randn(5, 3)
    assert torch.allclose(losses.gaussian_log_density(z, mu, logvar),
                          q.log_prob(z).sum(-1), atol=1e-5)


def test_conv_vae_shapes():
    vae = models.ConvVAE(latent_size=4, width=8)
    logits, mu, logvar = vae(torch.rand(6, 1, 28, 28))
    assert logits.shape == (6, 1, 28, 28) and mu.shape == logvar.shape == (6, 4)
    assert vae.decode(torch.randn(2, 4)).shape == (2, 1, 28, 28)


@pytest.fixture(scope="module")
def tiny_vae():
    splits = data.load_splits("mnist", device="cpu")
    settings = recipes.vae_settings("smoke", latent_size=4, width=8, train_size=1024,
                                    epochs=3, batch_size=64)
    return recipes.train_vae(settings, splits, progress=False), splits


def test_vae_training_lowers_the_negative_elbo_and_decays_the_lr(tiny_vae):
    trained, _ = tiny_vae
    h = trained.history
    assert h.series("val_neg_elbo")[-1] < h.series("val_neg_elbo")[0]
    assert h.series("lr_vae")[1] == pytest.approx(h.series("lr_vae")[0] * 0.85)
    record = h.epochs[-1]
    assert record["val_neg_elbo"] == pytest.approx(record["val_rec"] + record["val_kl"])


def test_importance_weighting_tightens_the_bound(tiny_vae):
    trained, splits = tiny_vae
    x = splits.test.images[:200]
    runtime.seed_everything(0)
    elbo = metrics.negative_elbo(trained.model, x)["neg_elbo"]
    iw = metrics.importance_weighted_nll(trained.model, x, samples=50)
    assert iw < elbo and math.isfinite(iw)
    runtime.seed_everything(1)
    again = metrics.importance_weighted_nll(trained.model, x, samples=50)
    runtime.seed_everything(1)
    assert metrics.importance_weighted_nll(trained.model, x, samples=50) == again
    with pytest.raises(ValueError, match="samples"):
        metrics.importance_weighted_nll(trained.model, x, samples=0)


def test_load_vae_restores_the_trained_model(tiny_vae):
    trained, _ = tiny_vae
    loaded = recipes.load_vae(trained.folder, device="cpu")
    for a, b in zip(trained.model.state_dict().values(), loaded.model.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="not a 'dae' run"):
        recipes.load_dae(trained.folder)
