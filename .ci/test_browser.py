"""The built website, opened in headless Chromium the way a reader sees it.

Run by ``.ci/run`` after the smoke-profile book build (``pytest .ci/test_browser.py``). For every
page in ``_toc.yml`` it checks that the equations rendered (MathJax output present, no raw TeX
left), every image loaded, the animation player works where the chapter has one, the Colab
button opens that page's reader notebook (``reader/``), the browser logged no JavaScript errors (except
:data:`KNOWN_HARMLESS`), and every internal link resolves, and every live widget (``genadv_utils.live``) loads its model,
computes what PyTorch computes and answers the reader's input. The browser may reach nothing but
the local server. It saves a full-page screenshot of
each page into ``_build/screenshots`` (``GENADV_SCREENSHOTS`` overrides), which CI keeps, and
opens one reader notebook in JupyterLab, as a reader on a laptop (or in Colab) sees it, with two
screenshots kept (``jupyterlab_*.png``).

Chromium and its driver come from Debian (``chromium``, ``chromium-driver``); nothing is
downloaded. ``GENADV_SITE`` points at another built site than ``_build/html``.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from check_site import toc_files  # .ci/, which pytest puts on the path for this file
from genadv_utils.live import CHECK_TOLERANCE

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("GENADV_SITE", ROOT / "_build" / "html"))
SHOTS = Path(os.environ.get("GENADV_SCREENSHOTS", ROOT / "_build" / "screenshots"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  # no network but the local server: the pages must work offline
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--window-size=1280,900"]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())

KNOWN_HARMLESS: list[str] = []
"""Substrings of console errors that are expected and do no harm (none so far)."""

RAW_TEX = re.compile(r"\\(frac|mathbb|mathcal|mathrm|operatorname|sum|log|left|right|begin"
                     r"|sigma|mu|theta|phi|lVert|quad)\b|\$\$")


PAGES = toc_files()
CHAPTERS = [doc for doc in PAGES if doc.startswith("notebooks/")]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The built site over HTTP on a free local port."""
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built site at {SITE}: run `jupyter-book build --all .` first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep pytest's output readable
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def _open(browser, url: str) -> dict:
    """Load ``url``, wait for MathJax to finish typesetting, and return the page's facts."""
    browser.get(url)
    browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const wait = () => (window.MathJax && MathJax.startup && MathJax.startup.promise)
            ? MathJax.startup.promise.then(() => done(true), () => done(false))
            : done(null);
        if (document.readyState === "complete") wait();
        else window.addEventListener("load", wait);
    """)
    return browser.execute_script("""
        const math = Array.from(document.querySelectorAll("div.math, span.math"));
        const text = document.querySelector("main") || document.body;
        const copy = text.cloneNode(true);
        copy.querySelectorAll("pre, code, script, style, mjx-container, textarea")
            .forEach(e => e.remove());
        return {
            math: math.length,
            untypeset: math.filter(e => !e.querySelector("mjx-container")).length,
            typeset: document.querySelectorAll("mjx-container").length,
            text: copy.textContent,
            images: Array.from(document.images).map(i => ({
                src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0,
                alt: i.getAttribute("alt"),
                caption: i.closest("figure")?.querySelector("figcaption")?.textContent
                    ?? null})),
            links: Array.from(document.querySelectorAll("a[href]")).map(a => a.href),
            colab: Array.from(document.querySelectorAll("a[href*='colab.research.google']"))
                .map(a => a.href),
            animations: document.querySelectorAll("div.animation").length,
            previous: (document.querySelector("a.left-prev") || {}).href || null,
            next: (document.querySelector("a.right-next") || {}).href || null,
        };
    """)


@pytest.fixture(scope="module")
def pages(server, browser) -> dict[str, dict]:
    """Every page's facts, with its console errors, and its full-page screenshot saved."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    facts = {}
    for doc in PAGES:
        browser.get_log("browser")  # drop what earlier pages logged
        page = _open(browser, f"{server}/{doc}.html")
        page["errors"] = [e["message"] for e in browser.get_log("browser")
                          if e["level"] == "SEVERE"]
        _screenshot(browser, SHOTS / f"{doc.replace('/', '_')}.png")
        facts[doc] = page
    return facts


def _screenshot(browser, path: Path) -> None:
    """The whole page, not just the window, through the DevTools protocol."""
    size = browser.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))


@pytest.mark.parametrize("doc", PAGES)
def test_equations_are_typeset_and_no_raw_tex_is_left(pages, doc):
    page = pages[doc]
    assert page["untypeset"] == 0, f"{page['untypeset']} of {page['math']} equations not typeset"
    if page["math"]:
        assert page["typeset"] >= page["math"]
    raw = sorted({m.group(0) for m in RAW_TEX.finditer(page["text"])})
    assert not raw, f"raw TeX on the page: {raw}"


@pytest.mark.parametrize("doc", PAGES)
def test_every_image_loads_and_has_alt_text(pages, doc):
    images = pages[doc]["images"]
    broken = [i["src"][:120] for i in images if not i["ok"]]
    assert not broken, f"images that did not load: {broken}"
    unlabelled = [i["src"][:120] for i in images
                  if not (i["alt"] or "").strip() or "_images/" in i["alt"]]
    assert not unlabelled, f"images without alt text (or with their file name as alt): {unlabelled}"


@pytest.mark.parametrize("doc", CHAPTERS)
def test_chapter_figures_are_shown_with_captions(pages, doc):
    figures = [i for i in pages[doc]["images"] if "_images/" in i["src"]]
    assert figures, "no figures on the page"
    uncaptioned = [i["alt"] for i in figures if not (i["caption"] or "").strip()]
    assert not uncaptioned, f"figures without a caption: {uncaptioned}"


@pytest.mark.parametrize("doc", CHAPTERS)
def test_animation_player_is_present_where_the_chapter_animates(pages, browser, server, doc):
    animates = "animate_grids(" in (ROOT / f"{doc}.ipynb").read_text()
    assert (pages[doc]["animations"] > 0) == animates
    if not animates:
        return
    browser.get(f"{server}/{doc}.html")
    moved = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const player = document.querySelector("div.animation");
        const image = player.querySelector("img");
        const before = image.src;
        const step = Array.from(player.querySelectorAll("button"))
            .find(b => (b.getAttribute("onclick") || "").includes("next_frame"));
        step.click();
        setTimeout(() => done([image.naturalWidth > 0, image.src !== before]), 300);
    """)
    assert moved == [True, True], "the animation's frame did not load or did not advance"


@pytest.mark.parametrize("doc", CHAPTERS)
def test_colab_button_opens_this_pages_reader_notebook(pages, doc):
    repository = urlsplit(CONFIG["repository"]["url"]).path.strip("/")
    branch = CONFIG["repository"].get("branch", "main")
    reader = f"reader/{doc.split('/')[-1]}.ipynb"
    expected = f"https://colab.research.google.com/github/{repository}/blob/{branch}/{reader}"
    assert pages[doc]["colab"] == [expected]
    assert (ROOT / reader).exists()


@pytest.mark.parametrize("doc", PAGES)
def test_no_javascript_errors(pages, doc):
    errors = [e for e in pages[doc]["errors"] if not any(k in e for k in KNOWN_HARMLESS)]
    assert not errors, json.dumps(errors, indent=1)


@pytest.mark.parametrize("doc", PAGES)
def test_internal_links_resolve(pages, server, doc):
    broken = []
    for link in pages[doc]["links"]:
        if not link.startswith(server):
            continue
        url = urlsplit(link)
        target = SITE / unquote(url.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(link[len(server):])
        elif url.fragment and target.suffix == ".html":
            html = target.read_text(errors="replace")
            if f'id="{unquote(url.fragment)}"' not in html:
                broken.append(link[len(server):])
    assert not broken, f"internal links that do not resolve: {sorted(set(broken))}"


@pytest.mark.parametrize("doc", PAGES)
def test_previous_and_next_follow_the_chapter_order(pages, server, doc):
    i = PAGES.index(doc)
    expected_previous = f"{server}/{PAGES[i - 1]}.html" if i > 0 else None
    expected_next = f"{server}/{PAGES[i + 1]}.html" if i + 1 < len(PAGES) else None
    page = pages[doc]
    assert (page["previous"], page["next"]) == (expected_previous, expected_next)


@pytest.mark.parametrize("doc", CHAPTERS)
def test_citations_link_to_the_bibliography(pages, server, doc):
    cites = len(re.findall(r"\{cite\}`", (ROOT / f"{doc}.ipynb").read_text()))
    links = [u for u in pages[doc]["links"] if "/book/references.html#" in u]
    assert len(links) >= cites, f"{cites} citations but {len(links)} bibliography links"


def test_every_page_has_a_full_page_screenshot(pages):
    for doc in PAGES:
        shot = SHOTS / f"{doc.replace('/', '_')}.png"
        assert shot.stat().st_size > 10_000, shot
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


LIVE = {"notebooks/01_denoising_autoencoder": "denoise",
        "notebooks/02_variational_autoencoder": "latent",
        "notebooks/03_generative_adversarial_network": "samples",
        "notebooks/04_vae_gan": "reconstruct"}
"""The pages with a live widget, and the kind each shows."""

_CANVASES = "return Array.from(document.querySelector('.genadv-live')" \
            ".querySelectorAll('canvas')).map(c => c.toDataURL())"


def _wait_for_change(browser, before: list[str], seconds: float = 15.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = browser.execute_script(_CANVASES)
        if now != before:
            return now
        time.sleep(0.1)
    return before


def _interact(browser, kind: str) -> None:
    """What a reader does: a stroke, a click on a button, an input on a slider."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    root = browser.find_element(By.CSS_SELECTOR, ".genadv-live")
    canvas = root.find_elements(By.TAG_NAME, "canvas")[0]
    if kind == "denoise":  # a stroke across the drawing pad
        ActionChains(browser).move_to_element_with_offset(canvas, -30, -40).click_and_hold() \
            .move_by_offset(20, 30).move_by_offset(20, 30).move_by_offset(10, 20).release() \
            .perform()
    elif kind == "latent":  # the pointer over the plane, then the walk's slider
        ActionChains(browser).move_to_element_with_offset(canvas, 40, -50).perform()
    buttons = root.find_elements(By.TAG_NAME, "button")
    if kind == "samples":
        buttons[0].click()  # New samples
        buttons[1].click()  # New end points
    if kind == "reconstruct":
        buttons[1].click()  # Next digit
        buttons[2].click()  # New samples
    browser.execute_script("""
        const range = document.querySelector('.genadv-live input[type=range]');
        if (range) { range.value = 0.8; range.dispatchEvent(new Event('input')); }""")


@pytest.fixture(scope="module")
def live(server, browser) -> dict[str, dict]:
    """Each widget page: its widget scrolled into view, loaded, checked against PyTorch, then
    used; screenshots of the widget before and after are saved."""
    from selenium.webdriver.common.by import By

    SHOTS.mkdir(parents=True, exist_ok=True)
    facts = {}
    for doc, kind in LIVE.items():
        browser.get_log("browser")
        _open(browser, f"{server}/{doc}.html")
        root = browser.find_element(By.CSS_SELECTOR, ".genadv-live")
        browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", root)
        state = browser.execute_async_script("""
            const done = arguments[arguments.length - 1], root = arguments[0];
            const started = performance.now();
            const wait = () => root.genadvLive ? root.genadvLive.ready.then(ok => done({
                ok: ok, kind: root.dataset.kind, state: root.dataset.state,
                status: root.querySelector('.genadv-live-status').textContent,
                load: root.genadvLive.loadSeconds, canvases: root.querySelectorAll('canvas').length,
                models: Array.from(performance.getEntriesByType('resource'))
                    .filter(e => e.name.includes('/_live/') || e.name.includes('/_static/ort/'))
                    .map(e => [e.name.split('/').pop(), e.encodedBodySize || e.transferSize])}))
                : (performance.now() - started > 50000 ? done({ok: false, status: 'no widget'})
                   : setTimeout(wait, 100));
            wait();""", root)
        facts[doc] = state
        if not state.get("ok"):
            facts[doc]["errors"] = [e["message"] for e in browser.get_log("browser")]
            continue
        state["checks"] = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "arguments[0].genadvLive.check().then(done, e => done({error: String(e)}))", root)
        name = doc.replace("/", "_")
        root.screenshot(str(SHOTS / f"live_{name}_before.png"))
        before = browser.execute_script(_CANVASES)
        _interact(browser, kind)
        after = _wait_for_change(browser, before)
        time.sleep(0.5)  # let the last frame land before the picture
        root.screenshot(str(SHOTS / f"live_{name}_after.png"))
        state["changed"] = [a != b for a, b in zip(before, browser.execute_script(_CANVASES))]
        state["changed_any"] = after != before
        state["errors"] = [e["message"] for e in browser.get_log("browser")
                           if e["level"] == "SEVERE"]
    (SHOTS / "live.json").write_text(json.dumps(facts, indent=1))
    return facts


@pytest.mark.parametrize("doc", list(LIVE))
def test_live_widget_loads_offline_and_draws(live, doc):
    state = live[doc]
    assert state.get("ok"), f"the widget did not load: {state}"
    assert state["kind"] == LIVE[doc] and state["state"] == "ready"
    assert state["canvases"] >= 2
    names = [name for name, _ in state["models"]]
    assert any(n.endswith(".wasm") for n in names), f"no runtime from the site: {names}"
    assert any(n.endswith(".onnx") for n in names), f"no network from the site: {names}"


@pytest.mark.parametrize("doc", list(LIVE))
def test_live_widget_computes_what_pytorch_computes(live, doc):
    checks = live[doc]["checks"]
    assert "error" not in checks, checks
    assert checks and all(v < CHECK_TOLERANCE for v in checks.values()), \
        f"largest |browser - PyTorch| per network: {checks}"


@pytest.mark.parametrize("doc", list(LIVE))
def test_live_widget_answers_the_reader(live, doc):
    state = live[doc]
    assert state["changed_any"] and all(state["changed"]), \
        f"canvases that changed after the interaction: {state['changed']}"
    assert not state["errors"], json.dumps(state["errors"], indent=1)


READER_SHOWN = "04_vae_gan"
"""The reader notebook opened in JupyterLab (the book's centrepiece)."""


LAB_SETTINGS = {
    "notebook-extension/tracker": {"windowingMode": "none"},  # every cell in the page
    "apputils-extension/notification": {"fetchNews": "false"},  # no pop-up asking for news
    "docmanager-extension/plugin": {"autosave": False},  # the committed copy stays as it is
}
"""JupyterLab's settings for the test: plugin → values."""


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory) -> Iterator[str]:
    """JupyterLab on a free local port, serving the repository, every cell rendered (no
    windowing, so the whole notebook is in the page)."""
    import socket
    import subprocess
    import sys
    import urllib.request

    settings = tmp_path_factory.mktemp("lab-settings")
    for plugin, values in LAB_SETTINGS.items():
        path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lab = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", "--allow-root", "--IdentityProvider.token=",
         "--ServerApp.password=",
         f"--ServerApp.root_dir={ROOT}", f"--LabApp.user_settings_dir={settings}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or lab.poll() is not None:
                lab.kill()
                pytest.fail("JupyterLab did not start")
            time.sleep(0.5)
    yield url
    lab.terminate()
    lab.wait(timeout=30)


def test_a_reader_notebook_in_jupyterlab_shows_numbers_not_roles(jupyterlab, browser):
    """What a reader who opens the chapter outside the book sees: the website's numbers in the
    text, no MyST role, the checks folded. Screenshots of the top and of the first paragraph
    that quotes a number are kept."""
    import sys

    from selenium.webdriver.common.by import By

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import genadv_reader

    copy = json.loads((ROOT / "reader" / f"{READER_SHOWN}.ipynb").read_text())
    source = json.loads((ROOT / "notebooks" / f"{READER_SHOWN}.ipynb").read_text())
    quoting = next(i for i, c in enumerate(source["cells"])
                   if c["cell_type"] == "markdown" and genadv_reader.GLUE.search("".join(c["source"])))
    shown_text = "".join(copy["cells"][quoting + 1]["source"])  # + 1: the copy's first cell
    browser.get(f"{jupyterlab}/lab/tree/reader/{READER_SHOWN}.ipynb")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        cells = browser.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")
        rendered = browser.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-RenderedMarkdown")
        if len(cells) == len(copy["cells"]) and len(rendered) >= 5:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"JupyterLab showed {len(cells)} of {len(copy['cells'])} cells")
    time.sleep(2)  # MathJax
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / f"jupyterlab_{READER_SHOWN}_top.png"))
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", cells[quoting + 1])
    time.sleep(1)
    browser.save_screenshot(str(SHOTS / f"jupyterlab_{READER_SHOWN}_numbers.png"))
    text = browser.find_element(By.CSS_SELECTOR, ".jp-Notebook").text
    assert "{glue" not in text and "{cite}" not in text and ":::" not in text
    assert "The reader's copy of" in text
    words = re.findall(r"\d+\.\d+", re.sub(r"\$[^$]*\$", "", shown_text))  # outside math
    assert words and all(w in cells[quoting + 1].text for w in words), shown_text
    assert "book.glue(" not in text and "book.check(" not in text  # folded
