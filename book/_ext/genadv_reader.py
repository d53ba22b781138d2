"""The reader's notebooks: each chapter as Colab and Jupyter show it, with the website's numbers.

The chapters quote their results through myst-nb roles (``{glue:text}`gan_fd:.1f` ``), which only
the book's build fills in; Colab and Jupyter render plain CommonMark and would show the role. So
every chapter ``notebooks/NAME.ipynb`` has a reader's copy ``reader/NAME.ipynb``, made from it:

- each ``{glue:text}`` role replaced by the value the website's build computed, formatted as
  the website formats it, and each ``{cite}`` role by its authors and year;
- each ``:::{admonition}`` (the exercises' solutions) a folded ``<details>`` block;
- the code cells as they are, without outputs; the cells the website hides (tag
  ``remove-cell``: the glue and the claims' checks) and folds (``hide-cell``: the exercises'
  solutions) folded, in Colab by a ``#@title`` form;
- the set-up cell installing the package at the commit the numbers came from;
- a first cell saying where the numbers come from, and a last one listing the works cited.

A default-profile build of the book (``jupyter-book build``) records what it ran
(:func:`record_build`); ``python book/_ext/genadv_reader.py --from-build`` then makes the copies
from the values it glued, at the commit it ran (the package and chapters committed, unchanged
since), and they are committed: the website's Colab buttons and README open them.
Each copy records the values and a key of everything that decided them
(:func:`genadv_utils.keys.chapter_key`: the package code the chapter imports that decides
weights or measures, the chapter's code cells, the published results files it reads), so a test
finds a copy whose prose or code no longer matches its chapter (``python
book/_ext/genadv_reader.py`` remakes the copies from their recorded values after a prose edit)
and one whose numbers another code would change (then only a new default build can make them).
The script hashes the package of the checkout it stands in, whatever else is installed.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # this checkout's package, not another one's that is installed
    sys.path.insert(0, str(ROOT))

from genadv_utils.keys import cell_text, chapter_key  # noqa: E402
from genadv_utils.files import atomic_write  # noqa: E402

SOURCES = ROOT / "notebooks"
READER = ROOT / "reader"
BIBLIOGRAPHY = ROOT / "book" / "references.bib"
BUILD_INFO = "genadv-build.json"  # beside a build's executed notebooks: see record_build
DECIDING = ("genadv_utils", "notebooks", "pyproject.toml")  # what the numbers' commit must hold
UNPINNED = 'COMMIT = "main"  # a reader\'s copy names the commit its numbers came from'
HIDDEN = "remove-cell"
FOLDED = "hide-cell"  # a code cell the website folds, output too: an exercise's solution
METADATA = "genadv_reader"

GLUE = re.compile(r"\{glue:text\}`([^`]+)`")
CITE = re.compile(r"\{cite(:[pt])?\}`([^`]+)`")
ADMONITION = re.compile(r"^:::\{admonition\}[ \t]*([^\n]*)\n(?::class:[^\n]*\n)?(.*?)^:::[ \t]*$",
                        re.M | re.S)
ANY_ROLE = re.compile(r"\{[a-z][\w:-]*\}`")
FILE = re.compile(r"(?<!\[)`((?:benchmarks|genadv_utils|book|tests)/[\w./-]+)`")


def repository() -> str:
    """The project's public address, from the book's configuration (its one source)."""
    import yaml

    return yaml.safe_load((SOURCES.parent / "_config.yml").read_text())["repository"]["url"]


class ReaderError(RuntimeError):
    """A reader's notebook that cannot be made (a value missing, another code's values)."""


def values_key(notebook: Mapping[str, Any]) -> str:
    """The key of what decides a chapter's glued values (:func:`genadv_utils.keys.chapter_key`)."""
    return chapter_key(notebook)


def glued_values(glue_file: Path) -> dict[str, str]:
    """The ``text/plain`` of every value a chapter glued, from the ``NAME.glue.json`` that
    myst-nb writes beside the executed notebook (none when the chapter glues nothing)."""
    if not glue_file.is_file():
        return {}
    data = json.loads(glue_file.read_text())
    return {name: output["data"]["text/plain"] for name, output in data.items()
            if "text/plain" in output.get("data", {})}


def references(path: Path = BIBLIOGRAPHY) -> dict[str, str]:
    """``{key: "Larsen et al., 2016"}`` for every entry of the book's bibliography, read by
    pybtex (the parser of the book's own bibliography extension), accents as letters."""
    from pybtex.database import parse_file
    from pybtex.richtext import Text

    found = {}
    for key, entry in parse_file(str(path)).entries.items():
        surnames = [Text.from_latex(" ".join(p.last_names)).render_as("text")
                    for p in entry.persons.get("author", [])]
        if not surnames or "year" not in entry.fields:
            continue
        who = (surnames[0] if len(surnames) == 1 else " and ".join(surnames) if len(surnames) == 2
               else f"{surnames[0]} et al.")
        found[key] = f"{who}, {entry.fields['year']}"
    return found


def full_references(keys: list[str], path: Path = BIBLIOGRAPHY) -> list[str]:
    """Each entry of ``keys`` written out for a reference list: authors, year, title, where it
    appeared, its address."""
    from pybtex.database import parse_file
    from pybtex.richtext import Text

    entries = parse_file(str(path)).entries

    def plain(latex: str) -> str:
        return Text.from_latex(latex).render_as("text")

    lines = []
    for key in keys:
        entry, fields = entries[key], entries[key].fields
        people = [plain(" ".join([*p.first_names, *p.middle_names, *p.last_names]))
                  for p in entry.persons.get("author", [])]
        authors = ", ".join(people[:-1]) + (" and " if len(people) > 1 else "") + people[-1]
        where = fields.get("booktitle") or fields.get("journal") or fields.get("howpublished", "")
        line = f"{authors} ({fields['year']}). {plain(fields['title'])}."
        line += f" *{plain(where)}*." if where else ""
        line += f" <{fields['url']}>" if "url" in fields else ""
        lines.append(line)
    return lines


def is_hidden(cell: Mapping[str, Any]) -> bool:
    """Whether ``cell`` is one of the chapter's hidden check cells."""
    return HIDDEN in cell.get("metadata", {}).get("tags", [])


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _format(text: str, spec: str) -> str:
    from myst_nb.core.variables import format_plain_text  # exactly as the website formats

    return format_plain_text(text, spec)


def plain_markdown(text: str, values: Mapping[str, str], cited: Mapping[str, str],
                   where: str = "", commit: str | None = None) -> str:
    """One Markdown cell of a chapter as CommonMark: roles replaced, admonitions folded, and a
    repository file named in code (`` `benchmarks/x.py` ``) linked at ``commit``."""
    def glue(match: re.Match) -> str:
        name, _, spec = match.group(1).partition(":")
        if name not in values:
            raise ReaderError(f"{where}: the text quotes {name!r}, which the build did not glue")
        return _format(values[name], spec)

    def cite(match: re.Match) -> str:
        keys = [k.strip() for k in match.group(2).split(",")]
        missing = [k for k in keys if k not in cited]
        if missing:
            raise ReaderError(f"{where}: {missing} not in {BIBLIOGRAPHY.name}")
        if match.group(1) == ":t":  # "Larsen et al. (2016)", as the website's {cite:t}
            return "; ".join("{} ({})".format(*cited[k].rsplit(", ", 1)) for k in keys)
        return "(" + "; ".join(cited[k] for k in keys) + ")"

    def fold(match: re.Match) -> str:
        title, body = match.group(1).strip() or "Details", match.group(2).strip("\n")
        return f"<details>\n<summary>{title}</summary>\n\n{body}\n\n</details>"

    def link(match: re.Match) -> str:
        path = match.group(1)
        if commit is None or not (SOURCES.parent / path.rstrip("/")).exists():
            return match.group(0)
        return f"[`{path}`]({repository()}/blob/{commit}/{path.rstrip('/')})"

    text = ADMONITION.sub(fold, CITE.sub(cite, GLUE.sub(glue, text)))
    text = FILE.sub(link, text)
    left = ANY_ROLE.search(text)
    if left or ":::" in text:
        raise ReaderError(f"{where}: MyST markup the reader's copy cannot show: "
                          f"{(left.group(0) if left else ':::')!r}")
    return text


def reader_notebook(source: Mapping[str, Any], values: Mapping[str, str], *, name: str,
                    built: Mapping[str, str]) -> dict[str, Any]:
    """The reader's copy of ``source`` with the website's ``values`` (``{name: text/plain}``);
    ``built`` says where, when and at which commit they were measured (``{"date": ...,
    "machine": ..., "commit": ...}``): the set-up cell installs that commit."""
    notebook = copy.deepcopy(dict(source))
    cited = references()
    pinned = f'COMMIT = "{built["commit"]}"  # the commit this copy\'s numbers came from'
    setup = next((c for c in source["cells"] if c["cell_type"] == "code"), None)
    if setup is None or UNPINNED not in cell_text(setup):
        raise ReaderError(f"{name}: its first code cell must set {UNPINNED!r}, which the "
                          "reader's copy pins")
    quoted = {m.group(1).partition(":")[0] for c in source["cells"]
              if c["cell_type"] == "markdown" for m in GLUE.finditer(cell_text(c))}
    cells = []
    for i, cell in enumerate(notebook["cells"]):
        cell = dict(cell)
        if cell["cell_type"] == "markdown":
            cell["source"] = _lines(plain_markdown(cell_text(cell), values, cited,
                                                   f"{name} cell {i}", built["commit"]))
        elif cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            if cell.get("id") == setup.get("id"):
                cell["source"] = _lines(cell_text(cell).replace(UNPINNED, pinned))
            if is_hidden(cell) or FOLDED in cell.get("metadata", {}).get("tags", []):
                text = cell_text(cell)
                title = text.split("\n", 1)[0].lstrip("# ").strip() or "Solution"
                body = text.split("\n", 1)[1] if text.startswith("#") else text
                cell["source"] = _lines(f"#@title {title}\n{body}")
                cell["metadata"] = {**cell["metadata"], "cellView": "form",
                                    "jupyter": {"source_hidden": True}}
        cells.append(cell)
    intro = (f"*The reader's copy of `notebooks/{name}.ipynb`, for Colab and Jupyter.* The "
             f"numbers in its text are the website's, computed by its build on {built['date']} "
             f"on {built['machine']} in the `default` profile, with the code of commit "
             f"`{built['commit'][:12]}`, which the set-up cell installs. Run the cells to "
             "compute your own: they can differ a little on another machine, and a sentence "
             "your numbers "
             "do not bear out prints one line and the notebook goes on. Cells titled *The "
             "numbers the text below quotes* are folded; they keep the website's text honest.")
    cells.insert(0, {"cell_type": "markdown", "id": "reader-note", "metadata": {},
                     "source": _lines(intro)})
    keys = list(dict.fromkeys(k.strip() for c in source["cells"] if c["cell_type"] == "markdown"
                              for m in CITE.finditer(cell_text(c)) for k in m.group(2).split(",")))
    if keys:
        listed = "\n".join(f"- {line}" for line in full_references(keys))
        cells.append({"cell_type": "markdown", "id": "reader-references", "metadata": {},
                      "source": _lines(f"## References\n\n{listed}")})
    notebook["cells"] = cells
    notebook["metadata"] = {**notebook.get("metadata", {}), METADATA: {
        "source": f"notebooks/{name}.ipynb", "key": values_key(source), **built,
        "values": {k: values[k] for k in sorted(quoted)}}}
    return notebook


def write(path: Path, notebook: Mapping[str, Any]) -> None:
    """As the project's notebooks are written: one-space indent, UTF-8, a final newline; all at
    once or not at all (:func:`genadv_utils.files.atomic_write`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    atomic_write(path, lambda file: file.write(text.encode()))


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def record_build(execute_dir: Path, machine: str) -> Path:
    """Write, beside a default build's executed notebooks, what the reader copies need from it:
    the date, the machine, the commit it ran at, the files that decide numbers and differed from
    that commit, and each chapter's key (:func:`values_key`)."""
    info = {"date": datetime.date.today().isoformat(), "machine": machine,
            "commit": _git("rev-parse", "HEAD"),
            "changed": (_git("status", "--porcelain", "--", *DECIDING) or "").splitlines(),
            "keys": {p.stem: values_key(json.loads(p.read_text()))
                     for p in sorted(SOURCES.glob("*.ipynb"))}}
    path = execute_dir / BUILD_INFO
    write(path, info)
    return path


def from_build(execute_dir: Path) -> list[Path]:
    """Every chapter's reader copy from the default build in ``execute_dir``: its executed
    notebooks' glue files, at the commit it recorded. Refused, in one line, for a build that ran
    on uncommitted code or without git, or whose chapters or package have changed since."""
    try:
        info = json.loads((execute_dir / BUILD_INFO).read_text())
    except (OSError, ValueError) as err:
        raise ReaderError(f"no default build recorded in {execute_dir} ({type(err).__name__}): "
                          "run jupyter-book build --all . in the default profile first") from None
    if not info.get("commit") or info.get("changed"):
        raise ReaderError("the build ran on code that is not a commit (changed: "
                          f"{', '.join(info.get('changed') or ['no git'])}): commit, build "
                          "again, then remake the copies")
    written = []
    for source_path in sorted(SOURCES.glob("*.ipynb")):
        source = json.loads(source_path.read_text())
        if info["keys"].get(source_path.stem) != values_key(source):
            raise ReaderError(f"{source_path.name} or the package code it imports changed since "
                              "the build: build again")
        values = glued_values(execute_dir / "notebooks" / f"{source_path.stem}.glue.json")
        built = {k: info[k] for k in ("date", "machine", "commit")}
        path = READER / source_path.name
        write(path, reader_notebook(source, values, name=source_path.stem, built=built))
        written.append(path)
    return written


def expected(source_path: Path) -> dict[str, Any]:
    """What the reader copy of ``source_path`` should be, from the values its committed copy
    records; :class:`ReaderError` when there is no copy, its metadata cannot be read, or its
    values came from other code."""
    path = READER / source_path.name
    where = f"{path.parent.name}/{path.name}"
    if not path.is_file():
        raise ReaderError(f"{where} is missing: build the book in the default profile "
                          "(jupyter-book build --all .), which writes it")
    source = json.loads(source_path.read_text())
    try:
        record = json.loads(path.read_text())["metadata"][METADATA]
        key, values = record["key"], dict(record["values"])
        built = {k: str(record[k]) for k in ("date", "machine", "commit")}
    except (ValueError, KeyError, TypeError) as err:
        raise ReaderError(f"{where}: its metadata.{METADATA} cannot be read "
                          f"({type(err).__name__}: {err}); build the book in the default "
                          "profile to remake it") from None
    if key != values_key(source):
        raise ReaderError(f"{where} quotes values computed by other code (the package code "
                          "its chapter imports, the chapter's code cells or a results file it "
                          "reads changed): build the book in the default profile to remake it")
    return reader_notebook(source, values, name=source_path.stem, built=built)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(
        "Remake the reader's notebooks (reader/) from the chapters and the values their "
        "copies record, after an edit of the chapters' prose; --from-build from a default "
        "build's numbers; --check only compares."))
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a copy differs from what its chapter makes")
    parser.add_argument("--from-build", nargs="?", const=ROOT / "_build" / "jupyter_execute",
                        type=Path, metavar="DIR", help="make every copy from the default build "
                        "whose executed notebooks are in DIR (default: _build/jupyter_execute)")
    args = parser.parse_args(argv)
    if args.from_build is not None:
        try:
            written = from_build(args.from_build)
        except ReaderError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"{len(written)} reader notebooks made from the build in {args.from_build}")
        return 0
    stale, failed = [], []
    chapters = sorted(SOURCES.glob("*.ipynb"))
    for source_path in chapters:
        path = READER / source_path.name
        try:
            notebook = expected(source_path)
        except ReaderError as error:
            print(f"error: {error}", file=sys.stderr)
            failed.append(path.relative_to(ROOT))
            continue
        if json.loads(path.read_text()) != notebook:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                write(path, notebook)
    orphans = sorted(p.relative_to(ROOT) for p in READER.glob("*.ipynb")
                     if not (SOURCES / p.name).is_file())
    for orphan in orphans:
        print(f"error: {orphan} is the copy of no chapter (no {SOURCES.name}/{orphan.name}): "
              "remove it", file=sys.stderr)
    verb = "differ from their chapters" if args.check else "remade"
    print(f"{len(stale)} reader notebooks {verb}" + (f": {', '.join(map(str, stale))}"
                                                     if stale else ""))
    if failed or orphans:
        print(f"{len(failed) + len(orphans)} need a default build or removal: "
              f"{', '.join(map(str, failed + orphans))}")
        return 2
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
