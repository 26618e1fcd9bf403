"""Colours: numbers as colours, and a colour for every weight that no other weight, sign or state has."""

import itertools
import re

import numpy as np
import pytest

from colour_distance import ciede2000, distance
from graphnet import load_task
from graphnet.render.colours import (EDGE_COLOUR, PENDING, RECURRENT_COLOUR, WEIGHT_COLOURS, Scale, mix, unit_colour,
                                     weight_colours)
from conftest import ROOT

SIGNS = {"red": Scale(1.0).colour(1.0), "blue": Scale(1.0).colour(-1.0)}


def visible(colour: str) -> bool:
    """A cell a reader sees as coloured: some channel at least 24 steps away from white."""
    return min(int(colour[i:i + 2], 16) for i in (1, 3, 5)) <= 255 - 24


def test_colour_scales():
    assert unit_colour(0.0) == "#ffffff" and unit_colour(1.0) == "#252525"
    assert Scale(2.0).colour(0.0) == "#ffffff"
    assert Scale(2.0).colour(2.0) == "#b2182b" and Scale(2.0).colour(-2.0) == "#2166ac"
    log = Scale.fit([1.0, 1e-3])  # a thousandth of the largest: logarithmic, one decade below it
    assert log.decades == 4 and log.ticks()[0] == -1.0 and log.ticks()[-1] == 1.0 and len(log.ticks()) == 11
    assert log.colour(1.0) == "#b2182b" and visible(log.colour(1e-3)) and log.colour(1e-5) == "#ffffff"
    assert Scale.fit([1.0, 0.1]).decades == 0 and Scale.fit([]).colour(3.0) == "#ffffff"
    assert Scale.fit([1.0, 1e-3], logarithmic=False) == Scale(1.0)  # a weight's own scale: always linear


@pytest.mark.parametrize("l1, l2, expected", [  # Sharma, Wu and Dalal (2005), table 1: pairs 1, 7, 13, 17, 19, 33
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0011), 7.2195),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (50.0, 3.1736, 0.5854), 1.0),
    ((2.0776, 0.0795, -1.135), (0.9033, -0.0636, -0.5514), 0.9082),
])
def test_the_colour_distance_is_ciede2000(l1, l2, expected):
    assert ciede2000(l1, l2) == pytest.approx(expected, abs=1e-4)


def test_a_gated_cells_weights_are_told_apart_at_a_glance():
    """The LSTM's 13 weights (and the GRU's 10): any two colours at least 18 apart in CIEDE2000 (10 is seen at a
    glance), none within 20 of a sign's red or blue or of the state's purple, none within 15 of the edges' grey."""
    for task, count in [("binary_addition_lstm.toml", 13), ("binary_addition_gru.toml", 10)]:
        weights = load_task(ROOT / "tasks" / task).build_network().graph(1).parameters
        colours = weight_colours(list(weights))
        assert len(colours) == count
        closest = min(distance(a, b) for a, b in itertools.combinations(colours.values(), 2))
        assert closest >= 18, closest
        for colour in colours.values():
            assert min(distance(colour, c) for c in [*SIGNS.values(), RECURRENT_COLOUR]) >= 20, colour
            assert distance(colour, EDGE_COLOUR) >= 15 and distance(colour, "#ffffff") >= 15, colour
    assert list(weight_colours(["a", "b", "c"]).values()) == WEIGHT_COLOURS[:3]


def test_past_sixteen_weights_the_colours_still_differ_and_are_never_a_scales():
    many = weight_colours([f"w{i}" for i in range(40)])
    scale = {*SIGNS.values(), unit_colour(1.0), RECURRENT_COLOUR, EDGE_COLOUR}
    assert len(set(many.values())) == 40 and not scale & set(many.values())


def test_not_computed_yet_has_a_colour_no_number_has():
    numbers = np.linspace(-1, 1, 2001)
    reachable = {unit_colour(v) for v in numbers if v >= 0} | {Scale(1.0).colour(v) for v in numbers}
    reachable |= {Scale(1.0, 4).colour(v) for v in numbers}
    assert PENDING not in reachable
    assert min(distance(PENDING, c) for c in reachable) > 5  # and none that looks like it


def test_mix_goes_from_one_colour_to_the_other():
    assert mix((255, 255, 255), (0, 0, 0), 0.0) == "#ffffff" and mix((255, 255, 255), (0, 0, 0), 2.0) == "#000000"


@pytest.mark.parametrize("magnitudes", [[1.7976931348623157e308, 1e-310], [1.7e308, 1.0], [5e-324, 1e-320],
                                        [1.7976931348623157e308], [1e300, 1e-300]],
                         ids=["largest and subnormal", "near the limit", "subnormal", "largest alone", "600 decades"])
def test_a_scale_of_numbers_near_the_float_limits_or_subnormal_colours_them(magnitudes):
    scale = Scale.fit(magnitudes)
    assert 0 < scale.limit < np.inf and scale.limit >= max(magnitudes) * (1 - 1e-12)
    assert scale.colour(max(magnitudes)) == "#b2182b" and scale.colour(-max(magnitudes)) == "#2166ac"
    assert all(np.isfinite(scale.ticks())) and scale.colour(0.0) == "#ffffff"
    assert all(re.fullmatch("#[0-9a-f]{6}", scale.colour(v)) for m in magnitudes for v in (m, -m, m / 3))
