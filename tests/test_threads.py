"""Grad mode and the backward pass are per thread: threads never change each other's gradients."""
import threading

import numpy as np

import minidl as mdl
from minidl import nn, optim


def train(seed, steps, barrier=None):
    """Train a small MLP from ``seed``; with ``barrier``, step in lockstep with another thread."""
    rng = np.random.default_rng(seed)
    x = mdl.tensor(rng.standard_normal((32, 8)).astype(np.float32))
    y = mdl.tensor(rng.integers(0, 3, 32))
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
    for p, value in zip(model.parameters(), [rng.standard_normal(p.shape).astype(np.float32) * 0.3
                                             for p in model.parameters()]):
        p.data[...] = value
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        if barrier:
            barrier.wait()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        if barrier:
            barrier.wait()  # both threads hold a recorded graph here
        loss.backward()
        with mdl.no_grad():  # overlapping no_grad blocks in the two threads
            model(x)
        opt.step()
    return [p.numpy().copy() for p in model.parameters()]


def test_two_threads_training_at_once_get_exactly_what_each_gets_alone():
    alone = [train(seed, 60) for seed in (1, 2)]
    results, errors = {}, []
    barrier = threading.Barrier(2)

    def run(seed):
        try:
            results[seed] = train(seed, 60, barrier)
        except BaseException as err:  # surfaced below: a thread's exception must fail the test
            errors.append(err)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for seed, expected in zip((1, 2), alone):
        for got, want in zip(results[seed], expected):
            np.testing.assert_array_equal(got, want)


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    inside, resume, seen = threading.Event(), threading.Event(), {}

    def silent():
        with mdl.no_grad():
            inside.set()
            resume.wait(5)

    t = threading.Thread(target=silent)
    t.start()
    inside.wait(5)
    seen["recording"] = mdl.is_grad_enabled()
    y = x * 3
    resume.set()
    t.join()
    assert seen["recording"] and y.requires_grad
    assert mdl.is_grad_enabled()


def test_a_backward_pass_in_one_thread_leaves_the_other_threads_grad_mode_alone():
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    modes = []

    def probe():
        modes.append(mdl.is_grad_enabled())

    def hook(grad):  # runs inside the backward pass, which turns recording off in its own thread only
        t = threading.Thread(target=probe)
        t.start()
        t.join()
        modes.append(mdl.is_grad_enabled())

    y = x * 2
    y.register_hook(hook)
    y.sum().backward()
    assert modes == [True, False]


def test_no_grad_as_a_decorator_restores_each_threads_own_mode():
    @mdl.no_grad()
    def evaluate(results, key, release):
        results[key] = mdl.is_grad_enabled()
        release.wait(5)

    results, release = {}, threading.Event()
    threads = [threading.Thread(target=evaluate, args=(results, k, release)) for k in range(2)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join()
    assert results == {0: False, 1: False} and mdl.is_grad_enabled()
