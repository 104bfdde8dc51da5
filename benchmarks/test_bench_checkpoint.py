"""checkpoint_sequential against the plain run of a deep MLP: time per step and memory held for backward."""
import math

import numpy as np
import pytest
from workloads import checkpoint_step, deep_mlp, held_for_backward

import minidl as mdl


def sizes(timed):
    return (32, 1024, 256) if timed else (8, 256, 64)  # depth, width, batch


@pytest.mark.parametrize("mode", ["plain", "checkpointed"])
def test_deep_mlp_step(timing, mode):
    benchmark, timed = timing
    depth, width, batch = sizes(timed)
    model = deep_mlp(depth, width)
    x = mdl.tensor(np.random.default_rng(0).standard_normal((batch, width)).astype(np.float32))
    segments = round(math.sqrt(2 * depth)) if mode == "checkpointed" else 0
    benchmark.group = "deep-mlp-checkpointing"
    held, peak = held_for_backward(model, x, segments)
    benchmark.extra_info.update(held_for_backward_mb=held / 2**20, forward_peak_mb=peak / 2**20, segments=segments)
    activation, modules = batch * width * 4, 2 * depth
    if mode == "plain":
        assert held >= depth * activation * 0.9  # each ReLU output (read by ReLU's and the next Linear's VJP)
    else:  # the inputs of the checkpointed segments, and the activations of the last (plain) one
        kept = segments - 1 + math.ceil(modules / segments)
        assert held < kept * activation * 1.25
    benchmark(checkpoint_step, model, x, segments)
