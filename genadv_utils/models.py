r"""Networks for 28 × 28 grey images, shared by the chapters.

The convolutional encoder halves the resolution twice (28 → 14 → 7) and maps to a vector; the
decoder mirrors it. Chapter 1's denoising autoencoder is the two in a row.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGE_SHAPE = (1, 28, 28)


def _check_images(x: torch.Tensor) -> None:
    if x.ndim != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(f"expected images [N, 1, 28, 28], got shape {tuple(x.shape)}")


def standard_normal(model: nn.Module, n: int, size: int,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    r"""``n`` draws of $z \sim \mathcal{N}(0, I_{size})$ on ``model``'s device."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    device = next(model.parameters()).device
    return torch.randn(n, size, generator=generator, device=device)


def _dense(inputs: int, hidden: int, outputs: int) -> nn.Module:
    """A linear map, or two with ``hidden`` ReLU units between them when ``hidden`` > 0."""
    if hidden == 0:
        return nn.Linear(inputs, outputs)
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, outputs))


class ConvEncoder(nn.Module):
    r"""$e(x)$: image $[N, 1, 28, 28]$ → vector $[N, d]$.

    Two stride-2 convolutions with ReLU ($28 \to 14 \to 7$, ``width`` and ``2·width``
    channels), then a linear map of the $2w \cdot 7 \cdot 7$ features to $d$ = ``out_features``
    (with ``hidden`` > 0: a hidden layer of that many ReLU units in between).
    """

    def __init__(self, out_features: int, width: int = 32, hidden: int = 0) -> None:
        super().__init__()
        if out_features <= 0 or width <= 0 or hidden < 0:
            raise ValueError("out_features and width must be positive, hidden non-negative")
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.BatchNorm2d(2 * width),
            nn.ReLU(), nn.Flatten(),
        )
        self.head = _dense(2 * width * 7 * 7, hidden, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x)
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    r"""$g(z)$: vector $[N, d]$ → image logits $[N, 1, 28, 28]$.

    A linear map to $2w \times 7 \times 7$ features (with ``hidden`` > 0: through a hidden
    layer of that many ReLU units), then two stride-2 transposed convolutions
    ($7 \to 14 \to 28$) with ReLU between. Returns logits: apply a sigmoid for pixel values.
    """

    def __init__(self, in_features: int, width: int = 32, hidden: int = 0) -> None:
        super().__init__()
        if in_features <= 0 or width <= 0 or hidden < 0:
            raise ValueError("in_features and width must be positive, hidden non-negative")
        self.width = width
        self.head = nn.Sequential(_dense(in_features, hidden, 2 * width * 7 * 7),
                                  nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU())
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1), nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.head(z).view(-1, 2 * self.width, 7, 7))


class DenoisingAutoencoder(nn.Module):
    r"""A convolutional denoising autoencoder (Vincent et al. 2008).

    $\hat{x} = \sigma\big(g(e(\tilde{x}))\big)$: the encoder $e$ maps a corrupted image
    $\tilde{x}$ to a code $h = e(\tilde{x}) \in \mathbb{R}^{d}$ (the bottleneck), the decoder $g$
    maps it back to pixel logits, and the sigmoid $\sigma$ to values in $[0, 1]$. Training
    minimises $\lVert \hat{x} - x \rVert^2$ against the *clean* image $x$.
    """

    def __init__(self, code_size: int = 64, width: int = 32) -> None:
        super().__init__()
        self.code_size = code_size
        self.encoder = ConvEncoder(code_size, width)
        self.decoder = ConvDecoder(code_size, width)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The bottleneck code $h = e(x)$, shape $[N, d]$."""
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        r"""Images $\sigma(g(h))$ in $[0, 1]$ from codes."""
        return torch.sigmoid(self.decoder(code))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        r"""$\hat{x}$ in $[0, 1]$ for images $x$ (noisy or clean), without gradients: the same
        call as the other autoencoders' ``reconstruct``."""
        return self(x)


class ConvVAE(nn.Module):
    r"""A convolutional variational autoencoder (Kingma & Welling 2014).

    Encoder: $(\mu, \log\sigma^2) = e_\phi(x)$, the parameters of
    $q_\phi(z \mid x) = \mathcal{N}(\mu, \operatorname{diag}\sigma^2)$ over $z \in \mathbb{R}^d$.
    Reparameterisation: $z = \mu + \sigma \odot \varepsilon$ with
    $\varepsilon \sim \mathcal{N}(0, I)$, so gradients flow through $\mu$ and $\sigma$.
    Decoder: pixel logits $\ell = g_\theta(z)$ of $p_\theta(x \mid z) = \prod_j
    \operatorname{Bern}(x_j; \operatorname{sigmoid}(\ell_j))$. Prior: $p(z) = \mathcal{N}(0, I)$.
    Encoder and decoder are :class:`ConvEncoder` and :class:`ConvDecoder`, each with a hidden
    dense layer of ``hidden`` units.
    """

    def __init__(self, latent_size: int = 16, width: int = 16, hidden: int = 512) -> None:
        super().__init__()
        self.latent_size = latent_size
        self.encoder = ConvEncoder(2 * latent_size, width, hidden)
        self.decoder = ConvDecoder(latent_size, width, hidden)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""$(\mu, \log\sigma^2)$, each $[N, d]$."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    @staticmethod
    def reparameterise(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        r"""A sample $z = \mu + e^{\log\sigma^2 / 2} \odot \varepsilon$."""
        return mu + (0.5 * logvar).exp() * torch.randn_like(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits ``[N, 1, 28, 28]`` (``torch.sigmoid`` gives the Bernoulli means)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits of a reconstruction from one sample of $z$, and $(\\mu, \\log\\sigma^2)$."""
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterise(mu, logvar)), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""``n`` images from the model: $z \sim \mathcal{N}(0, I)$, decoded to the Bernoulli
        means $\operatorname{sigmoid}(g_\theta(z)) \in [0, 1]$ (the usual way to show them)."""
        z = standard_normal(self, n, self.latent_size, generator)
        return torch.sigmoid(self.decode(z))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        r"""The mean reconstruction $\operatorname{sigmoid}(g_\theta(\mu_\phi(x)))$ in $[0, 1]$."""
        return torch.sigmoid(self.decode(self.encode(x)[0]))


class Classifier(nn.Module):
    r"""The evaluation classifier: a small CNN that tells the 10 classes apart.

    Two blocks of 3×3 convolutions (32 then 64 channels) with ReLU and 2×2 max-pooling
    ($28 \to 14 \to 7$), then a linear layer to ``feature_size`` features
    $\varphi(x)$ (with ReLU and dropout) and one to the 10 class logits. The metrics compare
    sets of images through $\varphi$, the classifier's penultimate layer.
    """

    def __init__(self, classes: int = 10, feature_size: int = 128) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, feature_size), nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(feature_size, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        r"""The penultimate features $\varphi(x)$, shape ``[N, feature_size]``."""
        _check_images(x)
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``[N, classes]``."""
        return self.head(self.dropout(self.features(x)))


def dcgan_init(module: nn.Module) -> None:
    r"""The DCGAN initialisation (Radford et al. 2016): convolution and linear weights from
    $\mathcal{N}(0, 0.02^2)$, batch-norm scales from $\mathcal{N}(1, 0.02^2)$, biases zero.
    Use as ``net.apply(dcgan_init)``."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    r"""$G(z)$: noise $z \in \mathbb{R}^d$ → image $[N, 1, 28, 28]$ in $[0, 1]$ (DCGAN).

    A linear map to $2w \times 7 \times 7$ features, then two stride-2 transposed convolutions
    ($7 \to 14 \to 28$), with batch norm and ReLU after every layer but the last, whose output
    goes through $\tfrac12(\tanh + 1)$: the DCGAN's tanh, rescaled to the pixel range.
    """

    def __init__(self, latent_size: int = 64, width: int = 32) -> None:
        super().__init__()
        if latent_size <= 0 or width <= 0:
            raise ValueError("latent_size and width must be positive")
        self.latent_size = latent_size
        self.net = nn.Sequential(
            nn.Linear(latent_size, 2 * width * 7 * 7, bias=False),
            nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU(), nn.Unflatten(1, (2 * width, 7, 7)),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.net(z) + 1.0)


class DCGANDiscriminator(nn.Module):
    r"""$D(x)$: image $[N, 1, 28, 28]$ in $[0, 1]$ → one logit per image (DCGAN).

    Pixels are rescaled to $[-1, 1]$, then two stride-2 convolutions ($28 \to 14 \to 7$,
    ``width`` and ``2·width`` channels) with LeakyReLU(0.2), batch norm on the second, and a
    linear map of the features to the logit $\ell(x)$; $D(x) = \operatorname{sigmoid}(\ell(x))$
    is the probability that $x$ is real. ``features`` gives the last convolution's
    activations (the VAE-GAN compares images through them).
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError("width must be positive")
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2), nn.Flatten(),
        )
        self.head = nn.Linear(2 * width * 7 * 7, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The flattened activations of the last convolution, ``[N, 2·width·7·7]``."""
        _check_images(x)
        return self.body(2.0 * x - 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N]`` (positive: "real")."""
        return self.head(self.features(x)).squeeze(1)

    def logits_and_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both the logits and :meth:`features`, from one pass."""
        features = self.features(x)
        return self.head(features).squeeze(1), features


class GAN(nn.Module):
    r"""A generative adversarial network (Goodfellow et al. 2014) in the DCGAN form: a
    :class:`DCGANGenerator` $G$ and a :class:`DCGANDiscriminator` $D$, initialised with
    :func:`dcgan_init`. The two play

    $$\min_G \max_D \; \mathbb{E}_{x \sim p_\text{data}} \log D(x)
      + \mathbb{E}_{z \sim \mathcal{N}(0, I)} \log\big(1 - D(G(z))\big).$$
    """

    def __init__(self, latent_size: int = 64, width: int = 32) -> None:
        super().__init__()
        self.latent_size = latent_size
        self.generator = DCGANGenerator(latent_size, width)
        self.discriminator = DCGANDiscriminator(width)
        self.apply(dcgan_init)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""``n`` noise vectors $z \sim \mathcal{N}(0, I)$ on the model's device."""
        return standard_normal(self, n, self.latent_size, generator)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` generated images in $[0, 1]$, ``[n, 1, 28, 28]``."""
        return self.generator(self.noise(n, generator))


class VAEGAN(nn.Module):
    r"""A VAE-GAN (Larsen et al. 2016): a VAE whose decoder is also a GAN's generator, and
    whose reconstructions are compared with the input in the discriminator's features.

    Encoder (the VAE's): $q_\phi(z \mid x) = \mathcal{N}(\mu, \operatorname{diag}\sigma^2)$
    from a :class:`ConvEncoder` with a hidden dense layer. Decoder = generator:
    $\tilde{x} = \operatorname{Dec}(z)$, a :class:`DCGANGenerator`. Discriminator: a
    :class:`DCGANDiscriminator`; $\operatorname{Dis}_l(x)$ are its last convolution's features.
    Prior: $p(z) = \mathcal{N}(0, I)$.
    """

    def __init__(self, latent_size: int = 32, width: int = 32, encoder_width: int = 16,
                 hidden: int = 512) -> None:
        super().__init__()
        self.latent_size = latent_size
        self.encoder = ConvEncoder(2 * latent_size, encoder_width, hidden)
        self.decoder = DCGANGenerator(latent_size, width)
        self.discriminator = DCGANDiscriminator(width)
        self.decoder.apply(dcgan_init)
        self.discriminator.apply(dcgan_init)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""$(\mu, \log\sigma^2)$, each $[N, d]$."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    reparameterise = staticmethod(ConvVAE.reparameterise)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``[N, 1, 28, 28]`` in $[0, 1]$."""
        return self.decoder(z)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""``n`` codes from the prior $\mathcal{N}(0, I)$ on the model's device."""
        return standard_normal(self, n, self.latent_size, generator)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images decoded from prior codes, ``[n, 1, 28, 28]`` in $[0, 1]$."""
        return self.decode(self.noise(n, generator))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        r"""The reconstruction $\operatorname{Dec}(\mu_\phi(x))$ in $[0, 1]$."""
        return self.decode(self.encode(x)[0])
