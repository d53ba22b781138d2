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
