"""Module and Parameter: the PyTorch-shaped containers that hold a model's state."""
from collections import OrderedDict
from typing import NamedTuple

from ..dtypes import is_floating
from ..hooks import add_hook, check_callable
from ..modes import no_grad
from ..creation import tensor as make_tensor
from ..tensor import Tensor, device_and_dtype
from .utils import zero_grads


class Parameter(Tensor):
    """A tensor that is a model's learnable state: registered by assignment to a Module, requires grad."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        if not isinstance(data, Tensor):
            data = make_tensor(data)
        super().__init__(data.data, data.device)
        self.requires_grad = requires_grad

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models.

    Assigning a Parameter, a Module or (via ``register_buffer``) a buffer tensor
    to an attribute registers it, so ``parameters()``, ``state_dict()``, ``to()``
    and ``train()``/``eval()`` reach everything inside, with PyTorch's dotted names.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        hooks = self.__dict__.get("_call_hooks")
        if hooks is None:  # the usual case: one dictionary lookup
            return self.forward(*args, **kwargs)
        pre, post = hooks
        for hook, with_kwargs in tuple(pre.values()):  # a copy: a hook may remove itself
            result = hook(self, args, kwargs) if with_kwargs else hook(self, args)
            if result is None:
                continue
            if not with_kwargs:
                args = result if isinstance(result, tuple) else (result,)
            elif isinstance(result, tuple) and len(result) == 2:
                args, kwargs = result
            else:
                raise RuntimeError(f"a forward pre-hook registered with with_kwargs=True on {type(self).__name__} "
                                   f"returned {type(result).__name__}; it must return None or (args, kwargs)")
        output = self.forward(*args, **kwargs)
        for hook, with_kwargs in tuple(post.values()):
            result = hook(self, args, kwargs, output) if with_kwargs else hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args)`` before each ``forward``; a value it returns replaces ``args`` (a
        non-tuple is wrapped in one). With ``with_kwargs``, ``hook(module, args, kwargs)`` may return
        ``(args, kwargs)``. Returns a handle whose ``remove()`` unregisters it (PyTorch's semantics)."""
        return self._add_call_hook(0, hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args, output)`` after each ``forward``; a value it returns replaces the
        output. With ``with_kwargs``, ``hook(module, args, kwargs, output)``. Returns a handle whose
        ``remove()`` unregisters it (PyTorch's semantics)."""
        return self._add_call_hook(1, hook, prepend, with_kwargs)

    def _add_call_hook(self, which, hook, prepend, with_kwargs):
        check_callable(hook)
        if "_call_hooks" not in self.__dict__:
            object.__setattr__(self, "_call_hooks", ({}, {}))
        return add_hook(self._call_hooks[which], (hook, with_kwargs), prepend)

    # -- registration ----------------------------------------------------------
    def __setattr__(self, name, value):
        """Assignment registers Parameters and Modules; names already registered keep their kind (PyTorch's rules)."""
        state = self.__dict__
        if "_parameters" not in state:
            raise AttributeError(f"call Module.__init__() in {type(self).__name__}.__init__ "
                                 "before assigning attributes")
        if isinstance(value, (Parameter, Module)):
            table = self._parameters if isinstance(value, Parameter) else self._modules
            self._forget(name, keep=table)
            table[name] = value
        elif name in self._parameters:
            self._replace(self._parameters, "parameter", name, value, Parameter)
        elif name in self._modules:
            self._replace(self._modules, "child module", name, value, Module)
        elif name in self._buffers:
            self._replace(self._buffers, "buffer", name, value, Tensor)
        else:
            object.__setattr__(self, name, value)

    def _replace(self, table, kind, name, value, expected):
        if value is not None and not isinstance(value, expected):
            raise TypeError(f"cannot assign a {type(value).__name__} as {kind} {name!r} of {type(self).__name__} "
                            f"({expected.__name__} or None expected)")
        table[name] = value

    def _forget(self, name, keep=None):
        """Remove ``name`` from the plain attributes and every table but ``keep`` (where it keeps its place)."""
        self.__dict__.pop(name, None)
        for table in (self._parameters, self._buffers, self._modules):
            if table is not keep:
                table.pop(name, None)
        self._non_persistent().discard(name)

    def _non_persistent(self):
        """Names of the buffers left out of ``state_dict`` (created on first need)."""
        return self.__dict__.setdefault("_non_persistent_buffers_set", set())

    def __getattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table, {})
            if name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                self._non_persistent().discard(name)
                return
        object.__delattr__(self, name)

    def _check_new_name(self, kind, name, table):
        """PyTorch's rules for a registered name: a non-empty string without dots, not another attribute."""
        if not isinstance(name, str):
            raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
        if "." in name or name == "":
            raise KeyError(f"{kind} name must be non-empty and contain no '.', got {name!r}")
        if name not in table and (hasattr(type(self), name) or name in self.__dict__
                                  or any(name in t for t in (self._parameters, self._buffers, self._modules))):
            raise KeyError(f"attribute {name!r} already exists in {type(self).__name__}")

    def register_buffer(self, name, tensor, persistent=True):
        """Register state that is moved with the module but not trained (running stats); ``persistent=False``
        keeps it out of ``state_dict``."""
        self._check_new_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot register a {type(tensor).__name__} as buffer {name!r} (Tensor or None expected)")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent().add(name)

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None for an absent one such as a disabled bias)."""
        self._check_new_name("parameter", name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot register a {type(param).__name__} as parameter {name!r} "
                            "(nn.Parameter or None expected)")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def add_module(self, name, module):
        """Register ``module`` (or None) as a child named ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_new_name("module", name, self._modules)
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        """The module at dotted path ``target`` ("" is this module)."""
        module = self
        for part in target.split(".") if target else ():
            if part not in module._modules or module._modules[part] is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} (looking up {target!r})")
            module = module._modules[part]
        return module

    # -- traversal ---------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """``(dotted name, module)`` for this module and every module inside it, depth first (each once,
        unless ``remove_duplicate=False``)."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:  # iterative preorder: the order of PyTorch's recursion, without its depth limit
            name, module = stack.pop()
            if module in memo:
                continue
            if remove_duplicate:
                memo.add(module)
            yield name, module
            stack.extend(reversed([(_join(name, n), m) for n, m in module._modules.items() if m is not None]))

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """``(name, module)`` of each distinct direct child."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, table, prefix, recurse, remove_duplicate):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield _join(module_prefix, name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """``(dotted name, Parameter)`` pairs, each parameter once (tied weights under their first name)."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """``(dotted name, buffer)`` pairs, each buffer once."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call ``fn`` on every submodule (children first, each child's own children before it), then on
        this module, as PyTorch's ``apply`` (used to initialise weights); returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad=True):
        """Turn gradient recording for every parameter on or off (freezing layers); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    # -- modes and devices ---------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (dropout active, batch norm on batch statistics) everywhere inside."""
        if not isinstance(mode, bool):
            raise ValueError(f"train(mode): mode must be True or False, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Forget accumulated gradients: set them to None (PyTorch's default), or fill them with zeros."""
        zero_grads(self.parameters(), set_to_none)

    def to(self, *args, device=None, dtype=None):
        """Move to a device and/or cast floating-point state to a dtype, in place; returns self.

        Takes PyTorch's forms: ``to("cuda")``, ``to(mdl.float64)``, ``to(device=..., dtype=...)``.
        Parameters keep their identity (an optimizer built before ``to`` still holds them);
        integer buffers such as ``num_batches_tracked`` move but are never cast.
        """
        device, dtype = device_and_dtype(args, device, dtype)

        def convert(t):
            return t.to(device=device, dtype=dtype if is_floating(t.dtype) else None)

        with no_grad():
            for p in self.parameters():
                moved = convert(p)
                p.data, p.device = moved.data, moved.device
                if p.grad is not None:
                    p.grad = convert(p.grad)
            for module in self.modules():
                for name, b in module._buffers.items():
                    if b is not None:
                        module._buffers[name] = convert(b)
        return self

    def float(self):
        return self.to(dtype="float32")

    def double(self):
        return self.to(dtype="float64")

    def half(self):
        return self.to(dtype="float16")

    def cpu(self):
        return self.to("cpu")

    def cuda(self, index=0):
        return self.to(f"cuda:{index}")

    # -- state ---------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Parameters and persistent buffers by dotted name (``0.weight``, ``1.running_mean``), sharing data.

        As PyTorch: a module or tensor reachable under two names is listed under both.
        """
        state = OrderedDict() if destination is None else destination
        for name, (module, table, key) in self._named_state_slots(prefix):
            value = getattr(module, table)[key]
            state[name] = value if keep_vars else value.detach()
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from ``state_dict`` (minidl's, PyTorch's, or arrays) into parameters and buffers.

        Everything is checked before anything is written: with ``strict``, missing
        or unexpected keys are an error; a shape mismatch always is. Returns
        ``(missing_keys, unexpected_keys)`` as a named tuple, as PyTorch.
        """
        targets = dict(self._named_state_slots())
        own = {k: getattr(module, table)[name] for k, (module, table, name) in targets.items()}
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = [f"size mismatch for {k}: the checkpoint has shape {tuple(state_dict[k].shape)}, "
                  f"the model {own[k].shape}" for k in own if k in state_dict
                  and tuple(state_dict[k].shape) != own[k].shape]
        if strict and missing:
            errors.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            errors.append(f"unexpected keys: {', '.join(unexpected)}")
        if errors:
            raise RuntimeError(f"error loading state_dict into {type(self).__name__}: " + "; ".join(errors))
        for key, value in state_dict.items():
            if key in own:
                module, table, name = targets[key]
                current = own[key]
                new = make_tensor(value, dtype=current.dtype, device=current.device)
                if isinstance(current, Parameter):
                    current.data = new.data
                else:
                    getattr(module, table)[name] = new
        return IncompatibleKeys(missing, unexpected)

    def _named_state_slots(self, prefix=""):
        """``(dotted name, (module, table, key))`` of every parameter and persistent buffer, under every name."""
        for module_prefix, module in self.named_modules(prefix=prefix, remove_duplicate=False):
            skip = module.__dict__.get("_non_persistent_buffers_set", ())
            for table in ("_parameters", "_buffers"):
                for name, value in getattr(module, table).items():
                    if value is not None and name not in skip:
                        yield _join(module_prefix, name), (module, table, name)

    # -- display ---------------------------------------------------------------------
    def extra_repr(self):
        """The layer's own settings as its repr shows them (``in_features=3, out_features=4, bias=True``)."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        """PyTorch's layout: the extra_repr, then one ``(name): child`` line per child, indented."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {indent(repr(module))}" for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        if not lines:
            return f"{self._get_name()}()"
        if len(extra_lines) == 1 and not child_lines:
            return f"{self._get_name()}({extra_lines[0]})"
        return f"{self._get_name()}(\n  " + "\n  ".join(lines) + "\n)"


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns: the keys the module expected but did not get, and the reverse."""

    missing_keys: list
    unexpected_keys: list


def indent(text, spaces=2):
    """Every line of ``text`` but the first indented by ``spaces`` (blank lines stay empty), as PyTorch's reprs."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [" " * spaces + line if line.strip() else "" for line in rest])


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name
