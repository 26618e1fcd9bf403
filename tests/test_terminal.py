"""What a person sees in a terminal: the command run on a pseudo-terminal, its screen read back by a terminal
emulator (pyte), held to what the same command prints into a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

import pyte

from conftest import ROOT, TASK, run_cli


def on_a_terminal(*args: str, columns: int = 100, rows: int = 300) -> tuple[list[str], str]:
    """Run ``graphnet ARGS`` on a pseudo-terminal: the lines left on its screen, and all it wrote."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "graphnet", *args], stdin=follower, stdout=follower,
                            stderr=follower, cwd=ROOT, close_fds=True)
    os.close(follower)
    written = b""
    while True:  # read until the command has exited and its output is drained
        ready, _, _ = select.select([leader], [], [], 0.2)
        chunk = b""
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the follower side closed: nothing more will come
                pass
        written += chunk
        if not chunk and proc.poll() is not None:
            break
    os.close(leader)
    screen = pyte.Screen(columns, rows)
    pyte.ByteStream(screen).feed(written)
    return [line.rstrip() for line in screen.display if line.strip()], written.decode(errors="replace")


def without_timing(lines: list[str]) -> list[str]:
    return [re.sub(r"in [\d.]+ s", "in - s", line) for line in lines]


def test_training_on_a_terminal_shows_the_same_log_as_a_pipe_and_the_bar():
    args = ("train", str(TASK), "--set", "training.iterations=4001")
    screen, written = on_a_terminal(*args)
    piped = run_cli(*args)
    assert "training:" in written and "it/s" in written  # the progress bar was drawn
    assert without_timing(screen) == without_timing(piped.stdout.splitlines())  # and never into the log's lines
