"""The comparison chapter's tools: the metrics' sanity checks rank sets whose answer we know,
and `evaluation.compare` measures each model by what it can do."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import torch

from genadv_utils import classifier, dae, data, evaluation, gan, metrics, store


@pytest.fixture(scope="module")
def splits():
    return data.load_splits("mnist", device="cpu")


@pytest.fixture(scope="module")
def reference(splits):
    settings = classifier.settings("smoke", train_size=10_000, epochs=2)
    return classifier.train(settings, splits, progress=False)


def test_sanity_sets_are_what_they_say(splits):
    sets = evaluation.sanity_sets(splits, 300)
    assert list(sets) == ["training images", "blurred training images", "uniform noise",
                          "one class only"]
    assert all(images.shape == (300, 1, 28, 28) for images in sets.values())
    assert torch.equal(sets["training images"], splits.train.images[:300])
    blurred, real = sets["blurred training images"], sets["training images"]
    assert blurred.mean() == pytest.approx(real.mean().item(), rel=0.05)
    assert blurred.sub(real).abs().mean() > 0.01
    assert 0 <= sets["uniform noise"].min() and sets["uniform noise"].max() <= 1
    ones = splits.train.of_class(1).images
    assert torch.equal(sets["one class only"], ones[:300])
    assert torch.equal(evaluation.sanity_sets(splits, 300)["uniform noise"],
                       sets["uniform noise"])
    with pytest.raises(ValueError, match="n must be between"):
        evaluation.sanity_sets(splits, 0)


def test_sanity_checks_rank_the_known_sets_and_are_cached(splits, reference):
    checks = evaluation.sanity_checks(reference, splits, split="test", n=1000, size=1000)
    fd = {name: s["frechet_distance"] for name, s in checks.items()}
    assert fd["training images"] < fd["blurred training images"] < fd["one class only"]
    assert fd["uniform noise"] > 10 * fd["training images"]
    assert checks["uniform noise"]["coverage"] < 0.05
    assert checks["one class only"]["recall"] < 0.5 * checks["training images"]["recall"]
    assert checks["one class only"]["classifier_score"] < 2
    saved = json.loads((reference.folder / store.CACHE).read_text())
    assert any('"sanity"' in key for key in saved)
    assert evaluation.sanity_checks(reference, splits, split="test", n=1000, size=1000) == checks


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    autoencoder = dae.train(dae.settings("smoke", code_size=8, width=8, epochs=1,
                                         train_size=512), run_dir=root / "dae", progress=False)
    generator = gan.train(gan.settings("smoke", width=8, epochs=1, train_size=512),
                          run_dir=root / "gan", progress=False)
    return {"DAE": autoencoder, "GAN": generator}


def test_compare_measures_each_model_by_what_it_can_do(tiny_runs, reference, splits):
    scores = evaluation.compare(tiny_runs, splits, split="val", classifier=reference,
                                samples=300, size=300)
    dae, gan = scores["DAE"], scores["GAN"]
    assert dae["model"] == "dae" and gan["model"] == "gan"
    assert "reconstruction_mse" in dae and "frechet_distance" not in dae
    assert "frechet_distance" in gan and "reconstruction_mse" not in gan
    for label, run in tiny_runs.items():
        assert scores[label]["train_seconds"] == run.history.seconds > 0
        assert scores[label]["parameters"] == evaluation.trained_parameters(run.model)
    assert 0 < dae["reconstruction_mse"] < 0.2 and 0 <= dae["reconstruction_class_kept"] <= 1


def test_evaluate_says_when_it_must_first_train_the_reference_classifier(monkeypatch, capsys,
                                                                       tmp_path, splits):
    """The default-profile classifier is trained first only when missing, and a line says so
    with the time it expects (here a stand-in recipe, so nothing trains)."""
    from genadv_utils import classifier as classifier_module

    class StandIn:
        name = "classifier"

        def settings(self, profile, **overrides):
            return classifier_module.RECIPE.settings(profile, **overrides)

        def folder(self, settings):
            return tmp_path / "reference"

        def seconds_per_step(self, settings, splits, steps):
            return 0.1

        def train(self, settings, splits=None, progress=True):
            return ("trained", settings.epochs)

    monkeypatch.setattr(evaluation, "REFERENCE", StandIn())
    assert evaluation.reference_classifier(splits) == ("trained", 5)
    err = capsys.readouterr().err
    assert err.startswith("evaluation: training the mnist evaluation classifier first")
    assert "5 epochs, about 4 min here" in err  # 0.1 s x 430 steps x 5 and err.count("\n") == 1


def test_published_results_know_what_decided_them(tmp_path):
    path = tmp_path / "results" / "fashion-mnist.json"
    with pytest.raises(FileNotFoundError, match="comparison.py --save"):
        evaluation.published(path)
    evaluation.publish(path, "fashion-mnist", {"scores": {"GAN": {"frechet_distance": 1.5}}})
    record, changed = evaluation.published(path)
    assert changed == [] and record["scores"]["GAN"]["frechet_distance"] == 1.5
    key = evaluation.comparison_key("fashion-mnist")
    assert set(key) == {"classifier", "dae", "vae", "gan", "vaegan", "metrics"}
    assert key["gan"] == gan.RECIPE.folder(gan.settings("default", dataset="fashion-mnist")).name
    assert key != evaluation.comparison_key("mnist")
    stale = json.loads(path.read_text())
    stale["key"]["gan"] = "gan-0000000000"  # measured with other settings or code
    path.write_text(json.dumps(stale))
    assert evaluation.published(path)[1] == ["gan"]


@pytest.mark.parametrize("name, tables", [("fashion-mnist", lambda record: [record["scores"]]),
                                          ("mnist-seeds", lambda record: record["seeds"])])
def test_the_published_records_are_todays(name, tables):
    """Chapter 5 shows genadv_utils/records/fashion-mnist.json and mnist-seeds.json; a change to
    a recipe, the classifier or the metrics must come with a new measurement
    (benchmarks/comparison.py --save, as benchmarks/README.md says for each)."""
    path = Path(__file__).resolve().parents[1] / f"genadv_utils/records/{name}.json"
    record, changed = evaluation.published(path)
    assert not changed, f"{path.name} was measured with other code or settings of {changed}"
    for table in tables(record):
        assert {s["model"] for s in table.values()} == set(evaluation.COMPARED)


def _comparison():
    path = Path(__file__).resolve().parents[1] / "benchmarks/comparison.py"
    spec = importlib.util.spec_from_file_location("comparison", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_orderings_over_seeds_count_where_each_holds_and_the_spread_spans_them():
    comparison = _comparison()
    by_seed = [{"GAN": {"frechet_distance": fd, "coverage": 0.5},
                "VAE": {"frechet_distance": 100.0, "coverage": cover}}
               for fd, cover in ((30.0, 0.4), (40.0, 0.6), (35.0, 0.4))]
    found = {(o["metric"], o["better"], o["worse"]): o["share"]
             for o in comparison.orderings(by_seed)}
    assert found[("frechet_distance", "GAN", "VAE")] == 1.0  # lower is better
    assert ("frechet_distance", "VAE", "GAN") not in found
    assert found[("coverage", "GAN", "VAE")] == pytest.approx(2 / 3)
    assert found[("coverage", "VAE", "GAN")] == pytest.approx(1 / 3)
    spread = comparison.spread(by_seed)
    assert spread["GAN"]["frechet_distance"] == pytest.approx([35.0, 30.0, 40.0])


def test_sample_quality_counts_every_sample_and_is_cached_exactly(tiny_runs, reference, splits):
    run = tiny_runs["GAN"]
    first = evaluation.evaluate(run, splits, split="val", classifier=reference, samples=1200, size=500)
    assert sum(first["class_counts"]) == 1200 and len(first["class_counts"]) == 10
    assert 0 <= first["coverage"] <= 1 and 1 <= first["classifier_score"] <= 10
    cache = run.folder / store.CACHE
    assert evaluation.evaluate(run, splits, split="val", classifier=reference, samples=1200, size=500) == first
    cache.unlink()  # measured afresh: the same numbers, since samples and test images are seeded
    metrics._REAL_SIDES.clear()
    assert evaluation.evaluate(run, splits, split="val", classifier=reference, samples=1200, size=500) == first
    assert cache.exists()


def test_the_weight_average_is_not_counted_as_trained_parameters():
    net = gan.GAN(latent_size=8, width=4, refine=True, keep_average=True)
    total = sum(p.numel() for p in net.parameters())
    average = sum(p.numel() for p in net.average.parameters())
    generator = sum(p.numel() for p in net.generator.parameters())
    assert average == generator and evaluation.trained_parameters(net) == total - average


def test_the_evaluation_cache_is_keyed_by_code_and_pruned(tmp_path, monkeypatch):
    calls = []

    def compute():
        calls.append(1)
        return {"x": len(calls)}

    code = {"now": "code-a"}
    monkeypatch.setattr(evaluation, "measure_code", lambda: code["now"])
    assert evaluation.cached(tmp_path, {"metric": "m"}, compute) == {"x": 1}
    assert evaluation.cached(tmp_path, {"metric": "m"}, compute) == {"x": 1}
    code["now"] = "code-b"
    assert evaluation.cached(tmp_path, {"metric": "m"}, compute) == {"x": 2}
    saved = json.loads((tmp_path / store.CACHE).read_text())
    assert len(saved) == 1 and all(json.loads(k)["code"] == "code-b" for k in saved)
    (tmp_path / store.CACHE).write_text("{not json")
    assert evaluation.cached(tmp_path, {"metric": "m"}, compute) == {"x": 3}


def test_a_classifier_replaced_in_place_gives_new_numbers(tiny_runs, tmp_path, splits):
    """Cached results are keyed by the classifier's weights, not its folder's name: the same
    folder name holding another classifier (retrained in place, or another place with the same
    name) gives that classifier's numbers, for samples and reconstructions alike."""
    gen, autoencoder = tiny_runs["GAN"], tiny_runs["DAE"]
    options = {"split": "val", "samples": 300, "size": 300}
    first = classifier.train(classifier.settings("smoke", train_size=1000),
                             run_dir=tmp_path / "a" / "classifier", progress=False)
    second = classifier.train(classifier.settings("smoke", train_size=1000, seed=1),
                              run_dir=tmp_path / "b" / "classifier", progress=False)
    assert first.folder.name == second.folder.name
    old = evaluation.evaluate(gen, splits, classifier=first, **options)
    new = evaluation.evaluate(gen, splits, classifier=second, **options)
    assert new["frechet_distance"] != old["frechet_distance"]
    shutil.rmtree(first.folder)  # retrained in place: the second run's files under the first's path
    shutil.copytree(second.folder, first.folder)
    replaced = classifier.load(first.folder)
    assert evaluation.evaluate(gen, splits, classifier=replaced, **options) == {
        **new, "classifier": str(first.folder)}
    kept = evaluation.reconstruction_quality(autoencoder, splits, split="val", classifier=second,
                                             size=300)
    assert evaluation.reconstruction_quality(autoencoder, splits, split="val",
                                             classifier=replaced, size=300) == kept


def test_a_classifier_of_another_dataset_is_refused(tiny_runs, tmp_path, splits):
    clothes = classifier.train(classifier.settings("smoke", dataset="fashion-mnist",
                                                   train_size=500),
                               run_dir=tmp_path / "fashion", progress=False)
    with pytest.raises(ValueError, match="trained on fashion-mnist, but .* is a mnist run"):
        evaluation.evaluate(tiny_runs["GAN"], splits, split="val", classifier=clothes,
                            samples=100, size=100)


def test_a_score_names_its_split_and_a_search_cannot_reach_the_test_images_by_default(
        tiny_runs, reference, splits):
    """Every measurement takes ``split`` with no default; validation and test scores are kept
    apart, and anything else is one clear error."""
    run = tiny_runs["GAN"]
    options = {"classifier": reference, "samples": 300, "size": 300}
    with pytest.raises(TypeError, match="split"):
        evaluation.evaluate_generator(run, splits, **options)
    with pytest.raises(ValueError, match=r"'val' \(to choose a setting\) or 'test'"):
        evaluation.evaluate_generator(run, splits, split="train", **options)
    val = evaluation.evaluate_generator(run, splits, split="val", **options)
    test = evaluation.evaluate_generator(run, splits, split="test", **options)
    assert (val["split"], test["split"]) == ("val", "test")
    assert val["frechet_distance"] != test["frechet_distance"]
    assert evaluation.evaluate_generator(run, splits, split="val", **options) == val
