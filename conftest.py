"""Test settings for the whole repository, unit tests and notebooks alike.

- Notebooks run in the small ``smoke`` profile unless the caller set ``GENADV_PROFILE``.
- Data comes from ``../shared/data`` when it exists and ``GENADV_DATA`` is not set.
- Trained runs go to a fresh temporary folder unless ``GENADV_RUNS`` is set, so tests never
  reuse (or pollute) the runs of your own notebooks.
"""

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent

os.environ.setdefault("GENADV_PROFILE", "smoke")
_shared = ROOT.parent / "shared" / "data"
if not os.environ.get("GENADV_DATA") and _shared.is_dir():
    os.environ["GENADV_DATA"] = str(_shared)
if not os.environ.get("GENADV_RUNS"):  # a fresh folder only when none was given
    os.environ["GENADV_RUNS"] = tempfile.mkdtemp(prefix="genadv-test-runs-")
os.environ.setdefault("MPLBACKEND", "Agg")
