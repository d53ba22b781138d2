"""Shared blocks: image checks, and prior noise drawn so that one seed gives the same draw on
every device. Without a GPU, the device rule is checked by a fixture that makes PyTorch's random
functions refuse a generator on another device than the one asked for, as CUDA does."""

import functools

import pytest
import torch

from genadv_utils import blocks, gan, metrics, noise, vae, vaegan

RANDOM = ("rand", "randn", "randint", "randperm", "normal")


@pytest.fixture
def strict_generators(monkeypatch):
    """Every call of a random function with a ``generator`` on one device and ``device=``
    another raises, as on CUDA ("Expected a 'cuda' device type for generator")."""
    calls = []

    def strict(fn):
        @functools.wraps(fn)
        def draw(*args, generator=None, device=None, **kwargs):
            asked = torch.device(device if device is not None else "cpu")
            if generator is not None and generator.device.type != asked.type:
                raise RuntimeError(f"Expected a '{asked.type}' device type for generator but "
                                   f"found '{generator.device.type}'")
            calls.append((fn.__name__, asked.type))
            return fn(*args, generator=generator, device=device, **kwargs)
        return draw

    for name in RANDOM:
        monkeypatch.setattr(torch, name, strict(getattr(torch, name)))
    return calls


def test_the_fixture_refuses_what_cuda_refuses(strict_generators):
    with pytest.raises(RuntimeError, match="Expected a 'meta' device type"):
        torch.randn(3, generator=torch.Generator(), device="meta")


MODELS = {
    "vae": lambda: vae.ConvVAE(latent_size=4, width=4, hidden=8),
    "gan": lambda: gan.GAN(latent_size=4, width=4),
    "vaegan": lambda: vaegan.VAEGAN(latent_size=4, width=4, encoder_width=4, hidden=8),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_sampling_with_a_cpu_generator_works_on_another_device(strict_generators, name):
    """The models' parameters sit on the ``meta`` device, the generator on the CPU: every
    sampling path draws on the generator's device and moves the draw."""
    model = MODELS[name]().to("meta").eval()
    g = torch.Generator().manual_seed(0)
    assert model.sample(3, g).device.type == "meta"
    assert metrics.sample_in_batches(model, 5, g, batch_size=2).shape == (5, 1, 28, 28)
    if hasattr(model, "noise"):
        assert model.noise(2, g).device.type == "meta"
        assert gan.fixed_noise(model, 2).device.type == "meta"
    assert ("randn", "cpu") in strict_generators


@pytest.mark.parametrize("kind", sorted(noise.NOISES))
def test_noise_with_a_cpu_generator_works_on_another_device(strict_generators, kind):
    images = torch.zeros(2, 1, 28, 28, device="meta")
    assert noise.corrupt(images, kind, 0.5, noise.seeded(0)).device.type == "meta"


def test_a_seeded_draw_is_the_same_whatever_the_models_device():
    """The draw is made on the generator's device, then moved: the values cannot depend on
    where the model is (on the CPU the draw is returned as it is)."""
    cpu_model = gan.GAN(latent_size=4, width=4)
    z_cpu = blocks.standard_normal(cpu_model, 5, 4, torch.Generator().manual_seed(7))
    assert torch.equal(z_cpu, torch.randn(5, 4, generator=torch.Generator().manual_seed(7)))
    meta_model = gan.GAN(latent_size=4, width=4).to("meta")
    moved = []
    original = torch.Tensor.to

    def spy(self, *args, **kwargs):
        moved.append(self.detach().clone() if self.device.type == "cpu" else None)
        return original(self, *args, **kwargs)

    torch.Tensor.to = spy
    try:
        blocks.standard_normal(meta_model, 5, 4, torch.Generator().manual_seed(7))
    finally:
        torch.Tensor.to = original
    assert any(m is not None and torch.equal(m, z_cpu) for m in moved)


def test_check_images_and_in_batches():
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\]"):
        blocks.check_images(torch.zeros(2, 28, 28))
    x = torch.arange(10.0)
    assert torch.equal(blocks.in_batches(lambda t: t * 2, x, batch_size=3), x * 2)


CPU_DRAWS = {"randn", "rand"}
"""PyTorch's own draws, which a chapter may hand a generator without a ``device`` (an
exercise's fixed test cases): they draw on the generator's device, the CPU."""

TESTED_DRAWS = {"sample", "noise", "sample_in_batches", "corrupt", "randperm"}
"""The calls through which the notebooks hand a generator on: the package's sampling and noise
paths, each run above under the strict fixture on a model on another device (``randperm``
draws CPU indices, which index a tensor on any device)."""


def _notebook_code():
    import json
    import re
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code":
                yield path.stem, source
            else:  # the code of the exercise solutions
                for block in re.findall(r"```python\n(.*?)```", source, flags=re.S):
                    yield path.stem, block


def test_the_notebooks_draw_only_through_the_tested_paths():
    """Every call in a chapter (cells and solutions) that is handed a ``torch.Generator`` goes
    through one of :data:`TESTED_DRAWS`, and none asks PyTorch for a draw on another device
    than its generator's: so the chapters' sampling cells run on a GPU as on the CPU."""
    import ast

    seen = set()
    for chapter, source in _notebook_code():
        tree = ast.parse(source)
        generators = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                      for t in node.targets if isinstance(t, ast.Name)
                      and ast.unparse(node.value).startswith(("torch.Generator",
                                                              "noise.seeded"))}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            handed = [a for a in [*node.args, *(k.value for k in node.keywords)]
                      if ast.unparse(a).startswith(("torch.Generator", "noise.seeded"))
                      or (isinstance(a, ast.Name) and a.id in generators)]
            if not handed:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else ast.unparse(
                node.func)
            assert name in TESTED_DRAWS | CPU_DRAWS, (chapter, ast.unparse(node))
            assert not any(k.arg == "device" for k in node.keywords), (chapter,
                                                                        ast.unparse(node))
            seen.add(name)
    assert {"sample", "noise", "corrupt"} <= seen  # the scan does find the chapters' draws
