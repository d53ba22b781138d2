"""Chapter 2's quality target: the package's VAE against the PyTorch example VAE, same time.

Trains the default VAE of ``genadv_utils.vae`` (or reloads its cached run) and notes its
training time T; then trains the VAE of pytorch/examples (MLP 784-400-20, Adam 1e-3, batch 128,
summed BCE + KL on grey-level pixels) for the same wall-clock time T on this machine. Both are
scored on the 10k MNIST test images with the same metrics, in nats per image: the negative ELBO
(one sample of z per image) and an importance-weighted estimate of -log p(x) with K samples.
Target: the package's VAE at or below 100 nats.

    GENADV_DATA=../shared/data python benchmarks/vae_quality.py
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from genadv_utils import data, losses, metrics, runtime, vae

TARGET_NATS = 100.0


class ExampleVAE(nn.Module):
    """The VAE of pytorch/examples (vae/main.py): 784-400-(20, 20) encoder, 20-400-784 decoder."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21, self.fc22 = nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.fc1(x.view(-1, 784)))
        return self.fc21(h), self.fc22(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:  # logits, shaped like the images
        return self.fc4(F.relu(self.fc3(z))).view(-1, 1, 28, 28)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        return self.decode(z), mu, logvar


def train_example_for(seconds: float, splits: data.Splits, seed: int) -> tuple[ExampleVAE, int]:
    """Train the example VAE as its script does, stopping once ``seconds`` have passed."""
    runtime.seed_everything(seed)
    model = ExampleVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    start, epochs = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        epochs += 1
        for images, _ in data.Batches(splits.train, 128, seed=seed + epochs):
            logits, mu, logvar = model(images)
            loss = (losses.bernoulli_nll(logits, images).sum()
                    + losses.gaussian_kl(mu, logvar).sum())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if time.perf_counter() - start >= seconds:
                break
    return model.eval(), epochs


def score(model: nn.Module, images: torch.Tensor, samples: int) -> dict[str, float]:
    runtime.seed_everything(0)
    elbo = losses.negative_elbo(model, images)
    start = time.perf_counter()
    iw = metrics.importance_weighted_nll(model, images, samples=samples)
    return {**elbo, f"iw_nll_{samples}": iw, "iw_seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100, help="importance samples K")
    parser.add_argument("--test-images", type=int, default=10_000)
    args = parser.parse_args()

    splits = data.load_splits("mnist")
    test = splits.test.images[:args.test_images]
    settings = vae.settings("default")
    ours = vae.train(settings, splits, progress=False)
    budget = ours.history.seconds
    print(f"package VAE: {settings}\n  trained for {budget:.0f} s ({settings.epochs} epochs)")
    baseline, epochs = train_example_for(budget, splits, settings.seed)
    print(f"pytorch/examples VAE: trained for the same {budget:.0f} s ({epochs} epochs)")

    print(f"\non {len(test)} test images, nats per image (K = {args.samples}):")
    for name, model in (("package VAE", ours.model.eval()), ("example VAE", baseline)):
        s = score(model, test, args.samples)
        print(f"  {name:12}: negative ELBO {s['neg_elbo']:6.2f} (reconstruction {s['rec']:.2f}"
              f" + KL {s['kl']:.2f}) | IW -log p(x) {s[f'iw_nll_{args.samples}']:6.2f}"
              f" ({s['iw_seconds']:.0f} s)")
        if name == "package VAE":
            verdict = "met" if s["neg_elbo"] <= TARGET_NATS else "NOT met"
            print(f"  target: negative ELBO <= {TARGET_NATS:.0f} nats: {verdict}")


if __name__ == "__main__":
    main()
