"""The speed leads' variants (benchmarks/speed_leads.py) compute what the recipes' steps do."""

import importlib.util
from pathlib import Path

from genadv_utils import data

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "speed_leads.py"
_SPEC = importlib.util.spec_from_file_location("speed_leads", _PATH)
speed_leads = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(speed_leads)


def test_the_one_pass_vaegan_step_gives_the_recipes_gradients():
    splits = data.load_splits("mnist", device="cpu")
    assert speed_leads.gradient_difference(splits) < 1e-4
