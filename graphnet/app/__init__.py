"""What the command does with the engine and the recurrent nets: the application layer.

- :mod:`~graphnet.app.tasks`: task files, read and checked key by key, with ``--set`` overrides;
- :mod:`~graphnet.app.training`: SGD through the unrolled graph, the log, evaluation, adding integers;
- :mod:`~graphnet.app.example`: one problem, written as a user writes it, run through the network;
- :mod:`~graphnet.app.weights` and :mod:`~graphnet.app.checkpoint`: what a run saves, written atomically;
- :mod:`~graphnet.app.curve`: a learning curve (error, loss, accuracy every N iterations), as CSV or a picture;
- :mod:`~graphnet.app.sweep`: many runs over settings and seeds, on a process pool;
- :mod:`~graphnet.app.probe`: whether a trained state holds the task's hidden fact (the carry), read linearly;
- :mod:`~graphnet.app.reach`: how far back a network's gradient reaches (``graphnet reach``);
- :mod:`~graphnet.app.compare`: cells trained side by side on tasks of growing reach (``graphnet compare``);
- :mod:`~graphnet.app.doctor`: why a network does not learn, the likely cause in sentences (``graphnet doctor``);
- :mod:`~graphnet.app.figures`: the pictures drawn with matplotlib, the ``plot`` extra (those of the three above:
  :mod:`~graphnet.app.reach_figures`);
- :mod:`~graphnet.app.plugins`: a user's node types, cells and generators, from modules or installed packages,
  and a mistake in their code named as the plugin's;
- :mod:`~graphnet.app.files`: atomic writes, the checks of files a user names, fallbacks that replace nothing;
- :mod:`~graphnet.app.stopping`: Ctrl-C, SIGTERM and SIGHUP, handled alike for every command;
- :mod:`~graphnet.app.quoting`: names and keys from files and command lines, shown escaped in messages.
"""
