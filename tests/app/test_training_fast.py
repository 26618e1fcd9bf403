"""Training: the post's run bit for bit, the independent port of the post on other settings, the fast task
solves, ``after_update`` ends early."""

import sys
from pathlib import Path

import numpy as np

from graphnet import load_task
from graphnet import evaluate, train

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/, for post_reference
from post_reference import run_post  # noqa: E402


def test_the_posts_published_run_is_reproduced_on_the_fast_runner():
    result = train(load_task("tasks/binary_addition.toml", ["training.iterations=9001"]))
    logged = {e.iteration: (f"{e.error:.8f}", e.describe) for e in result.log}
    assert logged[0] == ("3.45638663", "9 + 60 = 1")
    assert logged[6000] == ("0.57691441", "81 + 0 = 81")
    assert logged[9000] == ("0.21595037", "11 + 3 = 14")


def test_other_settings_match_the_independent_port_of_the_post():
    overrides = ["network.hidden=5", "task.bits=6", "training.learning_rate=0.3", "training.seed=4",
                 "training.iterations=400", "training.log_every=0"]
    ours = train(load_task("tasks/binary_addition.toml", overrides)).params
    theirs, _ = run_post(bits=6, hidden_dim=5, alpha=0.3, seed=4, iterations=400, log_every=0)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=0, atol=1e-9, err_msg=key)


def test_the_fast_task_solves_every_128x128_problem():
    task = load_task("tasks/binary_addition_fast.toml")
    assert task.training.batch_size > 1
    assert evaluate(task, train(task).params).fraction == 1.0


def test_after_step_ends_training_at_the_iteration_it_says():
    task = load_task("tasks/binary_addition.toml", ["training.iterations=50", "training.log_every=0"])
    seen = []
    result = train(task, after_update=lambda done, params, random_state: seen.append(done) or done == 7)
    assert result.iterations == 7 and seen == list(range(1, 8))
    assert train(task).iterations == 50
