"""Gradient checkpointing: same gradients, same dropout masks, and less memory held for backward."""
import gc
import tracemalloc

import numpy as np
import pytest

import minidl as mdl
from minidl import nn


def mlp(depth, width, dropout=0.0):
    mdl.manual_seed(0)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
    return nn.Sequential(*layers)


def gradients(model, x, run):
    model.zero_grad()
    mdl.manual_seed(1)
    run(model, x).square().sum().backward()
    return [p.grad.numpy().copy() for p in model.parameters()]


def plain(model, x):
    return model(x)


@pytest.mark.parametrize("segments", [1, 2, 3, 8])
def test_checkpoint_sequential_gives_the_same_gradients(segments):
    model, x = mlp(8, 16), mdl.randn(4, 16)
    expected = gradients(model, x, plain)
    got = gradients(model, x, lambda m, x: nn.checkpoint_sequential(m, segments, x))
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_checkpoint_gives_input_gradients_too():
    layer = nn.Linear(3, 3)
    x = mdl.randn(2, 3, requires_grad=True)
    mdl.tanh(nn.checkpoint(lambda h: mdl.sigmoid(layer(h)), x)).sum().backward()
    x_ckpt, w_ckpt = x.grad.numpy().copy(), layer.weight.grad.numpy().copy()
    x.grad = layer.weight.grad = None
    mdl.tanh(mdl.sigmoid(layer(x))).sum().backward()
    np.testing.assert_allclose(x_ckpt, x.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(w_ckpt, layer.weight.grad.numpy(), rtol=1e-6)


def test_dropout_inside_a_checkpoint_replays_the_same_mask():
    model, x = mlp(4, 32, dropout=0.5), mdl.randn(8, 32)
    expected = gradients(model, x, plain)
    got = gradients(model, x, lambda m, x: nn.checkpoint_sequential(m, 2, x))
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_recomputation_does_not_disturb_later_random_draws():
    model, x = mlp(2, 8, dropout=0.5), mdl.randn(4, 8)
    mdl.manual_seed(3)
    model(x).sum().backward()
    after_plain = mdl.rand(3).numpy()
    mdl.manual_seed(3)
    nn.checkpoint_sequential(model, 2, x).sum().backward()
    np.testing.assert_array_equal(mdl.rand(3).numpy(), after_plain)


def held_for_backward(run, model, x):
    """Bytes allocated by the forward pass that are still alive when backward starts."""
    gc.collect()
    tracemalloc.start()
    loss = run(model, x).sum()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    loss.backward()
    return held


def test_checkpointing_holds_much_less_activation_memory():
    model, x = mlp(16, 256), mdl.randn(64, 256)
    plain_bytes = held_for_backward(plain, model, x)
    ckpt_bytes = held_for_backward(lambda m, x: nn.checkpoint_sequential(m, 4, x), model, x)
    # 16 activations of 64 KiB are held without checkpointing (each ReLU output, which the next Linear
    # reads too); with 4 segments, 3 segment inputs + the last segment's 4
    assert plain_bytes > 16 * 64 * 256 * 4 * 0.9
    assert ckpt_bytes < plain_bytes / 2, (ckpt_bytes, plain_bytes)


def test_checkpoint_sequential_checks_segments():
    with pytest.raises(ValueError, match="segments must be between 1 and 2"):
        nn.checkpoint_sequential(nn.Sequential(nn.ReLU(), nn.ReLU()), 3, mdl.zeros(1))
