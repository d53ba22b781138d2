"""Numbers in the chapters' prose come from the cells that compute them.

A result quoted in a chapter's text (a loss, a distance, a share, a time) is glued from the cell
that computes it (``book.glue`` and ``{glue:text}`key:format```), so a rebuild can never
leave a stale number behind. This test reads every chapter's Markdown, outside math, code,
glue roles and exercise solutions (whose numbers name the run they come from and are printed by
their code), and fails on any number that is not one of the chapter's constants listed here:
sizes of the data and the images, hyperparameters, chapter and list numbers, figures from
papers, and the values the exercises ask for.
"""

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import prose as reading  # noqa: E402

COMMON = {"0", "1", "2", "3", "4", "5", "10", "28", "784", "10 000", "10,000", "60 000",
          "50 %", "90 %", "95 %", "5 %", "10 %", "0.5", "0.01", "0.1", "16", "64"}
"""Chapter numbers, list items, image and dataset sizes, common settings."""

CONSTANTS = {
    "00_data_tour": {"55 000", "5 000", "1 000"},
    "01_denoising_autoencoder": {"3 dB", "0.25", "0.8"},
    "02_variational_autoencoder": {"0.3", "50", "20", "8", "0.5 nats", "7"},
    "03_generative_adversarial_network": {"128", "8", "2000", "0.999", "50", "0.9", "0.75",
                                          "0.25", "25", "7", "400", "6", "100 %", "512"},
    "04_vae_gan": {"0.35", "0.6", "6", "32", "512", "0.7", "8", "200"},
    "05_comparison": {"500", "1000", "2000", "5000", "12"},
    "06_fashion_mnist": {"0.9", "99 %"},
}
"""Per chapter: hyperparameters, paper figures and the values its exercises ask for."""

NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:[ ,]\d{3})+(?![\d.])|(?<![\w.])\d+(?:\.\d+)?"
                    r"(?:\s?(?:%|dB|nats))?")


def prose(source: str) -> str:
    """Markdown without solutions, code, math, roles and links (:func:`prose.strip`), code spans
    and headings."""
    text = re.sub(r"`[^`]*`", "", reading.strip(source, math="", role=""))
    return re.sub(r"^#+ .*$", "", text, flags=re.M)  # headings hold chapter numbers


@pytest.mark.parametrize("chapter", sorted(CONSTANTS))
def test_every_number_in_the_prose_is_glued_or_a_constant(chapter):
    nb = json.loads((ROOT / f"notebooks/{chapter}.ipynb").read_text())
    found = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for match in NUMBER.finditer(prose("".join(cell["source"]))):
            number = match.group(0)
            if number not in COMMON | CONSTANTS[chapter]:
                found.append(f"cell {index}: {number!r}")
    assert not found, f"numbers typed into {chapter}'s prose (glue them): {found}"


def test_the_scanner_finds_a_typed_result():
    text = "The distance is 89.3 and {glue:text}`fd:.1f` is glued; $x = 2.5$ is math."
    assert [m.group(0) for m in NUMBER.finditer(prose(text))] == ["89.3"]



@pytest.mark.parametrize("chapter", sorted(CONSTANTS))
def test_a_chapter_is_short_enough_to_read(chapter):
    """At most 2,500 words before the exercises, no paragraph over 200 words, no sentence over
    50 (``python benchmarks/prose.py -v`` names the long ones)."""
    measured = reading.measure(ROOT / f"notebooks/{chapter}.ipynb")
    over = {what: measured[what] for what, limit in reading.LIMITS.items()
            if measured[what] > limit}
    assert not over, f"{chapter} is over its limits {reading.LIMITS}: {over}"


@pytest.mark.parametrize("chapter", sorted(CONSTANTS))
def test_the_reader_copy_is_short_enough_to_read(chapter):
    """The same limits on the copy a Colab reader reads: numbers and citations written out, the
    note on where its numbers come from and the folded solutions included."""
    measured = reading.measure(ROOT / f"reader/{chapter}.ipynb")
    over = {what: measured[what] for what, limit in reading.LIMITS.items()
            if measured[what] > limit}
    assert not over, f"reader/{chapter}.ipynb is over its limits {reading.LIMITS}: {over}"


@pytest.mark.parametrize("chapter", ["01_denoising_autoencoder", "02_variational_autoencoder",
                                     "03_generative_adversarial_network", "04_vae_gan"])
def test_a_model_chapter_shows_its_networks_and_makes_the_student_write_code(chapter):
    """The networks' classes on the page before training, and an exercise the student completes:
    a function left to write, a check cell, and a folded solution that passes the check."""
    cells = json.loads((ROOT / f"notebooks/{chapter}.ipynb").read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    exercises = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                     and "## Exercises" in "".join(c["source"]))
    shown = [s for s in code if re.search(r"show_source\((?:\w+\.)+[A-Z]\w*\)", s)]
    assert shown, f"{chapter} shows no network class's source"
    later = cells[exercises:]
    todo = [c for c in later if c["cell_type"] == "code"
            and "raise NotImplementedError" in "".join(c["source"])]
    solved = [c for c in later if c["cell_type"] == "code"
              and "hide-cell" in c.get("metadata", {}).get("tags", [])
              and "assert exercise.check(" in "".join(c["source"])]
    assert todo and solved, f"{chapter} has no exercise with code to complete and a solution"
