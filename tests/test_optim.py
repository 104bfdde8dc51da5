"""Optimizers refuse invalid settings up front; schedulers save and resume exactly."""
import numpy as np
import pytest

import minidl as mdl
from minidl import nn, optim
from minidl.optim import lr_scheduler


def params():
    return list(nn.Linear(3, 2).parameters())


@pytest.mark.parametrize("make, name", [
    (lambda p: optim.SGD(p, lr=-0.1), "lr"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=1.0), "momentum"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), "momentum"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1e-4), "weight_decay"),
    (lambda p: optim.Adam(p, betas=(0.9, 1.0)), "betas"),
    (lambda p: optim.AdamW(p, betas=(-0.1, 0.999)), "betas"),
    (lambda p: optim.Adam(p, eps=0.0), "eps"),
    (lambda p: optim.RMSprop(p, alpha=1.5), "alpha"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "lr_decay"),
    (lambda p: optim.Adadelta(p, rho=1.1), "rho"),
    (lambda p: optim.SGD([{"params": p[:1]}, {"params": p[1:], "lr": -1}], lr=0.1), "lr"),
])
def test_invalid_hyperparameters_raise_naming_them(make, name):
    with pytest.raises(ValueError, match=f"invalid {name}"):
        make(params())


def test_a_parameter_listed_twice_in_one_group_raises():
    w = mdl.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="listed twice"):
        optim.SGD([w, w], lr=0.1)


def test_a_parameter_in_two_groups_raises_naming_both():
    p = params()
    with pytest.raises(ValueError, match="group 1.*also in group 0"):
        optim.Adam([{"params": p}, {"params": p[:1], "lr": 0.1}])


def test_step_calls_the_closure_and_returns_its_loss():
    w = mdl.tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 1.0 and w.item() == 0.0


def test_adadelta_and_adagrad_state_dicts_resume_identically():
    for make in (lambda p: optim.Adadelta(p, lr=0.5), lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.1)):
        mdl.manual_seed(0)
        a, b = nn.Linear(3, 2), nn.Linear(3, 2)
        b.load_state_dict(a.state_dict())
        opt_a, x = make(a.parameters()), mdl.randn(4, 3)
        for _ in range(2):
            opt_a.zero_grad(), a(x).sum().backward(), opt_a.step()
        b.load_state_dict(a.state_dict())
        opt_b = make(b.parameters())
        opt_b.load_state_dict(opt_a.state_dict())
        for model, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad(), model(x).sum().backward(), opt.step()
        np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())


SCHEDULES = {
    "multistep": lambda o: lr_scheduler.MultiStepLR(o, [2, 4]),
    "exponential": lambda o: lr_scheduler.ExponentialLR(o, 0.7),
    "linear": lambda o: lr_scheduler.LinearLR(o, 0.2, total_iters=4),
    "lambda": lambda o: lr_scheduler.LambdaLR(o, lambda epoch: 0.5 ** epoch),
    "onecycle": lambda o: lr_scheduler.OneCycleLR(o, 1.0, total_steps=10),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_a_saved_schedule_resumes_where_it_stopped(name, tmp_path):
    def fresh():
        opt = optim.SGD(params(), lr=0.3, momentum=0.5)
        return opt, SCHEDULES[name](opt)

    opt, sched = fresh()
    for _ in range(3):
        sched.step()
    mdl.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "ckpt")
    expected = []
    for _ in range(4):
        sched.step()
        expected.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
    opt2, sched2 = fresh()
    saved = mdl.load(tmp_path / "ckpt")
    opt2.load_state_dict(saved["optimizer"])
    sched2.load_state_dict(saved["scheduler"])
    resumed = []
    for _ in range(4):
        sched2.step()
        resumed.append((opt2.param_groups[0]["lr"], opt2.param_groups[0]["momentum"]))
    assert resumed == expected


def test_reduce_lr_on_plateau_state_round_trips_through_save(tmp_path):
    opt = optim.SGD(params(), lr=1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    sched.step(1.0), sched.step(2.0)
    mdl.save(sched.state_dict(), tmp_path / "s")
    twin = lr_scheduler.ReduceLROnPlateau(optim.SGD(params(), lr=1.0), patience=0)
    twin.load_state_dict(mdl.load(tmp_path / "s"))
    assert twin.best == 1.0 and twin.get_last_lr() == [0.1]


def test_one_cycle_refuses_to_step_past_its_end():
    sched = lr_scheduler.OneCycleLR(optim.SGD(params(), lr=0.1, momentum=0.9), 1.0, total_steps=2)
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="total_steps=2"):
        sched.step()


def test_one_cycle_needs_momentum_to_cycle_it():
    with pytest.raises(ValueError, match="cycle_momentum"):
        lr_scheduler.OneCycleLR(optim.Adagrad(params()), 1.0, total_steps=5)
