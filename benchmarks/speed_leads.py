"""The speed leads that were measured and not adopted, side by side in one run
(channels-last, which the DAE, the VAE, the GAN and the VAE-GAN now use, is timed by
``throughput.py``).

For each default model (``genadv_utils.registry``) it times the recipe's own training step as
the package runs it ("today") against one variant at a time, alternating the two ``--rounds``
times and keeping each one's best, on MNIST batches of the recipe's batch size:

- ``compile``: every network, and each of its direct parts (the GAN's step calls its generator
  and discriminator, not the pair), through ``torch.compile`` in place (Inductor's C++ kernels;
  the first steps, which compile, are left out of the timing and reported apart; methods other
  than ``forward``, such as the discriminator's ``features``, stay eager);
- ``bf16``: the step under ``torch.autocast("cpu", dtype=torch.bfloat16)`` (changes the
  numbers, so it would also need its quality measured);
- ``flush-denormals``: ``torch.set_flush_denormal(True)`` (on fresh weights; denormals would
  appear late in training, if at all, so README also reports it from a finished GAN's weights).
- ``one-pass`` (the VAE-GAN only): the encoder's and the decoder's gradients from one backward
  pass instead of two (:func:`one_pass_vaegan_step`); the same update up to rounding, which the
  line below the table measures.

It prints one table of images per second and ratios (above 1: the variant is faster).

    GENADV_DATA=../shared/data python benchmarks/speed_leads.py
    GENADV_DATA=../shared/data python benchmarks/speed_leads.py --models gan --leads bf16
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from functools import partial

import torch
import torch.nn.functional as F

from genadv_utils import data, registry, vaegan
from genadv_utils.display import machine
from genadv_utils.gan import lazy_r1, steps_taken
from genadv_utils.losses import feature_reconstruction, gaussian_kl
from genadv_utils.training import TrainState

LEADS = ("compile", "bf16", "flush-denormals", "one-pass")


def one_pass_vaegan_step(state: TrainState, batch: tuple[torch.Tensor, torch.Tensor], *,
                         gamma: float, balance: bool, equilibrium: float, margin: float,
                         average_decay: float, kl_weight: float, judge_reconstructions: bool,
                         r1_gamma: float, r1_every: int) -> dict[str, torch.Tensor]:
    """``vaegan.vaegan_step`` with two gradient passes instead of three. The decoder's loss
    divided by gamma, ``feature_rec + fool / gamma``, shares its feature term with the encoder's,
    and the GAN term does not reach the encoder when D judges samples only; so one gradient of
    ``kl_weight * KL + feature_rec + fool / gamma`` gives the encoder's gradient, and the
    decoder's times gamma. The forward pass is ``vaegan_step``'s, less the reconstructions'
    logits, which only its statistics read."""
    if judge_reconstructions or gamma <= 0:
        raise ValueError("one-pass needs D to judge samples only and gamma > 0")
    real, _ = batch  # (N, 1, 28, 28)
    model = state.modules["vaegan"]
    dis = model.discriminator
    mu, logvar = model.encode(real)
    reconstruction = model.decode(model.reparameterise(mu, logvar))
    sampled = model.decode(model.noise(len(real)))
    real_features, rec_features = dis.features(real), dis.features(reconstruction)
    real_logits = dis.head(real_features).squeeze(1)
    sampled_logits = dis(sampled)
    kl = gaussian_kl(mu, logvar).sum(1).mean()
    feature_rec = feature_reconstruction(real_features, rec_features).mean()
    real_cost = F.softplus(-real_logits).mean()
    fake_cost = F.softplus(sampled_logits).mean()
    costs = real_cost.item(), fake_cost.item()
    train_d, train_g = (vaegan.equilibrium_rule(*costs, equilibrium, margin) if balance
                        else (True, True))
    fool = F.softplus(-sampled_logits).mean()
    encoder, decoder = list(model.encoder.parameters()), list(model.decoder.parameters())
    both = kl_weight * kl + feature_rec + (fool / gamma if train_g else 0.0)
    grads = torch.autograd.grad(both, encoder + decoder, retain_graph=train_d)
    for i, (p, g) in enumerate(zip(encoder + decoder, grads)):
        p.grad = g if i < len(encoder) else gamma * g  # the decoder's loss: gamma times both's
    updated = ["encoder", "decoder"]
    if train_d:
        params = list(dis.parameters())
        for p, g in zip(params, torch.autograd.grad(real_cost + fake_cost, params)):
            p.grad = g
        updated.append("discriminator")
    for name in updated:
        state.optimizers[name].step()
    if average_decay:
        model.update_average(average_decay)
    if r1_gamma and steps_taken(state.optimizers["encoder"]) % r1_every == 0:
        lazy_r1(dis, state.optimizers["discriminator"], real, r1_gamma, r1_every)
    return {"kl": kl, "feature_rec": feature_rec}


def gradient_difference(splits: data.Splits) -> float:
    """The largest relative difference between ``vaegan_step``'s gradients and
    :func:`one_pass_vaegan_step`'s, per parameter tensor, from one fresh VAE-GAN on one batch."""
    recipe = registry.get("vaegan")
    settings = recipe.settings("default")
    batch = next(iter(data.Batches(splits.train, settings.batch_size, seed=0)))
    grads = []
    for step in (recipe.step(settings), partial(one_pass_vaegan_step,
                                                **recipe.step(settings).keywords)):
        state = recipe.start(settings, "cpu")
        for optimizer in state.optimizers.values():  # gradients only: nothing moves
            for group in optimizer.param_groups:
                group["lr"] = 0.0
        state.train(True)
        torch.manual_seed(1)  # the same prior codes in both
        step(state, batch)
        grads.append([p.grad for p in state.modules["vaegan"].parameters()
                      if p.grad is not None])
    return max(((a - b).norm() / a.norm()).item() for a, b in zip(*grads) if a.norm() > 0)


def prepared(name: str, lead: str | None, splits: data.Splits
             ) -> tuple[TrainState, Callable, Iterator, float]:
    """A fresh model of ``name`` with ``lead`` applied, its step, its batches, and the seconds
    its first three (warm-up, compiling) steps took."""
    recipe = registry.get(name)
    settings = recipe.settings("default")
    state = recipe.start(settings, "cpu")
    step = recipe.step(settings)
    batches: Iterator = iter(data.Batches(splits.train, settings.batch_size, seed=0))
    if lead == "compile":  # in place, the model and each part the steps call directly
        for module in state.modules.values():
            for part in (module, *module.children()):
                part.compile()
    elif lead == "one-pass":
        step = partial(one_pass_vaegan_step, **step.keywords)
    elif lead == "bf16":
        plain = step

        def step(s, b):  # noqa: F811 - the variant replaces the recipe's step
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return plain(s, b)
    state.train(True)
    start = time.perf_counter()
    for _ in range(3):
        step(state, next(batches))
    return state, step, batches, time.perf_counter() - start


@contextlib.contextmanager
def flushing(on: bool) -> Iterator[None]:
    """Denormal numbers flushed to zero inside the block (when ``on``), not after it."""
    torch.set_flush_denormal(on)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def seconds_per_step(state, step, batches, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step(state, next(batches))
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="dae,vae,gan,vaegan",
                        help="comma-separated recipe names")
    parser.add_argument("--leads", default=",".join(LEADS), help="comma-separated leads")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="today/variant alternations")
    args = parser.parse_args()
    splits = data.load_splits("mnist", device="cpu")
    print(f"{machine()}, torch {torch.__version__}\n")
    print("| model | lead | today images/s | variant images/s | ratio | variant warm-up |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in args.models.split(","):
        batch = registry.get(name).settings("default").batch_size
        for lead in args.leads.split(","):
            if lead not in LEADS:
                raise SystemExit(f"unknown lead {lead!r}; choose from {', '.join(LEADS)}")
            if lead == "one-pass" and name != "vaegan":
                continue  # a lead for the VAE-GAN's three-network step only
            today = prepared(name, None, splits)
            try:
                variant = prepared(name, None if lead == "flush-denormals" else lead, splits)
            except RuntimeError as err:  # e.g. the compiled VAE-GAN step
                print(f"| {name} | {lead} | – | fails: {str(err).splitlines()[0][:90]} | – | – |",
                      flush=True)
                continue
            best = {"today": float("inf"), "variant": float("inf")}
            for _ in range(args.rounds):
                for which, (state, step, batches, _) in (("today", today),
                                                         ("variant", variant)):
                    with flushing(which == "variant" and lead == "flush-denormals"):
                        best[which] = min(best[which],
                                          seconds_per_step(state, step, batches, args.steps))
            rate = {k: batch / v for k, v in best.items()}
            print(f"| {name} | {lead} | {rate['today']:.0f} | {rate['variant']:.0f} | "
                  f"{rate['variant'] / rate['today']:.2f} | {variant[3]:.1f} s |", flush=True)
    if "one-pass" in args.leads.split(",") and "vaegan" in args.models.split(","):
        print(f"\none-pass against vaegan_step, one step from the same fresh network: the "
              f"gradients differ by at most {gradient_difference(splits):.1e} (relative)")


if __name__ == "__main__":
    main()
