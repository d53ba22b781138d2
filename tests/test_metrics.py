import math

import pytest
import torch

from genadv_utils import blocks, dae, metrics


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


def test_mse_and_psnr():
    a, b = torch.zeros(2, 1, 4, 4), torch.full((2, 1, 4, 4), 0.1)
    assert metrics.mse(a, b) == pytest.approx(0.01)
    assert metrics.psnr(0.01) == pytest.approx(20.0)
    assert metrics.psnr(0.0) == math.inf
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.mse(a, torch.zeros(3, 1, 4, 4))


def test_residual_by_class_puts_the_overall_mean_first():
    clean = torch.zeros(4, 1, 2, 2)
    estimate = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    labels = torch.tensor([0, 0, 1, 1])
    maps = metrics.residual_by_class(estimate, clean, labels)
    assert maps.shape == (3, 1, 2, 2)
    assert maps[:, 0, 0, 0].tolist() == [0.5, 0.0, 1.0]


def test_noise_sweep_compares_every_method_on_the_same_noise():
    clean = torch.rand(50, 1, 28, 28)
    sweep = metrics.noise_sweep({"identity": lambda x: x, "zeros": torch.zeros_like},
                                clean, "gaussian", [0.1, 0.5])
    assert sweep["identity"] == sweep["noisy input"]
    assert sweep["noisy input"][0] < sweep["noisy input"][1]
    assert sweep["zeros"][0] == pytest.approx(metrics.mse(torch.zeros_like(clean), clean))
    again = metrics.noise_sweep({}, clean, "gaussian", [0.1, 0.5])
    assert again["noisy input"] == sweep["noisy input"]
    assert metrics.apply_in_batches(lambda x: x * 2, clean, batch_size=7).shape == clean.shape


def test_recognised_counts_samples_whose_top_class_is_confident():
    class Fixed(torch.nn.Module):
        def forward(self, x):  # image i's logits: class 0 with margin x[i, 0, 0, 0]
            logits = torch.zeros(len(x), 10)
            logits[:, 0] = x[:, 0, 0, 0]
            return logits

    images = torch.zeros(4, 1, 28, 28)
    images[:, 0, 0, 0] = torch.tensor([0.0, 2.0, 5.0, 10.0])  # top prob 0.1, 0.45, 0.94, 1.0
    assert metrics.recognised(Fixed(), images) == 0.5
    assert metrics.recognised(Fixed(), images, confidence=0.4) == 0.75
    with pytest.raises(ValueError, match="confidence"):
        metrics.recognised(Fixed(), images, confidence=1.0)


def test_neighbours_agree_reads_the_class_from_the_nearest_codes():
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    apart = torch.tensor([[0.0, 0], [0, 1], [1, 0], [10, 10], [10, 11], [11, 10]])
    assert metrics.neighbours_agree(apart, labels, k=2).all()
    square = torch.tensor([[0.0, 0], [0, 1], [1, 0], [1, 1]])
    clusters = torch.cat([square, square + 10])  # each point's 3 neighbours: its own square
    odd_one_out = torch.tensor([0, 0, 0, 1, 1, 1, 1, 0])
    assert metrics.neighbours_agree(clusters, odd_one_out, k=3).tolist() == [
        True, True, True, False, True, True, True, False]
    with pytest.raises(ValueError, match="k must be"):
        metrics.neighbours_agree(apart, labels, k=6)
    with pytest.raises(ValueError, match="expected codes"):
        metrics.neighbours_agree(apart[:, :1].squeeze(1), labels)


def test_neighbours_agree_gives_the_same_answer_in_any_chunk_size():
    g = torch.Generator().manual_seed(0)
    codes, labels = torch.randn(300, 2, generator=g), torch.randint(0, 3, (300,), generator=g)
    whole = metrics.neighbours_agree(codes, labels, k=5, chunk=300)
    assert torch.equal(metrics.neighbours_agree(codes, labels, k=5, chunk=7), whole)
    with pytest.raises(ValueError, match="chunk"):
        metrics.neighbours_agree(codes, labels, chunk=0)
