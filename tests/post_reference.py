"""The post's training loop, ported to Python 3 and kept independent of graphnet.

This is the code of "Anyone Can Learn To Code an LSTM-RNN in Python (Part 1: RNN)" with its constants turned
into arguments. It imports nothing from graphnet, so the tests can hold graphnet's run against it.
"""

from __future__ import annotations

import copy

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_output_to_derivative(output):
    return output * (1 - output)


def run_post(
    *,
    bits: int = 8,
    alpha: float = 0.1,
    input_dim: int = 2,
    hidden_dim: int = 16,
    output_dim: int = 1,
    iterations: int = 10000,
    seed: int = 0,
    log_every: int = 1000,
):
    """Train as the post does; return the final weights and the logged lines."""
    rng = np.random.RandomState(seed)
    largest_number = pow(2, bits)

    # The post's lookup table of every number's bits, most significant first (np.unpackbits of 0..255 for its 8
    # bits), filled as numbers are met, so that any number of bits works: a dict lookup a number, as the post's.
    table = {}

    def int2binary(n):
        if n not in table:
            table[n] = np.array([(n >> (bits - 1 - i)) & 1 for i in range(bits)], dtype=np.uint8)
        return table[n]

    synapse_0 = 2 * rng.random_sample((input_dim, hidden_dim)) - 1
    synapse_1 = 2 * rng.random_sample((hidden_dim, output_dim)) - 1
    synapse_h = 2 * rng.random_sample((hidden_dim, hidden_dim)) - 1
    synapse_0_update = np.zeros_like(synapse_0)
    synapse_1_update = np.zeros_like(synapse_1)
    synapse_h_update = np.zeros_like(synapse_h)
    log = []

    for j in range(iterations):
        a_int = rng.randint(largest_number // 2)
        a = int2binary(a_int)
        b_int = rng.randint(largest_number // 2)
        b = int2binary(b_int)
        c_int = a_int + b_int
        c = int2binary(c_int)
        d = np.zeros_like(c)
        overall_error = 0
        layer_2_deltas = list()
        layer_1_values = list()
        layer_1_values.append(np.zeros(hidden_dim))

        for position in range(bits):
            X = np.array([[a[bits - position - 1], b[bits - position - 1]]])
            y = np.array([[c[bits - position - 1]]]).T
            layer_1 = sigmoid(np.dot(X, synapse_0) + np.dot(layer_1_values[-1], synapse_h))
            layer_2 = sigmoid(np.dot(layer_1, synapse_1))
            layer_2_error = y - layer_2
            layer_2_deltas.append((layer_2_error) * sigmoid_output_to_derivative(layer_2))
            overall_error += np.abs(layer_2_error[0])
            d[bits - position - 1] = np.round(layer_2[0][0])
            layer_1_values.append(copy.deepcopy(layer_1))

        future_layer_1_delta = np.zeros(hidden_dim)
        for position in range(bits):
            X = np.array([[a[position], b[position]]])
            layer_1 = layer_1_values[-position - 1]
            prev_layer_1 = layer_1_values[-position - 2]
            layer_2_delta = layer_2_deltas[-position - 1]
            layer_1_delta = (
                future_layer_1_delta.dot(synapse_h.T) + layer_2_delta.dot(synapse_1.T)
            ) * sigmoid_output_to_derivative(layer_1)
            synapse_1_update += np.atleast_2d(layer_1).T.dot(layer_2_delta)
            synapse_h_update += np.atleast_2d(prev_layer_1).T.dot(layer_1_delta)
            synapse_0_update += X.T.dot(layer_1_delta)
            future_layer_1_delta = layer_1_delta

        synapse_0 += synapse_0_update * alpha
        synapse_1 += synapse_1_update * alpha
        synapse_h += synapse_h_update * alpha
        synapse_0_update *= 0
        synapse_1_update *= 0
        synapse_h_update *= 0

        if log_every and j % log_every == 0:
            out = 0
            for index, x in enumerate(reversed(d)):
                out += int(x) * pow(2, index)
            log.append((j, float(overall_error[0]), d.tolist(), c.tolist(), f"{a_int} + {b_int} = {out}"))

    return {"synapse_0": synapse_0, "synapse_h": synapse_h, "synapse_1": synapse_1}, log
