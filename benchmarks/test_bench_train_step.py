"""Training-step benchmarks: the 784-256-10 seed network at three batch sizes, and LeNet-5.

Run with ``pytest benchmarks --benchmark-only``. Under the normal test command
(``--benchmark-disable``) each runs once and checks that minidl's loss and
gradients equal the hand-written NumPy ones.
"""
import numpy as np
import pytest
from workloads import MinidlSeedStep, NumpySeedStep, TorchSeedStep, lenet_step, torch_lenet_step

BATCHES = [32, 128, 1024]


def assert_same_step(batch):
    ours, floor = MinidlSeedStep(batch), NumpySeedStep(batch)
    loss, expected = ours(), floor()
    assert loss.item() == pytest.approx(float(expected), rel=1e-5)
    for g, e in zip(ours.grads, floor.grads):
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("batch", BATCHES)
def test_seed_step_minidl(timing, batch):
    benchmark, timed = timing
    assert_same_step(batch)
    benchmark.group = f"seed-step-batch{batch}"
    benchmark(MinidlSeedStep(batch))


@pytest.mark.parametrize("batch", BATCHES)
def test_seed_step_numpy_by_hand(timing, batch):
    benchmark, _ = timing
    benchmark.group = f"seed-step-batch{batch}"
    step = NumpySeedStep(batch)
    assert np.isfinite(benchmark(step))


@pytest.mark.parametrize("batch", BATCHES)
def test_seed_step_pytorch(timing, batch):
    pytest.importorskip("torch", reason="PyTorch is not installed")
    benchmark, _ = timing
    benchmark.group = f"seed-step-batch{batch}"
    ours, theirs = MinidlSeedStep(batch), TorchSeedStep(batch)
    assert theirs().item() == pytest.approx(ours().item(), rel=1e-5)
    benchmark(theirs)


def test_lenet5_step_minidl(timing):
    benchmark, _ = timing
    benchmark.group = "lenet5-step-batch128"
    step = lenet_step(128)
    first = step().item()
    benchmark(step)
    assert step().item() < first  # it learns: the loss on this batch goes down


def test_lenet5_step_pytorch(timing):
    pytest.importorskip("torch", reason="PyTorch is not installed")
    benchmark, _ = timing
    benchmark.group = "lenet5-step-batch128"
    benchmark(torch_lenet_step(128))
