"""In-place ops: the same object and storage, PyTorch's rules, out-of-place gradients, and version counters."""
import numpy as np
import pytest

import minidl as mdl
from minidl import nn, optim

rng = np.random.default_rng(0)


def leaf(shape=(3,), low=0.5, high=2.0):
    return mdl.tensor(rng.uniform(low, high, shape), dtype="float64", requires_grad=True)


def test_hand_written_sgd_step_updates_the_same_leaf_in_place():
    w = leaf()
    storage = w.data
    (w * w).sum().backward()
    expected = w.numpy() - 0.1 * 2 * w.numpy()
    same = w
    with mdl.no_grad():
        w -= 0.1 * w.grad
    assert w is same and w.data is storage
    assert w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.numpy(), expected)
    w.grad = None
    (w * w).sum().backward()  # the next step still works
    np.testing.assert_allclose(w.grad.numpy(), 2 * expected)


@pytest.mark.parametrize("op", ["+=", "add_", "mul_", "zero_", "fill_", "setitem", "copy_", "clamp_"])
def test_in_place_on_a_leaf_that_requires_grad_raises_outside_no_grad(op):
    w = leaf()
    actions = {"+=": lambda: w.__iadd__(1.0), "add_": lambda: w.add_(1.0), "mul_": lambda: w.mul_(2.0),
               "zero_": w.zero_, "fill_": lambda: w.fill_(3.0), "setitem": lambda: w.__setitem__(0, 1.0),
               "copy_": lambda: w.copy_(mdl.zeros(3)), "clamp_": lambda: w.clamp_(0, 1)}
    before = w.numpy().copy()
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        actions[op]()
    np.testing.assert_array_equal(w.numpy(), before)  # nothing was written


INPLACE_PROGRAMS = {
    # name: (in-place program, the same program out of place); both take (x, y) and return a tensor
    "iadd": (lambda x, y: _apply(x * 1, lambda t: t.__iadd__(y)), lambda x, y: x * 1 + y),
    "isub": (lambda x, y: _apply(x * 2, lambda t: t.__isub__(y * y)), lambda x, y: x * 2 - y * y),
    "imul": (lambda x, y: _apply(x * 1, lambda t: t.__imul__(y)), lambda x, y: x * y),
    "itruediv": (lambda x, y: _apply(mdl.sin(x), lambda t: t.__itruediv__(y)), lambda x, y: mdl.sin(x) / y),
    "add_ alpha": (lambda x, y: _apply(x * 1, lambda t: t.add_(y, alpha=3.0)), lambda x, y: x + 3.0 * y),
    "mul_ by itself": (lambda x, y: _apply(x + y, lambda t: t.mul_(t)), lambda x, y: (x + y) * (x + y)),
    "clamp_": (lambda x, y: _apply(x * y, lambda t: t.clamp_(1.0, 2.0)), lambda x, y: mdl.clip(x * y, 1.0, 2.0)),
    "setitem slice": (lambda x, y: _apply(x * 1, lambda t: t.__setitem__(slice(0, 2), y[:2] * 2)),
                      lambda x, y: mdl.concatenate([y[:2] * 2, x[2:]])),
    "setitem mask": (lambda x, y: _apply(x * 1, lambda t: t.__setitem__(mdl.tensor([True, False, True]), y[:2])),
                     lambda x, y: mdl.stack([y[0], x[1], y[1]])),
    "setitem broadcast scalar": (lambda x, y: _apply(x * 1, lambda t: t.__setitem__(1, y.sum())),
                                 lambda x, y: mdl.stack([x[0], y.sum(), x[2]])),
    "fill_": (lambda x, y: _apply(x * 1, lambda t: t.fill_(y.sum())) * x, lambda x, y: y.sum() * mdl.ones(3) * x),
    "copy_": (lambda x, y: _apply(x * 1, lambda t: t.copy_(y * 3)) * x, lambda x, y: y * 3 * x),
    "two in a row": (lambda x, y: _apply(_apply(x * 1, lambda t: t.__iadd__(y)), lambda t: t.__imul__(x)),
                     lambda x, y: (x + y) * x),
}


def _apply(t, action):
    result = action(t)
    assert result is t or result is None  # in place: the same object comes back
    return t


@pytest.mark.parametrize("name", sorted(INPLACE_PROGRAMS))
def test_recorded_in_place_ops_give_the_gradients_of_the_out_of_place_program(name):
    inplace, outofplace = INPLACE_PROGRAMS[name]
    x, y = leaf(), leaf()
    out = inplace(x, y)
    expected = outofplace(x, y)
    np.testing.assert_allclose(out.numpy(), expected.numpy())
    v = mdl.tensor(rng.standard_normal(3))
    gx, gy = mdl.grad(lambda a, b: (inplace(a, b) * v).sum(), argnums=(0, 1))(x, y)
    ex, ey = mdl.grad(lambda a, b: (outofplace(a, b) * v).sum(), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx.numpy(), ex.numpy())
    np.testing.assert_allclose(gy.numpy(), ey.numpy())
    assert mdl.gradcheck(lambda a, b: inplace(a, b), (x, y))


def test_building_a_tensor_by_assignment_in_a_loop():
    xs = leaf((4,))
    out = mdl.zeros(4, dtype="float64")
    for i in range(4):
        out[i] = xs[i] * (i + 1)
    assert out.requires_grad and not out.is_leaf
    out.sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), [1, 2, 3, 4])


@pytest.mark.parametrize("modify", [
    lambda x: x.mul_(10), lambda x: x.__iadd__(1.0), lambda x: x.__setitem__(0, 5.0), lambda x: x.zero_(),
    lambda x: x.copy_(mdl.ones(3)), lambda x: x.clamp_(0, 1), lambda x: x.detach().fill_(2.0),
    lambda x: x[1:].mul_(3)])
def test_a_saved_value_modified_in_place_makes_backward_raise_naming_the_op(modify):
    x = leaf()
    y = (x * x).sum()  # multiply keeps x for its VJPs
    with mdl.no_grad():
        modify(x)
    with pytest.raises(RuntimeError, match="gradient of multiply.*modified by an in-place operation"):
        y.backward()


def test_a_saved_output_modified_in_place_makes_backward_raise():
    x = leaf()
    y = mdl.exp(x)  # exp's VJP reads its output
    y += 1
    with pytest.raises(RuntimeError, match="gradient of exp \\(its output\\) was modified"):
        y.sum().backward()


def test_writes_through_data_bypass_the_record_as_in_pytorch():
    x = leaf()
    y = (x * x).sum()
    x.data[...] = 10.0
    y.backward()  # no error: .data is the raw array, outside autograd's view (PyTorch's .data likewise)
    np.testing.assert_allclose(x.grad.numpy(), 20.0)


def test_in_place_on_an_unsaved_value_is_fine():
    x = leaf()
    y = x + 1  # add keeps nothing
    y.mul_(2)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0)


VIEW_PROGRAMS = {
    # name: (a program writing through a view of y = x * w, the same program out of place); x, w are (2, 3)
    "row mul_": (lambda y, w: y[0].mul_(w[0]), lambda y, w: mdl.stack([y[0] * w[0], y[1]])),
    "augmented row": (lambda y, w: y.__setitem__(0, y[0].__imul__(3.0)), lambda y, w: mdl.stack([y[0] * 3, y[1]])),
    "column +=": (lambda y, w: y[:, 1].__iadd__(w[:, 1]), lambda y, w: y + mdl.stack([mdl.zeros(2, dtype="float64"),
                                                                                     w[:, 1], mdl.zeros(2, dtype="float64")], 1)),
    "flattened": (lambda y, w: y.reshape(6).mul_(w.reshape(6)), lambda y, w: y * w),
    "transposed row": (lambda y, w: y.T[2].add_(y.T[0]), lambda y, w: y + mdl.stack(
        [mdl.zeros(2, dtype="float64"), mdl.zeros(2, dtype="float64"), y[:, 0]], 1)),
    "one element": (lambda y, w: y[1, 2].fill_(w.sum()), lambda y, w: mdl.concatenate(
        [y.reshape(6)[:5], w.sum().reshape(1)]).reshape(2, 3)),
    "setitem into a view": (lambda y, w: y[1].__setitem__(slice(0, 2), w[0, :2]),
                            lambda y, w: mdl.stack([y[0], mdl.concatenate([w[0, :2], y[1, 2:]])])),
}


@pytest.mark.parametrize("name", sorted(VIEW_PROGRAMS))
def test_in_place_through_a_view_records_the_write_into_its_tensor(name):
    inplace, outofplace = VIEW_PROGRAMS[name]

    def written(x, w):
        y = x * w
        inplace(y, w)
        return y

    x, w = leaf((2, 3)), leaf((2, 3))
    np.testing.assert_allclose(written(x, w).numpy(), outofplace(x * w, w).numpy())
    v = mdl.tensor(rng.standard_normal((2, 3)))
    got = mdl.grad(lambda a, b: (written(a, b) * v).sum(), argnums=(0, 1))(x, w)
    want = mdl.grad(lambda a, b: (outofplace(a * b, b) * v).sum(), argnums=(0, 1))(x, w)
    for g, e in zip(got, want):
        np.testing.assert_allclose(g.numpy(), e.numpy())
    assert mdl.gradcheck(written, (x, w))


def test_writing_through_a_view_of_a_constant_makes_it_depend_on_the_value():
    xs = leaf((3,))
    out = mdl.zeros(2, 3, dtype="float64")
    out[0] += xs * 2
    out[1, 1:] += xs[:2]
    assert out.requires_grad
    (out * mdl.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), [2 + 5, 4 + 6, 6])


def test_in_place_through_a_view_of_a_leaf_that_requires_grad_or_of_a_detached_tensor_is_refused():
    x = leaf((2, 3))
    with pytest.raises(RuntimeError, match="view of a leaf tensor that requires grad"):
        x[0].mul_(2)
    with pytest.raises(RuntimeError, match="detached tensor"):
        (x * 1).detach().add_(x)
    with mdl.no_grad():
        x[0].mul_(2)  # a parameter update through a view: allowed, as in PyTorch


def test_in_place_programs_through_views_match_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    x0, w0 = rng.uniform(0.5, 2.0, (2, 3)), rng.uniform(0.5, 2.0, (2, 3))
    results = []
    for lib, make in ((mdl, lambda a: mdl.tensor(a, requires_grad=True)),
                      (torch, lambda a: torch.tensor(a, requires_grad=True))):
        x, w = make(x0), make(w0)
        y = x * w
        y[0] *= 3
        y[:, 1] += w[:, 1]
        y.T[2].mul_(w.T[0])  # (with y.T[0], another view of y, PyTorch refuses; minidl gives the gradient)
        (y * y).sum().backward()
        results.append([t.detach().numpy() if lib is torch else t.numpy() for t in (y, x.grad, w.grad)])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs)


def test_a_view_taken_before_a_recorded_in_place_op_on_its_base_is_stale():
    x = leaf((2, 3))
    y = x * 1
    row, corner = y[0], y[0:1, 0]  # (y[0, 0] would be a copy, as in NumPy, and keep a valid record)
    y.mul_(2)
    with pytest.raises(RuntimeError, match="backward.*stale"):
        corner.backward()  # the view itself as the root
    with pytest.raises(RuntimeError, match="view's recorded history is stale"):
        (row * 2).sum()
    (y[0] * 2).sum().backward()  # taking the view again works
    np.testing.assert_allclose(x.grad.numpy(), [[4, 4, 4], [0, 0, 0]])


def test_a_view_of_a_constant_written_with_a_recorded_value_is_stale():
    x = leaf((3,))
    buffer = mdl.zeros(2, 3, dtype="float64")
    row = buffer[1]
    buffer[1] = x  # buffer now depends on x; the old view of it does not know
    with pytest.raises(RuntimeError, match="stale"):
        (row * 1).sum()


def test_in_place_keeps_the_dtype_and_refuses_an_unsafe_cast():
    t = mdl.tensor([1.0, 2.0])
    t += np.float64(0.5)
    t *= mdl.tensor([2.0, 2.0], dtype="float64")
    assert t.dtype == np.float32 and t.tolist() == [3.0, 5.0]
    i = mdl.tensor([1, 2])
    with pytest.raises(TypeError, match="add_.*dtype int64"):
        i += 0.5
    i += 1
    assert i.tolist() == [2, 3]


def test_in_place_with_a_larger_broadcast_shape_names_both_shapes():
    t = mdl.zeros(3)
    with pytest.raises(ValueError, match=r"add_: cannot write \(2, 3\) in place into a tensor of shape \(3,\)"):
        t += mdl.ones(2, 3)


def test_optimizer_steps_update_parameters_in_place_without_recording():
    model = nn.Linear(4, 2)
    w, storage = model.weight, model.weight.data
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        model(mdl.randn(8, 4)).square().mean().backward()
        opt.step()
    assert model.weight is w and model.weight.data is storage and w.is_leaf and w.grad_fn is None


@pytest.mark.parametrize("name", ["iadd", "imul", "setitem slice", "clamp_"])
def test_in_place_programs_match_pytorch(name):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    programs = {
        "iadd": lambda x, y: _apply(x * 1, lambda t: t.__iadd__(y)),
        "imul": lambda x, y: _apply(x * 1, lambda t: t.__imul__(y)),
        "setitem slice": lambda x, y: _apply(x * 1, lambda t: t.__setitem__(slice(0, 2), y[:2] * 2)),
        "clamp_": lambda x, y: _apply(x * y, lambda t: t.clamp_(1.0, 2.0)),
    }  # (PyTorch refuses t.mul_(t), whose VJP needs t from before the write; minidl copies it first)
    x0, y0 = rng.uniform(0.5, 2.0, 3), rng.uniform(0.5, 2.0, 3)
    x, y = mdl.tensor(x0, requires_grad=True), mdl.tensor(y0, requires_grad=True)
    tx, ty = torch.tensor(x0, requires_grad=True), torch.tensor(y0, requires_grad=True)
    out, tout = programs[name](x, y), programs[name](tx, ty)
    (out * mdl.tensor([1.0, 2.0, 3.0])).sum().backward()
    (tout * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy())
