"""Atomic writes: the old file or the new one, never a part; leftovers of killed writers are cleaned up."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from graphnet.errors import GraphnetError
from graphnet.app.files import atomic_write, write_bytes, write_new


def test_a_write_replaces_the_file_whole(tmp_path):
    target = tmp_path / "weights.npz"
    write_bytes(target, b"old")
    write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["weights.npz"]  # no temporary file stays behind


def test_a_write_that_fails_halfway_keeps_the_old_file(tmp_path):
    target = tmp_path / "weights.npz"
    write_bytes(target, b"old")

    def crash(f):
        f.write(b"half of the new")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, crash)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["weights.npz"]


def test_the_temporary_file_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(gone.stdout)  # a writer's process that has ended
    target = tmp_path / "run.npz"
    killed = tmp_path / f".run.npz.{pid}.k1lled_x.tmp"  # what a writer killed by SIGKILL leaves
    other = tmp_path / f".other.npz.{pid}.k1lled_x.tmp"  # another file's: not ours to remove
    mine = tmp_path / ".run.npz.backup.tmp"  # the user's, named like one: not graphnet's to remove
    an_hour_ago = time.time() - 3600
    for path in (killed, other, mine):
        path.write_bytes(b"half")
        os.utime(path, (an_hour_ago, an_hour_ago))
    write_bytes(target, b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other.name, mine.name, "run.npz"])


def test_a_fallback_is_written_only_as_a_new_file(tmp_path):
    target = tmp_path / "graph.dot"
    assert write_new(target, b"digraph {}") and target.read_bytes() == b"digraph {}"
    assert not write_new(target, b"another") and target.read_bytes() == b"digraph {}"
    (tmp_path / "link.dot").symlink_to(tmp_path / "nowhere")  # a dangling link is a name taken too
    assert not write_new(tmp_path / "link.dot", b"x") and not (tmp_path / "nowhere").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.dot", "link.dot"]


def test_a_temporary_file_still_being_written_is_left_alone(tmp_path):
    busy = tmp_path / ".run.npz.busy.tmp"  # touched after our write began: another writer at work
    busy.write_bytes(b"in progress")
    later = time.time() + 60
    os.utime(busy, (later, later))
    write_bytes(tmp_path / "run.npz", b"whole")
    assert busy.exists()


def test_a_new_file_gets_the_usual_permissions_and_an_old_one_keeps_its_own(tmp_path):
    fresh = write_bytes(tmp_path / "fresh.bin", b"x")
    mask = os.umask(0)
    os.umask(mask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~mask
    kept = tmp_path / "kept.bin"
    kept.write_bytes(b"x")
    kept.chmod(0o640)
    write_bytes(kept, b"y")
    assert kept.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("name, expected", [("missing/w.npz", "does not exist"), (".", "is a folder")])
def test_a_path_that_cannot_be_a_file_is_refused(tmp_path, name, expected):
    with pytest.raises(GraphnetError, match=expected):
        write_bytes(tmp_path / name, b"x")
