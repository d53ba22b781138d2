import pytest
import torch

from genadv_utils import noise

CLEAN = torch.rand(64, 1, 28, 28)


@pytest.mark.parametrize("kind", list(noise.NOISES))
def test_noise_keeps_shape_and_range_and_repeats_under_a_seed(kind):
    a = noise.corrupt(CLEAN, kind, 0.5, noise.seeded(3))
    b = noise.corrupt(CLEAN, kind, 0.5, noise.seeded(3))
    c = noise.corrupt(CLEAN, kind, 0.5, noise.seeded(4))
    assert a.shape == CLEAN.shape and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(noise.corrupt(CLEAN, kind, 0.0, noise.seeded(3)), CLEAN)


def test_gaussian_noise_has_the_asked_spread_before_clipping():
    mid = torch.full((200, 1, 28, 28), 0.5)
    noisy = noise.gaussian(mid, 0.1, noise.seeded(0))
    assert (noisy - mid).std().item() == pytest.approx(0.1, rel=0.05)


def test_salt_and_pepper_hits_a_fraction_p_with_black_and_white():
    mid = torch.full((100, 1, 28, 28), 0.5)
    noisy = noise.salt_and_pepper(mid, 0.3, noise.seeded(0))
    hit = noisy != 0.5
    assert hit.float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert set(noisy[hit].unique().tolist()) == {0.0, 1.0}
    assert (noisy[hit] == 1).float().mean().item() == pytest.approx(0.5, abs=0.02)


def test_masking_only_removes_ink():
    noisy = noise.masking(CLEAN, 0.4, noise.seeded(0))
    changed = noisy != CLEAN
    assert torch.all(noisy[changed] == 0)
    assert changed.float().mean().item() == pytest.approx(0.4, abs=0.01)


def test_bad_noise_arguments():
    with pytest.raises(ValueError, match="gaussian, salt-and-pepper, masking"):
        noise.corrupt(CLEAN, "speckle", 0.1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        noise.salt_and_pepper(CLEAN, 1.5)
    with pytest.raises(ValueError, match="non-negative"):
        noise.gaussian(CLEAN, -0.1)
    with pytest.raises(TypeError, match="floats"):
        noise.masking(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), 0.1)


@pytest.mark.parametrize("kind", ["gaussian", "salt-and-pepper", "masking"])
def test_a_level_of_nan_is_refused(kind):
    with pytest.raises(ValueError, match="got nan"):
        noise.corrupt(CLEAN, kind, float("nan"))
