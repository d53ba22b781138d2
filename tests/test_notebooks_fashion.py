"""Every notebook, top to bottom on a fresh kernel, with ``dataset = "fashion-mnist"``.

nbmake runs their reader copies as committed (MNIST); this runs each chapter once more with the
dataset parameter overridden the way papermill does it: a cell tagged ``injected-parameters``
right after the ``parameters`` cell. The profile is the tests' (``smoke`` unless set).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def with_parameters(notebook: nbformat.NotebookNode, **values: object) -> nbformat.NotebookNode:
    """``notebook`` with a cell that sets ``values`` after its parameters cell."""
    where = next(i for i, c in enumerate(notebook.cells)
                 if "parameters" in c.get("metadata", {}).get("tags", []))
    source = "\n".join(f"{k} = {v!r}" for k, v in values.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(where + 1, cell)
    return notebook


def test_injection_follows_the_parameters_cell():
    notebook = with_parameters(nbformat.read(NOTEBOOKS[0], as_version=4), dataset="x")
    where = next(i for i, c in enumerate(notebook.cells)
                 if "parameters" in c.metadata.get("tags", []))
    assert notebook.cells[where + 1].source == "dataset = 'x'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_fashion_mnist(path):
    notebook = with_parameters(nbformat.read(path, as_version=4), dataset="fashion-mnist")
    notebook.cells.append(nbformat.v4.new_code_cell('print("data:", splits.name)'))
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    assert notebook.cells[-1].outputs[0]["text"].strip() == "data: fashion-mnist"
