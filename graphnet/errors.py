"""The errors graphnet raises on purpose. The CLI turns them into one line on stderr and exit code 2."""


class GraphnetError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""

    exit_code = 2  # what the ``graphnet`` command exits with when this stops it


class TaskError(GraphnetError):
    """A task file, a ``--set`` override or a value in them is wrong."""


class GraphError(GraphnetError):
    """A graph is malformed: a cycle, a wrong arity, mismatched shapes, an unknown node type."""


class WeightsError(GraphnetError):
    """A weights file is missing, unreadable or does not fit the task."""


class DivergedError(GraphnetError):
    """Training met a NaN or inf in the loss or a gradient (exit code 3: the input was valid, the run was not)."""

    exit_code = 3
