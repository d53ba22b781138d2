r"""The evaluation classifier: the yardstick of chapters 3 to 5, trained once per dataset.

Read top to bottom: the network, its settings and profiles, the training step, the recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import check_images, in_batches
from .recipe import Recipe, Splits, Step, TrainState, Validate, check_settings


class Classifier(nn.Module):
    r"""The evaluation classifier: a small CNN that tells the 10 classes apart.

    Two blocks of 3×3 convolutions (32 then 64 channels) with 2×2 max-pooling and ReLU
    ($28 \to 14 \to 7$), then a linear layer to ``feature_size`` features
    $\varphi(x)$ (with ReLU and dropout) and one to the 10 class logits. The metrics compare
    sets of images through $\varphi$, the classifier's penultimate layer.

    Pooling comes before the ReLU: $\max_i \operatorname{relu}(x_i) =
    \operatorname{relu}(\max_i x_i)$, as ReLU never changes the order of its inputs, so the
    numbers and the gradients are those of the usual order, with the ReLU run on a quarter of
    the pixels.
    """

    def __init__(self, classes: int = 10, feature_size: int = 128) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(),  # (N, 32, 14, 14)
            nn.Conv2d(32, 64, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(),  # (N, 64, 7, 7)
            nn.Flatten(),  # (N, 64·7·7)
            nn.Linear(64 * 7 * 7, feature_size), nn.ReLU(),  # (N, feature_size)
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(feature_size, classes)  # (N, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        r"""The penultimate features $\varphi(x)$, shape ``[N, feature_size]``."""
        check_images(x)
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``[N, classes]``."""
        return self.head(self.dropout(self.features(x)))


@dataclass(frozen=True)
class ClassifierSettings:
    """The evaluation classifier's run (one per dataset), cached like any other run."""

    dataset: str = "mnist"
    epochs: int = 5
    batch_size: int = 128
    lr: float = 2e-3
    lr_decay: float = 0.6  # ExponentialLR: the learning rate is multiplied by this every epoch
    train_size: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_settings(self)


PROFILES: dict[str, dict[str, Any]] = {"default": {}, "smoke": {"epochs": 1, "train_size": 4000}}
"""What each profile changes in :class:`ClassifierSettings`."""


@torch.no_grad()
def accuracy(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``images`` whose predicted class is their label."""
    predicted = in_batches(classifier, images).argmax(1)
    return (predicted == labels).float().mean().item()


def classifier_step(state: TrainState, batch: tuple[torch.Tensor, torch.Tensor]
                    ) -> dict[str, torch.Tensor]:
    """One supervised step: cross-entropy of the predicted class logits."""
    images, labels = batch  # (N, 1, 28, 28), (N,)
    model, optimizer = state.modules["classifier"], state.optimizers["classifier"]
    loss = F.cross_entropy(model(images), labels)  # -log softmax(logits)[label], batch mean
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return {"cross_entropy": loss}


def network(settings: ClassifierSettings) -> Classifier:
    """The untrained classifier."""
    return Classifier()


def build(settings: ClassifierSettings, fused: bool | None = None) -> TrainState:
    """A classifier, Adam (``fused``: one kernel for its whole update) and an exponential LR
    decay."""
    model = network(settings)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, fused=fused)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=settings.lr_decay)
    return TrainState({"classifier": model}, {"classifier": optimizer},
                      {"classifier": schedule})


def step(settings: ClassifierSettings) -> Step:
    """The training step (the same for any settings), called as ``step(state, batch)``."""
    return classifier_step


def validate(settings: ClassifierSettings, splits: Splits) -> Validate:
    """Accuracy on the validation split."""
    return lambda s: {"accuracy": accuracy(s.modules["classifier"], splits.val.images,
                                           splits.val.labels)}


RECIPE = Recipe(
    name="classifier", settings_type=ClassifierSettings, profiles=PROFILES, network=network,
    build=build, step=step, validate=validate, evaluations=("accuracy",),
    # The yardstick of every sample metric keeps the plain kernels (channels-last, fused Adam
    # change the rounding): its weights decide every published number. It does get the
    # allocator setting, which changes no number.
    fast_kernels=False)
settings, train, load = RECIPE.settings, RECIPE.train, RECIPE.load
