"""graphnet's benchmarks, run from a checkout: ``python -m benchmarks [speed|whole-process|members|reliability|pictures|
cluster] ...``.

- ``speed``: graphnet's training loop against the post's loop, a hand-tuned numpy loop and PyTorch, in one
  process, alternating (``speed.py``);
- ``whole-process``: ``graphnet train`` against a plain numpy script making the same updates, as whole
  processes (``whole_process.py``, ``plain_numpy_train.py``);
- ``members``: a sweep's seeds trained as one program against one by one, as whole processes (``members.py``);
- ``reliability``: what the NaN check and the checkpoint hook cost (``reliability.py``);
- ``pictures``: a still picture and an animation of the LSTM over 8 steps, each pass laid out once against every
  frame laid out on its own (``pictures.py``);
- ``cluster``: a 64-trial sweep on the process pool against the same on a dask.distributed cluster on loopback,
  as whole processes (``cluster.py``).

Speed is measured here, as ratios within one run, never by a timed test. docs/performance.md has the figures.
"""
