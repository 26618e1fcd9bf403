"""Problems as bit sequences, least significant bit first."""

import numpy as np
import pytest

from graphnet.rnn.data import EXHAUSTIVE_LIMIT, bits_to_int, get_generator, int_to_bits


def test_bits_round_trip_for_small_and_huge_integers():
    for value in [0, 1, 9, 60, 255, 2**64 + 12345, 3**40000]:
        bits = value.bit_length() + 1
        assert bits_to_int(int_to_bits([value], bits)[:, 0]) == value


def test_int64_arrays_and_python_ints_give_the_same_bits():
    values = np.array([0, 5, 127])
    assert np.array_equal(int_to_bits(values, 8), int_to_bits([0, 5, 127], 8))


def test_addition_problems_are_the_posts():
    batch = get_generator("binary_addition").encode([9], [60], 8)
    assert batch.x.shape == (8, 1, 2) and batch.y.shape == (8, 1, 1)
    assert batch.y[::-1, 0, 0].tolist() == [0, 1, 0, 0, 0, 1, 0, 1]  # 69, most significant bit first


def test_sampling_follows_the_posts_random_stream():
    rng, post = np.random.RandomState(5), np.random.RandomState(5)
    batch = get_generator("binary_addition").sample(rng, 3, 8)
    addition = get_generator("binary_addition")
    for i in range(3):
        a, b = post.randint(128), post.randint(128)
        assert addition.describe(batch, i, batch.y[:, i]) == f"{a} + {b} = {a + b}"


def test_wide_problems_are_drawn_bit_by_bit_and_still_add_up():
    addition = get_generator("binary_addition")
    batch = addition.sample(np.random.RandomState(0), 5, 200)
    for i in range(5):
        a, b = bits_to_int(batch.x[:, i, 0]), bits_to_int(batch.x[:, i, 1])
        assert bits_to_int(batch.y[:, i, 0]) == a + b
        assert a < 2**199 and b < 2**199


def test_all_problems_when_few_and_none_when_many():
    addition = get_generator("binary_addition")
    assert addition.all_problems(8).size == 128 * 128 <= EXHAUSTIVE_LIMIT
    assert addition.all_problems(12) is None


def test_subtraction_parity_and_echo_compute_their_targets():
    from graphnet import get_generator

    sub = get_generator("binary_subtraction").encode(np.array([200]), np.array([57]), 8)
    assert bits_to_int(sub.y[:, 0, 0]) == 143
    x = np.array([1, 0, 1, 1, 0, 1], dtype=float)[:, None, None]
    assert get_generator("running_parity").target(x)[:, 0, 0].tolist() == [1, 1, 0, 1, 1, 0]
    echo = get_generator("delayed_echo").configured(type("Section", (), {"delay": 2})())
    assert echo.target(x)[:, 0, 0].tolist() == [0, 0, 1, 0, 1, 1]


def test_subtraction_never_goes_below_zero_and_enumerates_all_pairs():
    from graphnet import get_generator

    sub = get_generator("binary_subtraction")
    batch = sub.sample(np.random.RandomState(0), 50, 8)
    for i in range(50):
        a, b = bits_to_int(batch.x[:, i, 0]), bits_to_int(batch.x[:, i, 1])
        assert a >= b and bits_to_int(batch.y[:, i, 0]) == a - b
    assert sub.all_problems(8).size == 256 * 257 // 2


def test_every_shipped_generator_reads_one_problem_written_as_its_log_writes_it():
    addition = get_generator("binary_addition").example("9+60")
    assert addition.x.shape == (7, 1, 2)  # 60 needs 6 bits, the sum one more
    assert bits_to_int(addition.y[:, 0, 0]) == 69
    difference = get_generator("binary_subtraction").example("60-9", bits=8)
    assert difference.x.shape == (8, 1, 2) and bits_to_int(difference.y[:, 0, 0]) == 51
    parity = get_generator("running_parity").example("1011")  # the last step first: 1, 1, 0, 1 in time
    assert parity.x[:, 0, 0].tolist() == [1, 1, 0, 1] and parity.y[:, 0, 0].tolist() == [1, 0, 0, 1]
    predicted = np.array([[1.0], [0.0], [0.0], [1.0]])
    assert get_generator("running_parity").describe(parity, 0, predicted).startswith("in 1011 -> out 1001")


@pytest.mark.parametrize("name, text, expected", [
    ("binary_addition", "9-60", "expected A+B with non-negative integers"),
    ("binary_addition", "-9+60", "expected A+B"),
    ("binary_subtraction", "9-60", "expected A-B with integers A >= B >= 0"),
    ("running_parity", "10201", "expected the input bits"),
    ("delayed_echo", "", "expected the input bits"),
])
def test_a_malformed_example_says_how_to_write_one(name, text, expected):
    with pytest.raises(ValueError) as refused:
        get_generator(name).example(text)
    assert str(refused.value).startswith(expected)


def test_an_example_longer_than_the_steps_asked_for_is_refused():
    with pytest.raises(ValueError, match="needs at least 7 steps, got 4"):
        get_generator("binary_addition").example("9+60", bits=4)


@pytest.mark.parametrize("name", ["binary_addition", "binary_subtraction"])
def test_sampling_through_the_bit_table_gives_the_shifted_bits_and_the_same_random_stream(name, monkeypatch):
    from graphnet.rnn import data

    generator = get_generator(name)
    for bits in (1, 2, 8, data._TABLE_BITS, data._TABLE_BITS + 1):
        for batch in (1, 5, 64):
            table_rng, shift_rng = np.random.RandomState(bits), np.random.RandomState(bits)
            with_table = generator.sample(table_rng, batch, bits)
            monkeypatch.setattr(data, "_TABLE_BITS", 0)  # every width through shifts and masks
            shifted = generator.sample(shift_rng, batch, bits)
            monkeypatch.undo()
            assert with_table.x.dtype == shifted.x.dtype == np.float64
            assert np.array_equal(with_table.x, shifted.x) and np.array_equal(with_table.y, shifted.y)
            assert with_table.x.shape == shifted.x.shape and with_table.y.shape == shifted.y.shape
            assert str(table_rng.get_state()) == str(shift_rng.get_state())
