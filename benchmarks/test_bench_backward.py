"""Backward-only throughput through a 2,000-op elementwise chain, against the hand-written floor.

The graph is rebuilt (untimed) before each round: pytest-benchmark's pedantic
mode with a setup function. Under --benchmark-disable a short chain is checked
against the hand-written gradient instead.
"""
import numpy as np
import pytest
from workloads import NumpyChain, minidl_chain

SHAPES = {"small": (16,), "large": (1000, 1000)}


def chain_length(timed, shape):
    return 2000 if timed else 40


@pytest.mark.parametrize("size", sorted(SHAPES))
def test_chain_backward_minidl(timing, size):
    benchmark, timed = timing
    n, shape = chain_length(timed, SHAPES[size]), SHAPES[size]
    benchmark.group = f"chain-backward-{size}"
    x, out = minidl_chain(n, shape)
    out.backward()
    np.testing.assert_allclose(x.grad.numpy(), NumpyChain(n, shape).backward(), rtol=1e-5, atol=1e-6)

    def setup():
        return minidl_chain(n, shape)[1:], {}
    rounds = 20 if size == "small" else 3
    benchmark.pedantic(lambda out: out.backward(), setup=setup, rounds=rounds)
    benchmark.extra_info["nodes"] = n


@pytest.mark.parametrize("size", sorted(SHAPES))
def test_chain_backward_numpy_by_hand(timing, size):
    benchmark, timed = timing
    n, shape = chain_length(timed, SHAPES[size]), SHAPES[size]
    benchmark.group = f"chain-backward-{size}"
    chain = NumpyChain(n, shape)
    rounds = 20 if size == "small" else 3
    result = benchmark.pedantic(chain.backward, rounds=rounds)
    assert result.shape == shape
    benchmark.extra_info["nodes"] = n
