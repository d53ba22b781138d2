"""Chapter 3's module: the DCGAN's networks, its settings, the training step with its two
losses, the weight average, training with snapshots, and exact resumption."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genadv_utils import data, gan, training, vaegan


def test_dcgan_shapes_range_and_initialisation():
    net = gan.GAN(latent_size=8, width=4)
    images = net.generator(net.noise(5))
    assert images.shape == (5, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    assert net.discriminator(images).shape == (5,)
    assert net.discriminator.features(images).shape == (5, 8 * 7 * 7)
    conv = net.discriminator.body[0].weight
    assert abs(conv.std().item() - 0.02) < 0.005 and conv.mean().abs() < 0.01
    refined = gan.DCGANGenerator(latent_size=8, width=4, refine=True)
    assert refined(torch.randn(3, 8)).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\]"):
        net.discriminator(torch.rand(2, 28, 28))
    with pytest.raises(ValueError, match="positive"):
        net.sample(0)


def test_gan_settings_reject_bad_values():
    with pytest.raises(ValueError, match="lr_discriminator must be positive"):
        gan.settings("smoke", lr_discriminator=0)
    with pytest.raises(ValueError, match="beta1"):
        gan.settings("smoke", beta1=1.0)
    with pytest.raises(ValueError, match="average_decay"):
        gan.settings("smoke", average_decay=1.0)
    with pytest.raises(ValueError, match="need width >= 2"):
        gan.settings("smoke", width=1)
    with pytest.raises(ValueError, match="unknown GANSettings field"):
        gan.settings("smoke", loss="hinge")
    with pytest.raises(ValueError, match="r1_gamma >= 0"):
        gan.settings("smoke", r1_gamma=-0.1)
    with pytest.raises(ValueError, match="r1_every must be positive"):
        gan.settings("smoke", r1_every=0)


SMALL_GAN = gan.settings("smoke", width=4, latent_size=8, dense=16)
SMALL_VAEGAN = vaegan.settings("smoke", latent_size=4, width=4, encoder_width=4, hidden=8,
                               dense=16)
REAL = torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def _steps(recipe, settings, steps: int, record: list | None = None):
    """``steps`` of the recipe's own step on one fixed batch, the same noise for any settings;
    each step's record appended to ``record``."""
    state = recipe.start(settings, "cpu")
    state.train(True)
    for i in range(steps):
        torch.manual_seed(i)
        out = recipe.step(settings)(state, (REAL, None))
        if record is not None:
            record.append(out)
    return state


def _input_slope(state, name: str) -> float:
    """D's mean squared input gradient on the real batch: what R1 penalises."""
    x = REAL.clone().requires_grad_(True)
    grad, = torch.autograd.grad(state.modules[name].discriminator(x).sum(), x)
    return grad.pow(2).flatten(1).sum(1).mean().item()


@pytest.mark.parametrize("recipe, settings", [(gan.RECIPE, SMALL_GAN),
                                              (vaegan.RECIPE, SMALL_VAEGAN)])
def test_r1_flattens_the_discriminator_where_the_data_lie(recipe, settings):
    plain = _steps(recipe, dataclasses.replace(settings, r1_gamma=0.0), 8)
    r1 = _steps(recipe, dataclasses.replace(settings, r1_gamma=10.0, r1_every=1), 8)
    assert _input_slope(r1, recipe.name) < 0.5 * _input_slope(plain, recipe.name)


@pytest.mark.parametrize("recipe, settings, counter", [(gan.RECIPE, SMALL_GAN, "generator"),
                                                       (vaegan.RECIPE, SMALL_VAEGAN, "encoder")])
def test_lazy_r1_takes_its_own_step_of_d_every_k_steps(recipe, settings, counter):
    record = []
    state = _steps(recipe, dataclasses.replace(settings, r1_every=4), 9, record)
    assert gan.steps_taken(state.optimizers[counter]) == 9
    own = 9 - sum(step.get("skip_d", 0) for step in record)  # the VAE-GAN's rule may pause D
    # D's own steps, and R1's after the 4th and the 8th
    assert gan.steps_taken(state.optimizers["discriminator"]) == own + 2


def _frozen_step(saturating, reject=False):
    """One gan_step with both learning rates 0, and the logits D gave, recomputed."""
    torch.manual_seed(0)
    settings = gan.settings("smoke", width=4, latent_size=8, saturating=saturating)
    state = gan.RECIPE.start(settings, "cpu")
    net = state.modules["gan"]
    if reject:  # D calls everything fake: D(G(z)) ~ 5e-5
        with torch.no_grad():
            logit = [m for m in net.discriminator.head.modules() if isinstance(m, nn.Linear)][-1]
            logit.bias.fill_(-10.0)
    for opt in state.optimizers.values():
        opt.param_groups[0]["lr"] = 0.0
    real = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    state.train(True)
    torch.manual_seed(2)
    out = gan.RECIPE.step(settings)(state, (real, None))
    torch.manual_seed(2)
    with torch.no_grad():
        fake = net.generator(net.noise(16))
        real_logits, fake_logits = net.discriminator(real), net.discriminator(fake)
    return out, real_logits, fake_logits, state


@pytest.mark.parametrize("saturating", [False, True])
def test_the_step_writes_out_the_cross_entropies_of_the_game(saturating):
    out, real_logits, fake_logits, _ = _frozen_step(saturating)
    bce = F.binary_cross_entropy_with_logits
    expected_d = bce(real_logits, torch.ones(16)) + bce(fake_logits, torch.zeros(16))
    assert torch.allclose(out["d_loss"], expected_d, atol=1e-6)
    d_fake = torch.sigmoid(fake_logits)
    expected_g = torch.log1p(-d_fake).mean() if saturating else -torch.log(d_fake).mean()
    assert torch.allclose(out["g_loss"], expected_g, atol=1e-5)
    assert torch.allclose(out["d_fake"], d_fake.mean(), atol=1e-6)


def test_the_saturating_loss_gives_the_generator_no_gradient_when_its_fakes_are_rejected():
    norms = {}
    for saturating in (False, True):
        _, _, fake_logits, state = _frozen_step(saturating, reject=True)
        assert torch.sigmoid(fake_logits).max() < 1e-3
        norms[saturating] = sum(p.grad.norm() ** 2 for p in
                                state.modules["gan"].generator.parameters()) ** 0.5
    assert norms[True] < 1e-3 * norms[False] and norms[False] > 0


def test_gan_step_improves_the_discriminator_on_a_fixed_batch():
    torch.manual_seed(0)
    real = data.load_splits("mnist", device="cpu").train.images[:64]
    state = gan.RECIPE.start(gan.settings("smoke", width=8, latent_size=8), "cpu")
    state.optimizers["generator"].param_groups[0]["lr"] = 0.0  # a fixed generator
    first = gan.gan_step(state, (real, None))
    for _ in range(15):
        last = gan.gan_step(state, (real, None))
    assert last["d_loss"] < first["d_loss"]
    assert last["d_real"] > first["d_real"] and last["d_fake"] < first["d_fake"]


def test_a_discriminator_with_a_dense_layer_keeps_its_shapes():
    net = gan.DCGANDiscriminator(width=4, dense=10)
    images = torch.rand(5, 1, 28, 28)
    assert net.features(images).shape == (5, 8 * 7 * 7) and net(images).shape == (5,)
    assert net.head[0].out_features == 10
    pair = gan.network(gan.settings("smoke", width=4, latent_size=8, dense=6))
    assert pair.discriminator.head[0].out_features == 6


@pytest.fixture(scope="module")
def tiny_gan(tmp_path_factory):
    splits = data.load_splits("mnist", device="cpu")
    settings = gan.settings("smoke", width=8, latent_size=16, train_size=1024, epochs=2)
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
    assert all(0 < e["val_d_real"] < 1 for e in h.epochs)


def test_a_finished_gan_reloads_with_its_snapshots_and_samples_reproducibly(tiny_gan):
    trained, _ = tiny_gan
    again = gan.load(trained.folder, device="cpu")
    assert [s for s, _ in again.history.snapshots] == [s for s, _ in trained.history.snapshots]
    assert torch.equal(again.history.snapshots[-1][1], trained.history.snapshots[-1][1])
    a = again.model.sample(4, torch.Generator().manual_seed(3))
    b = trained.model.sample(4, torch.Generator().manual_seed(3))
    assert torch.allclose(a, b)


def test_snapshots_survive_an_interrupted_run(tmp_path):
    """Stopped after one epoch and resumed, a run ends with the snapshots of an uninterrupted
    one (and the same weights)."""
    images = data.load_splits("mnist", device="cpu").train.subset(256)
    settings = gan.settings("smoke", width=4, latent_size=8)

    def run(folder, epochs):
        state = gan.RECIPE.start(settings, "cpu")
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


def test_the_weight_average_follows_the_generator_and_gets_its_own_batch_statistics():
    torch.manual_seed(0)
    net = gan.GAN(latent_size=8, width=4, refine=True, keep_average=True)
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
    first = net.average.net[1]  # batch norm of the linear map's outputs
    z = net.noise(1000, torch.Generator().manual_seed(gan.AVERAGE_SEED))
    with torch.no_grad():
        h = net.average.net[0](z)
    assert torch.allclose(first.running_mean, h.mean(0), atol=1e-5)
    assert not net.average.training and first.momentum == 0.1
    assert torch.equal(net.sample(3, torch.Generator().manual_seed(1)),
                       net.average(net.noise(3, torch.Generator().manual_seed(1))))


def test_fit_refreshes_the_averages_statistics_after_every_epoch_without_validation():
    """The refresh belongs to the network (end_of_epoch), so a plain fit, with no validation,
    leaves the average with statistics of its own weights, not stale ones."""
    images = data.load_splits("mnist", device="cpu").train.subset(128)
    state = gan.RECIPE.start(gan.settings("smoke", width=4, latent_size=8,
                                          average_decay=0.5), "cpu")
    net = state.modules["gan"]
    training.fit(state, gan.RECIPE.step(gan.settings("smoke", average_decay=0.5)),
                 data.Batches(images, 64, seed=0), epochs=1, progress=False)
    refreshed = [b.clone() for b in net.average.buffers()]
    net.refresh_average()
    assert all(torch.equal(a, b) for a, b in zip(refreshed, net.average.buffers()))
    assert not torch.equal(net.average.net[1].running_mean, net.generator.net[1].running_mean)


def test_a_gan_with_both_ingredients_trains_and_resumes_exactly(tmp_path):
    splits = data.load_splits("mnist", device="cpu")
    settings = gan.settings("smoke", width=4, latent_size=8, train_size=256, epochs=2,
                            refine=True, average_decay=0.9)
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
    loaded = gan.load(tmp_path / "whole", device="cpu")
    assert torch.equal(loaded.model.sample(4, torch.Generator().manual_seed(0)),
                       whole.model.sample(4, torch.Generator().manual_seed(0)))
