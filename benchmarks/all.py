"""Every benchmark in one run, one after the other, with its output and wall-clock time.

    GENADV_DATA=../shared/data python benchmarks/all.py            # all of them
    GENADV_DATA=../shared/data python benchmarks/all.py throughput comparison
    GENADV_DATA=../shared/data python benchmarks/all.py --book     # also a clean book build

The quality benchmarks train (or reload) the default runs in ``GENADV_RUNS``; ``--book`` builds
the whole book in the default profile from nothing (a fresh runs folder and execution cache in a
temporary copy of the project) and prints how long it took: the figure the README quotes. Run
it on an otherwise idle machine: other work on the same cores slows every number here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCHMARKS = ("data_pipeline", "throughput", "profile_steps", "dae_quality", "vae_quality",
              "gan_quality", "vaegan_quality", "comparison")


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Run ``command``, streaming its output; return its wall-clock seconds."""
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True)
    return time.perf_counter() - start


def clean_book_build() -> float:
    """Seconds of ``jupyter-book build --all -W`` in the default profile with nothing cached."""
    with tempfile.TemporaryDirectory(prefix="genadv-book-") as tmp:
        copy = Path(tmp) / "book"
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(
            "_build", ".venv", ".git", "*.egg-info", "__pycache__", ".jupyter_cache"))
        env = {**os.environ, "GENADV_PROFILE": "default", "GENADV_RUNS": f"{tmp}/runs"}
        return run(["jupyter-book", "build", "--all", "-W", "."], copy, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    parser.add_argument("--book", action="store_true",
                        help="also time a clean default-profile build of the whole book")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    seconds = {}
    for name in args.names or BENCHMARKS:
        print(f"\n=== {name}", flush=True)
        seconds[name] = run([sys.executable, str(HERE / f"{name}.py")], ROOT)
    if args.book:
        print("\n=== clean default-profile book build", flush=True)
        seconds["book build"] = clean_book_build()
    print("\n=== wall-clock seconds")
    for name, s in seconds.items():
        print(f"{name:16} {s:8.0f} s ({s / 60:.1f} min)")


if __name__ == "__main__":
    main()
