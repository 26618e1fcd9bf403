"""Atomic writes: the old file or the new one, never a part; leftovers of killed writers are cleaned up."""

from __future__ import annotations

import os
import time

import pytest

from graphnet.errors import GraphnetError
from graphnet.app.files import atomic_write, write_bytes


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
    target = tmp_path / "run.npz"
    killed = tmp_path / ".run.npz.abc123.tmp"  # what a writer killed by SIGKILL leaves
    killed.write_bytes(b"half")
    an_hour_ago = time.time() - 3600
    os.utime(killed, (an_hour_ago, an_hour_ago))
    other = tmp_path / ".other.npz.abc123.tmp"  # another file's: not ours to remove
    other.write_bytes(b"half")
    os.utime(other, (an_hour_ago, an_hour_ago))
    write_bytes(target, b"whole")
    assert sorted(os.listdir(tmp_path)) == [".other.npz.abc123.tmp", "run.npz"]


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
