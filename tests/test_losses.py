"""The loss terms, per image and in nats: each against torch.distributions or by hand."""

import pytest
import torch
from torch.distributions import Bernoulli, Normal

from genadv_utils import losses


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


def test_feature_reconstruction_is_half_the_squared_distance():
    a, b = torch.zeros(2, 3, 4), torch.ones(2, 3, 4)
    assert torch.equal(losses.feature_reconstruction(a, b), torch.tensor([6.0, 6.0]))
    with pytest.raises(ValueError, match="shapes differ"):
        losses.feature_reconstruction(a, b[:1])
