"""Chapter 4's module: the VAE-GAN's networks, the equilibrium rule, the gradient routing of
its step, training with its diagnostics, and the decoder's weight average."""

import pytest
import torch

from genadv_utils import data, vaegan


def test_vaegan_shapes_and_ranges():
    model = vaegan.VAEGAN(latent_size=4, width=4, encoder_width=4, hidden=8).eval()
    x = torch.rand(3, 1, 28, 28)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, 4)
    for images in (model.reconstruct(x), model.sample(5)):
        assert images.shape[1:] == (1, 28, 28) and 0 <= images.min() and images.max() <= 1
    assert model.discriminator.features(x).shape == (3, 8 * 7 * 7)


@pytest.mark.parametrize("real, fake, expected", [
    (0.7, 0.6, (True, True)),     # near equilibrium: both train
    (0.2, 0.6, (False, True)),    # D too good on real images: D pauses
    (0.7, 1.2, (True, False)),    # D fooled by fakes: the decoder's GAN term pauses
    (0.1, 1.5, (True, True)),     # both would pause: both train
])
def test_equilibrium_rule(real, fake, expected):
    assert vaegan.equilibrium_rule(real, fake, 0.68, 0.35) == expected


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


def test_training_records_the_diagnostics_and_improves_reconstructions(tiny_vaegan):
    h = tiny_vaegan.history
    assert {"kl", "feature_rec", "acc_real", "acc_rec", "acc_sampled", "skip_d",
            "skip_g"} <= set(h.steps[0])
    assert all(0 <= s["skip_d"] <= 1 for s in h.steps)
    first, last = h.series("val_rec_mse")
    assert last < first
    assert len(h.snapshots) == 1 + 4 + 2


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
