"""How much a student reads: each chapter's words before its exercises, its longest paragraph and
its longest sentence, from the notebooks' Markdown.

    python benchmarks/prose.py

Words are counted outside display math, code blocks, folded solutions and HTML comments; inline
math and roles count as one word each. A paragraph is a block between blank lines, or one list
item; a sentence ends at ".", "!" or "?" followed by a space and a capital, or at a paragraph's
end.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMITS = {"words": 2500, "paragraph": 200, "sentence": 50}
"""At most this many words before the exercises, in one paragraph, in one sentence."""


def strip(markdown: str, math: str = "MATH", role: str = "ROLE") -> str:
    """``markdown`` without comments, folded solutions, code blocks and display math; inline math
    and roles (glued numbers, citations) replaced by ``math`` and ``role``, links by their text."""
    text = re.sub(r"<!--.*?-->", "", markdown, flags=re.S)
    text = re.sub(r":::\{admonition\}.*?\n:::", "", text, flags=re.S)
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    text = re.sub(r"\$[^$]+\$", math, text)
    text = re.sub(r"\{[a-z:]+\}`[^`]*`", role, text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def paragraphs(markdown: str) -> list[str]:
    """The paragraphs and list items of one Markdown cell, headings left out."""
    found = []
    for block in re.split(r"\n\s*\n", strip(markdown)):
        for item in re.split(r"\n(?=\s*(?:[-*]|\d+\.) )", block):
            item = " ".join(line for line in item.splitlines()
                            if not line.lstrip().startswith(("#", "|")))
            if item.strip():
                found.append(item)
    return found


def sentences(paragraph: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])[)\"”*]*\s+(?=[A-Z0-9(\"“*$])", paragraph) if s.strip()]


def words(text: str) -> int:
    return len(re.findall(r"[\w$'’.,%-]+", text))


def measure(notebook: Path) -> dict[str, int]:
    """Words before the exercises, and the longest paragraph's and sentence's words."""
    cells = json.loads(notebook.read_text())["cells"]
    before, longest_paragraph, longest_sentence = 0, 0, 0
    reading = True
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        head, _, tail = source.partition("## Exercises")
        for part, counted in ((head, reading), (tail, False)):
            for p in paragraphs(part):
                before += words(p) if counted else 0
                longest_paragraph = max(longest_paragraph, words(p))
                longest_sentence = max([longest_sentence, *(words(s) for s in sentences(p))])
        if tail or source.startswith("## Exercises"):
            reading = False
    return {"words": before, "paragraph": longest_paragraph, "sentence": longest_sentence}


def longest(notebook: Path, what: str = "sentence", n: int = 5) -> list[tuple[int, str]]:
    """The ``n`` longest sentences (or paragraphs) of a chapter, with their word counts."""
    found = []
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            for p in paragraphs("".join(cell["source"])):
                found += [(words(s), s) for s in (sentences(p) if what == "sentence" else [p])]
    return sorted(found, reverse=True)[:n]


def main() -> None:
    print(f"{'chapter':36} {'words':>6} {'paragraph':>10} {'sentence':>9}   (limits "
          f"{LIMITS['words']}, {LIMITS['paragraph']}, {LIMITS['sentence']})")
    for notebook in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        m = measure(notebook)
        print(f"{notebook.stem:36} {m['words']:6} {m['paragraph']:10} {m['sentence']:9}")
        if "-v" in sys.argv:
            for count, text in longest(notebook):
                if count > LIMITS["sentence"]:
                    print(f"    {count}: {text[:160]}")


if __name__ == "__main__":
    main()
