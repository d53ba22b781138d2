"""Files written all at once or not at all (:mod:`genadv_utils.files`): modes kept, nodes that
are not regular files never replaced, killed writers' leftovers removed, on real files, FIFOs,
links and processes."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from genadv_utils import files


def _nodes(tmp_path):
    """Existing paths that are not regular files: writing --out there must never replace them."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "to-pipe"
    link.symlink_to(fifo)
    to_file = tmp_path / "to-file.npy"
    (tmp_path / "real.npy").write_bytes(b"kept")
    to_file.symlink_to(tmp_path / "real.npy")
    return {"/dev/null": (Path("/dev/null"), "a device"), "FIFO": (fifo, "a FIFO"),
            "link to a FIFO": (link, "a link"), "link to a file": (to_file, "a link")}


def test_written_files_follow_the_umask_and_an_overwritten_file_keeps_its_mode(tmp_path):
    """A lab server's shared run store stays readable to the group; an output a user made
    0644 stays 0644 (the temporary file would be 0600)."""
    old = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.json"
        files.atomic_write(fresh, lambda f: f.write(b"{}"))
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        kept = tmp_path / "kept.npy"
        kept.write_bytes(b"old")
        kept.chmod(0o640)
        files.atomic_write(kept, lambda f: f.write(b"new"))
        assert kept.read_bytes() == b"new" and stat.S_IMODE(kept.stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_a_write_never_replaces_a_node_that_is_not_a_file(tmp_path):
    for name, (path, kind) in _nodes(tmp_path).items():
        before = path.lstat()
        with pytest.raises(files.CheckpointError, match=f"is {kind}, not a regular file"):
            files.atomic_write(path, lambda file: file.write(b"x"))
        assert path.lstat().st_ino == before.st_ino, name
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_live_writers_temporary_file_is_kept_and_a_dead_ones_removed(tmp_path):
    target = tmp_path / "out.npy"
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".out.npy.{writer.pid}.abc.tmp"
        live.write_bytes(b"being written")
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        orphan = tmp_path / f".out.npy.{dead.pid}.def.tmp"
        orphan.write_bytes(b"left by a kill")
        files.atomic_write(target, lambda file: file.write(b"new"))
        assert live.exists() and not orphan.exists() and target.read_bytes() == b"new"
    finally:
        writer.kill()
        writer.wait()
