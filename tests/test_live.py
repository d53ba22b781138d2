"""The live widgets: exported networks give PyTorch's numbers, the HTML carries what live.js
needs, the runtime download is checked, and bad input gets a clear error."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import onnxruntime
import pytest
import torch

from genadv_utils import dae, gan, live, pca, vae, vaegan


def _config(widget: live.Widget) -> dict:
    html = widget._repr_html_()
    text = re.search(r'<script type="application/json" class="genadv-live-config">(.*?)</script>',
                     html, re.S).group(1)
    return json.loads(text.replace("<\\/", "</"))


def _onnx_matches_torch(widget: live.Widget) -> None:
    assert {c["model"] for c in widget.checks} == set(widget.networks)
    for check in widget.checks:
        session = onnxruntime.InferenceSession(widget.networks[check["model"]])
        x = np.frombuffer(base64.b64decode(check["input"]), np.float32).reshape(check["dims"])
        want = np.frombuffer(base64.b64decode(check["output"]), np.float32)
        got = session.run(None, {session.get_inputs()[0].name: x})[0].ravel()
        assert got.shape == want.shape
        assert np.abs(got - want).max() < live.CHECK_TOLERANCE / 10
        # the batch size stays free: three inputs at once give three answers
        three = np.concatenate([x, x[:1]])
        assert session.run(None, {session.get_inputs()[0].name: three})[0].shape[0] == 3


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(30, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def test_sampler_exports_the_averaged_generator(monkeypatch):
    monkeypatch.delenv(live.LIVE_DIR_ENV, raising=False)
    torch.manual_seed(0)
    model = gan.network(gan.settings("smoke")).eval()
    with torch.no_grad():  # make the average differ from G, so that using G would show
        for p in model.average.parameters():
            p.add_(0.5 * torch.randn_like(p))
    widget = live.sampler(model)
    _onnx_matches_torch(widget)
    check = widget.checks[0]
    z = torch.from_numpy(np.frombuffer(base64.b64decode(check["input"]), np.float32)
                         .reshape(check["dims"]).copy())
    want = np.frombuffer(base64.b64decode(check["output"]), np.float32)
    assert np.allclose(model.generate(z).detach().numpy().ravel(), want, atol=1e-6)
    assert not np.allclose(model.generator(z).detach().numpy().ravel(), want, atol=1e-3)


def test_denoiser_and_reconstructions_match_torch(images, monkeypatch):
    monkeypatch.delenv(live.LIVE_DIR_ENV, raising=False)
    torch.manual_seed(0)
    fitted = pca.fit_pca(images, seed=0)
    noisy = (images + 0.5 * torch.randn(images.shape)).clamp(0, 1)
    wiener = pca.fit_wiener(images, noisy)
    widget = live.denoiser(dae.network(dae.settings("smoke")).eval(), fitted, 5, images,
                           kind="gaussian", level=0.5, wiener=wiener)
    _onnx_matches_torch(widget)
    # the exported linear denoisers are the package's
    for name, denoise in (("pca", lambda x: pca.reconstruct(fitted, x, 5)), ("wiener", wiener)):
        session = onnxruntime.InferenceSession(widget.networks[name])
        got = session.run(None, {session.get_inputs()[0].name: noisy[:4].numpy()})[0]
        assert np.abs(got - denoise(noisy[:4]).numpy()).max() < 1e-5
    both = live.reconstructions(vae.network(vae.settings("smoke")).eval(),
                                vaegan.network(vaegan.settings("smoke")).eval(), images)
    _onnx_matches_torch(both)
    assert set(both.networks) == {"vae_rebuild", "vaegan_rebuild", "vaegan_decoder"}


def test_latent_plane_embeds_codes_and_rejects_other_shapes(monkeypatch):
    monkeypatch.delenv(live.LIVE_DIR_ENV, raising=False)
    model = vae.network(vae.settings("smoke", latent_size=2)).eval()
    codes, labels = torch.randn(50, 2), torch.arange(50) % 10
    widget = live.latent_plane(model, codes, labels, [str(c) for c in range(10)])
    _onnx_matches_torch(widget)
    config = _config(widget)
    assert np.allclose(np.frombuffer(base64.b64decode(config["codes"]), np.float32),
                       codes.numpy().ravel())
    assert config["ends"] == list(range(10))
    with pytest.raises(ValueError, match=r"codes \[N, 2\]"):
        live.latent_plane(model, torch.randn(50, 3), labels, [str(c) for c in range(10)])


def test_html_embeds_outside_the_book_and_writes_files_inside(tmp_path, monkeypatch):
    model = gan.network(gan.settings("smoke", average_decay=0.0)).eval()
    widget = live.sampler(model)
    monkeypatch.delenv(live.LIVE_DIR_ENV, raising=False)
    html = widget._repr_html_()
    div = html.split("<script>")[0]
    assert 'class="genadv-live"' in div and "<canvas" not in div  # live.js draws them
    config = _config(widget)
    assert config["runtime"] == live.RUNTIME_CDN
    assert config["models"]["generator"].startswith("data:application/octet-stream;base64,")
    assert base64.b64decode(config["models"]["generator"].split(",", 1)[1]) == \
        widget.networks["generator"]
    assert "IntersectionObserver" in html and "canvas" in html  # the script travels along

    monkeypatch.setenv(live.LIVE_DIR_ENV, str(tmp_path / "live"))
    config = _config(widget)
    source = config["models"]["generator"]
    assert source.startswith("site:" + live.SITE_MODELS) and config["runtime"] == \
        "site:" + live.SITE_RUNTIME
    written = tmp_path / "live" / source.rsplit("/", 1)[1]
    assert written.read_bytes() == widget.networks["generator"]
    assert widget.weight == len(widget.networks["generator"])


def test_runtime_download_is_refused_unless_it_matches_its_hash(tmp_path, monkeypatch):
    class Response:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self) -> bytes:
            return self.body

    monkeypatch.setattr(live.urllib.request, "urlopen",
                        lambda url, timeout: Response(b"not the tarball"))
    with pytest.raises(RuntimeError, match="integrity"):
        live.fetch_runtime(tmp_path)
    assert not any(tmp_path.rglob("*.wasm"))

    def offline(url, timeout):
        raise OSError("network is unreachable")
    monkeypatch.setattr(live.urllib.request, "urlopen", offline)
    with pytest.raises(RuntimeError, match="could not download"):
        live.fetch_runtime(tmp_path)
