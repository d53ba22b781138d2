r"""Loss terms, per image and in nats: the variational autoencoder's, and the VAE-GAN's.

With a Gaussian encoder $q_\phi(z \mid x) = \mathcal{N}(\mu, \operatorname{diag}\sigma^2)$, a
standard normal prior $p(z) = \mathcal{N}(0, I)$ and a Bernoulli decoder
$p_\theta(x \mid z) = \prod_j \operatorname{Bern}(x_j; \pi_j)$ with
$\pi = \operatorname{sigmoid}(\ell)$ for logits $\ell = g_\theta(z)$, the negative evidence lower
bound of one image is

$$-\mathrm{ELBO}(x) = \underbrace{-\mathbb{E}_{q}\log p_\theta(x \mid z)}_{\text{reconstruction}}
 + \underbrace{\mathrm{KL}\big(q_\phi(z \mid x)\,\Vert\,p(z)\big)}_{\text{regulariser}}
 \;\ge\; -\log p_\theta(x).$$

Pixels are grey levels in $[0, 1]$ used directly as Bernoulli targets (as the PyTorch example
VAE does), so the reconstruction term is a binary cross-entropy summed over the 784 pixels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def bernoulli_nll(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    r"""$-\log p_\theta(x \mid z)$ per image, in nats: BCE with logits summed over pixels."""
    if logits.shape != images.shape:
        raise ValueError(f"shapes differ: {tuple(logits.shape)} and {tuple(images.shape)}")
    bce = F.binary_cross_entropy_with_logits(logits, images, reduction="none")
    return bce.flatten(1).sum(1)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""$\mathrm{KL}(\mathcal{N}(\mu, \sigma^2) \Vert \mathcal{N}(0, 1))$ per latent dimension,
    shape $[N, d]$: $\tfrac12(\mu^2 + \sigma^2 - 1 - \log\sigma^2)$. Sum over $d$ for the total."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""$\log \mathcal{N}(z; \mu, \operatorname{diag} e^{\mathrm{logvar}})$ summed over the last
    dimension (broadcasting over leading ones)."""
    return -0.5 * (((z - mu) ** 2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(-1)


def feature_reconstruction(real_features: torch.Tensor,
                           fake_features: torch.Tensor) -> torch.Tensor:
    r"""The VAE-GAN's reconstruction loss per image (Larsen et al. 2016): the negative log
    likelihood of the input's discriminator features under a unit Gaussian centred on the
    reconstruction's, $-\log \mathcal{N}(\operatorname{Dis}_l(x);
    \operatorname{Dis}_l(\tilde{x}), I) = \tfrac12 \lVert \operatorname{Dis}_l(x) -
    \operatorname{Dis}_l(\tilde{x}) \rVert^2 + \text{const}$, the constant dropped."""
    if real_features.shape != fake_features.shape:
        raise ValueError(f"shapes differ: {tuple(real_features.shape)} and "
                         f"{tuple(fake_features.shape)}")
    return 0.5 * (real_features - fake_features).pow(2).flatten(1).sum(1)


@torch.no_grad()
def negative_elbo(model: torch.nn.Module, images: torch.Tensor,
                  batch_size: int = 1000) -> dict[str, float]:
    r"""Mean negative ELBO of a VAE over ``images`` in nats per image, split into the
    reconstruction term and the KL term (one sample of $z$ per image): ``model(x)`` gives the
    pixel logits of a reconstruction and $(\mu, \log\sigma^2)$, as chapter 2's ``ConvVAE``."""
    rec, kl = [], []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        logits, mu, logvar = model(x)
        rec.append(bernoulli_nll(logits, x))
        kl.append(gaussian_kl(mu, logvar).sum(1))
    r, k = torch.cat(rec).mean().item(), torch.cat(kl).mean().item()
    return {"neg_elbo": r + k, "rec": r, "kl": k}
