"""The evaluation classifier's module: its pooling order gives the usual numbers, and it learns
the classes."""

import pytest
import torch

from genadv_utils import classifier, data


@pytest.fixture(scope="module")
def setup():
    splits = data.load_splits("mnist", device="cpu")
    settings = classifier.settings("smoke", train_size=10_000, epochs=2)
    net = classifier.train(settings, splits, progress=False).model.eval()
    return splits, net, None


def test_pooling_before_relu_gives_the_usual_orders_numbers_and_gradients():
    """The classifier pools before its ReLU (cheaper); max and ReLU commute, so features and
    weight gradients are those of ReLU-then-pool, exactly, ties among zeros included."""
    torch.manual_seed(0)
    net = classifier.Classifier()
    body = net.body
    usual = torch.nn.Sequential(body[0], body[2], body[1], body[3], body[5], body[4],
                                *body[6:])
    assert [type(m).__name__ for m in usual[:3]] == ["Conv2d", "ReLU", "MaxPool2d"]
    x = torch.rand(32, 1, 28, 28)
    results = []
    for network in (body, usual):
        net.zero_grad()
        out = network(x)
        out.square().sum().backward()
        results.append((out.detach(), [p.grad.clone() for p in net.parameters()
                                       if p.grad is not None]))
    assert torch.equal(results[0][0], results[1][0])
    assert all(torch.equal(a, b) for a, b in zip(results[0][1], results[1][1]))
    assert results[0][1] and (results[0][0] == 0).any()  # the ReLUs did cut


def test_classifier_learns_the_classes(setup):
    splits, net, _ = setup
    assert classifier.accuracy(net, splits.test.images[:2000], splits.test.labels[:2000]) > 0.9


def test_the_classifier_keeps_the_plain_kernels():
    """The yardstick's weights decide every published metric: the training code places it
    without the channels-last layout and the fused Adam."""
    state = classifier.RECIPE.start(classifier.settings("smoke"), "cpu")
    assert classifier.RECIPE.fast_kernels is False
    assert not state.optimizers["classifier"].param_groups[0]["fused"]
    conv = state.modules["classifier"].body[3].weight  # 32 -> 64 channels
    assert conv.is_contiguous() and not conv.is_contiguous(memory_format=torch.channels_last)
