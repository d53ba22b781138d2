"""Chapter 3's quality target: the package's DCGAN against the TensorFlow DCGAN tutorial's MNIST
set-up, trained for the same wall-clock time.

Trains the default GAN of ``genadv_utils.gan`` (or reloads its cached run) and notes its
training time T. Then it trains a re-implementation of the GAN of the TensorFlow tutorial
(tensorflow.org/tutorials/generative/dcgan) for the same time T on this machine:

- generator: dense 100 → 7·7·256 (no bias), batch norm, LeakyReLU; transposed 5×5
  convolutions to 128 (stride 1), 64 (stride 2) and 1 channel (stride 2, tanh), batch norm and
  LeakyReLU between; Keras defaults (LeakyReLU slope 0.3, batch-norm momentum 0.99, Glorot
  uniform weights);
- discriminator: 5×5 stride-2 convolutions to 64 and 128 channels, each with LeakyReLU and
  dropout 0.3, then dense → 1 logit;
- cross-entropy losses (non-saturating generator loss), both networks updated from the same
  forward pass, Adam 1e-4 (β = 0.9, 0.999) for each, batch 256, noise size 100, pixels in
  [-1, 1].

Both draw 10k samples, scored against the 10k test images in the evaluation classifier's
features: the classifier-feature Fréchet distance (lower is better) and coverage (higher is
better). Target: a clearly lower distance than the baseline.

    GENADV_DATA=../shared/data python benchmarks/gan_quality.py
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from torch import nn

from genadv_utils import data, evaluation, gan, losses, metrics, runtime

NOISE_SIZE = 100


def _keras_init(module: nn.Module) -> None:
    """Keras defaults: Glorot-uniform weights, zero biases."""
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def _bn(channels: int, two_d: bool = True) -> nn.Module:
    kind = nn.BatchNorm2d if two_d else nn.BatchNorm1d
    return kind(channels, eps=1e-3, momentum=0.01)  # Keras: momentum 0.99, epsilon 1e-3


class TutorialGenerator(nn.Module):
    """The TensorFlow tutorial's generator; returns images in [0, 1] (its tanh, rescaled)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(NOISE_SIZE, 7 * 7 * 256, bias=False), _bn(7 * 7 * 256, False),
            nn.LeakyReLU(0.3), nn.Unflatten(1, (256, 7, 7)),
            nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False), _bn(128), nn.LeakyReLU(0.3),
            nn.ConvTranspose2d(128, 64, 5, 2, 2, output_padding=1, bias=False), _bn(64),
            nn.LeakyReLU(0.3),
            nn.ConvTranspose2d(64, 1, 5, 2, 2, output_padding=1, bias=False), nn.Tanh(),
        )
        self.apply(_keras_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.net(z) + 1.0)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self(torch.randn(n, NOISE_SIZE, generator=generator))


class TutorialDiscriminator(nn.Module):
    """The TensorFlow tutorial's discriminator, on images in [0, 1] rescaled to [-1, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 5, 2, 2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
            nn.Conv2d(64, 128, 5, 2, 2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
            nn.Flatten(), nn.Linear(128 * 7 * 7, 1),
        )
        self.apply(_keras_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(2.0 * x - 1.0).squeeze(1)


def train_tutorial_for(seconds: float, splits: data.Splits, seed: int
                       ) -> tuple[TutorialGenerator, float]:
    """Train the tutorial's GAN as its ``train_step`` does, until ``seconds`` have passed;
    returns the generator and the epochs done."""
    runtime.seed_everything(seed)
    g, d = TutorialGenerator(), TutorialDiscriminator()
    g_opt, d_opt = torch.optim.Adam(g.parameters(), 1e-4), torch.optim.Adam(d.parameters(), 1e-4)
    start, steps, epoch = time.perf_counter(), 0, 0
    while time.perf_counter() - start < seconds:
        epoch += 1
        for real, _ in data.Batches(splits.train, 256, seed=seed + epoch):
            fake = g(torch.randn(len(real), NOISE_SIZE))
            real_logits, fake_logits = d(real), d(fake)
            g_loss = losses.generator_loss(fake_logits)
            d_loss = losses.discriminator_loss(real_logits, fake_logits)
            g_grads = torch.autograd.grad(g_loss, list(g.parameters()), retain_graph=True)
            d_grads = torch.autograd.grad(d_loss, list(d.parameters()))
            for params, grads in ((g.parameters(), g_grads), (d.parameters(), d_grads)):
                for p, grad in zip(params, grads):
                    p.grad = grad
            g_opt.step()
            d_opt.step()
            steps += 1
            if time.perf_counter() - start >= seconds:
                break
    per_epoch = math.ceil(len(splits.train) / 256)
    return g.eval(), steps / per_epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    args = parser.parse_args()

    splits = data.load_splits("mnist")
    classifier = evaluation.reference_classifier(splits, progress=False)
    settings = gan.settings("default")
    ours = gan.train(settings, splits, progress=False)
    budget = ours.history.seconds
    print(f"package DCGAN: {settings}\n  trained for {budget:.0f} s ({settings.epochs} epochs)")
    start = time.perf_counter()
    baseline, epochs = train_tutorial_for(budget, splits, settings.seed)
    print(f"TensorFlow-tutorial DCGAN: trained for {time.perf_counter() - start:.0f} s "
          f"({epochs:.2f} epochs)")

    test = splits.test.images
    print(f"\n{args.samples} samples against {len(test)} test images, evaluation-classifier "
          f"features ({classifier.folder.name}):")
    results = {}
    for name, model in (("package DCGAN", ours.model.eval()), ("tutorial DCGAN", baseline)):
        generator = torch.Generator().manual_seed(evaluation.EVALUATION_SEED)
        samples = metrics.sample_in_batches(model, args.samples, generator)
        results[name] = metrics.sample_quality(classifier.model, samples, test)
        r = results[name]
        print(f"  {name:15}: Fréchet distance {r['frechet_distance']:7.2f} | coverage "
              f"{r['coverage']:.3f} | precision {r['precision']:.3f} | recall "
              f"{r['recall']:.3f} | classifier score {r['classifier_score']:.2f}")
    ours_fd, base_fd = (results[k]["frechet_distance"] for k in results)
    verdict = "met" if ours_fd < 0.5 * base_fd else "NOT met"
    print(f"  target: distance clearly (at least 2x) lower than the baseline's: {verdict} "
          f"({ours_fd:.1f} vs {base_fd:.1f})")


if __name__ == "__main__":
    main()
