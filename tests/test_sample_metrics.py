"""The evaluation classifier and the sample-quality metrics computed in its features: real
images score as real, noise and single-class sets do not, and everything repeats exactly."""

import pytest
import torch

from genadv_utils import classifier, data, metrics


@pytest.fixture(scope="module")
def setup():
    splits = data.load_splits("mnist", device="cpu")
    settings = classifier.settings("smoke", train_size=10_000, epochs=2)
    net = classifier.train(settings, splits, progress=False).model.eval()

    def features(images):
        return metrics.apply_in_batches(net.features, images)

    return splits, net, features


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


@pytest.fixture(scope="module")
def sets(setup):
    """Features of real test and training images, uniform noise, and a single class."""
    splits, _, features = setup
    noise = torch.rand(2000, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    return {"real": features(splits.test.images[:2000]),
            "other real": features(splits.train.images[:2000]),
            "noise": features(noise),
            "ones": features(splits.train.of_class(1).images[:2000])}


def test_classifier_learns_the_classes(setup):
    splits, classifier, _ = setup
    assert metrics.accuracy(classifier, splits.test.images[:2000], splits.test.labels[:2000]) > 0.9


def test_frechet_distance_separates_real_from_fake(sets):
    real, other = sets["real"], sets["other real"]
    close = metrics.frechet_distance(other, real)
    assert metrics.frechet_distance(real, real) == pytest.approx(0.0, abs=1e-6)
    assert metrics.frechet_distance(sets["noise"], real) > 10 * close
    assert metrics.frechet_distance(sets["ones"], real) > 5 * close
    assert metrics.frechet_distance(other, real) == close  # deterministic
    with pytest.raises(ValueError, match=r"\[N, d\]"):
        metrics.frechet_distance(other, real[:, :5])


def test_precision_recall_coverage_of_real_noise_and_one_class(sets):
    real, other_real = sets["real"][:1000], sets["other real"][:1000]
    noise, ones = sets["noise"][:1000], sets["ones"][:1000]
    good = metrics.precision_recall_coverage(real, other_real)
    assert min(good.values()) > 0.6
    # Noise collapses to one cluster of features: precision can be fooled (see the docstring),
    # recall and coverage are not.
    fooled = metrics.precision_recall_coverage(real, noise)
    assert fooled["recall"] < 0.05 and fooled["coverage"] < 0.05
    single = metrics.precision_recall_coverage(real, ones)
    assert single["recall"] < 0.3 and single["coverage"] < 0.3
    assert metrics.precision_recall_coverage(real, other_real) == good
    with pytest.raises(ValueError, match="more than k"):
        metrics.precision_recall_coverage(real[:3], other_real, k=3)


def test_classifier_score_rewards_confident_and_varied_sets(setup):
    splits, classifier, _ = setup
    varied = metrics.classifier_score(classifier, splits.test.images[:2000])
    one_class = metrics.classifier_score(classifier, splits.train.of_class(7).images[:1000])
    assert 1.0 <= one_class < 2.0 < 6.0 < varied <= 10.0
