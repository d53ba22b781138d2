"""The reader's copies as Colab runs them: each copy alone in an empty folder, in a Python
environment that has PyTorch but not genadv_utils, so the copy's own set-up cell installs the
package at the commit the copy names, from the repository (here a local clone: the address is
the cell's one setting). Every copy must reach its last cell in the smoke profile, and print no
"is not here" line (a file the copy reads that did not come with the package).

    python .ci/colab_like.py --repository file:///path/to/clone

Run it with the interpreter of that environment (``.ci/run`` makes one); it refuses to run where
genadv_utils is already importable.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = re.compile(r'^REPOSITORY = "[^"]*"$', re.M)


def outputs_text(notebook: nbformat.NotebookNode) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") or json.dumps(output.get("data", {})))
    return "\n".join(parts)


def run_copy(path: Path, repository: str, timeout: int) -> tuple[float, list[str]]:
    """Run one copy from an empty folder; the seconds it took and its problems."""
    notebook = nbformat.read(path, as_version=4)
    setup = next(c for c in notebook.cells if c.cell_type == "code")
    if not REPOSITORY.search(setup.source):
        return 0.0, [f"{path.name}: its set-up cell sets no REPOSITORY"]
    setup.source = REPOSITORY.sub(f'REPOSITORY = "{repository}"', setup.source)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / path.name).write_text(nbformat.writes(notebook))
        start = time.perf_counter()
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": folder}})
        try:
            client.execute()
        except Exception as error:  # the cell's error, in one line
            return time.perf_counter() - start, [
                f"{path.name}: stopped: {type(error).__name__}: "
                f"{str(error).strip().splitlines()[-1] if str(error).strip() else ''}"]
        seconds = time.perf_counter() - start
    text = outputs_text(notebook)
    problems = [f"{path.name}: {line.strip()}" for line in text.splitlines()
                if "is not here" in line]
    return seconds, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repository", required=True,
                        help="the address the copies install from, e.g. file:///path/to/clone")
    parser.add_argument("--timeout", type=int, default=600, help="seconds a cell may run")
    args = parser.parse_args()
    if importlib.util.find_spec("genadv_utils") is not None:
        print("genadv_utils is importable here: run this in an environment without it",
              file=sys.stderr)
        return 2
    os.environ["GENADV_PROFILE"] = "smoke"
    failed = []
    for path in sorted((ROOT / "reader").glob("*.ipynb")):
        seconds, problems = run_copy(path, args.repository, args.timeout)
        print(f"{path.name}: {'ran to the end' if not problems else 'FAILED'} in "
              f"{seconds:.0f} s", flush=True)
        for problem in problems:
            print(f"  {problem}", flush=True)
        failed += problems
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
