"""Semantics fixed in Core v2: powers at zero, numbers as tensors, NumPy interop, pad forms, gradcheck's
NaN, defvjp conventions, dtype rules, PyTorch's tensor methods, zero_grad, and the layering of the core."""
import pathlib
import re

import numpy as np
import pytest

import minidl as mdl
from minidl import nn, optim

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("exponent", [0.0, 2, 2.0, 3])
def test_gradient_of_a_power_at_zero_is_finite_as_pytorch(exponent):
    g = mdl.grad(lambda x: (x ** exponent).sum())(mdl.zeros(2, dtype="float64"))
    assert g.tolist() == [0.0, 0.0]


def test_power_with_a_tensor_exponent_of_zero_has_a_zero_base_gradient():
    x, e = mdl.zeros(2, dtype="float64", requires_grad=True), mdl.tensor([0.0, 2.0], dtype="float64")
    (x ** e).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_numbers_and_arrays_without_a_tensor_become_tensors():
    assert isinstance(mdl.sqrt(4.0), mdl.Tensor) and mdl.sqrt(4.0).item() == 2.0
    assert mdl.sqrt(4.0).dtype == mdl.float32
    y = mdl.exp(np.array([0.0, 1.0]))
    assert isinstance(y, mdl.Tensor) and y.dtype == mdl.float64
    assert isinstance(mdl.maximum(1.0, 2.0), mdl.Tensor)


def test_numpy_asarray_of_tensors_including_zero_dimensional():
    t = mdl.tensor([1.0, 2.0])
    assert np.asarray(t.sum()).shape == () and float(np.asarray(t.sum())) == 3.0
    assert np.asarray(t).tolist() == [1.0, 2.0]
    assert np.asarray(t, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("pad_width", [3, (3,), (3, 2), ((3, 2),), ((1, 2), (3, 4))])
def test_pad_takes_every_form_numpy_takes(pad_width):
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(mdl.pad(mdl.tensor(x), pad_width).numpy(), np.pad(x, pad_width))


def test_pad_rejects_a_form_numpy_rejects_with_a_clear_error():
    with pytest.raises(ValueError, match="pad: pad_width"):
        mdl.pad(mdl.zeros(2, 2), ((1, 2), 3))


def test_grad_of_a_function_returning_a_constant_is_zero():
    assert mdl.grad(lambda x: mdl.tensor(3.0))(mdl.tensor([1.0, 2.0])).tolist() == [0.0, 0.0]
    assert mdl.grad(lambda x: 3.0)(mdl.tensor(1.0)).item() == 0.0


def test_gradcheck_fails_when_a_vjp_returns_nan_or_inf():
    for bad in (np.nan, np.inf):
        @mdl.primitive
        def double(x):
            return x * 2

        mdl.defvjp(double, lambda g, ans, x, bad=bad: g * bad)
        with pytest.raises(mdl.GradcheckError, match="input 0 at index"):
            mdl.gradcheck(double, mdl.tensor([1.0], dtype="float64", requires_grad=True))


def test_defvjp_refuses_hips_curried_form_saying_which_convention_minidl_uses():
    @mdl.primitive
    def cube(x):
        return x ** 3

    with pytest.raises(TypeError, match=r"HIPS autograd's curried form.*lambda g, ans, x"):
        mdl.defvjp(cube, lambda ans, x: lambda g: g * 3 * x ** 2)


def test_any_all_and_the_bool_error_that_names_them():
    t = mdl.tensor([1.0, -1.0])
    assert (t > 0).any().item() and not (t > 0).all().item()
    assert (t > -2).all(dim=0).item()
    with pytest.raises(ValueError, match=r"use \.any\(\) or \.all\(\)"):
        bool(t > 0)


def test_numpy_scalars_do_not_change_a_tensors_dtype():
    t = mdl.tensor([1.0, 2.0])
    assert (t * np.float64(2)).dtype == mdl.float32
    assert (np.float64(2) + t).dtype == mdl.float32
    assert (t * 2.0).dtype == mdl.float32


def test_matrix_products_refuse_mixed_dtypes_instead_of_upcasting():
    layer = nn.Linear(3, 2)
    with pytest.raises(TypeError, match="linear: operands of different dtypes float64, float32"):
        layer(mdl.ones(4, 3, dtype="float64"))
    with pytest.raises(TypeError, match="matmul"):
        mdl.ones(2, 2) @ mdl.ones(2, 2, dtype="float64")
    assert layer.double()(mdl.ones(4, 3, dtype="float64")).dtype == mdl.float64
    conv = nn.Conv2d(3, 2, 2)  # a convolution is a matrix product too (PyTorch refuses this as well)
    with pytest.raises(TypeError, match="conv2d: operands of different dtypes float64, float32"):
        conv(mdl.ones(1, 3, 4, 4, dtype="float64"))
    assert conv.double()(mdl.ones(1, 3, 4, 4, dtype="float64")).dtype == mdl.float64


def test_pytorch_tensor_methods():
    t = mdl.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    assert t.size() == (2, 3) and t.size(1) == 3 and t.numel() == 6 and t.dim() == 2
    assert t.double().dtype == mdl.float64 and t.long().dtype == mdl.int64 and t.int().dtype == mdl.int32
    assert t.float() is t and t.bool().dtype == mdl.bool
    values, indices = t.max(dim=1)
    assert values.tolist() == [5.0, 6.0] and indices.tolist() == [1, 2]
    assert t.max(1).indices.tolist() == [1, 2] and mdl.max(t, dim=0).values.tolist() == [4.0, 5.0, 6.0]
    assert mdl.max(t, axis=1).tolist() == [5.0, 6.0]  # NumPy's keyword: values only
    assert t.min(dim=1, keepdim=True).values.shape == (2, 1)
    assert t.t().shape == (3, 2) and t.view(3, 2).shape == (3, 2) and t.view_as(mdl.zeros(6)).shape == (6,)
    assert t.expand(4, 2, 3).shape == (4, 2, 3) and t[:, :1].expand(-1, 3).shape == (2, 3)
    assert t.eq(t).all().item() and t.pow(2).sum().item() == 91.0
    assert t.type(mdl.float64).dtype == mdl.float64 and t.type() == "minidl.float32"
    c = t.clone()
    assert c.data is not t.data and c.tolist() == t.tolist()
    assert mdl.tensor(4).__index__() == 4 and ["a", "b", "c"][t.argmax(dim=1)[0]] == "b"
    assert t.is_leaf and t.grad_fn is None


def test_max_with_dim_sends_the_gradient_to_the_chosen_index_as_pytorch():
    x = mdl.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    x.max(dim=1).values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0]]


def test_var_follows_the_calls_dialect():
    x = mdl.tensor([1.0, 2.0, 4.0], dtype="float64")
    data = x.numpy()
    assert x.var().item() == pytest.approx(data.var(ddof=1))            # PyTorch: unbiased
    assert mdl.var(x, axis=0).item() == pytest.approx(data.var())        # NumPy's keyword: ddof=0
    assert x.var(unbiased=False).item() == pytest.approx(data.var())
    assert mdl.var(x, ddof=1).item() == pytest.approx(data.var(ddof=1))


def test_dtype_objects_and_devices_as_pytorch():
    assert mdl.float32 == "float32" and mdl.tensor([1.0]).dtype is mdl.float32
    assert mdl.float is mdl.float32 and mdl.double is mdl.float64 and mdl.long is mdl.int64
    assert mdl.zeros(2, dtype=mdl.float64).dtype == mdl.float64
    assert mdl.device("cuda:1").type == "cuda" and mdl.device("cuda:1").index == 1
    assert mdl.tensor([1.0]).to(mdl.device("cpu")).device == mdl.device("cpu")
    assert isinstance(mdl.cuda.is_available(), bool)
    np.testing.assert_array_equal(mdl.eye(3).numpy(), np.eye(3))


@pytest.mark.parametrize("holder", ["module", "optimizer"])
def test_zero_grad_honours_set_to_none(holder):
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    model(mdl.ones(1, 3)).sum().backward()
    grad = model.weight.grad
    zero = model.zero_grad if holder == "module" else opt.zero_grad
    zero(set_to_none=False)
    assert model.weight.grad is grad and grad.numpy().sum() == 0.0
    zero()
    assert model.weight.grad is None


def test_backward_accumulates_into_an_existing_grad_in_place():
    w = mdl.tensor([1.0, 2.0], requires_grad=True)
    (w * 2).sum().backward()
    first = w.grad
    (w * 3).sum().backward()
    assert w.grad is first and w.grad.tolist() == [5.0, 5.0]


def test_the_core_imports_run_one_way():
    """The engine layer (record, backward, broadcasting) never imports the op families above it."""
    for name in ("autograd.py", "engine.py", "broadcasting.py", "saved.py", "modes.py", "hooks.py"):
        source = (ROOT / "minidl" / name).read_text()
        assert not re.search(r"^\s*from \.ops|^\s*from \. import .*\bops\b", source, re.M), name


def test_no_private_name_is_imported_across_modules():
    offenders = []
    for path in (ROOT / "minidl").rglob("*.py"):
        for line in path.read_text().splitlines():
            if re.match(r"\s*from \S+ import .*\b_[a-z]\w*", line):
                offenders.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert not offenders, offenders


def test_tensor_operators_are_defined_in_the_class_for_editors_and_type_checkers():
    for name in ("__add__", "__matmul__", "__getitem__", "__iadd__", "sum", "exp", "reshape", "backward"):
        assert name in vars(mdl.Tensor), name
    assert (ROOT / "minidl" / "py.typed").exists()


def test_gradcheck_keeps_the_rank_of_a_zero_dimensional_input():
    ranks = []

    def f(x):
        ranks.append(x.ndim)
        return x * 2 if x.ndim == 0 else x * 3  # a different function at another rank would be checked wrongly

    assert mdl.gradcheck(f, mdl.tensor(1.5, dtype="float64", requires_grad=True))
    assert set(ranks) == {0}
