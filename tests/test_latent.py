"""Latent-space paths and grids (chapter 2's interpolations and manifold)."""

import pytest
import torch

from genadv_utils import latent


def test_lerp_runs_from_a_to_b_in_equal_steps():
    a, b = torch.zeros(2, 3), torch.ones(2, 3)
    path = latent.lerp(a, b, 5)
    assert path.shape == (5, 2, 3)
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    assert torch.allclose(path[2], torch.full((2, 3), 0.5))


def test_slerp_keeps_the_norm_where_lerp_cuts_inside():
    torch.manual_seed(0)
    a = torch.randn(16)
    b = torch.randn(16)
    b = b / b.norm() * a.norm()
    arc, line = latent.slerp(a, b, 9), latent.lerp(a, b, 9)
    assert torch.allclose(arc[0], a, atol=1e-5) and torch.allclose(arc[-1], b, atol=1e-5)
    assert torch.allclose(arc.norm(dim=1), a.norm().expand(9), atol=1e-4)
    assert line.norm(dim=1)[4] < 0.9 * a.norm()


def test_slerp_of_parallel_vectors_is_the_line():
    a = torch.tensor([1.0, 2.0])
    assert torch.allclose(latent.slerp(a, 2 * a, 3), latent.lerp(a, 2 * a, 3))


def test_interpolation_errors():
    a = torch.zeros(4)
    with pytest.raises(ValueError, match="unknown interpolation"):
        latent.interpolate(a, a, 3, "cubic")
    with pytest.raises(ValueError, match="at least 2"):
        latent.lerp(a, a, 1)
    with pytest.raises(ValueError, match="differ in shape"):
        latent.slerp(a, torch.zeros(5), 3)
    with pytest.raises(ValueError, match="vectors"):
        latent.slerp(torch.ones(2, 2), torch.ones(2, 2), 3)


def test_normal_grid_covers_equal_prior_mass_top_row_first():
    grid = latent.normal_grid(5, tail=0.1)
    assert grid.shape == (25, 2)
    normal = torch.distributions.Normal(0.0, 1.0)
    cdf = normal.cdf(grid[:5, 0])
    assert torch.allclose(cdf, torch.linspace(0.1, 0.9, 5), atol=1e-5)
    assert torch.all(grid[:5, 1] == grid[:, 1].max())  # first row: largest z2
    assert torch.all(grid[-5:, 1] == grid[:, 1].min())
    assert torch.allclose(grid.mean(0), torch.zeros(2), atol=1e-6)
    with pytest.raises(ValueError, match="tail"):
        latent.normal_grid(5, tail=0.5)
