"""The sigmoid is accurate in both tails, in float32 as in float64, with the backend's kernel and the generic form."""
import numpy as np
import pytest
from scipy import special

import minidl as mdl
from minidl import backends
from minidl.backends.base import Backend

# where the float32 result is a normal number: below about -87 it is subnormal or 0 (also in PyTorch)
X32 = np.linspace(-87, 87, 20001).astype(np.float32)


def relative_error(got, x):
    ref = special.expit(x.astype(np.float64))
    return np.max(np.abs(got.astype(np.float64) - ref) / ref)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_matches_expit_in_both_tails(dtype):
    x = X32.astype(dtype)
    got = mdl.sigmoid(mdl.tensor(x)).numpy()
    assert got.dtype == dtype
    assert relative_error(got, x) < (4e-7 if dtype == "float32" else 1e-14)


def test_sigmoid_at_minus_17_is_not_zero():
    assert mdl.sigmoid(mdl.tensor([-17.0])).item() == pytest.approx(4.1399377e-08, rel=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_generic_form_accurate_and_keeps_dtype(dtype):
    """The form a backend without SciPy's expit (CuPy) computes, run here on NumPy arrays."""
    x = np.linspace(-11, 11, 2001).astype(dtype) if dtype == "float16" else X32.astype(dtype)
    got = Backend.expit(backends.get("numpy"), x)
    assert got.dtype == dtype
    assert relative_error(got, x) < {"float16": 2e-3, "float32": 4e-7, "float64": 1e-14}[dtype]


def test_sigmoid_of_float16_and_integers_keeps_numpy_promotion():
    assert mdl.sigmoid(mdl.tensor(np.array([-3.0, 4.0], np.float16))).dtype == mdl.float16
    assert mdl.sigmoid(mdl.tensor([-3, 4])).numpy() == pytest.approx(special.expit([-3, 4]))
    assert mdl.sigmoid(mdl.tensor([True, False])).numpy() == pytest.approx(special.expit([1, 0]))


def test_sigmoid_gradient_in_the_tails():
    x = mdl.tensor([-40.0, -17.0, -3.0, 0.0, 3.0, 17.0, 40.0], dtype="float64", requires_grad=True)
    assert mdl.gradcheck(mdl.sigmoid, [x])
    mdl.sigmoid(x).sum().backward()
    s = special.expit(x.numpy())
    np.testing.assert_allclose(x.grad.numpy(), s * (1 - s), rtol=1e-12)


def test_sigmoid_float32_matches_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch is an optional test dependency")
    x = mdl.tensor(X32, requires_grad=True)
    mdl.sigmoid(x).sum().backward()
    tx = torch.tensor(X32, requires_grad=True)
    torch.sigmoid(tx).sum().backward()
    np.testing.assert_allclose(mdl.sigmoid(x).numpy(), torch.sigmoid(tx).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-30)
