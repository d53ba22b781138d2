import pytest
import torch

from genadv_utils import pca


def low_rank_images(n=200, rank=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    basis = torch.rand(rank, 64, generator=g)
    weights = torch.rand(n, rank, generator=g)
    return (weights @ basis / rank).view(n, 1, 8, 8)


def test_pca_recovers_low_rank_data():
    images = low_rank_images()
    fitted = pca.fit_pca(images)
    assert pca.components_for_variance(fitted, 0.999) == 3
    assert torch.allclose(pca.reconstruct(fitted, images, 3), images, atol=1e-5)
    assert pca.project(fitted, images, 2).shape == (200, 2)


def test_error_falls_with_more_components():
    images = torch.rand(100, 1, 8, 8)
    fitted = pca.fit_pca(images)
    errors = [torch.mean((pca.reconstruct(fitted, images, k) - images) ** 2) for k in (1, 10, 50)]
    assert errors[0] > errors[1] > errors[2]


def test_bad_arguments():
    fitted = pca.fit_pca(torch.rand(20, 1, 4, 4))
    with pytest.raises(ValueError, match="k must be"):
        pca.reconstruct(fitted, torch.rand(2, 1, 4, 4), 0)
    with pytest.raises(ValueError, match="fraction"):
        pca.components_for_variance(fitted, 1.5)
    with pytest.raises(ValueError, match="two images"):
        pca.fit_pca(torch.rand(1, 1, 4, 4))


def test_wiener_shrinks_each_component_by_its_signal_share_under_white_noise():
    """For white noise added to the image, the fitted filter keeps lambda / (lambda + sigma^2)
    of each principal component, where truncation keeps all or nothing."""
    g = torch.Generator().manual_seed(0)
    spectrum = torch.tensor([4.0, 1.0, 0.25, 0.04, 0.01] + [1e-4] * 11)
    basis = torch.linalg.qr(torch.randn(16, 16, generator=g))[0]
    clean = (torch.randn(40_000, 16, generator=g) * spectrum.sqrt()) @ basis.T * 0.1 + 0.5
    sigma = 0.05
    noisy = clean + sigma * torch.randn(clean.shape, generator=g)
    images, noisy_images = clean.view(-1, 1, 4, 4), noisy.view(-1, 1, 4, 4)
    fitted = pca.fit_pca(images)
    gains = pca.fit_wiener(images, noisy_images).gains(fitted)
    variance = fitted.explained_variance_
    assert gains == pytest.approx(variance / (variance + sigma ** 2), abs=0.02)
    assert gains[0] > 0.9 and gains[-1] < 0.1


def test_wiener_is_the_best_linear_denoiser_of_its_pairs():
    """On the pairs it was fitted on, no PCA truncation comes closer to the clean images."""
    images = low_rank_images(n=400, rank=6)
    noisy = (images + 0.2 * torch.randn(images.shape, generator=torch.Generator().manual_seed(1)))
    wiener = pca.fit_wiener(images, noisy)
    fitted = pca.fit_pca(images)
    best = torch.mean((wiener(noisy) - images) ** 2)
    assert all(best < torch.mean((pca.reconstruct(fitted, noisy, k) - images) ** 2)
               for k in range(1, 40))
    assert wiener(noisy).shape == noisy.shape


def test_wiener_refuses_unpaired_or_mismatched_images():
    with pytest.raises(ValueError, match="pair up one to one"):
        pca.fit_wiener(torch.rand(10, 1, 4, 4), torch.rand(9, 1, 4, 4))
    with pytest.raises(ValueError, match="takes images of 16 pixels"):
        pca.fit_wiener(torch.rand(10, 1, 4, 4), torch.rand(10, 1, 4, 4))(torch.rand(2, 1, 8, 8))
