"""Shared fixtures: the shipped task, weights trained once per session, and running the CLI as a user does."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import tempfile
import threading
import time

from graphnet import register_node, unregister_node
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TASK = ROOT / "tasks" / "binary_addition.toml"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for post_reference
# JAX's compilation cache of the tests (and of the CLI runs they start) goes to a directory of their own, so the
# suite leaves nothing in the user's HOME
os.environ.setdefault("GRAPHNET_JAX_CACHE", str(Path(tempfile.gettempdir()) / f"graphnet-tests-jax-{os.getuid()}"))


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``graphnet ARGS...`` in a fresh interpreter, as a user would; capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "graphnet", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
    )


def start_cli(*args: str, cwd: Path | None = None, **popen: object) -> subprocess.Popen:
    """Start ``graphnet ARGS...`` in a fresh interpreter, as a user would, its output piped as text."""
    return subprocess.Popen([sys.executable, "-m", "graphnet", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd or ROOT, **popen)


def wait_for_line(stream, marker: str, timeout: float = 120) -> list[str]:
    """Read ``stream`` line by line until a line holding ``marker``; return the lines read. What a test waits
    for before it signals a process: a line the process prints once it is at work, never a guess of time."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line)
            if marker in line:
                break
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()  # so that a process that never prints fails the test
    read_so_far = []
    while True:
        line = lines.get(timeout=timeout)
        if line is None:
            raise AssertionError(f"the output ended before a line with {marker!r}: {read_so_far}")
        read_so_far.append(line)
        if marker in line:
            return read_so_far


def children(pid: int) -> list[int]:
    """The processes ``pid`` started that are still there."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def wait_until_gone(pids: list[int], timeout: float = 60) -> list[int]:
    """Wait for processes to end; return those still there after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists() and not _zombie(pid)]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return True


def diverging_checkpoint(path: Path) -> Path:
    """A checkpoint of 10 iterations of the shipped task with finite but enormous weights, at ``path``: resumed,
    the run diverges at once (x @ synapse_0 overflows to +inf, h @ synapse_h to -inf)."""
    import numpy as np

    assert run_cli("train", TASK, "--set", "training.iterations=10", "--quiet", "--checkpoint", path).returncode == 0
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["synapse_0"] = np.full_like(arrays["synapse_0"], 1e308)
    arrays["synapse_h"] = np.full_like(arrays["synapse_h"], -1e308)
    np.savez(path, **arrays)
    return path


@pytest.fixture
def node_type():
    """Register node types for one test only: ``node_type("name")(cls)``; they are forgotten after it, so no
    test sees another's (the property tests draw from every registered type)."""
    
    names = []

    def register(name: str):
        names.append(name)
        return register_node(name)

    yield register
    for name in names:
        unregister_node(name)


@pytest.fixture(scope="session")
def post_run():
    """The post's full run through graphnet (10,000 iterations), done once."""
    from graphnet import load_task, train

    return train(load_task(TASK))


@pytest.fixture(scope="session")
def trained_weights(post_run, tmp_path_factory) -> Path:
    """The post's trained weights, saved as a user's --save would."""
    from graphnet import save_weights

    path = tmp_path_factory.mktemp("weights") / "weights.npz"
    save_weights(path, post_run.params)
    return path
