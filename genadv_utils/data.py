"""MNIST and Fashion-MNIST as in-memory tensors, with a fast shuffling batch iterator.

Images are read once through torchvision's dataset classes, scaled to floats in [0, 1] and kept
as one ``[N, 1, 28, 28]`` tensor on the compute device. A batch is a slice of that tensor: no
per-image PIL transforms, no worker processes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision import datasets
from torchvision.datasets import mnist

from .runtime import resolve_folder

DATA_ENV = "GENADV_DATA"

_DATASETS: dict[str, type[datasets.MNIST]] = {
    "mnist": datasets.MNIST,
    "fashion-mnist": datasets.FashionMNIST,
}
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
}
SPLIT_SEED = 0
"""Seed of the fixed train/validation split; independent of any training seed."""


class DataNotFoundError(FileNotFoundError):
    """The dataset is not in the data folder and could not be downloaded."""


class DataCorruptError(ValueError):
    """A dataset file is present but damaged: its size or digest is not the official one."""


RAW_FILES: dict[str, dict[str, tuple[int, str]]] = {
    "mnist": {
        "train-images-idx3-ubyte": (47_040_016, "6bbc9ace898e44ae57da46a324031adb"),
        "train-labels-idx1-ubyte": (60_008, "a25bea736e30d166cdddb491f175f624"),
        "t10k-images-idx3-ubyte": (7_840_016, "2646ac647ad5339dbf082846283269ea"),
        "t10k-labels-idx1-ubyte": (10_008, "27ae3e4e09519cfbb04c329615203637"),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": (47_040_016, "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        "train-labels-idx1-ubyte": (60_008, "9018921c3c673c538a1fc5bad174d6f9"),
        "t10k-images-idx3-ubyte": (7_840_016, "8181f5470baa50b63fa0f6fddb340f0a"),
        "t10k-labels-idx1-ubyte": (10_008, "15d484375f8d13e6eb1aabb0c3f46965"),
    },
}
"""Size and MD5 of each uncompressed idx file that torchvision reads (the official files)."""


@dataclass(frozen=True)
class ImageSet:
    """Images ``[N, 1, 28, 28]`` (float32 in [0, 1]) and their integer class labels ``[N]``."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int | None) -> ImageSet:
        """The first ``n`` examples (all of them when ``n`` is ``None``). Splits are already
        shuffled, so this is a random subset with every class represented."""
        if n is None:
            return self
        if n <= 0:
            raise ValueError(f"subset size must be positive, got {n}")
        return ImageSet(self.images[:n], self.labels[:n])

    def of_class(self, label: int) -> ImageSet:
        """The examples of one class."""
        keep = self.labels == label
        if not bool(keep.any()):
            raise ValueError(f"no examples of class {label}")
        return ImageSet(self.images[keep], self.labels[keep])

    def to(self, device: torch.device | str) -> ImageSet:
        """The same set on another device."""
        return ImageSet(self.images.to(device), self.labels.to(device))


@dataclass(frozen=True)
class Splits:
    """A dataset's fixed training, validation and test splits."""

    name: str
    train: ImageSet
    val: ImageSet
    test: ImageSet

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES[self.name]

    def to(self, device: torch.device | str) -> Splits:
        """The same splits on ``device`` (themselves if they are there already)."""
        device = torch.device(device)
        if self.train.images.device == device or (device.index is None and
                                                  self.train.images.device.type == device.type):
            return self
        return Splits(self.name, self.train.to(device), self.val.to(device),
                      self.test.to(device))


def supported_datasets() -> tuple[str, ...]:
    """Names accepted by :func:`load_splits`."""
    return tuple(_DATASETS)


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: ``root`` if given, else ``$GENADV_DATA``, else a per-user cache folder."""
    return resolve_folder(root, DATA_ENV, "data")


def _dataset_class(name: str) -> type[datasets.MNIST]:
    try:
        return _DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; supported: {', '.join(_DATASETS)}") from None


def verify(name: str, root: str | os.PathLike[str] | None = None) -> None:
    """Check the size and digest of each of ``name``'s idx files present in the data folder;
    a damaged one is named in one line (:class:`DataCorruptError`)."""
    raw = data_root(root) / _dataset_class(name).__name__ / "raw"
    for file, (size, md5) in RAW_FILES[name].items():
        path = raw / file
        if not path.exists():
            continue
        actual = path.stat().st_size
        if actual != size:
            raise DataCorruptError(f"{path} is damaged ({actual:,} bytes, the official file has "
                                   f"{size:,}); delete it to download it again")
        stamp = (str(path), actual, path.stat().st_mtime_ns)
        if stamp in _VERIFIED:
            continue
        if hashlib.md5(path.read_bytes()).hexdigest() != md5:
            raise DataCorruptError(f"{path} is damaged (its MD5 digest is not the official "
                                   f"file's); delete it to download it again")
        _VERIFIED.add(stamp)


_VERIFIED: set[tuple[str, int, int]] = set()

DOWNLOAD_TIMEOUT = 30.0
"""Seconds a download may wait for the server to answer before it gives up."""


def _download(cls: type[datasets.MNIST], root: Path) -> None:
    """torchvision's download of ``cls``'s raw idx files into ``root/<cls>/raw`` (nothing if
    they are there). Not its constructor: that loads legacy ``processed/*.pt`` files first,
    when present, instead of the raw files :func:`verify` checks."""
    dataset = cls.__new__(cls)
    dataset.root = str(root)
    dataset.download()


def _read(name: str, root: Path, train: bool) -> ImageSet:
    """One official split as float images in [0, 1], read from its raw idx files and
    downloading them if they are absent. A failed or stalled download
    (:data:`DOWNLOAD_TIMEOUT`) stops with one line naming the dataset, the address and what to
    do, and leaves behind no folder or file it made."""
    cls = _dataset_class(name)
    folder = root / cls.__name__ / "raw"
    created = [p for p in (*reversed(folder.parents), folder) if not p.exists()]
    before = set(folder.iterdir()) if folder.is_dir() else set()
    timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)  # torchvision's download sets none of its own
    try:
        _download(cls, root)
    except (OSError, RuntimeError) as err:  # URLError and a timeout are OSErrors
        for path in (set(folder.iterdir()) if folder.is_dir() else set()) - before:
            with contextlib.suppress(OSError):
                path.unlink()  # a partial download
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.rmdir()  # only if still empty
        detail = str(err).splitlines()[0] if str(err) else "no answer"
        raise DataNotFoundError(
            f"{name} is not in {folder} and could not be downloaded from {cls.mirrors[0]} "
            f"({type(err).__name__}: {detail}). Put torchvision's files there, or set "
            f"{DATA_ENV} to a folder that has {cls.__name__}/raw/."
        ) from None
    finally:
        socket.setdefaulttimeout(timeout)
    verify(name, root)  # a file just downloaded, before it is parsed
    prefix = "train" if train else "t10k"
    images = mnist.read_image_file(str(folder / f"{prefix}-images-idx3-ubyte"))  # (N, 28, 28)
    labels = mnist.read_label_file(str(folder / f"{prefix}-labels-idx1-ubyte"))
    return ImageSet(images.unsqueeze(1).to(torch.float32).div_(255.0), labels.to(torch.long))


def load_splits(name: str = "mnist", root: str | os.PathLike[str] | None = None,
                device: torch.device | str = "cpu", val_size: int = 5000) -> Splits:
    """Load a dataset as fixed train/validation/test splits (55k/5k/10k by default).

    The 60k official training images are shuffled with a fixed seed and split into training
    and validation; the 10k official test images stay the test set. Everything is moved once
    to ``device`` (a notebook or a command passes the one its
    :func:`~genadv_utils.runtime.pick_device` chose; default the CPU).
    """
    _dataset_class(name)
    if not 0 < val_size < 60_000:
        raise ValueError(f"val_size must be between 1 and 59999, got {val_size}")
    device = torch.device(device)
    folder = data_root(root)
    verify(name, folder)
    official_train = _read(name, folder, train=True)
    test = _read(name, folder, train=False)
    verify(name, folder)  # again: the files may have just been downloaded
    order = torch.randperm(len(official_train), generator=torch.Generator().manual_seed(SPLIT_SEED))
    train_idx, val_idx = order[val_size:], order[:val_size]
    images, labels = official_train.images, official_train.labels
    return Splits(
        name=name,
        train=ImageSet(images[train_idx], labels[train_idx]).to(device),
        val=ImageSet(images[val_idx], labels[val_idx]).to(device),
        test=test.to(device),
    )


class Batches:
    """Mini-batches of an :class:`ImageSet`, as ``(images, labels)`` slices of its tensors.

    With ``shuffle=True`` each pass draws a new order from a generator seeded with ``seed``,
    so the same seed always gives the same sequence of epochs. ``len()`` is the number of
    batches in one pass.
    """

    def __init__(self, data: ImageSet, batch_size: int, *, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if len(data) == 0:
            raise ValueError("cannot draw batches from an empty set")
        self.data = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self._generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        full, rest = divmod(len(self.data), self.batch_size)
        return full if (self.drop_last or rest == 0) else full + 1

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.data)
        if self.shuffle:
            order = torch.randperm(n, generator=self._generator).to(self.data.images.device)
        stop = len(self) * self.batch_size
        for start in range(0, min(n, stop), self.batch_size):
            if self.shuffle:
                idx = order[start:start + self.batch_size]
                yield self.data.images[idx], self.data.labels[idx]
            else:
                yield (self.data.images[start:start + self.batch_size],
                       self.data.labels[start:start + self.batch_size])

    def state(self) -> torch.Tensor:
        """The shuffling generator's state, for checkpoints."""
        return self._generator.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        """Restore the shuffling generator from :meth:`state`."""
        self._generator.set_state(state)
