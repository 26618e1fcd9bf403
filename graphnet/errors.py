"""Every error graphnet raises on purpose. The command turns each into one line on stderr and its exit code (2,
or 3 for a diverged run)."""


class GraphnetError(Exception):
    """Base class: a problem the user can fix, with a message that says how.

    ``culprit``, when given, is the node type, cell or data generator whose code made the mistake the message
    describes (a forward of the wrong shape, a state it does not declare): the command then names the plugin
    it came from. It stays in the process that raised the error (a copy sent to another process drops it).
    """

    exit_code = 2  # what the ``graphnet`` command exits with when this stops it

    def __init__(self, *args: object, culprit: object = None) -> None:
        super().__init__(*args)
        self.culprit = culprit

    def __reduce__(self):
        return type(self), self.args  # without the culprit, whose class another process may not know


class TaskError(GraphnetError):
    """A task file, a ``--set`` override or a value in them is wrong."""


class GraphError(GraphnetError):
    """A graph is malformed: a cycle, a wrong arity, mismatched shapes, an unknown node type."""


class WeightsError(GraphnetError):
    """A weights file is missing, unreadable or does not fit the task."""


class UsageError(GraphnetError):
    """A command line that the command refused: an unknown option, a value out of range, a clash."""


class PluginError(GraphnetError):
    """A plugin could not be imported, or registered a name that is taken."""


class RenderError(GraphnetError):
    """A picture could not be made (a bad format, too many steps, no Graphviz to lay it out)."""


class SweepError(GraphnetError):
    """A sweep asked for something that cannot be run or written."""


class NonFiniteError(GraphnetError):
    """A run's numbers left the floats, a NaN or inf from finite inputs (exit code 3: the input was valid, the run
    was not): weights so large that a picture's, or a sum's, run overflows."""

    exit_code = 3


class DivergedError(NonFiniteError):
    """Training met a NaN or inf in the loss or a gradient (exit code 3: the input was valid, the run was not)."""
