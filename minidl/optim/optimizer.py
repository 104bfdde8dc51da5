"""The Optimizer base: parameter groups, per-parameter state, and its state_dict (PyTorch's layout).

Updates work on the parameters' backend arrays in place, outside the record, so
a step allocates little and the Parameter objects (held by the model) never change.
"""
from ..backends import namespace
from ..modes import enable_grad
from ..nn.utils import zero_grads
from ..tensor import Tensor, mark_written

# hyperparameter -> (test, what it must be): checked for every group, stricter than PyTorch (api.md)
_RULES = {
    "lr": (lambda v: v >= 0, "non-negative"),
    "weight_decay": (lambda v: v >= 0, "non-negative"),
    "momentum": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "betas": (lambda v: len(v) == 2 and all(0 <= b < 1 for b in v), "a pair of numbers in [0, 1)"),
    "eps": (lambda v: v > 0, "positive"),
    "alpha": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "rho": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "lr_decay": (lambda v: v >= 0, "non-negative"),
    "initial_accumulator_value": (lambda v: v >= 0, "non-negative"),
}


def check_hyperparameters(owner, group):
    """Raise ValueError naming the first hyperparameter of ``group`` that breaks its rule."""
    for name, (test, rule) in _RULES.items():
        if name in group and not test(group[name]):
            raise ValueError(f"{owner}: invalid {name} {group[name]!r}; it must be {rule}")


class Optimizer:
    """Base class: subclasses implement ``_update(param, grad, state, group)`` on raw arrays."""

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        for group in groups:
            self.add_param_group(group)
        self.state = {}  # Parameter -> dict of raw arrays and numbers

    def add_param_group(self, group):
        """Add a group of parameters with its own hyperparameters (the defaults fill the rest)."""
        name = type(self).__name__
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        group = {**self.defaults, **group, "params": params}
        check_hyperparameters(name, group)
        where = {id(p): g for g, other in enumerate(self.param_groups) for p in other["params"]}
        here = len(self.param_groups)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{name} can only optimize tensors that require grad, got {p!r}")
            if id(p) in where:
                raise ValueError(f"{name}: parameter {i} of group {here} (shape {p.shape}) is listed twice"
                                 + ("" if where[id(p)] == here else f", also in group {where[id(p)]}")
                                 + "; it would be updated twice per step. List each parameter once")
            where[id(p)] = here
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Forget the parameters' gradients: set them to None (PyTorch's default), or fill them with zeros."""
        zero_grads(self._params(), set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (re-evaluates the loss) is called first
        and its loss returned, as PyTorch's."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p.data, p.grad.data, self.state.setdefault(p, {}), group)
                    mark_written(p)  # a graph that saved p before the step refuses to use it (PyTorch too)
        return loss

    def _update(self, param, grad, state, group):
        raise NotImplementedError

    # -- saving ------------------------------------------------------------------
    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self):
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``, as PyTorch."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {index[id(p)]: {k: Tensor(v, p.device) if hasattr(v, "shape") else v for k, v in s.items()}
                 for p, s in self.state.items()}
        groups, start = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            groups.append({**{k: v for k, v in group.items() if k != "params"},
                           "params": list(range(start, start + n))})
            start += n
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore state saved by ``state_dict`` (buffers are copied to each parameter's device and dtype)."""
        params = self._params()
        groups = state_dict["param_groups"]
        if [len(g["params"]) for g in groups] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved parameter groups have sizes "
                             f"{[len(g['params']) for g in groups]}, this optimizer "
                             f"{[len(g['params']) for g in self.param_groups]}")
        state = {}
        for i, saved in state_dict["state"].items():
            p = params[int(i)]
            state[p] = {k: _to_param(v, p) for k, v in saved.items()}
        self.state = state
        for group, saved in zip(self.param_groups, groups):
            group.update({k: v for k, v in saved.items() if k != "params"})


def _to_param(value, p):
    """A saved state entry as a raw array on ``p``'s device and dtype (numbers stay numbers)."""
    if not hasattr(value, "shape"):
        return value
    if isinstance(value, Tensor):
        value = value.to(p.device).data
    xp = namespace(p.data)
    return xp.asarray(value, dtype=p.data.dtype).copy()
