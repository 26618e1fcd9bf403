"""What a person sees in a terminal: the command run on a pseudo-terminal, its screen read back by a terminal
emulator (pyte), held to what the same command prints into a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios

import pyte
import pytest

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


def test_a_run_stopped_on_a_terminal_leaves_its_log_and_one_clean_line(tmp_path):
    # What a person sees after SIGTERM (or Ctrl-C) mid-run: the bar gone, the log as it was, the one line whole.
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 300, 0, 0))
    checkpoint = tmp_path / "run.npz"
    proc = subprocess.Popen([sys.executable, "-m", "graphnet", "train", str(TASK), "--set",
                             "training.iterations=1000000", "--set", "training.log_every=1000000", "--checkpoint",
                             str(checkpoint)], stdin=follower, stdout=follower, stderr=follower, cwd=ROOT,
                            close_fds=True)
    os.close(follower)
    written = b""
    while b"it/s" not in written:  # the log of iteration 0 and the progress bar after it: it is training
        ready, _, _ = select.select([leader], [], [], 120)
        assert ready, written
        written += os.read(leader, 65536)
    proc.send_signal(signal.SIGTERM)
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        try:
            chunk = os.read(leader, 65536) if ready else b""
        except OSError:  # the command has exited and closed the terminal's other side
            chunk = b""
        written += chunk
        if not chunk and proc.poll() is not None:
            break
    os.close(leader)
    assert proc.returncode == 143
    screen = pyte.Screen(300, 50)
    pyte.ByteStream(screen).feed(written)
    lines = [line.rstrip() for line in screen.display if line.strip()]
    assert re.fullmatch(rf"graphnet: stopped by SIGTERM after iteration \d+; checkpoint written to {checkpoint}",
                        lines[-1]), lines
    assert lines[:5] == run_cli("train", str(TASK), "--set", "training.iterations=1").stdout.splitlines()[:5]
    assert not any("it/s" in line for line in lines)  # no bar left behind


def test_a_name_that_would_reverse_the_terminal_line_is_shown_escaped():
    screen, written = on_a_terminal("train", str(TASK), "--set", "network.cell=ls\u202etm", columns=300)
    assert "\u202e" not in written  # the character itself never reaches the terminal: its name does
    assert screen == [f"graphnet: error: {TASK}: unknown cell 'ls\\u202etm'; known cells: gru, lstm, rnn; did you "
                      "mean 'lstm'? it has an invisible U+202E RIGHT-TO-LEFT OVERRIDE"], screen


@pytest.mark.parametrize("command, marker, last", [
    (["train", str(TASK), "--set", "training.iterations=1000000", "--checkpoint", "{tmp}/run.npz"], rb"-{12}\r\n.*it/s",
     r"graphnet: interrupted after iteration \d+; checkpoint written to {tmp}/run.npz"),
    (["sweep", str(TASK), "--set", "training.iterations=50,100000000", "--set", "network.hidden=2", "--seeds", "2",
      "--workers", "2", "--csv", "{tmp}/s.csv"], rb"sweep: 2/4",
     r"graphnet: interrupted after 2 of 4 trials; their results are written to {tmp}/s.csv"),
], ids=["train", "sweep"])
def test_ctrl_c_typed_at_the_terminal_leaves_clean_lines(tmp_path, command, marker, last):
    """Ctrl-C as a person types it: the terminal sends SIGINT to every process of the run (its workers too) and
    echoes ^C where the cursor is; the command's last lines start clean and the progress bar is gone."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))

    def controlled_by_the_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "graphnet", *(a.replace("{tmp}", str(tmp_path)) for a in command)],
                            stdin=follower, stdout=follower, stderr=follower, cwd=ROOT, close_fds=True,
                            preexec_fn=controlled_by_the_terminal)
    os.close(follower)
    written, typed = b"", False
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        try:
            chunk = os.read(leader, 65536) if ready else b""
        except OSError:  # the command has exited and closed the terminal's other side
            chunk = b""
        written += chunk
        if not typed and re.search(marker, written, re.S):  # what it prints once at work
            os.write(leader, b"\x03")  # Ctrl-C
            typed = True
        if not chunk and proc.poll() is not None:
            break
    os.close(leader)
    assert proc.returncode == 130
    screen = pyte.Screen(160, 50)
    pyte.ByteStream(screen).feed(written)
    lines = [line.rstrip() for line in screen.display if line.strip()]
    assert re.fullmatch(last.replace("{tmp}", re.escape(str(tmp_path))), lines[-1]), lines
    assert not any("^C" in line or "it/s" in line for line in lines), lines
