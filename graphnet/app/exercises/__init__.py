"""Exercises: the learner writes the backward, graphnet says where it is wrong.

Six exercises, in order (:data:`~graphnet.app.exercises.catalogue.EXERCISES`): sigmoid's backward; matmul's,
for both inputs; a node read by two ops (an add, and the reverse pass itself); the squared-error loss;
backpropagation through time, the post's way; an LSTM cell from node types alone. Each is a file the learner
edits, a plugin module (:func:`start` copies it out), or the same code in a notebook cell.

:func:`check` measures the learner's code against graphnet's own and names the fault: per node type, the
gradient check and its stacking rule; then, in the post's network unrolled, which node, which step and how
the gradient differs, with a picture of the gradients, the wrong cells marked. When all is right it trains the
post's network with the learner's code and prints the post's log: the reward. Diagnoses come from the numbers
(ratios, transposes, each reader's share, each step's share), never from reading the learner's source.

Examples
--------
>>> from graphnet.app.exercises import hint
>>> print(hint(1).splitlines()[0])
hint 1 of 3 for exercise 1 (sigmoid's backward):
"""

from __future__ import annotations

import base64
import html
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable, Mapping

from ...engine.node import get_node, registered_nodes, unregister_node
from ...errors import GraphnetError, UsageError
from ...rnn.cells import registered_cells, unregister_cell
from ..files import write_new
from ..plugins import load_plugins
from .catalogue import EXERCISES, Exercise, get_exercise
from .measure import Structural, gradient_check_line, node_faults
from .unrolled import Grid

FOLDER = "exercises"  # where start writes the files, and check looks for them, unless told


@dataclass
class Diagnosis:
    """What :func:`check` found: ``right`` or not, the report's ``lines``, the gradients' ``grid`` (its picture:
    :meth:`figure`), and the log of the reward's training run when it was right. In a notebook it shows itself,
    text and picture."""

    exercise: Exercise
    right: bool
    lines: list[str]
    grid: Grid | None = None
    log: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines + self.log)

    def __str__(self) -> str:
        return self.text

    def figure(self):
        """The picture of the gradients, the wrong cells marked (a matplotlib Figure; the ``plot`` extra)."""
        from .picture import figure

        return figure(self.grid) if self.grid is not None and self.grid.errors else None

    def write_picture(self, path: str | Path) -> bool:
        """Write the picture to ``path`` (.png or .svg); False when this exercise has none."""
        from .picture import write

        if self.grid is None or not self.grid.errors:
            return False
        write(self.grid, path)
        return True

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = {"text/plain": self.text}
        page = f"<pre>{html.escape(self.text)}</pre>"
        if self.grid is not None and self.grid.errors:
            from .picture import png

            data = png(self.grid)
            bundle["image/png"] = base64.b64encode(data).decode()
            page += f'<img src="data:image/png;base64,{bundle["image/png"]}" style="max-width:880px">'
        bundle["text/html"] = page
        return bundle


def start(which: int | str, folder: str | Path = FOLDER) -> Path:
    """Write exercise ``which``'s file into ``folder`` (made if missing); an existing file is kept, never replaced."""
    exercise = get_exercise(which)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--folder {folder}: is a file, expected a folder for the exercises' files")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / exercise.file
    if not write_new(path, exercise.template().encode()):
        raise UsageError(f"{path}: exists already, and is kept (your work is never replaced); check it with "
                         f"graphnet exercise check {exercise.number}, or start in another --folder")
    return path


def hint(which: int | str, number: int = 1) -> str:
    """Hint ``number`` of exercise ``which`` (one at a time: the first by default), with how to ask for the next."""
    exercise = get_exercise(which)
    count = len(exercise.hints)
    if not 1 <= number <= count:
        raise UsageError(f"hint {number}: exercise {exercise.number} has hints 1 to {count}")
    text = f"hint {number} of {count} for exercise {exercise.number} ({exercise.title}):\n{exercise.hints[number - 1]}"
    if number < count:
        text += f"\n(the next: graphnet exercise hint {exercise.number} {number + 1})"
    else:
        text += f"\n(that was the last; the solution, only if you want it: graphnet exercise solution {exercise.number})"
    return text


def solution(which: int | str) -> str:
    """Exercise ``which``'s solution (only when asked for)."""
    return get_exercise(which).solution()


def check(which: int | str | Path | None = None, source: str | Path | ModuleType | Mapping | None = None, *,
          folder: str | Path = FOLDER, train: bool = True, on_line: Callable[[str], None] | None = None) -> Diagnosis:
    """Check an exercise and name its fault.

    ``which``: the exercise's number, or the path of the learner's file (``exercises/01_sigmoid.py``, its number
    read from its name). ``source``: where the learner's code is, if not in ``folder``'s file of that exercise:
    a file, a module, or a notebook's ``globals()`` (node types and cells are read from graphnet's registry, where
    the learner's code registered them; functions, ``reverse`` and ``bptt``, from it). ``train``: when all is
    right, train the post's network with the learner's code and add its log (each line also to ``on_line``).
    """
    exercise, namespace, label = _source(which, source, folder)
    say = on_line or (lambda line: None)
    lines = [f"exercise {exercise.number}, {exercise.title}: {label}"]
    for line in lines:
        say(line)
    faults, grid, checked = _faults(exercise, namespace, lines, say)
    right = not faults
    diagnosis = Diagnosis(exercise, right, lines, grid)
    if not right:
        _add(lines, say, f"not yet: {len(faults)} fault{'s' if len(faults) > 1 else ''} found (graphnet exercise hint "
                         f"{exercise.number} for a hint)")
        return diagnosis
    for line in checked:
        _add(lines, say, line)
    _add(lines, say, "right.")
    if train:
        _add(lines, say, _reward_title(exercise, folder, namespace))
        _reward(exercise, folder, namespace, lambda line: (diagnosis.log.append(line), say(line)))
    return diagnosis


def _add(lines: list[str], say: Callable, line: str) -> None:
    lines.append(line)
    say(line)


def _source(which, source, folder) -> tuple[Exercise, Mapping, str]:
    """The exercise, the namespace the learner's code is in (loaded afresh from its file), and how to name it."""
    if which is not None and str(which).endswith(".py") and source is None:
        source, which = Path(which), Path(which).name[:2]
        if not str(which).isdigit():
            raise UsageError(f"{source}: expected an exercise's file, named as start names it (01_sigmoid.py, ...)")
    if which is None:
        raise UsageError("check: give the exercise's number (1 to 6) or its file")
    exercise = get_exercise(which)
    if source is None:
        path = Path(folder) / exercise.file
        if path.is_file():
            source = path
        elif not _registered(exercise):
            raise UsageError(f"exercise {exercise.number}: no file {path}; start it with graphnet exercise start "
                             f"{exercise.number} (or give --folder, or the file's path)")
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise UsageError(f"{path}: no such file; expected the exercise's .py file")
        return exercise, vars(load_afresh(path, exercise)), str(path)
    if isinstance(source, ModuleType):
        return exercise, vars(source), source.__name__
    return exercise, source or {}, "your notebook's code"


def _registered(exercise: Exercise) -> bool:
    names = list(exercise.node_types) + ([exercise.cell] if exercise.cell else [])
    return bool(names) and all(n in registered_nodes() or n in registered_cells() for n in names)


def load_afresh(path: Path, exercise: Exercise) -> ModuleType:
    """Import the learner's file anew (they edit it between checks): the names it registers forgotten first."""
    for name in exercise.node_types:
        unregister_node(name)
    if exercise.cell:
        unregister_cell(exercise.cell)
    resolved = path.resolve()
    for key, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve() == resolved:
            del sys.modules[key]
    return load_plugins([str(resolved)], source="exercise")[0]


def _faults(exercise: Exercise, namespace: Mapping, lines: list[str], say) -> tuple[list[str], Grid | None, list[str]]:
    """The faults found (each also added to ``lines``), the grid of gradients, and what was checked when right."""
    from . import unrolled

    faults: list[str] = []
    checked: list[str] = []
    grid = None
    swap = {right: mine for mine, right in exercise.node_types.items()}
    for mine_name, right_name in exercise.node_types.items():
        try:
            mine = get_node(mine_name)
        except GraphnetError:
            faults.append(f"no node type {mine_name!r} is registered: keep @register_node({mine_name!r}) on the class")
            continue
        label = f"{mine_name} (for graphnet's {right_name})"
        found = node_faults(mine, get_node(right_name), mine_name)
        _add(lines, say, f"{label}: " + ("wrong" if found else "gradient check and stacking rule: right"))
        faults += found
        for fault in found:
            _add(lines, say, f"  {fault}")
        if not found:
            checked.append(gradient_check_line(mine, mine_name))
    # a node type that does not run yet has nothing to show in the network: its own line said it
    broken = any(f.startswith("no node type") or isinstance(f, Structural) for f in faults)
    if swap and not broken:
        grid, said = unrolled.node_types_in_network(swap)
        _network_lines(grid, said, lines, say, faults)
    for function in exercise.functions:
        code = namespace.get(function)
        if not callable(code):
            faults.append(f"no function {function}(...) found")
            _add(lines, say, f"  no function {function}(...) found: keep the name the file gives it")
            continue
        measure = unrolled.reverse_faults if function == "reverse" else unrolled.bptt_faults
        grid, said = measure(code)
        _add(lines, say, f"your {function}: " + ("wrong" if said else "right"))
        for sentence in said:
            _add(lines, say, f"  {sentence}")
        faults += said
    if exercise.cell:
        from .cell import lstm_faults

        if exercise.cell not in registered_cells():
            faults.append(f"no cell {exercise.cell!r} is registered")
            _add(lines, say, f"  no cell {exercise.cell!r} is registered: keep @register_cell({exercise.cell!r})")
        else:
            grid, said = lstm_faults(exercise.cell)
            _add(lines, say, f"your {exercise.cell}: " + ("wrong" if said else "its every state is the LSTM's, and "
                                                          "graphnet's reverse pass through it passes the gradient check"))
            for sentence in said:
                _add(lines, say, f"  {sentence}")
            faults += said
    return faults, grid, checked


def _network_lines(grid: Grid, said: list[str], lines, say, faults) -> None:
    wrong = grid.wrong()
    if not said and not wrong:
        _add(lines, say, f"in {grid.title}: every node's gradient at every step is right")
        return
    _add(lines, say, f"in {grid.title}:")
    for sentence in said:
        _add(lines, say, f"  {sentence}")
    if wrong and not faults:
        faults.append("wrong in the network")


def _learners(exercise: Exercise, folder: str | Path, namespace: Mapping) -> dict[str, str]:
    """The learner's node types to train with: this exercise's, and each earlier exercise's found right in
    ``folder`` (graphnet's name -> the learner's)."""
    swap = {right: mine for mine, right in exercise.node_types.items()}
    for earlier in EXERCISES[: exercise.number - 1]:
        path = Path(folder) / earlier.file
        if not earlier.node_types or not path.is_file():
            continue
        try:
            load_afresh(path, earlier)
            if all(not node_faults(get_node(m), get_node(r), m) for m, r in earlier.node_types.items()):
                swap.update({r: m for m, r in earlier.node_types.items()})
        except Exception:  # noqa: BLE001 - an earlier file that does not load simply does not take part
            continue
    return swap


def _reward_title(exercise: Exercise, folder, namespace) -> str:
    if exercise.cell:
        return ("the reward: the LSTM task (tasks/binary_addition_lstm.toml) trained with your cell, graphnet's "
                "reverse pass through it:")
    swap = _learners(exercise, folder, namespace)
    yours = ", ".join(f"{mine}" for mine in sorted(swap.values()))
    how = "".join(f" and your {f} for every gradient" for f in exercise.functions)
    return f"the reward: the post's network trained with your {yours or 'code'}{how} (the post's log):"


def _reward(exercise: Exercise, folder, namespace, on_log: Callable[[str], None]) -> None:
    from .reward import train_lstm, train_post

    if exercise.cell:
        train_lstm(on_log)
        return
    swap = _learners(exercise, folder, namespace)
    given = {f: namespace.get(f) for f in exercise.functions}
    train_post(swap, bptt=given.get("bptt"), reverse=given.get("reverse"), on_log=on_log)
