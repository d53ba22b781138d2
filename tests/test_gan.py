"""The GAN's building blocks (chapter 3): losses, networks, the training step, snapshots, the
sample-quality evaluation and the command line."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genadv_utils import classifier, data, evaluation, gan, losses, metrics, registry, store, training
from genadv_utils.__main__ import main


def test_gan_losses_are_the_binary_cross_entropies():
    real, fake = torch.randn(8), torch.randn(8)
    bce = F.binary_cross_entropy_with_logits
    expected = bce(real, torch.ones(8)) + bce(fake, torch.zeros(8))
    assert torch.allclose(losses.discriminator_loss(real, fake), expected)
    assert torch.allclose(losses.generator_loss(fake), bce(fake, torch.ones(8)))
    d = torch.sigmoid(fake)
    assert torch.allclose(losses.generator_loss(fake, saturating=True),
                          torch.log1p(-d).mean(), atol=1e-6)


def test_the_saturating_loss_has_no_gradient_when_the_fakes_are_rejected():
    rejected = torch.full((4,), -10.0, requires_grad=True)  # D(G(z)) ~ 5e-5
    grad_sat, = torch.autograd.grad(losses.generator_loss(rejected, True), rejected)
    grad_ns, = torch.autograd.grad(losses.generator_loss(rejected), rejected)
    assert grad_sat.abs().max() < 1e-4
    assert grad_ns.abs().min() > 0.1


def test_dcgan_shapes_range_and_initialisation():
    net = gan.GAN(latent_size=8, width=4)
    images = net.generator(net.noise(5))
    assert images.shape == (5, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    assert net.discriminator(images).shape == (5,)
    assert net.discriminator.features(images).shape == (5, 8 * 7 * 7)
    conv = net.discriminator.body[0].weight
    assert abs(conv.std().item() - 0.02) < 0.005 and conv.mean().abs() < 0.01
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\]"):
        net.discriminator(torch.rand(2, 28, 28))
    with pytest.raises(ValueError, match="positive"):
        net.sample(0)


def test_gan_settings_reject_bad_values():
    with pytest.raises(ValueError, match="unknown loss"):
        gan.settings("smoke", loss="wasserstein")
    with pytest.raises(ValueError, match="lr_discriminator must be positive"):
        gan.settings("smoke", lr_discriminator=0)
    with pytest.raises(ValueError, match="beta1"):
        gan.settings("smoke", beta1=1.0)


def test_gan_step_improves_the_discriminator_on_a_fixed_batch():
    torch.manual_seed(0)
    real = data.load_splits("mnist", device="cpu").train.images[:64]
    state = gan.build(gan.settings("smoke", width=8, latent_size=8), "cpu")
    state.optimizers["generator"].param_groups[0]["lr"] = 0.0  # a fixed generator
    first = gan.gan_step(state, (real, None))
    for _ in range(15):
        last = gan.gan_step(state, (real, None))
    assert last["d_loss"] < first["d_loss"]
    assert last["d_real"] > first["d_real"] and last["d_fake"] < first["d_fake"]


@pytest.fixture(scope="module")
def tiny_gan(tmp_path_factory):
    splits = data.load_splits("mnist", device="cpu")
    settings = gan.settings("smoke", width=8, latent_size=16, train_size=1024,
                                    epochs=2)
    folder = tmp_path_factory.mktemp("gan") / "run"
    return gan.train(settings, splits, run_dir=folder, progress=False), splits


def test_gan_training_records_losses_probabilities_and_snapshots(tiny_gan):
    trained, _ = tiny_gan
    h = trained.history
    assert len(h.steps) == 2 * 16 and {"d_loss", "g_loss", "d_real", "d_fake"} <= set(h.steps[0])
    steps = [s for s, _ in h.snapshots]
    assert steps == [0, 3, 6, 10, 13, 16, 32]  # before, 4 times in epoch 1, after each epoch
    assert all(t.shape == (64, 1, 28, 28) for _, t in h.snapshots)
    assert not torch.equal(h.snapshots[0][1], h.snapshots[-1][1])


def test_a_finished_gan_reloads_with_its_snapshots_and_samples_reproducibly(tiny_gan):
    trained, _ = tiny_gan
    again = gan.load(trained.folder, device="cpu")
    assert [s for s, _ in again.history.snapshots] == [s for s, _ in trained.history.snapshots]
    assert torch.equal(again.history.snapshots[-1][1], trained.history.snapshots[-1][1])
    a = again.model.sample(4, torch.Generator().manual_seed(3))
    b = trained.model.sample(4, torch.Generator().manual_seed(3))
    assert torch.allclose(a, b)


def test_nearest_images_finds_exact_copies():
    pool = torch.rand(50, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    distances, indices = metrics.nearest_images(pool[[7, 30]], pool, k=3, chunk=16)
    assert indices[:, 0].tolist() == [7, 30] and torch.all(distances[:, 0] < 1e-3)
    assert torch.all(distances[:, 1:] >= distances[:, :1])
    with pytest.raises(ValueError, match="k must be"):
        metrics.nearest_images(pool[:1], pool, k=0)


@pytest.fixture(scope="module")
def smoke_classifier(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classifier") / "run"
    settings = classifier.settings("smoke")
    return classifier.train(settings, run_dir=folder, progress=False)


def test_sample_quality_is_cached_and_counts_every_sample(tiny_gan, smoke_classifier):
    trained, _ = tiny_gan
    first = evaluation.evaluate(trained, classifier=smoke_classifier, samples=1200,
                                    test_size=500)
    assert sum(first["class_counts"]) == 1200 and first["frechet_distance"] > 0
    assert 0 <= first["coverage"] <= 1 and 1 <= first["classifier_score"] <= 10
    second = evaluation.evaluate(trained, classifier=smoke_classifier, samples=1200,
                                     test_size=500)
    assert second == first
    assert (trained.folder / store.CACHE).exists()


def test_train_sample_and_evaluate_a_gan_on_the_command_line(tmp_path, smoke_classifier,
                                                             capsys):
    run = tmp_path / "gan"
    assert main(["train", "gan", "--profile", "smoke", "--epochs", "1", "--out", str(run),
                 "--quiet"]) == 0
    out = tmp_path / "samples.npy"
    assert main(["sample", "gan", "--run", str(run), "--n", "20", "--out", str(out)]) == 0
    samples = np.load(out)
    assert samples.shape == (20, 28, 28) and samples.dtype == np.float32
    assert 0 <= samples.min() and samples.max() <= 1
    capsys.readouterr()
    assert main(["evaluate", "--run", str(run), "--test-images", "300", "--classifier",
                 str(smoke_classifier.folder)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "gan" and sum(result["class_counts"]) == 10_000
    assert main(["sample", "gan", "--run", str(tmp_path / "nothing"), "--n", "2", "--out",
                 str(out)]) == 1


def test_snapshots_survive_an_interrupted_run(tmp_path):
    """Stopped after one epoch and resumed, a run ends with the snapshots of an uninterrupted
    one (and the same weights)."""
    images = data.load_splits("mnist", device="cpu").train.subset(256)
    settings = gan.settings("smoke", width=4, latent_size=8)

    def run(folder, epochs):
        state = gan.build(settings, "cpu")
        z = gan.fixed_noise(state.modules["gan"], 8)
        batches = data.Batches(images, 64, seed=0)
        return training.fit(state, gan.gan_step, batches, epochs=epochs, run_dir=folder,
                            progress=False, snapshot=lambda s: s.modules["gan"].generator(z))

    whole = run(tmp_path / "whole", 2)
    part = run(tmp_path / "part", 1)
    resumed = run(tmp_path / "part", 2)
    assert [s for s, _ in part.snapshots] == [0, 1, 2, 3, 4]
    assert [s for s, _ in resumed.snapshots] == [s for s, _ in whole.snapshots]
    assert torch.allclose(resumed.snapshots[-1][1], whole.snapshots[-1][1])


def test_default_steps_and_the_epochs_that_fit_in_a_time_budget():
    splits = data.load_splits("mnist", device="cpu")
    settings = gan.settings("smoke", width=4, latent_size=8, train_size=640)
    seconds = gan.RECIPE.seconds_per_step(settings, splits, steps=3)
    assert seconds > 0
    few = gan.RECIPE.epochs_for_minutes(settings, splits, 1e-6)
    many = gan.RECIPE.epochs_for_minutes(settings, splits, 10.0)
    assert few == 1 and many > few
    with pytest.raises(ValueError, match="unknown model"):
        registry.get("flow")
    with pytest.raises(ValueError, match="minutes must be a positive number"):
        gan.RECIPE.epochs_for_minutes(settings, splits, 0)


def test_sample_in_batches_is_seeded_and_draws_n_images():
    net = gan.GAN(latent_size=8, width=4).eval()
    first = metrics.sample_in_batches(net, 7, torch.Generator().manual_seed(5), batch_size=3)
    again = metrics.sample_in_batches(net, 7, torch.Generator().manual_seed(5), batch_size=3)
    assert first.shape == (7, 1, 28, 28) and torch.equal(first, again)
    assert not torch.equal(first[0], first[3])  # each batch draws fresh noise
    with pytest.raises(ValueError, match="positive"):
        metrics.sample_in_batches(net, 0)


def test_hinge_losses_stop_at_the_margin_and_never_saturate_for_the_generator():
    real = torch.tensor([2.0, 0.5, -1.0])
    fake = torch.tensor([-2.0, -0.5, 1.0])
    # real: max(0, 1 - l) = 0, 0.5, 2 -> 2.5/3; fake: max(0, 1 + l) = 0, 0.5, 2 -> 2.5/3
    assert torch.allclose(losses.hinge_discriminator_loss(real, fake), torch.tensor(5.0 / 3))
    rejected = torch.full((4,), -10.0, requires_grad=True)
    grad, = torch.autograd.grad(losses.hinge_generator_loss(rejected), rejected)
    assert torch.allclose(grad, torch.full((4,), -0.25))


def test_spectral_normalisation_makes_every_discriminator_layer_1_lipschitz():
    torch.manual_seed(0)
    net = gan.DCGANDiscriminator(width=8, spectral=True)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    x = torch.rand(16, 1, 28, 28)
    for _ in range(30):  # each call in training mode runs one power iteration
        net(x)
    layers = [net.body[0], net.body[2], net.head]
    for layer in layers:
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2)
        assert abs(sigma.item() - 1.0) < 0.02
    # the bound: 2 (pixels mapped to 2x - 1) x 2 x 2 (two 4x4 stride-2 convolutions, each
    # input pixel in at most four kernel positions) x 1 (the dense head)
    net.eval()
    a, b = torch.rand(8, 1, 28, 28), torch.rand(8, 1, 28, 28)
    with torch.no_grad():
        change = (net(a) - net(b)).abs()
    assert (change <= 8 * (a - b).flatten(1).norm(dim=1) + 1e-4).all()


def test_the_weight_average_follows_the_generator_and_gets_its_own_batch_statistics():
    torch.manual_seed(0)
    net = gan.GAN(latent_size=8, width=4, refine=True, average=True)
    assert all(torch.equal(a, g) for a, g in zip(net.average.parameters(),
                                                  net.generator.parameters()))
    with torch.no_grad():
        for p in net.generator.parameters():
            p.add_(1.0)
    before = [a.clone() for a in net.average.parameters()]
    net.update_average(0.75)  # a quarter of the way to the generator's weights
    for a, b in zip(net.average.parameters(), before):
        assert torch.allclose(a, b + 0.25)
    net.refresh_average(images=1000, batch_size=250)
    first = net.average.net[1]  # batch norm of the linear map's 1000 outputs
    z = net.noise(1000, torch.Generator().manual_seed(gan.AVERAGE_SEED))
    with torch.no_grad():
        h = net.average.net[0](z)
    assert torch.allclose(first.running_mean, h.mean(0), atol=1e-5)
    assert not net.average.training and first.momentum == 0.1
    assert torch.equal(net.sample(3, torch.Generator().manual_seed(1)),
                       net.average(net.noise(3, torch.Generator().manual_seed(1))))


def test_a_gan_with_every_new_ingredient_trains_and_resumes_exactly(tmp_path):
    splits = data.load_splits("mnist", device="cpu")
    settings = gan.settings("smoke", width=4, latent_size=8, train_size=256, epochs=2,
                            refine=True, spectral=True, loss="hinge", average=0.9)
    whole = gan.train(settings, splits, run_dir=tmp_path / "whole", progress=False)
    calls = {"n": 0, "stop": 6}  # 4 steps an epoch: stop in the middle of the second

    def step(state, batch):
        calls["n"] += 1
        if calls["n"] == calls["stop"]:
            raise KeyboardInterrupt
        return gan.RECIPE.step(settings)(state, batch)

    with pytest.raises(KeyboardInterrupt):
        gan.train(settings, splits, step=step, run_dir=tmp_path / "resumed", progress=False)
    calls["stop"] = None
    resumed = gan.train(settings, splits, step=step, run_dir=tmp_path / "resumed",
                        progress=False)
    assert len(resumed.history.epochs) == 2
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    assert "val_d_real" in whole.history.epochs[-1]
    loaded = gan.load(tmp_path / "whole", device="cpu")
    g = torch.Generator().manual_seed(0)
    assert torch.equal(loaded.model.sample(4, g), whole.model.sample(4, torch.Generator()
                                                                      .manual_seed(0)))


def test_the_weight_average_is_not_counted_as_trained_parameters():
    net = gan.GAN(latent_size=8, width=4, refine=True, average=True)
    total = sum(p.numel() for p in net.parameters())
    average = sum(p.numel() for p in net.average.parameters())
    assert evaluation.trained_parameters(net) == total - average > 0
