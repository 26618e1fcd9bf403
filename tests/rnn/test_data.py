"""Problems as bit sequences, least significant bit first."""

import numpy as np
import pytest

from graphnet.rnn.data import EXHAUSTIVE_LIMIT, Batch, bits_to_int, get_generator, int_to_bits


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


# -- the hidden fact: what the state must hold after each step (graphnet probe reads it) -------------------------
def test_the_carry_of_3_plus_1_by_hand():
    # 011 + 001: bit 0 is 1 + 1 = 10, carry 1; bit 1 is 1 + 0 + 1 = 10, carry 1; bit 2 is 0 + 0 + 1, no carry.
    addition = get_generator("binary_addition")
    batch = addition.encode([3], [1], 4)
    assert addition.fact == "carry"
    assert addition.fact_values(batch)[:, 0].tolist() == [1, 1, 0, 0]
    assert bits_to_int(batch.y[:, 0, 0]) == 4


def test_the_borrow_of_4_minus_1_by_hand():
    # 100 - 001: bit 0 is 0 - 1, borrow 1; bit 1 is 0 - 0 - 1, borrow 1; bit 2 is 1 - 0 - 1 = 0, no borrow.
    subtraction = get_generator("binary_subtraction")
    batch = subtraction.encode([4], [1], 3)
    assert subtraction.fact == "borrow"
    assert subtraction.fact_values(batch)[:, 0].tolist() == [1, 1, 0]


@pytest.mark.parametrize("name, bits", [("binary_addition", 8), ("binary_subtraction", 8), ("binary_addition", 200)])
def test_every_answer_bit_is_the_operand_bits_with_the_fact_carried_in(name, bits):
    # sum bit = a xor b xor carry in; difference bit = a xor b xor borrow in; nothing is carried out of the last
    # bit (the sum fits, a >= b). 200 bits: the sums are made from the carries too, so they must still add up.
    generator = get_generator(name)
    batch = generator.all_problems(bits) if bits <= 8 else generator.sample(np.random.RandomState(0), 20, bits)
    facts = generator.fact_values(batch)
    carried_in = np.concatenate([np.zeros((1, batch.size), dtype=np.int64), facts[:-1]])
    a, b = batch.x[:, :, 0].astype(int), batch.x[:, :, 1].astype(int)
    assert np.array_equal(batch.y[:, :, 0], a ^ b ^ carried_in)
    assert facts.shape == (bits, batch.size) and not facts[-1].any() and set(np.unique(facts)) == {0, 1}
    if bits > 8:
        for i in range(batch.size):
            assert bits_to_int(batch.y[:, i, 0]) == bits_to_int(batch.x[:, i, 0]) + bits_to_int(batch.x[:, i, 1])


def test_the_parity_so_far_is_the_previous_one_flipped_by_each_one_bit():
    parity = get_generator("running_parity")
    batch = parity.example("1011")  # steps 1, 1, 0, 1
    assert parity.fact == "parity" and parity.fact_values(batch)[:, 0].tolist() == [1, 0, 0, 1]


@pytest.mark.parametrize("delay, name", [(1, "x[t]"), (3, "x[t-2]")])
def test_the_echo_holds_the_bit_the_next_step_echoes(delay, name):
    echo = get_generator("delayed_echo").configured(type("Section", (), {"delay": delay})())
    x = np.array([1, 0, 1, 1, 0, 1], dtype=float)[:, None, None]
    batch = Batch(x, echo.target(x))
    facts = echo.fact_values(batch)
    assert echo.fact == name
    assert np.array_equal(facts[:-1], batch.y[1:, :, 0])  # what step t + 1 outputs
    assert facts[:, 0].tolist() == ([1, 0, 1, 1, 0, 1] if delay == 1 else [0, 0, 1, 0, 1, 1])
    assert get_generator("delayed_echo").fact == "x[t]"  # configuring made a new generator


def test_a_generator_names_no_fact_unless_it_declares_one():
    from graphnet import Generator

    assert Generator.fact == ""
    with pytest.raises(NotImplementedError, match="declares no hidden fact"):
        Generator().fact_values(Batch(np.zeros((2, 1, 1)), np.zeros((2, 1, 1))))
