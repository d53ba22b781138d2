r"""Loss terms, per image and in nats: the variational autoencoder's, and the adversarial ones.

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


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The discriminator's loss, a binary cross-entropy with real images labelled 1 and fakes 0:
    $-\log D(x) - \log(1 - D(G(z)))$, averaged over each batch and summed. With logits $\ell$,
    $-\log \operatorname{sigmoid}(\ell) = \operatorname{softplus}(-\ell)$ (stable for any
    $\ell$)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, saturating: bool = False) -> torch.Tensor:
    r"""The generator's loss on the discriminator's logits for its fakes.

    Non-saturating (default, Goodfellow et al. 2014): $-\log D(G(z))$, large and steep when
    $D$ rejects the fakes. Saturating (the minimax game itself): $\log(1 - D(G(z)))$, whose
    gradient vanishes exactly then, early in training.
    """
    if saturating:
        return -F.softplus(fake_logits).mean()
    return F.softplus(-fake_logits).mean()


def hinge_discriminator_loss(real_logits: torch.Tensor,
                             fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The discriminator's hinge loss (Lim and Ye 2017; Miyato et al. 2018):
    $\max(0, 1 - \ell(x)) + \max(0, 1 + \ell(G(z)))$, averaged over each batch and summed. A
    real image scored above $+1$ or a fake below $-1$ costs nothing: the discriminator stops
    pushing on what it already gets right, instead of driving its logits to infinity."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The generator's loss that goes with the hinge discriminator: $-\ell(G(z))$, the
    discriminator's score of the fakes, raised (its gradient never vanishes)."""
    return -fake_logits.mean()


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
