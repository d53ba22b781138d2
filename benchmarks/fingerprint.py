"""A fixed-seed, one-epoch run of every registered recipe, in numbers: each recipe's smoke
settings for one epoch on the first 2000 training images, trained on the CPU into a temporary
folder; printed are the epoch's training and validation numbers and a digest of the trained
weights. Run it before and after a change that should change no number, and compare:

    python benchmarks/fingerprint.py > before.txt   # (then change the code)
    python benchmarks/fingerprint.py | diff before.txt -
"""

from __future__ import annotations

import tempfile

from genadv_utils import data, registry
from genadv_utils.keys import weights_digest


def main() -> None:
    splits = data.load_splits("mnist", device="cpu")
    with tempfile.TemporaryDirectory() as root:
        for name, recipe in registry.RECIPES.items():
            settings = recipe.settings("smoke", epochs=1, train_size=2000)
            run = recipe.train(settings, splits, run_dir=f"{root}/{name}", progress=False,
                               device="cpu")
            numbers = {k: v for k, v in run.history.epochs[-1].items()
                       if k.startswith(("train_", "val_"))}
            print(name, weights_digest(run.model),
                  " ".join(f"{k}={v:.9g}" for k, v in sorted(numbers.items())), flush=True)


if __name__ == "__main__":
    main()
