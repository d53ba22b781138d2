"""The reader's notebooks (``reader/``): what Colab and Jupyter show of each chapter.

Each copy must be its chapter (same prose, same code) with the website's numbers in place of
the roles, render as plain CommonMark without a trace of MyST, and quote values computed by
today's code. pytest runs the copies top to bottom (``testpaths`` in pyproject.toml) on a plain
kernel; the book's build runs the chapters themselves.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import genadv_reader  # noqa: E402

CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BOOKKEEPING = re.compile(r"\b(book\.)?(glue|check)\(")
LEFT_OVER_MYST = re.compile(r"\{[a-z][\w:-]*\}<code>|:::|language-\{|\{glue|\{cite")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


_text, _hidden = genadv_reader.cell_text, genadv_reader.is_hidden


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_reader_copy_is_its_chapter_with_todays_numbers(chapter):
    """The committed copy is what its chapter and its recorded values make; the message says
    which command remakes it."""
    committed = json.loads((genadv_reader.READER / chapter.name).read_text())
    assert committed == genadv_reader.expected(chapter), (
        f"reader/{chapter.name} is not its chapter's copy: run "
        "`python book/_ext/genadv_reader.py` after editing the chapter's prose")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_reader_copy_renders_as_commonmark_without_myst(chapter):
    """Colab and Jupyter render Markdown as CommonMark: no role, fence or directive shows."""
    render = MarkdownIt("commonmark").render
    for index, cell in enumerate(_cells(genadv_reader.READER / chapter.name)):
        if cell["cell_type"] == "markdown":
            html = render(_text(cell))
            left = LEFT_OVER_MYST.search(html)
            assert not left, f"reader/{chapter.name} cell {index} shows {left.group(0)!r}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_reader_copy_has_no_outputs_and_folds_the_checks(chapter):
    for cell in _cells(genadv_reader.READER / chapter.name):
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None
            if _hidden(cell):
                assert _text(cell).startswith("#@title ")
                assert cell["metadata"]["jupyter"]["source_hidden"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_teaching_cells_hold_almost_no_bookkeeping(chapter):
    """Glue and checks live in the cells the website hides: at most 5 % of the code lines a
    reader sees are bookkeeping."""
    seen = [line for cell in _cells(chapter) if cell["cell_type"] == "code" and not _hidden(cell)
            for line in _text(cell).splitlines() if line.strip()]
    kept = [line for line in seen if BOOKKEEPING.search(line)]
    assert len(kept) <= 0.05 * len(seen), kept


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_glued_name_is_a_literal_a_reader_can_grep(chapter):
    for cell in _cells(chapter):
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse(_text(cell))):
            if (isinstance(node, ast.Call) and getattr(node.func, "attr",
                                                       getattr(node.func, "id", "")) == "glue"):
                assert isinstance(node.args[0], ast.Constant), ast.unparse(node)


def test_a_role_becomes_the_websites_value_formatted_as_the_website_does():
    text = "distance {glue:text}`fd:.1f`, {glue:text}`share:.0f` %, by {glue:text}`who`"
    values = {"fd": "34.5678", "share": "76.8", "who": "GAN"}
    assert genadv_reader.plain_markdown(text, values, {}) == "distance 34.6, 77 %, by GAN"


def test_citations_and_solutions_become_plain_markdown():
    cited = genadv_reader.references()
    assert cited["larsen2016"] == "Larsen et al., 2016"
    text = ("as {cite}`larsen2016` show; {cite:t}`larsen2016` say.\n\n"
            ":::{admonition} Solution\n:class: dropdown\nIt is **sharper**.\n:::\n")
    plain = genadv_reader.plain_markdown(text, {}, cited)
    assert plain.startswith("as (Larsen et al., 2016) show; Larsen et al. (2016) say.")
    assert "<details>\n<summary>Solution</summary>\n\nIt is **sharper**.\n\n</details>" in plain


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("0*.ipynb")),
                         ids=lambda p: p.stem)
def test_no_citation_repeats_the_authors_just_named(notebook):
    """``Kingma & Welling {cite}`...` `` renders "Kingma & Welling (Kingma and Welling, 2014)";
    a sentence that names the authors cites with ``{cite:t}`` instead, and no citation sits
    inside parentheses of its own."""
    cited = genadv_reader.references()
    doubled = []
    for cell in json.loads(notebook.read_text())["cells"]:
        text = "".join(cell["source"]) if cell["cell_type"] == "markdown" else ""
        for match in re.finditer(r"\{cite(?::p)?\}`([^`]+)`", text):
            before = text[max(0, match.start() - 40):match.start()]
            first = cited[match.group(1).split(",")[0].strip()].split()[0].rstrip(",")
            if first in before or before.count("(") > before.count(")"):
                doubled.append(before[-30:] + match.group(0))
    assert not doubled, f"citations that repeat their authors or nest in parentheses: {doubled}"


def test_a_missing_value_or_unknown_markup_is_one_clear_error():
    with pytest.raises(genadv_reader.ReaderError, match="'fd', which the build did not glue"):
        genadv_reader.plain_markdown("{glue:text}`fd:.1f`", {}, {}, "ch cell 3")
    with pytest.raises(genadv_reader.ReaderError, match="cannot show"):
        genadv_reader.plain_markdown("see {numref}`fig-a`", {}, {}, "ch cell 4")


def test_a_copy_from_other_code_is_refused(tmp_path, monkeypatch):
    """A copy whose key no longer matches its chapter's code names the command that remakes it."""
    chapter = CHAPTERS[0]
    copy = json.loads((genadv_reader.READER / chapter.name).read_text())
    copy["metadata"][genadv_reader.METADATA]["key"] = "0" * 16
    (tmp_path / chapter.name).write_text(json.dumps(copy))
    monkeypatch.setattr(genadv_reader, "READER", tmp_path)
    with pytest.raises(genadv_reader.ReaderError, match="build the book in the default profile"):
        genadv_reader.expected(chapter)


def test_readme_opens_each_chapters_reader_copy_in_colab():
    """README's Colab links open the copies the tests check, in the configured repository."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    repository = config["url"].removeprefix("https://github.com/")
    links = re.findall(r"\(https://colab\.research\.google\.com/github/([^)]+)\)",
                       (ROOT / "README.md").read_text())
    expected = [f"{repository}/blob/{config['branch']}/reader/{c.name}" for c in CHAPTERS]
    assert links == expected


def test_every_bibliography_entry_gives_authors_and_year():
    cited = genadv_reader.references()
    entries = (ROOT / "book" / "references.bib").read_text().count("\n@") + 1
    assert len(cited) == entries
    assert cited["yazici2019"] == "Yazıcı et al., 2019"
    assert cited["arjovsky2017"] == "Arjovsky and Bottou, 2017"


def _scratch_reader(tmp_path, monkeypatch):
    """A copy of reader/ that the script's main reads and writes instead."""
    folder = tmp_path / "reader"
    folder.mkdir()
    for chapter in CHAPTERS:
        (folder / chapter.name).write_text((genadv_reader.READER / chapter.name).read_text())
    monkeypatch.setattr(genadv_reader, "READER", folder)
    monkeypatch.setattr(genadv_reader, "ROOT", tmp_path)
    return folder


def test_check_names_every_stale_copy_orphans_and_unreadable_metadata(tmp_path, monkeypatch,
                                                                      capsys):
    folder = _scratch_reader(tmp_path, monkeypatch)
    assert genadv_reader.main(["--check"]) == 0
    for chapter in CHAPTERS[:2]:  # two copies from other code: both named, not only the first
        copy = json.loads((folder / chapter.name).read_text())
        copy["metadata"][genadv_reader.METADATA]["key"] = "0" * 16
        (folder / chapter.name).write_text(json.dumps(copy))
    broken = json.loads((folder / CHAPTERS[2].name).read_text())
    del broken["metadata"][genadv_reader.METADATA]["values"]
    (folder / CHAPTERS[2].name).write_text(json.dumps(broken))
    (folder / "99_extra.ipynb").write_text("{}")
    capsys.readouterr()
    assert genadv_reader.main(["--check"]) == 2
    out, err = capsys.readouterr()
    for chapter in CHAPTERS[:3]:
        assert f"reader/{chapter.name}" in out
    assert "reader/99_extra.ipynb is the copy of no chapter" in err
    assert f"{CHAPTERS[2].name}: its metadata.genadv_reader cannot be read" in err
    assert "Traceback" not in err and len(err.splitlines()) == 4


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_reader_copy_installs_the_commit_its_numbers_came_from_and_lists_its_works(chapter):
    copy = json.loads((genadv_reader.READER / chapter.name).read_text())
    commit = copy["metadata"][genadv_reader.METADATA]["commit"]
    assert re.fullmatch(r"[0-9a-f]{40}", commit)
    setup = next(c for c in copy["cells"] if c["cell_type"] == "code")
    assert f'COMMIT = "{commit}"' in _text(setup) and 'f"git+{REPOSITORY}@{COMMIT}"' in _text(setup)
    cited = {k.strip() for c in _cells(chapter) if c["cell_type"] == "markdown"
             for m in genadv_reader.CITE.finditer(_text(c)) for k in m.group(2).split(",")}
    if cited:
        last = copy["cells"][-1]
        assert _text(last).startswith("## References")
        assert len(_text(last).splitlines()) == 2 + len(cited)


def test_a_file_the_text_names_links_to_the_repository_at_the_copys_commit():
    text = "see `benchmarks/gan_sweep.py` and `no/such/file.py`"
    plain = genadv_reader.plain_markdown(text, {}, {}, commit="abc123")
    assert plain == (f"see [`benchmarks/gan_sweep.py`]({genadv_reader.repository()}/blob/abc123/"
                     "benchmarks/gan_sweep.py) and `no/such/file.py`")


def test_the_copies_are_made_only_from_a_committed_unchanged_default_build(tmp_path):
    with pytest.raises(genadv_reader.ReaderError, match="no default build recorded"):
        genadv_reader.from_build(tmp_path)
    info = {"date": "2026-12-07", "machine": "m", "commit": None, "changed": [], "keys": {}}
    (tmp_path / genadv_reader.BUILD_INFO).write_text(json.dumps(info))
    with pytest.raises(genadv_reader.ReaderError, match="not a commit"):
        genadv_reader.from_build(tmp_path)
    info |= {"commit": "0" * 40, "changed": [" M genadv_utils/gan.py"]}
    (tmp_path / genadv_reader.BUILD_INFO).write_text(json.dumps(info))
    with pytest.raises(genadv_reader.ReaderError, match="gan.py"):
        genadv_reader.from_build(tmp_path)
    info |= {"changed": [], "keys": {p.stem: "stale" for p in CHAPTERS}}
    (tmp_path / genadv_reader.BUILD_INFO).write_text(json.dumps(info))
    with pytest.raises(genadv_reader.ReaderError, match="changed since the build"):
        genadv_reader.from_build(tmp_path)


def test_a_default_build_records_itself_and_leaves_the_copies_alone(tmp_path):
    """What the extension calls at the end of a default build: it writes only its record."""
    before = {p.name: p.read_bytes() for p in genadv_reader.READER.glob("*.ipynb")}
    info = json.loads(genadv_reader.record_build(tmp_path, "2 cores of a test").read_text())
    assert set(info["keys"]) == {p.stem for p in CHAPTERS} and info["machine"].endswith("test")
    assert info["commit"] is None or re.fullmatch(r"[0-9a-f]{40}", info["commit"])
    assert {p.name: p.read_bytes() for p in genadv_reader.READER.glob("*.ipynb")} == before
    assert list(tmp_path.iterdir()) == [tmp_path / genadv_reader.BUILD_INFO]
