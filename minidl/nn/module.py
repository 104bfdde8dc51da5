"""Module and Parameter: the PyTorch-shaped containers that hold a model's state."""
from collections import OrderedDict

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
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"call Module.__init__() in {type(self).__name__}.__init__ "
                                 "before assigning attributes")
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

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
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, value):
        """Register state that is saved and moved with the module but not trained (running stats)."""
        self.__dict__.setdefault("_buffer_names", set()).add(name)
        setattr(self, name, value)

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None for an absent one such as a disabled bias)."""
        if param is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    # -- traversal ---------------------------------------------------------------
    def named_modules(self, prefix=""):
        """``(dotted name, module)`` for this module and every module inside it, depth first."""
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        yield from self._modules.items()

    def children(self):
        yield from self._modules.values()

    def _named(self, table, recurse=True):
        seen = set()
        modules = self.named_modules() if recurse else [("", self)]
        for prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self, prefix="", recurse=True):
        """``(dotted name, Parameter)`` pairs, each parameter once, as PyTorch names them."""
        for name, p in self._named("_parameters", recurse):
            yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, recurse=True):
        return self._named("_buffers", recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse):
            yield b

    def apply(self, fn):
        """Call ``fn`` on every submodule, then on this module (as PyTorch)."""
        for module in list(self.modules())[::-1]:
            fn(module)
        return self

    # -- modes and devices ---------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (dropout active, batch norm on batch statistics) everywhere inside."""
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
    def state_dict(self):
        """Parameters and buffers by dotted name (``0.weight``, ``1.running_mean``), sharing data."""
        state = OrderedDict()
        for prefix, module in self.named_modules():
            for table in (module._parameters, module._buffers):
                for name, value in table.items():
                    if value is not None:
                        state[f"{prefix}.{name}" if prefix else name] = value.detach()
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        Everything is checked before anything is written: with ``strict``, missing
        or unexpected keys are an error; a shape mismatch always is. Returns
        ``(missing_keys, unexpected_keys)``.
        """
        own = self.state_dict()
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
        targets = dict(self._named_state_slots())
        for key, value in state_dict.items():
            if key in own:
                module, table, name = targets[key]
                current = getattr(module, table)[name]
                new = make_tensor(value, dtype=current.dtype, device=current.device)
                if isinstance(current, Parameter):
                    current.data = new.data
                else:
                    getattr(module, table)[name] = new
        return missing, unexpected

    def _named_state_slots(self):
        for prefix, module in self.named_modules():
            for table in ("_parameters", "_buffers"):
                for name in getattr(module, table):
                    yield (f"{prefix}.{name}" if prefix else name), (module, table, name)

    # -- display ---------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after another; indexable, sliceable, named "0", "1", ..."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            modules = modules[0].items()
        else:
            modules = ((str(i), m) for i, m in enumerate(modules))
        for name, module in modules:
            setattr(self, name, module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        setattr(self, str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (names "0", "1", ...)."""

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module):
        setattr(self, str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index):
        modules = list(self._modules.values())
        return ModuleList(modules[index]) if isinstance(index, slice) else modules[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
