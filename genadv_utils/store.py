"""The run store: where trained runs live, what they are keyed by, and the one reader and writer
of their files.

A run folder ``<runs>/<name>-<key>`` holds ``settings.json`` (what was asked for),
``checkpoint.pt`` (weights, optimisers, random state, history; written after every epoch),
``history.json`` (the same history, readable) and, once measured, ``evaluation.json``. Its key
hashes its settings, the package version and the code that decides its weights
(:func:`~genadv_utils.keys.run_code`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import torch

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one writer at a time is then up to you
    fcntl = None  # type: ignore[assignment]

from . import __version__
from .files import CheckpointError, atomic_write
from .runtime import resolve_folder

RUNS_ENV = "GENADV_RUNS"
CHECKPOINT = "checkpoint.pt"
HISTORY = "history.json"
SETTINGS = "settings.json"
CACHE = "evaluation.json"
LOCK = ".lock"

@dataclass
class History:
    """Per-epoch records (``train_*`` means, ``val_*`` numbers, ``lr_*``, ``seconds``), the
    raw per-step losses, and the snapshots: ``(steps done, rendered tensor)`` pairs."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    steps: list[dict[str, float]] = field(default_factory=list)
    finished: bool = False
    snapshots: list[tuple[int, torch.Tensor]] = field(default_factory=list)

    def series(self, key: str) -> list[float]:
        """One number per epoch, e.g. ``history.series("val_mse")``."""
        if any(key not in r for r in self.epochs):
            known = sorted({k for r in self.epochs for k in r})
            raise KeyError(f"{key!r} is not recorded (known: {', '.join(known)})")
        return [r[key] for r in self.epochs]

    @property
    def seconds(self) -> float:
        """Training time summed over the recorded epochs."""
        return sum(r["seconds"] for r in self.epochs)

    def to_json(self) -> str:
        """Strict JSON: a NaN or infinity is an error here, never written."""
        return json.dumps({"epochs": self.epochs, "steps": self.steps, "finished": self.finished},
                          allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> History:
        raw = json.loads(text)
        return cls(raw["epochs"], raw["steps"], raw["finished"])


def runs_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Where run folders live: ``root``, else ``$GENADV_RUNS``, else a per-user cache folder."""
    return resolve_folder(root, RUNS_ENV, "runs")


def run_folder(name: str, settings: Mapping[str, Any], code: str,
               root: str | os.PathLike[str] | None = None) -> Path:
    """The run folder ``<root>/<name>-<hash>`` of model ``name`` with these settings, trained by
    code whose :func:`~genadv_utils.keys.run_code` is ``code``."""
    key = json.dumps({"name": name, "settings": settings, "version": __version__, "code": code},
                     sort_keys=True)
    return runs_root(root) / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


# --- files ----------------------------------------------------------------------------------

def _text(text: str) -> Callable[[IO[bytes]], None]:
    return lambda file: file.write(text.encode())


@contextlib.contextmanager
def locked(folder: Path, what: str = "training") -> Iterator[None]:
    """Hold ``folder``'s lock while a run is trained or its cache rewritten: a second writer
    says once on standard error whom it waits for, waits, and then finds the run finished.
    A lock that cannot be made (a full disk, read-only storage) is an :class:`OSError` that
    names the lock's path."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = (os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0),
                      0o644) if fcntl is not None else None)
    except OSError as err:
        raise OSError(err.errno, f"cannot take the lock ({err.strerror})",
                      str(folder / LOCK)) from None
    if fd is None:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            print(f"{folder.name}: waiting for {holder} to finish", file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        with contextlib.suppress(OSError):  # only says who holds it; a full disk may refuse
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"process {os.getpid()} ({what})".encode(), 0)
        for stale in folder.glob(".*.tmp"):  # left by a writer that was killed mid-write
            with contextlib.suppress(OSError):
                stale.unlink()
        yield
    finally:
        os.close(fd)  # releases the lock


def read_settings(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings a run folder was made with (``name`` says which model)."""
    path = Path(folder) / SETTINGS
    if not path.exists():
        raise FileNotFoundError(f"{folder} is not a run folder (no {SETTINGS})")
    try:
        saved = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as err:
        raise CheckpointError(f"{path} is unreadable ({type(err).__name__}); left as it "
                              f"is") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("name"), str):
        raise CheckpointError(f"{path} does not hold a run's settings (an object with a "
                              f"name); left as it is")
    return saved


_OURS = re.compile(re.escape(LOCK) + r"|\.(settings\.json|checkpoint\.pt|history\.json|"
                   r"evaluation\.json)\.(?:\d+\.)?\w+\.tmp")
"""The lock and :func:`atomic_write`'s temporary files (another process may be writing a run's
first files right now): what a run folder in the making holds besides the run."""


def check_ownable(folder: Path) -> None:
    """Refuse, in one line and touching nothing, a folder that a run may not be written to: a
    file, a path under a file, or a folder holding anything but a run of its own."""
    for parent in [folder, *folder.parents]:
        if parent.exists() and not parent.is_dir():
            raise CheckpointError(f"{folder}: {parent} is a file, not a folder")
        if parent.is_dir():
            break
    if folder.is_dir() and not (folder / SETTINGS).exists():
        if (folder / CHECKPOINT).exists():
            raise CheckpointError(f"{folder} has a checkpoint but no {SETTINGS}; left as it is")
        foreign = sorted(p.name for p in folder.iterdir() if not _OURS.fullmatch(p.name))
        if foreign:
            raise CheckpointError(f"{folder} already holds files that are not a run "
                                  f"({', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''})"
                                  f"; choose a new folder")


def claim(folder: Path, wanted: Mapping[str, Any]) -> None:
    """Make ``folder`` the run folder of ``wanted`` (settings with ``name``), or check that it
    already is. A folder holding another run is refused, never overwritten (the caller has
    refused anything else with :func:`check_ownable` before taking the folder's lock)."""
    if (folder / SETTINGS).exists():
        found = read_settings(folder)
        if found != wanted:
            changed = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
            raise CheckpointError(f"{folder} holds a run with other settings (differing: "
                                  f"{', '.join(changed)}); choose another folder or delete it")
    else:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise CheckpointError(f"cannot make the run folder {folder} ({err.strerror})") from None
        atomic_write(folder / SETTINGS, _text(json.dumps(wanted, indent=2)))


def write_checkpoint(folder: Path, payload: dict[str, Any], history: History) -> None:
    """Save a checkpoint ``payload`` and the readable history, each atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / CHECKPOINT, lambda file: torch.save(payload, file))
    atomic_write(folder / HISTORY, _text(history.to_json()))


def trainer(folder: Path) -> str | None:
    """Who holds ``folder``'s lock now ("process N (training)"), or ``None``: a run being
    trained by another process is not a damaged one."""
    if fcntl is None:
        return None
    try:
        fd = os.open(folder / LOCK, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def read_checkpoint(folder: Path) -> tuple[dict[str, Any], History]:
    """The checkpoint's payload (tensors on the CPU, no pickled code) and its history."""
    path = folder / CHECKPOINT
    if not path.exists():
        holder = trainer(folder)
        raise CheckpointError(
            f"{folder} is being trained by {holder} and has no checkpoint yet: wait for its "
            f"first epoch" if holder else f"{folder} has no checkpoint: no epoch of its run "
            f"was completed; train it with the same settings to start it again")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        history = History.from_json(payload["history"])
        saved = payload.get("snapshots", {"steps": [], "tensors": []})
        history.snapshots = list(zip(saved["steps"], saved["tensors"]))
    except Exception as err:
        raise CheckpointError(
            f"checkpoint {path} is unreadable ({type(err).__name__}). It was left as it is: "
            f"delete the run folder to train from scratch, or choose another one.") from None
    return payload, history


def load_into(path: Path, targets: Mapping[str, Any], saved: Mapping[str, Any]) -> None:
    """``load_state_dict`` each of ``targets`` from ``saved`` (same names), or say why not."""
    try:
        if set(saved) != set(targets):
            raise ValueError(f"checkpoint has {sorted(saved)}, this run has {sorted(targets)}")
        for key, obj in targets.items():
            obj.load_state_dict(saved[key])
    except (RuntimeError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(
            f"checkpoint {path} does not fit this model ({first}). It was left as it is: "
            f"use the settings it was trained with, or another run folder.") from None


def finite_weights(module: torch.nn.Module) -> bool:
    """Whether every floating-point parameter and buffer of ``module`` is a finite number."""
    return all(bool(torch.isfinite(t).all()) for t in module.state_dict().values()
               if t.is_floating_point())


def refuse_diverged(folder: Path, modules: Mapping[str, torch.nn.Module],
                    history: History) -> None:
    """Refuse, in one line, a run whose weights or last validation numbers are not finite."""
    last = history.epochs[-1] if history.epochs else {}
    if not (all(math.isfinite(v) for v in last.values() if isinstance(v, (int, float)))
            and all(finite_weights(m) for m in modules.values())):
        raise CheckpointError(f"{folder} holds a run that diverged (its weights or last "
                              f"validation numbers are not finite); delete it and train again "
                              f"with a lower learning rate")


def load_weights(folder: Path, modules: Mapping[str, torch.nn.Module]) -> History:
    """Load a finished run's networks (no optimisers, no data) and return its history."""
    payload, history = read_checkpoint(folder)
    load_into(folder / CHECKPOINT, modules, payload["state"]["modules"])
    if not history.finished:
        holder = trainer(folder)
        raise ValueError(f"{folder} holds an unfinished run ({len(history.epochs)} epochs so "
                         f"far), " + (f"being trained by {holder}: wait for it to finish"
                                      if holder else "train it to the end first"))
    refuse_diverged(folder, modules, history)
    repair_history(folder, history)
    return history


def finished(folder: Path) -> bool:
    """Whether ``folder`` holds a finished run: a checkpoint, and the history written after it
    says finished. The checkpoint is written first: a history older than it, or unreadable, is
    a copy that a kill between the two writes left behind, and the checkpoint's own history
    decides. Without a checkpoint nothing is finished, whatever the history says."""
    try:
        written = (folder / CHECKPOINT).stat().st_mtime_ns
    except OSError:
        return False
    try:
        if (folder / HISTORY).stat().st_mtime_ns >= written:
            return json.loads((folder / HISTORY).read_text())["finished"] is True
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        return read_checkpoint(folder)[1].finished
    except CheckpointError:
        return False


def repair_history(folder: Path, history: History) -> None:
    """Rewrite the readable ``history.json`` from the checkpoint's ``history`` when it is
    missing, damaged or behind it (it is only a copy). Read-only storage leaves it as it is."""
    text = history.to_json()
    with contextlib.suppress(OSError, UnicodeDecodeError):
        if (folder / HISTORY).read_text() == text:
            return
    with contextlib.suppress(OSError, CheckpointError):
        atomic_write(folder / HISTORY, _text(text))


def cached(folder: Path, key: Mapping[str, Any], code: str,
           compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``compute()``, or its result kept under ``key`` in the folder's :data:`CACHE`.

    Entries are keyed like runs: ``code`` is the :func:`~genadv_utils.keys.measure_code` of the
    code that computes them, and entries of any other code are dropped when the file is next
    written. The file is read, changed and written under the folder's lock, so concurrent
    evaluations lose nothing. A damaged file or entry is computed again; a folder that cannot
    be written (read-only storage, a full disk) gets the result all the same, with one line on
    standard error saying it was not kept."""
    name = json.dumps({**key, "code": code}, sort_keys=True)
    path = folder / CACHE

    def read() -> dict[str, Any]:
        try:
            saved = json.loads(path.read_text()) if path.exists() else {}
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            return {}
        return saved if isinstance(saved, dict) else {}

    kept = read().get(name)
    if isinstance(kept, dict):
        return kept
    result = compute()
    try:
        with locked(folder, "evaluation"):
            saved = read()  # another process may have added entries meanwhile
            fresh = {k: v for k, v in saved.items() if _code_of(k) == code}
            fresh[name] = result
            atomic_write(path, _text(json.dumps(fresh, indent=1)))
    except (OSError, CheckpointError) as err:
        print(f"evaluation: the result was not kept in {path} ({err}); it is computed again "
              f"next time", file=sys.stderr)
    return result


def _code_of(key: str) -> str | None:
    try:
        return json.loads(key).get("code")
    except (json.JSONDecodeError, AttributeError):
        return None
