import pytest
import torch
from torchvision import datasets

from genadv_utils import data


@pytest.fixture(scope="module")
def mnist():
    return data.load_splits("mnist")


def test_split_shapes_types_and_range(mnist):
    for split, n in [(mnist.train, 55_000), (mnist.val, 5_000), (mnist.test, 10_000)]:
        assert split.images.shape == (n, 1, 28, 28)
        assert split.images.dtype == torch.float32
        assert split.labels.shape == (n,) and split.labels.dtype == torch.long
        assert split.images.min() == 0.0 and split.images.max() == 1.0
        assert set(split.labels.unique().tolist()) == set(range(10))
    assert mnist.class_names == tuple("0123456789")


def test_train_and_validation_partition_the_official_training_set(mnist):
    official = datasets.MNIST(data.data_root(), train=True, download=True)
    ours = torch.cat([mnist.train.images, mnist.val.images]).flatten(1).sum(1)
    theirs = official.data.flatten(1).sum(1).float() / 255.0
    assert torch.allclose(ours.sort().values, theirs.sort().values, atol=1e-3)
    assert torch.equal(torch.cat([mnist.train.labels, mnist.val.labels]).bincount(),
                       official.targets.bincount())


def test_splits_are_fixed_across_loads(mnist):
    again = data.load_splits("mnist")
    assert torch.equal(again.val.images, mnist.val.images)
    assert torch.equal(again.train.labels, mnist.train.labels)


def test_fashion_mnist_loads_with_its_class_names():
    fashion = data.load_splits("fashion-mnist", val_size=1000)
    assert fashion.train.images.shape == (59_000, 1, 28, 28)
    assert fashion.class_names[0] == "T-shirt/top" and len(fashion.class_names) == 10


def test_unknown_dataset_lists_the_supported_ones():
    with pytest.raises(ValueError, match="mnist, fashion-mnist"):
        data.load_splits("cifar10")


def test_missing_data_without_network_names_the_folder(tmp_path, monkeypatch):
    # No network: every mirror points at a closed local port.
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(data.DataNotFoundError) as caught:
        data.load_splits("mnist", root=tmp_path / "empty")
    message = str(caught.value)
    assert str(tmp_path / "empty" / "MNIST" / "raw") in message
    assert "GENADV_DATA" in message and "\n" not in message
    assert not (tmp_path / "empty").exists()  # no stray empty folders are left behind


def test_a_failed_lookup_removes_every_folder_it_made(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(data.DataNotFoundError):
        data.load_splits("mnist", root=tmp_path / "a" / "b" / "c")
    assert list(tmp_path.iterdir()) == []  # not even the parents of the data folder


def test_legacy_processed_files_are_ignored_for_the_verified_raw_files(mnist, tmp_path):
    # torchvision's constructor would load processed/*.pt before the raw files: all zeros here
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.RAW_FILES["mnist"]:
        (raw / name).symlink_to((data.data_root() / "MNIST" / "raw" / name).resolve())
    processed = tmp_path / "MNIST" / "processed"
    processed.mkdir()
    for name, n in (("training.pt", 60_000), ("test.pt", 10_000)):
        torch.save((torch.zeros(n, 28, 28, dtype=torch.uint8), torch.zeros(n, dtype=torch.long)),
                   processed / name)
    loaded = data.load_splits("mnist", root=tmp_path)
    assert torch.equal(loaded.train.images, mnist.train.images)
    assert torch.equal(loaded.test.labels, mnist.test.labels)


def test_data_root_order(monkeypatch, tmp_path):
    monkeypatch.setenv("GENADV_DATA", str(tmp_path / "env"))
    assert data.data_root(tmp_path / "arg") == tmp_path / "arg"
    assert data.data_root() == tmp_path / "env"
    monkeypatch.delenv("GENADV_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data.data_root() == tmp_path / "cache" / "genadv" / "data"


def _small(n=10):
    return data.ImageSet(torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1), torch.arange(n))


def test_batches_cover_every_example_once_per_pass():
    batches = data.Batches(_small(10), batch_size=4, seed=1)
    assert len(batches) == 3
    for _ in range(2):
        seen = torch.cat([labels for _, labels in batches])
        assert sorted(seen.tolist()) == list(range(10))
    images, labels = next(iter(batches))
    assert torch.equal(images.view(-1), labels.float())


def test_batches_repeat_under_a_seed_and_reshuffle_each_pass():
    def order(seed, passes=2):
        b = data.Batches(_small(50), batch_size=50, seed=seed)
        return [next(iter(b))[1].tolist() for _ in range(passes)]

    assert order(7) == order(7)
    assert order(7) != order(8)
    first, second = order(7)
    assert first != second


def test_batches_without_shuffle_and_drop_last():
    b = data.Batches(_small(10), batch_size=4, shuffle=False, drop_last=True)
    assert len(b) == 2
    assert [lab.tolist() for _, lab in b] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_batches_reject_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        data.Batches(_small(), batch_size=0)
    with pytest.raises(ValueError, match="subset size"):
        _small().subset(0)
    assert len(_small().subset(3)) == 3


def test_of_class_keeps_one_class(mnist):
    sevens = mnist.test.of_class(7)
    assert len(sevens) == int((mnist.test.labels == 7).sum()) and set(sevens.labels.tolist()) == {7}
    with pytest.raises(ValueError, match="no examples of class 11"):
        mnist.test.of_class(11)
