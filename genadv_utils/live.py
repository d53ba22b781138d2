r"""Live widgets: the book's trained networks, running in the reader's browser.

A chapter calls one function here with its finished model (:func:`denoiser`, :func:`latent_plane`,
:func:`sampler`, :func:`reconstructions`). The function exports the networks the widget needs to
ONNX (``torch.onnx``), packs the few test images or codes it shows, and returns a
:class:`Widget` whose HTML draws into ``<canvas>`` elements. ``live.js`` (next to this file)
runs the networks with onnxruntime-web's WebAssembly backend: no server, no kernel, no GPU.

Where the files come from:

- In the book's build, the Sphinx extension (``book/_ext/genadv_book.py``) sets
  ``$GENADV_LIVE_DIR``. The exported models are written there under their content's hash, and
  the extension copies them and the runtime (:func:`fetch_runtime`, from the npm registry,
  checked against :data:`RUNTIME_INTEGRITY`) into the site. The page then needs no network.
- Anywhere else (Jupyter, Colab) the models are embedded in the cell's output and the runtime
  comes from the jsDelivr CDN, so the same cell shows the same widget.

Every exported network carries a check: one fixed input and PyTorch's output for it. The
browser test runs the input through the page's runtime and compares.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import html
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.request
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .blocks import check_images
from .runtime import resolve_folder

RUNTIME = "onnxruntime-web"
RUNTIME_VERSION = "1.30.0"
RUNTIME_LICENSE = "MIT"
RUNTIME_INTEGRITY = ("sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmR"
                     "MDs1SigqR4CXAfKYQ==")
"""The npm registry's integrity string of the pinned tarball (``npm view onnxruntime-web@1.30.0
dist.integrity``): a download that does not match it is refused."""
RUNTIME_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
"""The WebAssembly-only build: the JavaScript API, its loader and the compiled runtime."""
RUNTIME_URL = f"https://registry.npmjs.org/{RUNTIME}/-/{RUNTIME}-{RUNTIME_VERSION}.tgz"
NOTICE = f"""{RUNTIME} {RUNTIME_VERSION}: the files beside this notice come unchanged from the
npm registry's tarball {RUNTIME_URL}
({RUNTIME_INTEGRITY}). Its package.json (beside this notice) declares the {RUNTIME_LICENSE}
licence, and refers to the ONNX Runtime repository (https://github.com/microsoft/onnxruntime)
for its text:

MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""
"""Where the runtime comes from and its licence, shipped with it in the site."""
RUNTIME_CDN = f"https://cdn.jsdelivr.net/npm/{RUNTIME}@{RUNTIME_VERSION}/dist/"
VENDOR_ENV = "GENADV_VENDOR"
LIVE_DIR_ENV = "GENADV_LIVE_DIR"
SITE = "site:"
"""Marks an address relative to the site's root (``live.js`` resolves it in the page)."""
SITE_RUNTIME = "_static/ort/"
"""Where the site serves the runtime, relative to its root."""
SITE_MODELS = "_live/"
"""Where the site serves the exported models, relative to its root."""
CHECK_TOLERANCE = 1e-3
"""The largest pixel difference allowed between the browser's output and PyTorch's (the
browser test holds every widget to it)."""
CHECK_SEED = 2024


def fetch_runtime(folder: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding :data:`RUNTIME_FILES` (with :data:`NOTICE` and the package.json),
    downloaded once from the npm registry into ``folder`` (default ``$GENADV_VENDOR``, else the
    user cache)."""
    target = resolve_folder(folder, VENDOR_ENV, "vendor") / f"{RUNTIME}-{RUNTIME_VERSION}"
    if all((target / name).is_file() for name in (*RUNTIME_FILES, "LICENSE", "package.json")):
        return target
    try:
        with urllib.request.urlopen(RUNTIME_URL, timeout=300) as response:
            tarball = response.read()
    except OSError as err:
        raise RuntimeError(f"could not download {RUNTIME} {RUNTIME_VERSION} from the npm "
                           f"registry ({RUNTIME_URL}): {err}. The live widgets need it once; "
                           f"put its files {', '.join(RUNTIME_FILES)} in {target} by hand "
                           f"if this machine cannot reach the registry.") from None
    algorithm, expected = RUNTIME_INTEGRITY.split("-", 1)
    got = base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode()
    if got != expected:
        raise RuntimeError(f"{RUNTIME_URL} does not match its pinned integrity "
                           f"{RUNTIME_INTEGRITY} (got {algorithm}-{got}); refusing it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent))  # complete, then moved into place
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            for name in (*(f"dist/{f}" for f in RUNTIME_FILES), "package.json"):
                (tmp / Path(name).name).write_bytes(archive.extractfile(f"package/{name}").read())
        (tmp / "LICENSE").write_text(NOTICE)
        os.chmod(tmp, 0o755)  # a web server must be able to read it
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def site_models(page: str) -> set[str]:
    """The network files (in :data:`SITE_MODELS`) that a built page's HTML refers to."""
    return set(re.findall(re.escape(SITE + SITE_MODELS) + r"([0-9a-f]+\.onnx)", page))


class _Function(nn.Module):
    """``fn(*modules, x)`` as a module, so that ``torch.onnx`` can export it."""

    def __init__(self, fn: Callable[..., torch.Tensor], *modules: nn.Module) -> None:
        super().__init__()
        self.fn = fn
        self.parts = nn.ModuleList(modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(*self.parts, x)


Exported = tuple[bytes, torch.Tensor, torch.Tensor]
"""A network as ONNX bytes, with a check input and PyTorch's output for it."""


def export(fn: Callable[..., torch.Tensor], modules: Sequence[nn.Module],
           example: torch.Tensor) -> Exported:
    """``fn(*modules, x)`` exported to ONNX (a copy of the modules, on the CPU, in evaluation
    mode; the batch size stays free), with ``example`` and PyTorch's output for it."""
    parts = [copy.deepcopy(m).cpu().float().to(memory_format=torch.contiguous_format).eval()
             for m in modules]
    wrapped = _Function(fn, *parts).eval()
    example = example.detach().cpu().float().contiguous()
    with torch.no_grad():
        expected = wrapped(example)
    batch = torch.export.Dim("batch", min=1, max=4096)
    buffer = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(buffer):
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(wrapped, (example,), dynamo=True, verbose=False,
                                        input_names=["input"], output_names=["output"],
                                        dynamic_shapes=({0: batch},))
        except ImportError as err:
            raise RuntimeError(f"exporting to ONNX needs the onnx and onnxscript packages "
                               f"(pip install onnx onnxscript): {err}") from None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        program.save(str(path))
        return path.read_bytes(), example, expected


def _b64(array: torch.Tensor, dtype: torch.dtype = torch.float32) -> str:
    if dtype == torch.uint8:
        array = (array.detach().cpu().float().clamp(0, 1) * 255).round()
    return base64.b64encode(array.detach().cpu().to(dtype).contiguous().numpy().tobytes()).decode()


class Widget:
    """A live widget: its kind (what ``live.js`` draws), its networks as ONNX bytes, its data,
    and one check per network. Shown as HTML in Jupyter, Colab and the book."""

    def __init__(self, kind: str, networks: Mapping[str, Exported], data: Mapping[str, Any],
                 caption: str) -> None:
        self.kind, self.data, self.caption = kind, dict(data), caption
        self.networks = {name: onnx for name, (onnx, _, _) in networks.items()}
        self.checks = [{"model": name, "dims": list(x.shape), "input": _b64(x),
                        "output": _b64(y)} for name, (_, x, y) in networks.items()]

    @property
    def weight(self) -> int:
        """Bytes of the exported networks (what the page loads besides the runtime)."""
        return sum(len(b) for b in self.networks.values())

    def _models(self) -> tuple[dict[str, str], str]:
        """Where the page finds each network, and where the runtime: files in the site when
        the book is being built, else embedded bytes and the CDN."""
        folder = os.environ.get(LIVE_DIR_ENV)
        if not folder:
            return ({name: "data:application/octet-stream;base64,"
                     + base64.b64encode(b).decode() for name, b in self.networks.items()},
                    RUNTIME_CDN)
        Path(folder).mkdir(parents=True, exist_ok=True)
        sources = {}
        for name, onnx in self.networks.items():
            file = f"{hashlib.sha256(onnx).hexdigest()[:20]}.onnx"
            if not (Path(folder) / file).exists():
                with tempfile.NamedTemporaryFile(dir=folder, delete=False) as tmp:
                    tmp.write(onnx)
                os.chmod(tmp.name, 0o644)  # a web server must be able to read it
                os.replace(tmp.name, Path(folder) / file)
            sources[name] = SITE + SITE_MODELS + file
        return sources, SITE + SITE_RUNTIME

    def _repr_html_(self) -> str:
        models, runtime = self._models()
        config = {"kind": self.kind, "models": models, "runtime": runtime,
                  "checks": self.checks, "weight": self.weight, **self.data}
        text = json.dumps(config).replace("</", "<\\/")
        script = (Path(__file__).with_name("live.js")).read_text()
        return (f'<div class="genadv-live" data-kind="{self.kind}">'
                f'<p class="genadv-live-caption">{html.escape(self.caption)}</p>'
                f'<p class="genadv-live-status">This live widget needs JavaScript and '
                f'WebAssembly; the figures above show the same model.</p>'
                f'<script type="application/json" class="genadv-live-config">{text}</script>'
                f'</div>\n<script>{script}</script>')


def _codes_input(size: int) -> torch.Tensor:
    return torch.randn(2, size, generator=torch.Generator().manual_seed(CHECK_SEED))


def _test_images(images: torch.Tensor, n: int) -> torch.Tensor:
    check_images(images)
    return images[:n].detach().cpu().float()


class _PCADenoiser(nn.Module):
    r"""PCA's rank-$k$ denoiser as torch operations:
    $\hat{x} = \operatorname{clip}_{[0,1]}\big(\mu + W_k^\top W_k (x - \mu)\big)$."""

    def __init__(self, fitted: Any, k: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(fitted.mean_, dtype=torch.float32))
        self.register_buffer("w", torch.as_tensor(fitted.components_[:k], dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x.flatten(1) - self.mean
        return ((centred @ self.w.T) @ self.w + self.mean).clamp(0, 1).reshape(x.shape)


class _WienerDenoiser(nn.Module):
    r"""The Wiener filter (:class:`~genadv_utils.pca.Wiener`) as torch operations:
    $\hat{x} = \operatorname{clip}_{[0,1]}\big(\mu_x + W (x - \mu_{\tilde{x}})\big)$."""

    def __init__(self, wiener: Any) -> None:
        super().__init__()
        for name in ("mean_clean", "mean_noisy", "weight"):
            self.register_buffer(name, torch.as_tensor(getattr(wiener, name),
                                                        dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x.flatten(1) - self.mean_noisy
        return (centred @ self.weight.T + self.mean_clean).clamp(0, 1).reshape(x.shape)


def denoiser(model: nn.Module, fitted_pca: Any, k: int, images: torch.Tensor, *, kind: str,
             level: float, wiener: Any = None, count: int = 24) -> Widget:
    """Chapter 1: draw or pick a digit, corrupt it, and see the DAE's and the linear
    denoisers' answers.

    ``model`` is a trained :class:`~genadv_utils.dae.DenoisingAutoencoder`, ``fitted_pca`` and
    ``k`` PCA's truncation (:func:`~genadv_utils.pca.fit_pca`, rank ``k``), ``wiener`` (if
    given) the Wiener filter fitted for the noise ``kind`` at ``level``
    (:func:`~genadv_utils.pca.fit_wiener`), ``images`` the test images to pick from (the first
    ``count``); the panel starts with that noise."""
    picks = _test_images(images, count)
    example = picks[:2]
    networks = {"autoencoder": export(lambda m, x: m.reconstruct(x), [model], example),
                "pca": export(lambda m, x: m(x), [_PCADenoiser(fitted_pca, k)], example)}
    if wiener is not None:
        networks["wiener"] = export(lambda m, x: m(x), [_WienerDenoiser(wiener)], example)
    return Widget("denoise", networks,
                  {"images": _b64(picks, torch.uint8), "noise": kind, "level": level,
                   "pca_k": k},
                  "Draw a digit (or pick a test digit), choose a noise, and watch each "
                  "denoiser answer.")


def latent_plane(model: nn.Module, codes: torch.Tensor, labels: torch.Tensor,
                 class_names: Sequence[str], *, points: int = 2000) -> Widget:
    """Chapter 2: the 2-D VAE's plane of test codes; the decoder's image under the pointer, and a
    linear or spherical walk between two test digits' codes."""
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"latent_plane needs codes [N, 2], got {tuple(codes.shape)}")
    codes, labels = codes[:points].detach().cpu().float(), labels[:points].detach().cpu()
    decoder = export(lambda m, z: torch.sigmoid(m.decode(z)), [model], _codes_input(2))
    firsts = [int((labels == c).nonzero()[0, 0]) for c in range(len(class_names))
              if (labels == c).any()]
    return Widget("latent", {"decoder": decoder},
                  {"codes": _b64(codes), "labels": _b64(labels, torch.int32),
                   "classes": list(class_names), "ends": firsts},
                  "Move the pointer over the plane: the decoder draws the code under it. The "
                  "slider walks between two test digits' codes.")


def sampler(model: nn.Module) -> Widget:
    """Chapter 3: fresh samples from a GAN (its averaged generator, if any), and a spherical
    walk between two noise vectors."""
    generator = export(lambda m, z: m.generate(z), [model], _codes_input(model.latent_size))
    return Widget("samples", {"generator": generator},
                  {"latent_size": model.latent_size},
                  "New noise, new samples; the slider walks along a great circle between two "
                  "noise vectors.")


def reconstructions(vae: nn.Module, vaegan: nn.Module, images: torch.Tensor, *,
                    count: int = 24) -> Widget:
    """Chapter 4: the same test digit reconstructed by the VAE and the VAE-GAN (from the
    encoder's mean), and the VAE-GAN's samples from the prior."""
    picks = _test_images(images, count)
    codes = _codes_input(vaegan.latent_size)
    networks = {
        "vae_rebuild": export(lambda m, x: m.reconstruct(x), [vae], picks[:2]),
        "vaegan_rebuild": export(lambda m, x: m.reconstruct(x), [vaegan], picks[:2]),
        "vaegan_decoder": export(lambda m, z: m.generate(z), [vaegan], codes),
    }
    return Widget("reconstruct", networks,
                  {"images": _b64(picks, torch.uint8), "latent_size": vaegan.latent_size},
                  "Pick a test digit: both models rebuild it from the encoder's mean. New "
                  "samples come from the VAE-GAN's prior.")
