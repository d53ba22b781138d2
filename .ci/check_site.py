"""Check the built site: every page in _toc.yml exists; every chapter page shows all the
figures its executed notebook produced (each image file present and non-empty), has no error
output, and, where it has math, loads MathJax from the site itself, not from a CDN."""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
EXECUTED = ROOT / "_build" / "jupyter_execute"


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for p in toc.get("parts", []) for c in p["chapters"]]


def check_page(doc: str) -> list[str]:
    page_path = HTML / f"{doc}.html"
    if not page_path.exists():
        return [f"{page_path.relative_to(ROOT)} is missing"]
    text = page_path.read_text()
    page = Page()
    page.feed(text)
    problems = []
    for src in page.images:
        if src.startswith(("http:", "https:")):
            problems.append(f"{doc}: image loaded from the web: {src}")
        elif not src.startswith("data:"):
            image = (page_path.parent / src.split("?")[0]).resolve()
            if not image.exists() or image.stat().st_size == 0:
                problems.append(f"{doc}: image {src} is missing or empty")
    mathjax = [s for s in page.scripts if "mathjax" in s.lower()]
    has_math = 'class="math' in text
    if has_math and not mathjax or any(s.startswith(("http:", "https:", "//")) for s in mathjax):
        problems.append(f"{doc}: MathJax is not served from the site ({mathjax})")
    elif has_math and not (page_path.parent / mathjax[0].split("?")[0]).resolve().exists():
        problems.append(f"{doc}: {mathjax[0]} is missing")
    notebook = EXECUTED / f"{doc}.ipynb"
    if doc.startswith("notebooks/"):
        if not notebook.exists():
            problems.append(f"{doc}: no executed notebook at {notebook.relative_to(ROOT)}")
        else:
            nb = nbformat.read(notebook, as_version=4)
            outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
            figures = sum("image/png" in o.get("data", {}) for o in outputs)
            errors = [o for o in outputs if o.output_type == "error"]
            shown = sum(1 for s in page.images if "_images/" in s)
            if errors:
                problems.append(f"{doc}: {len(errors)} cells failed")
            if figures == 0 or shown < figures:
                problems.append(f"{doc}: {figures} figures executed but {shown} shown on the page")
            else:
                print(f"{doc}: {shown} figures, no errors")
    return problems


def main() -> int:
    problems = [p for doc in toc_files() for p in check_page(doc)]
    for p in problems:
        print("PROBLEM:", p)
    verdict = "OK" if not problems else f"{len(problems)} problems"
    print(f"checked {len(toc_files())} pages: {verdict}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
