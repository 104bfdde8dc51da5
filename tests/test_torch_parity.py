"""minidl against PyTorch as an oracle: same weights, same input, same outputs, gradients and updates.

PyTorch is an optional test dependency; without it these tests are skipped.
"""
import numpy as np
import pytest

import minidl as mdl
import minidl.nn.functional as F
from minidl import nn, optim

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
TOL = dict(rtol=1e-5, atol=1e-5)
rng = np.random.default_rng(0)


def copy_weights(ours, theirs):
    """Load PyTorch's state dict into the minidl module: names and shapes must match one to one."""
    state = {k: mdl.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)


def compare(ours, theirs, x, target=None, loss=None):
    """Forward both, backward a fixed projection, compare outputs, input and parameter gradients."""
    copy_weights(ours, theirs)
    xt = torch.tensor(x, requires_grad=True)
    xm = mdl.tensor(x, requires_grad=True)
    out_t, out_m = theirs(xt), ours(xm)
    np.testing.assert_allclose(out_m.numpy(), out_t.detach().numpy(), **TOL)
    v = rng.standard_normal(out_t.shape).astype(np.float32)
    (out_t * torch.tensor(v)).sum().backward()
    (out_m * mdl.tensor(v)).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), **TOL)
    grads_t = {n: p.grad.numpy() for n, p in theirs.named_parameters()}
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads_t[name], **TOL, err_msg=name)
    for name, b in theirs.named_buffers():
        np.testing.assert_allclose(ours.state_dict()[name].numpy(), b.numpy(), **TOL, err_msg=name)


def x32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_linear():
    compare(nn.Linear(7, 5), torch.nn.Linear(7, 5), x32(4, 7))


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), (1, 2)])
def test_conv2d(stride, padding):
    compare(nn.Conv2d(3, 4, 3, stride=stride, padding=padding),
            torch.nn.Conv2d(3, 4, 3, stride=stride, padding=padding), x32(2, 3, 8, 7))


@pytest.mark.parametrize("kernel, stride, padding", [(2, None, 0), (3, 2, 1), (3, 1, 0)])
def test_max_pool2d(kernel, stride, padding):
    compare(nn.MaxPool2d(kernel, stride, padding), torch.nn.MaxPool2d(kernel, stride, padding), x32(2, 3, 7, 8))


@pytest.mark.parametrize("ours, theirs, shape", [
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (8, 5)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (8, 5, 3)),
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 5, 3, 3)),
])
def test_batch_norm_train_then_eval(ours, theirs, shape):
    m, t = ours(5), theirs(5)
    compare(m, t, x32(*shape))  # training: batch statistics, running ones updated
    m.eval(), t.eval()
    m.zero_grad(), t.zero_grad()
    compare(m, t, x32(*shape))


def test_layer_norm():
    compare(nn.LayerNorm((3, 4)), torch.nn.LayerNorm((3, 4)), x32(2, 3, 4))


def test_lenet_like_stack():
    def build(lib):
        return lib.Sequential(lib.Conv2d(1, 4, 5, padding=2), lib.ReLU(), lib.MaxPool2d(2), lib.Conv2d(4, 6, 3),
                              lib.Tanh(), lib.Flatten(), lib.Linear(6 * 5 * 5, 10), lib.LogSoftmax(dim=1))
    compare(build(nn), build(torch.nn), x32(3, 1, 14, 14))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_loss(reduction):
    logits, target = x32(6, 4) * 3, rng.integers(0, 4, 6)
    lt = torch.tensor(logits, requires_grad=True)
    lm = mdl.tensor(logits, requires_grad=True)
    out_t = torch.nn.CrossEntropyLoss(reduction=reduction)(lt, torch.tensor(target))
    out_m = nn.CrossEntropyLoss(reduction=reduction)(lm, mdl.tensor(target))
    np.testing.assert_allclose(out_m.numpy(), out_t.detach().numpy(), **TOL)
    out_t.sum().backward()
    out_m.sum().backward()
    np.testing.assert_allclose(lm.grad.numpy(), lt.grad.numpy(), **TOL)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_double_backward(reduction):
    """Differentiate the gradient itself, with respect to the logits and to a cotangent that requires grad
    (the fused cross_entropy_grad's two VJPs)."""
    logits, target = rng.standard_normal((4, 3)), rng.integers(0, 3, 4)
    cotangent, weights = rng.standard_normal(() if reduction != "none" else (4,)), rng.standard_normal((4, 3))
    results = []
    for lib, grad in ((mdl, mdl.autograd.grad), (torch, torch.autograd.grad)):
        x, v = lib.tensor(logits, requires_grad=True), lib.tensor(cotangent, requires_grad=True)
        loss_fn = nn.CrossEntropyLoss if lib is mdl else torch.nn.CrossEntropyLoss
        (g,) = grad(loss_fn(reduction=reduction)(x, lib.tensor(target)), x, grad_outputs=v, create_graph=True)
        (g * g * lib.tensor(weights)).sum().backward()
        results.append([g.detach().numpy(), x.grad.numpy(), v.grad.numpy()])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("weight", ["none", "positive", "zero"])
@pytest.mark.parametrize("target", [[-100, -100, -100], [0, -100, 3]], ids=["all ignored", "one ignored"])
def test_ignored_targets_and_zero_weights_as_pytorch(loss, weight, target):
    """Every target ignored: a NaN loss (0/0) but zero gradients (a NaN would reach the parameters); counted
    targets whose weights are all zero: NaN in both. The loss keeps the logits' dtype."""
    logits = x32(3, 4)
    w = {"none": None, "positive": x32(4) ** 2 + 0.1, "zero": np.zeros(4, np.float32)}[weight]
    ours, theirs = mdl.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    out_m = getattr(F, loss)(ours, mdl.tensor(target), weight=None if w is None else mdl.tensor(w))
    out_t = getattr(torch.nn.functional, loss)(theirs, torch.tensor(target), weight=None if w is None else torch.tensor(w))
    out_m.backward()
    out_t.backward()
    assert out_m.dtype == mdl.float32
    np.testing.assert_allclose(out_m.item(), out_t.item(), rtol=1e-5)  # NaN equals NaN here
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_other_losses():
    a, b = x32(5, 3), x32(5, 3)
    labels = (rng.random((5, 3)) > 0.5).astype(np.float32)
    target = rng.integers(0, 3, 5)
    pairs = [
        (F.mse_loss(mdl.tensor(a), mdl.tensor(b)), torch.nn.functional.mse_loss(torch.tensor(a), torch.tensor(b))),
        (F.binary_cross_entropy_with_logits(mdl.tensor(a), mdl.tensor(labels)),
         torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(a), torch.tensor(labels))),
        (F.nll_loss(F.log_softmax(mdl.tensor(a), 1), mdl.tensor(target)),
         torch.nn.functional.nll_loss(torch.log_softmax(torch.tensor(a), 1), torch.tensor(target))),
    ]
    for ours, theirs in pairs:
        assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)


OPTIMIZERS = {
    "sgd-momentum": (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-2),
                     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-2)),
    "sgd-nesterov": (lambda p: optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True)),
    "sgd-dampening": (lambda p: optim.SGD(p, lr=0.05, momentum=0.5, dampening=0.3),
                      lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.5, dampening=0.3)),
    "adam": (lambda p: optim.Adam(p, lr=0.01, weight_decay=1e-3), lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=1e-3)),
    "adamw": (lambda p: optim.AdamW(p, lr=0.01), lambda p: torch.optim.AdamW(p, lr=0.01)),
    "rmsprop": (lambda p: optim.RMSprop(p, lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    "adagrad": (lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=1e-2, initial_accumulator_value=0.1),
                lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=1e-2,
                                              initial_accumulator_value=0.1)),
    "adadelta": (lambda p: optim.Adadelta(p, lr=1.0, rho=0.8, weight_decay=1e-2),
                 lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.8, weight_decay=1e-2)),
    "rmsprop-centered-momentum": (
        lambda p: optim.RMSprop(p, lr=0.01, momentum=0.9, centered=True, weight_decay=1e-2),
        lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.9, centered=True, weight_decay=1e-2)),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_match(name):
    make_ours, make_theirs = OPTIMIZERS[name]
    mdl.manual_seed(0)  # the same weights whatever ran before: Adam's first steps amplify float32 rounding
    ours, theirs = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)), \
        torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    copy_weights(ours, theirs)
    opt_m, opt_t = make_ours(ours.parameters()), make_theirs(theirs.parameters())
    x, y = x32(16, 6), rng.integers(0, 3, 16)
    for _ in range(5):
        opt_m.zero_grad(), opt_t.zero_grad()
        nn.CrossEntropyLoss()(ours(mdl.tensor(x)), mdl.tensor(y)).backward()
        torch.nn.CrossEntropyLoss()(theirs(torch.tensor(x)), torch.tensor(y)).backward()
        opt_m.step(), opt_t.step()
    for (name_t, p_t), (name_m, p_m) in zip(theirs.named_parameters(), ours.named_parameters()):
        assert name_t == name_m
        np.testing.assert_allclose(p_m.numpy(), p_t.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=name_m)


def both(make):
    """The same scheduler built on minidl's and on PyTorch's lr_scheduler module."""
    return lambda o: make(optim.lr_scheduler, o), lambda o: make(torch.optim.lr_scheduler, o)


SCHEDULERS = {
    "step": both(lambda L, o: L.StepLR(o, 3, gamma=0.5)),
    "cosine": both(lambda L, o: L.CosineAnnealingLR(o, 7, eta_min=0.01)),
    "multistep": both(lambda L, o: L.MultiStepLR(o, [2, 5, 5, 9], gamma=0.3)),
    "exponential": both(lambda L, o: L.ExponentialLR(o, 0.8)),
    "linear": both(lambda L, o: L.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=4)),
    "lambda": both(lambda L, o: L.LambdaLR(o, lambda epoch: 1 / (1 + epoch) ** 0.5)),
    "onecycle-cos": both(lambda L, o: L.OneCycleLR(o, max_lr=2.0, total_steps=12)),
    "onecycle-linear-three-phase": both(lambda L, o: L.OneCycleLR(o, max_lr=1.0, epochs=3, steps_per_epoch=4,
                                                                  anneal_strategy="linear", three_phase=True)),
    "warmup-then-exponential": both(lambda L, o: (L.LinearLR(o, 0.2, total_iters=3), L.ExponentialLR(o, 0.9))),
}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_lr_schedulers_match(name):
    ours, theirs = SCHEDULERS[name]
    opt_m = optim.SGD([mdl.zeros(1, requires_grad=True)], lr=0.5, momentum=0.9)
    opt_t = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5, momentum=0.9)
    sched_m, sched_t = ours(opt_m), theirs(opt_t)
    sched_m, sched_t = (sched_m if isinstance(sched_m, tuple) else (sched_m,)), \
        (sched_t if isinstance(sched_t, tuple) else (sched_t,))
    for _ in range(12):
        for key in ("lr", "momentum"):
            assert opt_m.param_groups[0][key] == pytest.approx(opt_t.param_groups[0][key], rel=1e-9, abs=1e-12)
        assert sched_m[-1].get_last_lr()[0] == pytest.approx(sched_t[-1].get_last_lr()[0], rel=1e-9, abs=1e-12)
        opt_t.step()
        for m, t in zip(sched_m, sched_t):
            m.step(), t.step()


def test_one_cycle_cycles_adam_beta1_as_pytorch():
    opt_m = optim.Adam([mdl.zeros(1, requires_grad=True)], lr=0.1)
    opt_t = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched_m = optim.lr_scheduler.OneCycleLR(opt_m, 1.0, total_steps=6)
    sched_t = torch.optim.lr_scheduler.OneCycleLR(opt_t, 1.0, total_steps=6)
    for _ in range(6):
        assert opt_m.param_groups[0]["betas"] == pytest.approx(opt_t.param_groups[0]["betas"], rel=1e-9)
        opt_t.step()
        sched_m.step(), sched_t.step()


def test_reduce_lr_on_plateau_matches():
    opt_m = optim.SGD([mdl.zeros(1, requires_grad=True)], lr=1.0)
    opt_t = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    kwargs = dict(mode="max", factor=0.5, patience=1, threshold=0.1, threshold_mode="abs", cooldown=1, min_lr=0.1)
    sched_m = optim.lr_scheduler.ReduceLROnPlateau(opt_m, **kwargs)
    sched_t = torch.optim.lr_scheduler.ReduceLROnPlateau(opt_t, **kwargs)
    for metric in [1.0, 1.05, 1.08, 1.5, 1.5, 1.5, 1.5, 1.55, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5]:
        sched_m.step(mdl.tensor(metric)), sched_t.step(metric)
        assert opt_m.param_groups[0]["lr"] == pytest.approx(opt_t.param_groups[0]["lr"], rel=1e-12)
    assert opt_m.param_groups[0]["lr"] == 0.1  # halved on each plateau, down to min_lr


def test_clip_grad_norm_matches():
    grads = [x32(3, 4), x32(5)]
    ps_m = [mdl.zeros(*g.shape, requires_grad=True) for g in grads]
    ps_t = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for g, pm, pt in zip(grads, ps_m, ps_t):
        pm.grad, pt.grad = mdl.tensor(g), torch.tensor(g)
    norm_m = nn.utils.clip_grad_norm_(ps_m, 1.0)
    norm_t = torch.nn.utils.clip_grad_norm_(ps_t, 1.0)
    assert norm_m == pytest.approx(norm_t.item(), rel=1e-5)
    for pm, pt in zip(ps_m, ps_t):
        np.testing.assert_allclose(pm.grad.numpy(), pt.grad.numpy(), rtol=1e-5)


@pytest.mark.parametrize("f_ours, f_torch", [
    (lambda x, y: mdl.matmul(x, y).sum(), lambda x, y: torch.matmul(x, y).sum()),
    (lambda x, y: (mdl.logsumexp(x, axis=1) * y.sum()).sum(), lambda x, y: (torch.logsumexp(x, 1) * y.sum()).sum()),
    (lambda x, y: (mdl.maximum(x, 0.1) ** 2).mean() + y.max(), lambda x, y: (torch.clamp(x, min=0.1) ** 2).mean() + y.max()),
], ids=["matmul", "logsumexp", "maximum-max"])
def test_core_op_gradients_match(f_ours, f_torch):
    a, b = x32(2, 3, 4), x32(4, 5)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    ma, mb = mdl.tensor(a, requires_grad=True), mdl.tensor(b, requires_grad=True)
    f_torch(ta, tb).backward()
    f_ours(ma, mb).backward()
    np.testing.assert_allclose(ma.grad.numpy(), ta.grad.numpy(), **TOL)
    np.testing.assert_allclose(mb.grad.numpy(), tb.grad.numpy(), **TOL)


def test_a_whole_training_run_matches_pytorch():
    """scripts/compare_torch.py: same init, batches and order give the same test accuracy every epoch."""
    import pathlib
    import subprocess
    import sys
    script = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "compare_torch.py"
    out = subprocess.run([sys.executable, str(script), "--dataset", "digits", "--epochs", "3", "--lr", "0.05",
                          "--batch-size", "32"], capture_output=True, text=True, check=True).stdout
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 3
    for epoch, acc_m, _, acc_t, _ in rows:
        assert abs(float(acc_m) - float(acc_t)) <= 1 / 359, (epoch, acc_m, acc_t)


@pytest.mark.parametrize("name", ["abs", "exp", "log", "neg", "relu", "sigmoid", "sqrt", "tanh"])
def test_unary_in_place_ops(name):
    """x.name_() on a recorded tensor and on a view of one: values and gradients as PyTorch's, the input's
    value before the write used where the VJP needs it (log_, abs_, sqrt_)."""
    a = rng.uniform(0.5, 2.0, (3, 4)) * rng.choice([-1, 1], (3, 4)) if name in ("abs", "neg", "relu") else \
        rng.uniform(0.5, 2.0, (3, 4))
    results = []
    for lib in (mdl, torch):
        x = lib.tensor(a, requires_grad=True)
        y = x * 2
        out = getattr(y, name + "_")()
        z = x * 3
        getattr(z[1:], name + "_")()  # through a view: the write reaches z
        (out * lib.tensor(np.arange(12.0).reshape(3, 4)) + z).sum().backward()
        assert out is y
        results.append((y.detach().numpy(), z.detach().numpy(), x.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_unary_in_place_ops_refuse_what_pytorch_refuses():
    with pytest.raises(TypeError, match="sigmoid_"):
        mdl.tensor([1, 2]).sigmoid_()  # an integer tensor cannot hold the result
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        mdl.tensor([1.0, 2.0], requires_grad=True).exp_()
    leaf = mdl.tensor([1.0, 4.0], requires_grad=True)
    with mdl.no_grad():
        leaf.sqrt_()  # allowed without recording, as an optimizer step
    np.testing.assert_array_equal(leaf.numpy(), [1.0, 2.0])
