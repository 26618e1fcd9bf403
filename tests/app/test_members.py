"""Many networks as one program: each member is, number for number, the run of its own seed and learning rate."""

import numpy as np
import pytest

from graphnet import load_task, train
from graphnet.app.members import evaluate_members, train_members
from graphnet.app.sweep import parse_grid, sweep
from graphnet.errors import DivergedError, TaskError
from conftest import ROOT, TASK

LSTM = ROOT / "tasks" / "binary_addition_lstm.toml"


def alone(path, *overrides):
    return train(load_task(path, [*overrides, "training.log_every=0"]))


def same(a: dict, b: dict, exact: bool = True) -> bool:
    if exact:
        return all(np.array_equal(a[k], b[k]) for k in b)
    return all(np.allclose(a[k], b[k], rtol=0, atol=1e-12) for k in b)


@pytest.mark.parametrize("path, overrides", [
    (TASK, ["training.iterations=300"]),  # the post: batch 1
    (TASK, ["training.iterations=100", "training.batch_size=16"]),
    (LSTM, ["training.iterations=60"]),  # gated: bias_add and mul on the member axis too
])
def test_each_member_is_the_run_of_its_own_seed_bit_for_bit(path, overrides):
    task = load_task(path, [*overrides, "training.log_every=0"])
    members = train_members(task, seeds=[3, 0, 7])
    for member in members:
        run = alone(path, *overrides, f"training.seed={member.seed}")
        assert member.iterations == run.iterations and not member.stopped
        assert same(member.params, run.params), member.seed


def test_members_with_their_own_learning_rates():
    task = load_task(TASK, ["training.iterations=200", "training.log_every=0"])
    members = train_members(task, seeds=[1, 1, 2], learning_rates=[0.1, 0.5, 0.25])
    for member in members:
        run = alone(TASK, "training.iterations=200", f"training.seed={member.seed}",
                    f"training.learning_rate={member.learning_rate}")
        assert same(member.params, run.params), (member.seed, member.learning_rate)
    assert not same(members[0].params, members[1].params)


def test_a_stopped_member_stops_where_its_own_run_would_and_the_others_go_on():
    task = load_task(TASK, ["training.iterations=400", "training.log_every=0"])
    stops = {0: 200, 2: 100}  # seed -> the iteration it is stopped at

    seeds = [0, 1, 2]
    live = list(seeds)

    def until(done, params):
        stop = np.array([stops.get(seed) == done for seed in live])
        live[:] = [seed for seed, s in zip(live, stop) if not s]
        return stop

    members = train_members(task, seeds, until=until, every=100)
    assert [(m.iterations, m.stopped) for m in members] == [(200, True), (400, False), (100, True)]
    for member in members:
        own = load_task(TASK, ["training.iterations=400", "training.log_every=0", f"training.seed={member.seed}"])
        run = train(own, after_update=lambda done, params, state, at=stops.get(member.seed): done == at)
        assert run.iterations == member.iterations and same(member.params, run.params)


def test_members_are_evaluated_as_each_alone():
    from graphnet import evaluate

    task = load_task(TASK, ["training.iterations=2000", "training.log_every=0"])
    members = train_members(task, seeds=[0, 1])
    stacked = {k: np.stack([m.params[k] for m in members]) for k in members[0].params}
    assert [a.correct for a in evaluate_members(task, stacked)] == [evaluate(task, m.params).correct
                                                                    for m in members]


def test_a_sweep_trains_its_seeds_together_with_the_results_of_one_by_one():
    fast = str(ROOT / "tasks" / "binary_addition_fast.toml")
    grid = {"network.hidden": ["4", "16"], "training.learning_rate": ["1", "3"]}
    together = sweep(fast, grid, 2, check_every=100, workers=1)
    apart = sweep(fast, grid, 2, check_every=100, workers=1, together=False)
    strip = [(t.setting, t.seed, t.solved, t.iterations, t.accuracy) for t in together]
    assert strip == [(t.setting, t.seed, t.solved, t.iterations, t.accuracy) for t in apart]
    assert any(t.solved for t in together) and not all(t.solved for t in together)  # both kinds of ending


def test_a_node_type_without_a_stacking_rule_is_refused_and_a_sweep_trains_it_one_by_one(node_type, tmp_path):
    from graphnet.engine.nodes import Tanh

    @node_type("rule_less_tanh")
    class RuleLessTanh(Tanh):
        """tanh, with no stacking rule."""

        stacking = None

    task = load_task(TASK, ["network.activation=rule_less_tanh", "training.iterations=20", "training.log_every=0"])
    with pytest.raises(TaskError, match="node type 'rule_less_tanh' declares no stacking rule"):
        train_members(task, seeds=[0, 1])
    trials = sweep(str(TASK), {"network.activation": ["rule_less_tanh"], "training.iterations": ["20"]}, 2,
                   workers=1)
    assert [t.iterations for t in trials] == [20, 20]


RELU = ["network.activation=relu", "network.loss=bce_with_logits", "training.iterations=40", "training.log_every=0"]


def test_a_diverging_member_is_named_by_its_seed():
    task = load_task(TASK, RELU)  # unbounded: a step of 1000 overflows in a few iterations
    with pytest.raises(DivergedError, match="at iteration 3 for the network of seed 11: a NaN or inf"):
        train_members(task, [10, 11, 12], learning_rates=[0.01, 1e3, 0.01])


def test_a_diverging_member_stops_and_the_others_train_as_if_it_never_was():
    task = load_task(TASK, RELU)
    members = train_members(task, [10, 11, 12], learning_rates=[0.01, 1e3, 0.01], diverged="stop")
    assert [(m.iterations, m.diverged) for m in members] == [(40, False), (3, True), (40, False)]
    assert all(np.all(np.isfinite(w)) for w in members[1].params.values())  # its weights before the NaN
    alone = train_members(task, [10, 12], learning_rates=[0.01, 0.01])
    for member, own in zip([members[0], members[2]], alone):
        assert all(np.array_equal(member.params[k], own.params[k]) for k in own.params)


def test_too_many_members_for_memory_are_refused_before_any_is_trained():
    task = load_task(TASK, ["task.bits=60000", "training.batch_size=64"])
    with pytest.raises(TaskError, match="networks trained together would need about"):
        train_members(task, seeds=list(range(64)))
