import copy
import math

import pytest
import torch

from genadv_utils import data, gan, metrics


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


@pytest.fixture(scope="module")
def setup():
    from genadv_utils import classifier
    splits = data.load_splits("mnist", device="cpu")
    settings = classifier.settings("smoke", train_size=10_000, epochs=2)
    net = classifier.train(settings, splits, progress=False).model.eval()

    def features(images):
        return metrics.apply_in_batches(net.features, images)

    return splits, net, features


@pytest.fixture(scope="module")
def sets(setup):
    """Features of real test and training images, uniform noise, and a single class."""
    splits, _, features = setup
    noise = torch.rand(2000, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    return {"real": features(splits.test.images[:2000]),
            "other real": features(splits.train.images[:2000]),
            "noise": features(noise),
            "ones": features(splits.train.of_class(1).images[:2000])}


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


def test_density_is_not_fooled_by_one_real_outlier_as_precision_is():
    """Density is about 1 for a second draw of the same distribution and 0 far from the data.
    One real outlier has a ball wide enough to hold samples far from everything else:
    precision counts them all as realistic, density counts one ball in k."""
    draw = torch.Generator().manual_seed(0)
    real, same = torch.randn(1500, 4, generator=draw), torch.randn(1500, 4, generator=draw)
    assert metrics.precision_recall_coverage(real, same)["density"] == pytest.approx(1.0, abs=0.1)
    far = torch.randn(1500, 4, generator=draw) + 20
    assert metrics.precision_recall_coverage(real, far)["density"] == 0.0
    with_outlier = torch.cat([real, torch.full((1, 4), 20.0)])
    fooled = metrics.precision_recall_coverage(with_outlier, far, k=3)
    assert fooled["precision"] > 0.99 and fooled["density"] < 0.34


def test_sample_quality_reuses_the_real_side_only_for_the_same_images_and_classifier(setup):
    splits, net, features = setup
    real, fakes = splits.test.images[:600], splits.train.images[:600]
    metrics._REAL_SIDES.clear()
    first = metrics.sample_quality(net, fakes, real)
    assert len(metrics._REAL_SIDES) == 1
    kept = metrics._REAL_SIDES[next(iter(metrics._REAL_SIDES))]
    again = metrics.sample_quality(net, fakes, real.clone())  # equal values: served from memory
    assert again == first and metrics.real_side(net, real.clone()) is kept
    # the same numbers as computed from scratch, the classifier's full forward pass included
    real_f, fake_f = features(real), features(fakes)
    assert first["frechet_distance"] == pytest.approx(metrics.frechet_distance(fake_f, real_f))
    assert {k: first[k] for k in ("precision", "recall", "density", "coverage")} \
        == metrics.precision_recall_coverage(real_f, fake_f)
    assert first["recognised"] == pytest.approx(metrics.recognised(net, fakes), abs=1e-6)
    assert first["classifier_score"] == pytest.approx(metrics.classifier_score(net, fakes))
    # other images, or the same images in another classifier, are measured anew
    other = metrics.sample_quality(net, fakes, splits.test.images[600:1200])
    assert other["frechet_distance"] != first["frechet_distance"]
    changed = copy.deepcopy(net)
    with torch.no_grad():
        changed.body[0].weight.mul_(1.5)
    moved = metrics.sample_quality(changed, fakes, real)
    with torch.no_grad():
        real_c, fake_c = changed.features(real), changed.features(fakes)
    assert moved["frechet_distance"] == pytest.approx(metrics.frechet_distance(fake_c, real_c))
    assert moved["frechet_distance"] != first["frechet_distance"]
    assert len(metrics._REAL_SIDES) == 2  # only the last two are kept
    with pytest.raises(ValueError, match="one radius per real point"):
        metrics.precision_recall_coverage(real_f, fake_f, real_radii=torch.ones(3))
