"""The benchmark runs end to end on tiny sizes (a check that it works, not a timing)."""

import numpy as np

from benchmarks import speed as bench
from graphnet import load_task
from graphnet import evaluate


def test_the_quick_benchmark_prints_every_table(capsys):
    assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    for heading in ("the post's code", "its arithmetic alone", "graphnet", "hand-tuned numpy", "time to solve", "steps"):
        assert heading in out


def test_the_benchmarks_post_loop_learns_as_the_post_does():
    # Its own port of the post: after the post's 10000 iterations it adds all 128x128 problems (seed 0).
    task = load_task("tasks/binary_addition.toml")
    solved_at = bench.post_loop(10000, check=lambda p: evaluate(task, p).fraction == 1.0, every=1000)
    assert solved_at is not None and solved_at <= 10000


def test_the_hand_tuned_loop_and_the_scaling_table_run():
    bench.tuned_loop(3, 4)
    rows = bench.scaling([4, 8])
    assert [r[0] for r in rows] == [4, 8] and all(np.isfinite(r[1:]).all() for r in rows)


def test_graphnet_compiled_is_a_contestant():
    rows = bench.throughput(20, 1, (1,), compiled=True)
    assert [name for name, _, _ in rows][:4] == ["the post's code", "its arithmetic alone", "graphnet", "graphnet --compile"]
    assert all(rate > 0 for _, _, samples in rows for rate in samples)
