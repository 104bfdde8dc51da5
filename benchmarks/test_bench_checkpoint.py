"""checkpoint_sequential against the plain run of a deep MLP: time per step and memory held for backward."""
import math
import tracemalloc

import numpy as np
import pytest
from workloads import deep_mlp

import minidl as mdl
from minidl import nn


def sizes(timed):
    return (32, 1024, 256) if timed else (8, 256, 64)  # depth, width, batch


def step(model, x, segments):
    model.zero_grad()
    out = nn.checkpoint_sequential(model, segments, x) if segments else model(x)
    loss = out.square().mean()
    loss.backward()
    return loss


def held_after_forward(model, x, segments):
    tracemalloc.start()
    loss = (nn.checkpoint_sequential(model, segments, x) if segments else model(x)).square().mean()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    loss.backward()
    return held, peak


@pytest.mark.parametrize("mode", ["plain", "checkpointed"])
def test_deep_mlp_step(timing, mode):
    benchmark, timed = timing
    depth, width, batch = sizes(timed)
    model = deep_mlp(depth, width)
    x = mdl.tensor(np.random.default_rng(0).standard_normal((batch, width)).astype(np.float32))
    segments = round(math.sqrt(2 * depth)) if mode == "checkpointed" else 0
    benchmark.group = "deep-mlp-checkpointing"
    held, peak = held_after_forward(model, x, segments)
    benchmark.extra_info.update(held_for_backward_mb=held / 2**20, forward_peak_mb=peak / 2**20, segments=segments)
    activation, modules = batch * width * 4, 2 * depth
    if mode == "plain":
        assert held >= modules * activation * 0.9  # every Linear and ReLU output is kept
    else:  # the inputs of the checkpointed segments, and the activations of the last (plain) one
        kept = segments - 1 + math.ceil(modules / segments)
        assert held < kept * activation * 1.25
    benchmark(step, model, x, segments)
