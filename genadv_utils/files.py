"""Files written all at once or not at all: the one writer of every file the package makes.

:func:`atomic_write` fills a new temporary file beside the target and renames it over the
target, so a kill, a full disk or a second writer never leaves half a file. What it refuses and
cleans is what a student's laptop, a shared lab server and Colab's root meet: a target that is
not a regular file (a device, a FIFO, a socket, a link) is never replaced, modes are kept, and
the temporary files of killed writers are removed by the next write to the same target.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


class CheckpointError(RuntimeError):
    """A checkpoint or run folder that cannot be used; it is left untouched."""


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` all at once or not at all: ``write(file)`` fills a new temporary file in
    the same folder (a unique name with the writer's process id, created exclusively, so a
    planted link is never followed), which is synced and renamed over ``path``; the new file
    keeps the mode of the file it replaces, or a new file the mode the umask gives. On any
    failure, a full disk included, the temporary file is removed and ``path`` is left as it was.
    A ``path`` that is not a regular file (a device, a FIFO, a socket, a link) is never replaced:
    refused before anything is written. The temporary files of earlier writers of ``path``
    that were killed are removed first."""
    kind = node_kind(path)
    if kind is not None:
        raise CheckpointError(f"{path} is {kind}, not a regular file; it was left as it was")
    _remove_orphans(path)
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                                    suffix=".tmp")
    except OSError as err:
        raise CheckpointError(f"cannot write in {path.parent} ({err.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(name, _mode_for(path))
        os.replace(name, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(name)
        if isinstance(err, OSError) or _write_failed(err):
            reason = getattr(err, "strerror", None) or _disk_left(path.parent)
            raise CheckpointError(f"could not write {path} ({reason}); it was left as it "
                                  f"was") from None
        raise


def node_kind(path: Path) -> str | None:
    """What ``path`` is when it exists and is not a regular file ("a link", "a FIFO", …), else
    ``None``."""
    try:
        mode = path.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISREG(mode):
        return None
    kinds = {stat.S_ISLNK: "a link", stat.S_ISDIR: "a folder", stat.S_ISCHR: "a device",
             stat.S_ISBLK: "a device", stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket"}
    return next((name for test, name in kinds.items() if test(mode)), "not a file")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _remove_orphans(path: Path) -> None:
    """Remove the temporary files that killed writers of ``path`` left beside it (their
    process is gone); a live writer's are kept."""
    prefix = f".{path.name}."
    for stale in path.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        pid = stale.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                stale.unlink()


def _mode_for(path: Path) -> int:
    """The permission bits a file written to ``path`` gets: those of the file it replaces, or
    those a new file gets under the process's umask (``mkstemp`` would give 0600)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _write_failed(err: BaseException) -> bool:
    """Whether ``err`` is torch.save's zip writer failing to write (a full disk, say): it
    raises RuntimeError, not OSError."""
    return isinstance(err, RuntimeError) and any(
        sign in str(err) for sign in ("PytorchStreamWriter", "unexpected pos", "write failed"))


def _disk_left(folder: Path) -> str:
    try:
        return f"the write failed with {shutil.disk_usage(folder).free:,} bytes free on its disk"
    except OSError:
        return "the write failed"
