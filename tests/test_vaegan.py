"""Chapter 4's module: the VAE-GAN's networks, the equilibrium rule, the gradient routing of
its step, training with its diagnostics, and the decoder's weight average."""

import math

import pytest
import torch
import torch.nn.functional as F

from genadv_utils import data, vaegan
from genadv_utils.losses import feature_reconstruction, gaussian_kl


def test_vaegan_shapes_and_ranges():
    model = vaegan.VAEGAN(latent_size=4, width=4, encoder_width=4, hidden=8).eval()
    x = torch.rand(3, 1, 28, 28)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, 4)
    for images in (model.reconstruct(x), model.sample(5)):
        assert images.shape[1:] == (1, 28, 28) and 0 <= images.min() and images.max() <= 1
    assert model.discriminator.features(x).shape == (3, 8 * 7 * 7)


@pytest.mark.parametrize("real, fake, expected", [
    (math.log(2), math.log(2), (True, True)),  # D at chance: both train
    (0.7, 0.6, (True, True)),     # inside the band: both train
    (0.2, 0.6, (False, True)),    # D too good on real images: D pauses
    (0.7, 1.2, (True, False)),    # D fooled by fakes: the decoder's GAN term pauses
    (0.1, 1.5, (True, True)),     # both would pause: both train
])
def test_equilibrium_rule(real, fake, expected):
    assert vaegan.equilibrium_rule(real, fake) == expected


@pytest.mark.parametrize("real, fake, expected", [
    (math.log(2), math.log(2), True),  # at chance: the band's centre
    (0.4, 1.0, True),                  # both inside (0.34 to 1.04)
    (0.3, 0.7, False),                 # real cost below the band
    (0.7, 1.1, False),                 # fake cost above it
])
def test_in_band_asks_both_costs_to_lie_inside(real, fake, expected):
    assert vaegan.in_band(real, fake) is expected


def test_the_band_is_centred_where_a_discriminator_at_chance_lies():
    assert vaegan.VAEGANSettings.equilibrium == pytest.approx(math.log(2))
    assert vaegan.band(0.7, 0.2) == pytest.approx((0.5, 0.9))
    assert vaegan.in_band(0.55, 0.85, 0.7, 0.2) and not vaegan.in_band(0.45, 0.85, 0.7, 0.2)
    assert vaegan.equilibrium_rule(0.45, 0.95, 0.7, 0.2) == (True, True)  # both out: both train
    assert vaegan.equilibrium_rule(math.log(3), math.log(1.5)) == (True, False)


@pytest.mark.parametrize("dense, judge_reconstructions", [(0, True), (8, True), (8, False)])
def test_a_discriminator_answering_one_half_costs_log_2_on_each_side_and_pauses_no_one(
        dense, judge_reconstructions):
    """D's last layer zeroed: every logit is 0, D(x) = 1/2 for real, reconstructed and
    sampled images alike, which is D's optimum when generated images are distributed as
    real ones. Each cost is then log 2, the loss real + mean fake is 2 log 2, and both
    players train."""
    real = data.load_splits("mnist", device="cpu").train.images[:16]
    settings = vaegan.settings("smoke", latent_size=4, width=4, encoder_width=4, hidden=8,
                               dense=dense, judge_reconstructions=judge_reconstructions)
    state = vaegan.RECIPE.start(settings, "cpu")
    head = state.modules["vaegan"].discriminator.head
    last = head if dense == 0 else head[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
    out = vaegan.RECIPE.step(settings)(state, (real, None))
    assert out["d_real_cost"].item() == pytest.approx(math.log(2), abs=1e-6)
    assert out["d_fake_cost"].item() == pytest.approx(math.log(2), abs=1e-6)
    assert out["skip_d"] == 0.0 and out["skip_g"] == 0.0 and out["in_band"] == 1.0


def _step_and_replay(settings, seed, **step):
    """One ``vaegan_step`` (rule off) on 16 digits, the weights left as they are, then the same
    codes and noise drawn again, for a test to recompute the step's gradients: the model (its
    ``.grad`` from the step), the digits, mu, logvar and the two fakes (reconstructions,
    samples)."""
    real = data.load_splits("mnist", device="cpu").train.images[:16]
    state = vaegan.RECIPE.start(settings, "cpu")
    for opt in state.optimizers.values():  # leave the weights as they are
        opt.step = lambda *a, **k: None
    model = state.modules["vaegan"]
    torch.manual_seed(seed)
    vaegan.vaegan_step(state, (real, None), balance=False, **step)
    torch.manual_seed(seed)  # the same codes and noise again
    mu, logvar = model.encode(real)
    fakes = [model.decode(model.reparameterise(mu, logvar)), model.decode(model.noise(len(real)))]
    return model, real, mu, logvar, fakes


@pytest.mark.parametrize("judge_reconstructions", [True, False])
def test_the_discriminator_weighs_real_against_the_mean_of_the_fakes_it_judges(
        judge_reconstructions):
    """D's gradient in the step is that of real_cost + the mean of its costs on the fakes it
    judges (reconstructions and samples, or samples only), recomputed here from the same
    images: one real batch against one generated batch. With gamma = 0 the decoder's gradient
    is its GAN term's alone, -log D of those same fakes."""
    settings = vaegan.settings("smoke", latent_size=4, width=4, encoder_width=4, hidden=8)
    model, real, _, _, fakes = _step_and_replay(settings, 3, gamma=0.0,
                                                judge_reconstructions=judge_reconstructions)
    judged = fakes if judge_reconstructions else fakes[1:]
    dis = model.discriminator
    real_cost = F.softplus(-dis(real)).mean()
    costs = [F.softplus(dis(x.detach())).mean() for x in fakes]
    params = list(dis.parameters())
    ours = torch.autograd.grad(real_cost + sum(costs[-len(judged):]) / len(judged), params,
                               retain_graph=True)
    other = torch.autograd.grad(real_cost + (costs[1] if judge_reconstructions
                                             else 0.5 * (costs[0] + costs[1])), params)
    assert all(torch.allclose(p.grad, g, atol=1e-6) for p, g in zip(params, ours))
    assert not all(torch.allclose(p.grad, g, atol=1e-6) for p, g in zip(params, other))
    decoder = list(model.decoder.parameters())
    fool = torch.autograd.grad(sum(F.softplus(-dis(x)).mean() for x in judged), decoder)
    assert all(torch.allclose(p.grad, g, atol=1e-6) for p, g in zip(decoder, fool))


@pytest.mark.parametrize("judge_reconstructions", [True, False])
def test_the_encoder_and_the_decoder_each_get_the_gradient_of_their_own_objective(
        judge_reconstructions):
    """The routing, for the two players that share the feature reconstruction: each gets its own
    objective's gradient, recomputed here from the same codes and noise: kl_weight * KL +
    L_llike for the encoder, gamma * L_llike + the GAN term for the decoder (and gamma counts)."""
    settings = vaegan.settings("smoke", latent_size=4, width=4, encoder_width=4, hidden=8,
                               refine=True, dense=8)
    gamma, weight = 0.3, 0.05
    model, real, mu, logvar, (reconstruction, sampled) = _step_and_replay(
        settings, 4, gamma=gamma, kl_weight=weight, judge_reconstructions=judge_reconstructions)
    dis = model.discriminator
    feature_rec = feature_reconstruction(dis.features(real), dis.features(reconstruction)).mean()
    kl = gaussian_kl(mu, logvar).sum(1).mean()
    judged = [reconstruction, sampled] if judge_reconstructions else [sampled]
    fool = sum(F.softplus(-dis(x)).mean() for x in judged)
    for name, objective in (("encoder", weight * kl + feature_rec),
                            ("decoder", gamma * feature_rec + fool)):
        params = list(getattr(model, name).parameters())
        expected = torch.autograd.grad(objective, params, retain_graph=True)
        assert all(_close(p.grad, g) for p, g in zip(params, expected))
    decoder = list(model.decoder.parameters())
    unweighed = torch.autograd.grad(feature_rec + fool, decoder)  # gamma left out
    assert not all(_close(p.grad, g) for p, g in zip(decoder, unweighed))


def _close(a, b, rtol=1e-4):
    """Equal up to float rounding, relative to the tensor's largest entry."""
    return (a - b).abs().max().item() <= rtol * b.abs().max().item()


def test_pixel_similarity_trains_the_same_networks_as_a_vae_and_leaves_d_alone():
    real = data.load_splits("mnist", device="cpu").train.images[:64]
    settings = vaegan.settings("smoke", latent_size=4, width=4, encoder_width=4, hidden=8,
                               similarity="pixels")
    torch.manual_seed(0)
    state = vaegan.RECIPE.start(settings, "cpu")
    step = vaegan.RECIPE.step(settings)
    dis = _frozen_copy(state.modules["vaegan"].discriminator)
    losses = [step(state, (real, None)) for _ in range(20)]
    first, last = (l["kl"].item() + l["pixel_nll"].item() for l in (losses[0], losses[-1]))
    assert last < first
    after = state.modules["vaegan"].discriminator.state_dict()
    assert all(torch.equal(after[k], v) for k, v in dis.items())
    with pytest.raises(ValueError, match="similarity"):
        vaegan.settings("smoke", similarity="edges")


def _frozen_copy(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_step_routes_gradients_as_in_the_paper(monkeypatch):
    """With the rule forcing 'discriminator pauses', its weights stay put while the encoder
    and decoder move; with gamma = 0 and the GAN term paused, the decoder still learns from
    nothing, so it must stay put too."""
    real = data.load_splits("mnist", device="cpu").train.images[:32]
    settings = vaegan.settings("smoke", latent_size=4, width=4, encoder_width=4,
                                       hidden=8)
    state = vaegan.RECIPE.start(settings, "cpu")
    model = state.modules["vaegan"]
    before = {n: _frozen_copy(getattr(model, n))
              for n in ("encoder", "decoder", "discriminator")}
    monkeypatch.setattr(vaegan, "equilibrium_rule", lambda *a: (False, False))
    out = vaegan.vaegan_step(state, (real, None), gamma=0.0)
    assert out["skip_d"] == 1.0 and out["skip_g"] == 1.0

    def moved(name):
        after = getattr(model, name).state_dict()
        return any(not torch.equal(after[k], v) for k, v in before[name].items()
                   if v.dtype.is_floating_point and "running" not in k)

    assert moved("encoder") and not moved("decoder") and not moved("discriminator")


@pytest.fixture(scope="module")
def tiny_vaegan(tmp_path_factory):
    settings = vaegan.settings("smoke", latent_size=8, width=8, encoder_width=8,
                                       hidden=32, train_size=512, epochs=2)
    folder = tmp_path_factory.mktemp("vaegan") / "run"
    return vaegan.train(settings, run_dir=folder, progress=False)


def test_training_records_the_diagnostics(tiny_vaegan):
    h = tiny_vaegan.history
    assert {"kl", "feature_rec", "acc_real", "acc_rec", "acc_sampled", "skip_d",
            "skip_g", "in_band"} <= set(h.steps[0])
    assert all(0 <= s["skip_d"] <= 1 and s["in_band"] in (0.0, 1.0) for s in h.steps)
    assert all(math.isfinite(m) and m > 0 for m in h.series("val_rec_mse"))
    assert len(h.series("val_rec_mse")) == 2
    assert len(h.snapshots) == 1 + 4 + 2


def test_the_feature_reconstruction_teaches_the_decoder_to_rebuild_a_fixed_batch():
    """30 steps on one batch of 64 digits, without the weight average (whose slow copy would
    hide 30 steps): the reconstructions' pixel MSE falls by far more than any machine's
    rounding (here from 0.23 to 0.12)."""
    real = data.load_splits("mnist", device="cpu").train.images[:64]
    settings = vaegan.settings("smoke", latent_size=8, width=8, encoder_width=8, hidden=32,
                               average_decay=0.0)
    state = vaegan.RECIPE.start(settings, "cpu")
    model = state.modules["vaegan"]

    def mse() -> float:
        model.eval()
        error = F.mse_loss(model.reconstruct(real), real).item()
        model.train()
        return error

    before = mse()
    for _ in range(30):
        vaegan.vaegan_step(state, (real, None), gamma=1.0, balance=False,
                           kl_weight=settings.kl_weight, judge_reconstructions=False)
    assert mse() < 0.75 * before


def test_the_kl_weight_scales_only_the_encoders_kl_gradient():
    """kl_weight = 0 leaves the encoder only the feature reconstruction; its gradient then
    differs from the kl_weight = 1 step's by exactly the KL's gradient, and the decoder's and
    the discriminator's gradients do not change."""
    real = data.load_splits("mnist", device="cpu").train.images[:16]
    settings = vaegan.settings("smoke", latent_size=4, width=4, encoder_width=4, hidden=8,
                               refine=True, average_decay=0.9)
    grads = {}
    for weight in (0.0, 1.0):
        state = vaegan.RECIPE.start(settings, "cpu")
        for opt in state.optimizers.values():  # leave the weights as they are
            opt.step = lambda *a, **k: None
        torch.manual_seed(1)
        vaegan.vaegan_step(state, (real, None), gamma=0.01, balance=False, kl_weight=weight)
        model = state.modules["vaegan"]
        grads[weight] = {n: [p.grad.clone() for p in getattr(model, n).parameters()]
                         for n in ("encoder", "decoder", "discriminator")}
    for name in ("decoder", "discriminator"):
        for a, b in zip(grads[0.0][name], grads[1.0][name]):
            assert torch.allclose(a, b, atol=1e-6)
    assert any(not torch.allclose(a, b) for a, b in zip(grads[0.0]["encoder"],
                                                          grads[1.0]["encoder"]))
    with pytest.raises(ValueError, match="kl_weight"):
        vaegan.settings("smoke", kl_weight=-1.0)


def test_the_decoders_average_draws_the_samples_and_the_reconstructions():
    model = vaegan.VAEGAN(latent_size=4, width=4, encoder_width=4, hidden=8, refine=True,
                          keep_average=True).eval()
    assert model.generator is model.decoder
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.add_(0.5)
    x = torch.rand(3, 1, 28, 28)
    z = model.encode(x)[0]
    assert torch.equal(model.reconstruct(x), model.average(z))
    assert not torch.equal(model.reconstruct(x), model.decode(z))


def _rates_after_an_epoch(settings):
    state = vaegan.RECIPE.start(settings, "cpu")
    for name, schedule in state.schedulers.items():  # as the loop does at an epoch's end
        state.optimizers[name].step()  # (no gradients: the weights stay)
        schedule.step()
    return {name: o.param_groups[0]["lr"] for name, o in state.optimizers.items()}


def test_only_the_decayed_networks_rates_shrink_after_each_epoch():
    settings = vaegan.settings("smoke", latent_size=4, width=4, encoder_width=4, hidden=8,
                               lr_decay=0.5, decayed="decoder")
    assert _rates_after_an_epoch(settings) == {
        "encoder": settings.lr_encoder, "decoder": 0.5 * settings.lr_decoder,
        "discriminator": settings.lr_discriminator}
    default = vaegan.settings("smoke")
    assert _rates_after_an_epoch(default) == {  # the default: the decoder's rate kept
        "encoder": default.lr_decay * default.lr_encoder, "decoder": default.lr_decoder,
        "discriminator": default.lr_decay * default.lr_discriminator}
    first = vaegan.settings("smoke", **vaegan.FIRST_RECIPE)
    assert _rates_after_an_epoch(first) == {  # the first recipe: every rate kept
        "encoder": first.lr_encoder, "decoder": first.lr_decoder,
        "discriminator": first.lr_discriminator}
    with pytest.raises(ValueError, match="decayed"):
        vaegan.settings("smoke", decayed="generator")
    with pytest.raises(ValueError, match="lr_decay"):
        vaegan.settings("smoke", lr_decay=1.5)
