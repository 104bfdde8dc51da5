"""Core v2 (issue 8) at its edges, found by adversarial testing: each test is one behaviour the contract promises.

Expected values are derived independently of minidl: by hand, by finite differences, by HIPS
autograd, or by PyTorch (where installed).
"""
import numpy as np
import pytest

import minidl as mdl
from minidl.nn.checkpoint import checkpoint


def values(t):
    return np.asarray(t.numpy(), dtype=np.float64)


# -- the record's saving analysis (saved.py) and user VJPs ------------------------------------------

def test_vjp_defined_as_a_bound_method_receives_the_arguments_it_reads():
    # a bound method has the __code__ of its function, whose first parameter is self: the analysis must
    # not shift the VJP's parameters by one (here it dropped x and y, and the VJP received None)
    @mdl.primitive
    def product(x, y):
        return x * y

    class Rules:
        def for_x(self, g, ans, x, y):
            return g * y

        def for_y(self, g, ans, x, y):
            return g * x

    rules = Rules()
    mdl.defvjp(product, rules.for_x, rules.for_y)
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    y = mdl.tensor([3.0, 4.0], requires_grad=True)
    product(x, y).sum().backward()
    np.testing.assert_array_equal(values(x.grad), [3.0, 4.0])
    np.testing.assert_array_equal(values(y.grad), [1.0, 2.0])


def test_vjp_reading_its_arguments_through_the_frame_gets_them():
    # the saving analysis knows locals()/vars()/sys._getframe but not inspect.currentframe(): x was dropped
    import inspect

    @mdl.primitive
    def square(x):
        return x * x

    mdl.defvjp(square, lambda g, ans, x: 2 * g * inspect.currentframe().f_locals["x"])
    x = mdl.tensor([1.0, 3.0], requires_grad=True)
    square(x).sum().backward()
    np.testing.assert_array_equal(values(x.grad), [2.0, 6.0])


def test_tensor_inside_a_list_argument_of_a_primitive_is_never_silently_a_constant():
    # as issue 8's keyword case: the tensors inside the list require grad; minidl turned the list into a
    # constant array, so a.grad stayed None while b got its gradient. Record them or refuse clearly.
    @mdl.primitive
    def total(xs):
        return sum(xs)

    mdl.defvjp(total, lambda g, ans, xs: g)
    a = mdl.tensor([1.0, 2.0], requires_grad=True)
    b = mdl.tensor([3.0, 4.0], requires_grad=True)
    try:
        loss = (total([a, a]) * b).sum()
    except TypeError as err:
        assert "list" in str(err) or "requires grad" in str(err)
        return
    loss.backward()
    assert a.grad is not None
    np.testing.assert_array_equal(values(a.grad), [6.0, 8.0])


def test_keyword_only_tensor_saved_for_backward_is_version_checked():
    # a constant tensor passed by keyword is kept (as its array) for the VJP like a positional one, which
    # is version-checked; this one was not: f *= 10 after the call gave x.grad [30, 40] silently
    @mdl.primitive
    def scale(x, *, factor):
        return x * factor

    mdl.defvjp(scale, lambda g, ans, x, *, factor: g * factor)
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    f = mdl.tensor([3.0, 4.0])
    y = scale(x, factor=f)
    f.mul_(10)
    with pytest.raises(RuntimeError, match="in-place"):
        y.sum().backward()


def test_primitive_returning_a_later_argument_as_is_shares_its_version_counter():
    # JAX's clip_gradient(lo, hi, x) returns x itself. _link_view only checks `ans is raw[0]`, so the
    # output got a counter of its own: writing it in place changed h behind z's back, and backward
    # silently gave [20, 40]. PyTorch (custom Function returning an input) raises; by hand [2, 4]
    @mdl.primitive
    def clip_gradient(lo, hi, x):
        return x

    mdl.defvjp(clip_gradient, None, None, lambda g, ans, lo, hi, x: mdl.clip(g, lo, hi))
    x = mdl.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    h = x * 1
    z = (h * h).sum()
    y = clip_gradient(-1.0, 1.0, h)
    try:
        y.mul_(10)
        z.backward()
    except RuntimeError as err:
        assert "in-place" in str(err) or "view" in str(err)
        return
    np.testing.assert_array_equal(values(x.grad), [2.0, 4.0])


def test_vjp_returning_a_gradient_of_the_wrong_shape_is_refused_not_reshaped():
    # PyTorch: "returned an invalid gradient at index 0 - got [3, 2] but expected shape compatible with
    # [2, 3]". minidl's sum_to_shape reshaped the transposed gradient into (2, 3): a silently wrong gradient
    @mdl.primitive
    def double(x):
        return x * 2

    mdl.defvjp(double, lambda g, ans, x: 2 * g.T)
    x = mdl.tensor(np.zeros((2, 3)), requires_grad=True)
    weights = mdl.tensor(np.arange(6.0).reshape(2, 3))
    with pytest.raises((ValueError, RuntimeError), match="shape"):
        (double(x) * weights).sum().backward()


def test_vjp_using_minidl_constructors_works_in_an_ordinary_backward():
    # the VJP is written with minidl's API (mdl.ones_like) and works under create_graph; in an ordinary
    # backward it crashed ("'Tensor' object has no attribute 'copy'") or, with two uses of x, left a
    # Tensor inside x.grad.data
    @mdl.primitive
    def double(x):
        return x * 2

    mdl.defvjp(double, lambda g, ans, x: 2 * g * mdl.ones_like(x))
    x = mdl.tensor([1.0, -2.0, 3.0], dtype="float64", requires_grad=True)
    (double(x) * mdl.tensor([1.0, 2.0, 3.0], dtype="float64")).sum().backward()
    np.testing.assert_array_equal(values(x.grad), [2.0, 4.0, 6.0])
    x.grad = None
    (double(x) + double(x)).sum().backward()
    assert isinstance(x.grad.data, np.ndarray)
    np.testing.assert_array_equal(x.grad.data, [4.0, 4.0, 4.0])


def test_vjp_may_apply_an_op_to_a_python_number():
    # api.md: mdl.sqrt(4.0) is a Tensor; inside a VJP it raised "no registered backend handles arrays of type float"
    @mdl.primitive
    def scaled(x):
        return x * 2

    mdl.defvjp(scaled, lambda g, ans, x: g * mdl.sqrt(4.0))
    x = mdl.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    scaled(x).sum().backward()
    np.testing.assert_array_equal(values(x.grad), [2.0, 2.0])


def test_curried_hips_vjp_of_a_primitive_with_a_default_argument_is_refused_clearly():
    # issue 8: detect HIPS's curried form and say which convention minidl uses. With an optional argument
    # (HIPS's own style for reductions) the parameter count passed the check, and backward failed with
    # "'function' object has no attribute 'shape'"
    @mdl.primitive
    def total(x, axis=None):
        return x.sum(axis=axis)

    with pytest.raises(TypeError, match="curried|vjp\\(g, ans"):
        mdl.defvjp(total, lambda ans, x, axis=None: lambda g: mdl.broadcast_to(g, x.shape))
        x = mdl.tensor([1.0, 2.0], requires_grad=True)
        total(x).backward()


def test_vjp_that_cannot_take_an_optional_argument_is_reported_with_the_primitives_name():
    # the VJP takes (g, ans, x) but f was called with its optional y too: backward raised only
    # "<lambda>() takes 3 positional arguments but 4 were given", naming neither the op nor the convention
    @mdl.primitive
    def scale_by(x, y=1.0):
        return x * y

    x = mdl.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="scale_by"):
        mdl.defvjp(scale_by, lambda g, ans, x: g)
        scale_by(x, 2.0).sum().backward()


# -- zeros that must be zeros (NaN/Inf) -------------------------------------------------------------

def test_materialized_gradient_of_an_unused_input_is_zero_even_where_the_input_is_inf_or_nan():
    # PyTorch's materialize_grads gives zeros_like(input); input * 0 gives NaN at inf and NaN
    x = mdl.tensor(2.0, requires_grad=True)
    unused = mdl.tensor([np.inf, np.nan, 1.0], requires_grad=True)
    _, g = mdl.autograd.grad(x * x, [x, unused], materialize_grads=True)
    np.testing.assert_array_equal(values(g), [0.0, 0.0, 0.0])


def test_grad_of_a_function_not_using_its_input_is_zero_even_at_inf():
    # JAX: grad(lambda x: 1.0)(inf) == 0.0
    g = mdl.grad(lambda x: mdl.tensor(1.0))(mdl.tensor(np.inf))
    assert g.item() == 0.0


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # sqrt'(0) is inf on purpose
@pytest.mark.parametrize("gate", [
    lambda x: mdl.relu(x),
    lambda x: mdl.clip(x, 0.0, None),
    lambda x: mdl.maximum(x, mdl.zeros(2)),
], ids=["relu", "clip", "maximum"])
def test_gradient_of_sqrt_of_a_gated_input_is_zero_where_the_gate_is_closed(gate):
    # sqrt'(0) is inf; PyTorch's relu/clamp/maximum backward select (0 where the gate is closed), they
    # do not multiply inf by 0. PyTorch: x.grad == [0, 0.25] for x = [-1, 4]
    x = mdl.tensor([-1.0, 4.0], requires_grad=True)
    mdl.sqrt(gate(x)).sum().backward()
    np.testing.assert_array_equal(values(x.grad), [0.0, 0.25])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # an inf gradient on purpose
def test_zero_gradient_op_gives_zero_even_when_the_incoming_gradient_is_inf():
    # PyTorch: sign's backward is zeros_like(grad), so (sign(x) * inf).sum() gives x.grad == 0
    x = mdl.tensor([-1.5, 4.0], requires_grad=True)
    (mdl.sign(x) * mdl.tensor(np.inf)).sum().backward()
    np.testing.assert_array_equal(values(x.grad), [0.0, 0.0])


def test_clip_with_crossed_tensor_bounds_gives_the_gradient_to_the_bound_that_wins():
    # NumPy's clip (and PyTorch's clamp) returns max where min > max, so d/dmax = 1 and d/dmin = 0 (finite
    # differences and PyTorch agree); minidl gave 1 to both bounds (a total gradient of 2)
    x = mdl.tensor([2.0], dtype="float64", requires_grad=True)
    lo = mdl.tensor([3.0], dtype="float64", requires_grad=True)
    hi = mdl.tensor([1.0], dtype="float64", requires_grad=True)
    assert mdl.gradcheck(mdl.clip, [x, lo, hi])


# -- in-place ops, version counters and views -------------------------------------------------------

def test_second_order_backward_refuses_an_input_modified_in_place_after_create_graph():
    # g = d/dx sum((2x)^3) = 24 x^2 is recorded from y = 2x; y is then scaled in place. PyTorch raises
    # ("modified by an inplace operation"); minidl's recorded backward kept its own tensor around y's
    # array with a fresh version counter, so it silently used 10 y: x.grad [480, 960] instead of [48, 96]
    x = mdl.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = x * 2
    g, = mdl.autograd.grad((y ** 3).sum(), [x], create_graph=True)
    with mdl.no_grad():
        y.mul_(10)
    with pytest.raises(RuntimeError, match="in-place"):
        g.sum().backward()


def test_optimizer_step_on_a_parameter_saved_for_backward_makes_that_backward_raise():
    # PyTorch's step writes the parameter in place under no_grad, bumping its version, so a graph built
    # before the step refuses to backward (the GAN "modified by an inplace operation" error). minidl's
    # step writes p.data without bumping it: the second backward silently used w = [0, 0] (grad [2, 4])
    from minidl import optim

    w = mdl.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    y = (w * w).sum()
    y.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


def test_index_tensor_modified_in_place_after_indexing_does_not_move_the_gradient():
    # y = x[idx] used idx = [0, 0]; a later idx[1] = 2 must not send the gradient to x[2]. PyTorch raises
    # (it saves idx and checks its version); minidl indexes with a copy, so it gives the gradient of what
    # was computed: d sum(y * [1, 10]) / dx = [11, 0, 0]
    x = mdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    idx = mdl.tensor([0, 0])
    y = x[idx]
    idx[1] = 2
    (y * mdl.tensor([1.0, 10.0])).sum().backward()
    np.testing.assert_array_equal(values(x.grad), [11.0, 0.0, 0.0])


def test_in_place_op_on_one_element_writes_into_the_tensor():
    # PyTorch: x[1] is a view, so x[1].fill_(5) writes into x; minidl's x[1] was a copy, silently unchanged
    x = mdl.zeros(3)
    x[1].fill_(5.0)
    m = mdl.zeros(2, 2)
    m[1, 0].add_(2.0)
    np.testing.assert_array_equal(values(x), [0.0, 5.0, 0.0])
    np.testing.assert_array_equal(values(m), [[0.0, 0.0], [2.0, 0.0]])


def test_view_of_a_non_contiguous_tensor_is_a_view_or_refused():
    # PyTorch's t.view never copies: on x.T it raises "view size is not compatible with input tensor's size
    # and stride". minidl's view is reshape, which copied here, so the fill_ silently left x at zeros
    x = mdl.zeros(2, 3)
    try:
        v = x.T.view(6)
    except (RuntimeError, ValueError):
        return
    v.fill_(1.0)
    np.testing.assert_array_equal(values(x), np.ones((2, 3)))


def test_augmented_assignment_to_a_row_of_a_recorded_tensor_is_recorded():
    # `y[0] *= 3` is `y[0] = y[0].__imul__(3)`: PyTorch records it; d/dx sum(y) = [[6, 6], [2, 2]]
    x = mdl.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 2
    y[0] *= 3
    y.sum().backward()
    np.testing.assert_array_equal(values(y), [[6.0, 12.0], [6.0, 8.0]])
    np.testing.assert_array_equal(values(x.grad), [[6.0, 6.0], [2.0, 2.0]])


def test_detached_tensor_is_usable_after_its_source_is_modified_in_place():
    # d has no history to go stale; PyTorch gives exp(d) = exp(2x + 1), since d shares y's memory
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    y.add_(1)
    np.testing.assert_allclose(values(mdl.exp(d)), np.exp([3.0, 5.0]), rtol=1e-6)


def test_in_place_division_by_a_tensor_that_requires_grad_can_be_followed_by_another_in_place_op():
    # y = x / w + 1 written in place (the shape of a hand-written normalization): PyTorch accepts it and
    # gives dx = 1/w, dw = -x/w^2. minidl's div_ kept its own output for dw, so the next in-place op
    # made backward raise
    x = mdl.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    w = mdl.tensor([2.0, 4.0], dtype="float64", requires_grad=True)
    y = x * 1
    y /= w
    y += 1
    y.sum().backward()
    np.testing.assert_allclose(values(x.grad), [0.5, 0.25])
    np.testing.assert_allclose(values(w.grad), [-0.25, -0.125])


def test_backward_from_a_stale_view_is_refused_or_correct():
    # v views y; y is then multiplied by x in place, so v = 2x^2 on [0:2]: PyTorch gives x.grad = 4x = [4, 8, 0].
    # The stale-view rule is checked when a view enters an op, not when it is the root of backward:
    # minidl silently used v's old history (v = 2x) and gave [2, 2, 0]
    x = mdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    v = y[0:2]
    y.mul_(x)
    try:
        v.backward(mdl.ones(2))
    except RuntimeError as err:
        assert "view" in str(err) and "in place" in str(err)
        return
    np.testing.assert_array_equal(values(x.grad), [4.0, 8.0, 0.0])


def test_stale_view_used_as_the_operand_of_an_in_place_op_is_refused_or_correct():
    # the stale-view rule is checked for the inputs of out-of-place ops, not for the operand of an in-place
    # one: z.add_(v) recorded v's old history (v = 2x) while v holds 2x^2: x.grad [2, 2, 0], PyTorch [4, 8, 0]
    x = mdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    v = y[0:2]
    y.mul_(x)
    z = mdl.zeros(2)
    try:
        z.add_(v)
    except RuntimeError as err:
        assert "view" in str(err)
        return
    z.sum().backward()
    np.testing.assert_array_equal(values(x.grad), [4.0, 8.0, 0.0])


def test_setitem_of_a_value_with_extra_leading_ones_gets_its_gradient():
    # NumPy and PyTorch accept y[0] = v for v of shape (1, 3) into a row of shape (3,); minidl's forward
    # accepted it but backward failed in sum_to_shape ("cannot reshape array of size 1 into shape (1,3)").
    # PyTorch: x.grad = [[0, 0, 0], [3, 4, 5]], v.grad = [[0, 2, 4]]
    x = mdl.tensor(np.ones((2, 3)), requires_grad=True)
    v = mdl.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    y = x * 1
    y[0] = v * 2
    (y * mdl.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
    np.testing.assert_array_equal(values(x.grad), [[0.0, 0.0, 0.0], [3.0, 4.0, 5.0]])
    np.testing.assert_array_equal(values(v.grad), [[0.0, 2.0, 4.0]])


def test_assignment_into_a_zero_dimensional_recorded_tensor_backpropagates():
    # s[...] = v*v, then 5 s: ds/dv = 2v * 5 = 30, x is overwritten (0). The adjoint of a 0-d op is a NumPy
    # scalar in raw mode, and _zero_at wrote into it: "'numpy.float64' object does not support item assignment"
    x = mdl.tensor(2.0, dtype="float64", requires_grad=True)
    v = mdl.tensor(3.0, dtype="float64", requires_grad=True)
    s = x * 1
    s[...] = v * v
    (s * 5).backward()
    assert x.grad.item() == 0.0
    assert v.grad.item() == 30.0


def test_writing_a_recorded_float_into_an_integer_tensor_is_not_differentiated():
    # PyTorch: an integer tensor never requires grad, so t.copy_(w) or t[0] = w[1] leave t a constant
    # (as astype(int) does in minidl). minidl recorded them: t (int64) required grad and w received 1.5
    # through a truncating cast
    w = mdl.tensor([1.7, 2.2], requires_grad=True)
    t = mdl.zeros(2, dtype="int64")
    t.copy_(w)
    u = mdl.zeros(2, dtype="int64")
    u[0] = w[1]
    np.testing.assert_array_equal(values(t), [1.0, 2.0])
    assert not t.requires_grad and not u.requires_grad


def test_in_place_write_is_caught_through_a_broadcast_view_on_a_registered_backend():
    # tests/test_backends.py's backend returns every namespace result as .view(HostArray), one level
    # deeper than NumPy's: _link_view compares .base identities one level deep, so the broadcast view b
    # got its own version counter and backward silently used 3x the saved value ([[72, 144]]).
    # Expected: raise, as on the CPU (or the gradient of the values saved: [[24, 48]])
    from minidl import backends
    from test_backends import WrappedBackend

    backends.register("wrapped", WrappedBackend(), devices=("npwrap",))
    x = mdl.tensor([[1.0, 2.0]], dtype="float64", device="npwrap", requires_grad=True)
    y = x * 2
    b = mdl.broadcast_to(y, (3, 2))
    z = (b * b).sum()
    y.mul_(3)
    with pytest.raises(RuntimeError, match="in-place"):
        z.backward()


# -- checkpoint -------------------------------------------------------------------------------------

def test_checkpoint_backward_twice_with_retain_graph_accumulates_twice():
    w = mdl.tensor([1.0, 2.0], requires_grad=True)
    x = mdl.tensor([3.0, 4.0], requires_grad=True)
    y = checkpoint(lambda a: a * w, x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(values(x.grad), [2.0, 4.0])
    np.testing.assert_array_equal(values(w.grad), [6.0, 8.0])


def test_checkpoint_gradient_for_one_input_then_another_uses_each_calls_cotangent():
    # by hand: d<v, x * w>/dw = v * x
    w = mdl.tensor([1.0, 2.0], requires_grad=True)
    x = mdl.tensor([3.0, 4.0], requires_grad=True)
    y = checkpoint(lambda a: a * w, x)
    mdl.autograd.grad(y.sum(), [x], retain_graph=True)
    gw, = mdl.autograd.grad(y, [w], grad_outputs=mdl.tensor([2.0, 2.0]))
    np.testing.assert_array_equal(values(gw), [6.0, 8.0])


def test_checkpoint_of_a_closure_over_a_recorded_tensor_also_used_outside():
    # y = x * h + h with h = tanh(w): dy/dw = (x + 1) (1 - tanh(w)^2) (PyTorch's non-reentrant checkpoint agrees)
    w = mdl.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    x = mdl.tensor([3.0, 4.0], dtype="float64", requires_grad=True)
    h = mdl.tanh(w)
    (checkpoint(lambda a: a * h, x) + h).sum().backward()
    np.testing.assert_allclose(values(w.grad), np.array([4.0, 5.0]) * (1 - np.tanh([1.0, 2.0]) ** 2))


def test_checkpoint_of_a_closure_over_a_recorded_tensor_supports_retain_graph():
    w = mdl.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    x = mdl.tensor([3.0, 4.0], dtype="float64")
    h = mdl.tanh(w)
    y = checkpoint(lambda a: a * h, x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(values(w.grad), 2 * np.array([3.0, 4.0]) * (1 - np.tanh([1.0, 2.0]) ** 2))


def test_checkpoint_function_writing_its_input_in_place_is_refused():
    # the recomputation in backward would start from the written value (w.grad [4, 8], not [2, 4]);
    # PyTorch refuses at backward, minidl already at the checkpoint call
    w = mdl.tensor([1.0, 2.0], requires_grad=True)
    x = mdl.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="wrote one of its arguments in place"):
        checkpoint(lambda a: a.mul_(2) * w, x)


def test_two_leaves_never_share_one_gradient_array():
    # inside checkpoint, (a + b) * 2 gives a and b the same adjoint array; the engine adopted it as the
    # .grad of both x and w, so a later backward into x alone also changed w.grad ([7, 7] instead of [2, 2])
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    w = mdl.tensor([3.0, 4.0], requires_grad=True)
    checkpoint(lambda a, b: (a + b) * 2, x, w).sum().backward()
    (x * 5).sum().backward()
    np.testing.assert_array_equal(values(x.grad), [7.0, 7.0])
    np.testing.assert_array_equal(values(w.grad), [2.0, 2.0])


# -- hooks and retain_grad --------------------------------------------------------------------------

def test_grad_with_respect_to_a_tensor_with_a_hook_returns_the_hooked_gradient():
    # PyTorch runs a tensor's hooks before autograd.grad captures its gradient:
    # d sum(y^2)/dy = 2y = [4, 8], times 10 by the hook = [40, 80]; for a leaf, 2 * 10 = 20
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 10)
    gy, = mdl.autograd.grad((y * y).sum(), [y])
    np.testing.assert_array_equal(values(gy), [40.0, 80.0])
    leaf = mdl.tensor([1.0, 2.0], requires_grad=True)
    leaf.register_hook(lambda g: g * 10)
    gl, = mdl.autograd.grad((leaf * 2).sum(), [leaf])
    np.testing.assert_array_equal(values(gl), [20.0, 20.0])


def test_retain_grad_keeps_the_gradient_after_hooks_registered_later():
    # PyTorch (2.0+): retain_grad's .grad is the gradient after every tensor hook, whatever the order
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 10)
    (y * y).sum().backward()
    np.testing.assert_array_equal(values(y.grad), [40.0, 80.0])
    np.testing.assert_array_equal(values(x.grad), [80.0, 160.0])


def test_retain_grad_follows_the_tensor_through_a_later_in_place_op():
    # y.grad is the gradient with respect to y's current value: d sum(y^2)/dy = 2 y = 2 * 6x = [12, 24]
    # (PyTorch moves the retain_grad hook to the new grad_fn); minidl kept it on the old node: [36, 72]
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.mul_(3)
    (y * y).sum().backward()
    np.testing.assert_array_equal(values(y.grad), [12.0, 24.0])
    np.testing.assert_array_equal(values(x.grad), [72.0, 144.0])


def test_retained_gradient_under_create_graph_is_differentiable():
    # PyTorch: with create_graph=True, y.grad kept by retain_grad has a grad_fn, so a penalty on it can be
    # differentiated: y = x^2, y.grad = 2y = 2x^2, d/dx sum(y.grad^2) = 16 x^3 = [16, 128].
    # minidl detached it: the penalty silently contributed nothing
    x = mdl.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = x * x
    y.retain_grad()
    (y ** 2).sum().backward(create_graph=True)
    assert y.grad.requires_grad
    x.grad = None
    (y.grad ** 2).sum().backward()
    np.testing.assert_allclose(values(x.grad), [16.0, 128.0])


def test_hook_returning_a_gradient_of_another_shape_is_refused():
    # PyTorch: "hook '<lambda>' has changed the size of value". minidl passed the transposed (3, 2)
    # gradient on and sum_to_shape reshaped it into (2, 3): x.grad [0, 3, 1, 4, 2, 5] instead of refusing
    x = mdl.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x * 1
    y.register_hook(lambda g: g.T)
    with pytest.raises((ValueError, RuntimeError), match="shape|size"):
        (y * mdl.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()


def test_a_tensor_returned_by_a_leaf_hook_is_not_adopted_as_grad():
    # the hook replaces the gradient with the user's tensor c; minidl adopted c's array as x.grad (the VJP's
    # array was "owned"), so the next backward added into c itself: x.grad [20, 20] and c [20, 20] after
    # three passes. PyTorch: x.grad [15, 15], c unchanged
    c = mdl.tensor([5.0, 5.0])
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: c)
    for _ in range(3):
        (x * 2).sum().backward()
    np.testing.assert_array_equal(values(x.grad), [15.0, 15.0])
    np.testing.assert_array_equal(values(c), [5.0, 5.0])


def test_a_hook_sees_minidls_ordinary_api_not_the_backward_pass_array_mode():
    # hooks are user code: mdl.sqrt(4.0) is a Tensor there as everywhere (api.md). Inside a backward pass
    # the raw-array switch leaked into them: it raised "no registered backend handles arrays of type float"
    # (and mdl.exp(ndarray) returned an ndarray)
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * mdl.sqrt(4.0))
    (x * 3).sum().backward()
    np.testing.assert_array_equal(values(x.grad), [6.0, 6.0])


# -- engine.grad, .grad and the transforms: PyTorch's and JAX's semantics ---------------------------

def test_gradient_returned_by_grad_has_the_dtype_of_its_input():
    # PyTorch (torch.autograd.grad, torch.func.grad) and JAX give each gradient its input's dtype;
    # minidl returned float64 for a float32 input multiplied by a float64 tensor (.grad is cast, grad() was not)
    c = mdl.tensor([1.0, 2.0], dtype="float64")
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    g, = mdl.autograd.grad((x * c).sum(), [x])
    assert g.dtype == mdl.float32
    assert mdl.grad(lambda x: (x * c).sum())(mdl.tensor([1.0, 2.0])).dtype == mdl.float32
    g, = mdl.autograd.grad(x * 2, [x], mdl.ones(2, dtype="int64"))
    assert g.dtype == mdl.float32


def test_a_gradient_of_the_wrong_shape_in_grad_is_refused_not_broadcast_into():
    # PyTorch refuses `x.grad = zeros(3, 3)` for x of shape (3,); minidl accepted it and the next backward
    # broadcast-added into it, leaving x.grad of shape (3, 3)
    x = mdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises((ValueError, RuntimeError), match="shape|size"):
        x.grad = mdl.zeros(3, 3)
        (x * 2).sum().backward()


def test_leaf_that_stopped_requiring_grad_before_backward_gets_no_gradient():
    # PyTorch's AccumulateGrad skips a leaf whose requires_grad was turned off after the forward pass
    # (freezing parameters); minidl still accumulated into it
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.requires_grad_(False)
    y.backward()
    assert x.grad is None


def test_grad_names_a_tensor_that_does_not_require_grad_instead_of_calling_it_unused():
    # PyTorch: "element 0 of tensors does not require grad" / "One of the differentiated Tensors does not
    # require grad"; minidl blamed the input as "not used by the outputs" in both cases
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="require"):
        mdl.autograd.grad((x * 1).sum().detach(), [x])
    with pytest.raises(RuntimeError, match="require"):
        mdl.autograd.grad((x * x).sum(), [x, mdl.tensor(1.0)])


def test_jvp_and_hvp_refuse_a_tangent_whose_shape_differs_from_its_primal():
    # JAX: "primal and tangent arguments to jax.jvp do not match". minidl broadcast the tangent inside
    # <vjp(u), t>: jvp(x -> x^2, [1, 2, 3], [[1], [0], [0]]) gave [2, 4, 6] (J t would be [2, 0, 0]) and
    # the hvp [6, 12, 18]
    x = mdl.tensor([1.0, 2.0, 3.0])
    tangent = mdl.tensor([[1.0], [0.0], [0.0]])
    with pytest.raises((ValueError, TypeError), match="shape"):
        mdl.jvp(lambda y: y * y, (x,), (tangent,))
    with pytest.raises((ValueError, TypeError), match="shape"):
        mdl.hvp(lambda y: (y ** 3).sum(), (x,), (tangent,))


def test_vjp_of_a_function_returning_a_tuple_works_or_says_it_needs_one_tensor():
    # JAX's vjp takes a tuple output (cotangent: a tuple); minidl failed deep inside with
    # AttributeError "'tuple' object has no attribute '_requires_grad'"
    x = mdl.tensor([1.0, 2.0], dtype="float64")
    try:
        _, vjp_fn = mdl.vjp(lambda y: (y * y, y * 3), x)
    except TypeError as err:
        assert "tuple" in str(err) or "Tensor" in str(err)
        return
    g, = vjp_fn((mdl.tensor([1.0, 1.0], dtype="float64"), mdl.tensor([1.0, 1.0], dtype="float64")))
    np.testing.assert_array_equal(values(g), [5.0, 7.0])  # 2x + 3


def test_jvp_of_an_integer_valued_function_gives_zero_or_a_clear_error():
    # JAX gives a zero (float0) tangent; minidl raised "only floating-point tensors can require gradients;
    # this one is int64", about a tensor the user never asked to require grad
    x = mdl.tensor([1.0, 3.0, 2.0])
    try:
        _, tangent = mdl.jvp(lambda y: y.argmax(), (x,), (mdl.ones(3),))
    except TypeError as err:
        assert "jvp" in str(err)
        return
    assert tangent.item() == 0


def test_top_level_transform_over_a_function_using_another_transform_at_a_constant_is_not_recorded():
    # outside any recording, mdl.grad returns plain tensors (test_nested_transforms.py); but when f calls
    # jvp or vjp at a point that is not f's input, the inner transform's own variables were taken for
    # closure variables, so the top-level result came back recorded, holding the whole inner graph
    x = mdl.tensor([0.3, -0.5], dtype="float64")

    def f(v):
        return mdl.jvp(lambda y: (mdl.sin(y) * y).sum(), (x,), (v,))[1]

    g = mdl.grad(f)(mdl.ones(2, dtype="float64"))
    np.testing.assert_allclose(values(g), np.sin([0.3, -0.5]) + np.array([0.3, -0.5]) * np.cos([0.3, -0.5]))
    assert not g.requires_grad and g.grad_fn is None


def test_grad_with_argnums_beyond_the_positional_arguments_says_so():
    # JAX: "differentiating with respect to argnums=1 requires at least 2 positional arguments";
    # minidl: IndexError "list index out of range" (also for an input passed by keyword)
    with pytest.raises((TypeError, ValueError), match="argnums"):
        mdl.grad(lambda a: (a * a).sum(), argnums=1)(mdl.tensor([1.0, 2.0]))
    with pytest.raises((TypeError, ValueError), match="argnums|positional"):
        mdl.grad(lambda a: (a * a).sum())(a=mdl.tensor([1.0, 2.0]))


# -- grad mode --------------------------------------------------------------------------------------

def test_set_grad_enabled_used_as_a_decorator_does_not_switch_grad_off_when_decorating():
    # PyTorch restores the mode when set_grad_enabled(False) decorates a function
    try:
        @mdl.set_grad_enabled(False)
        def evaluate(x):
            return x * 2

        assert mdl.is_grad_enabled()
        x = mdl.tensor(1.0, requires_grad=True)
        assert not evaluate(x).requires_grad
        assert mdl.is_grad_enabled()
    finally:
        mdl.set_grad_enabled(True)


def test_no_grad_decorating_a_generator_function_covers_its_body():
    # PyTorch wraps generator functions so each step runs under no_grad; ContextDecorator only covered
    # the call that creates the generator, so every yielded tensor was recorded
    w = mdl.tensor([1.0, 2.0], requires_grad=True)

    @mdl.no_grad()
    def scaled():
        for i in range(2):
            yield w * i

    assert [t.requires_grad for t in scaled()] == [False, False]
    assert mdl.is_grad_enabled()


def test_no_grad_and_enable_grad_work_as_bare_decorators():
    # PyTorch 2 accepts @torch.no_grad and @torch.enable_grad without parentheses; minidl raised
    # "no_grad() takes no arguments" when the module defining the function was imported
    w = mdl.tensor([1.0, 2.0], requires_grad=True)

    @mdl.no_grad
    def evaluate():
        return w * 2

    @mdl.enable_grad
    def train_step():
        return w * 2

    assert not evaluate().requires_grad
    with mdl.no_grad():
        assert train_step().requires_grad


# -- threads ----------------------------------------------------------------------------------------

def test_backward_in_several_threads_into_one_shared_leaf_loses_no_gradient():
    # PyTorch accumulates into a shared leaf's .grad under a lock: 4 threads x 10 backward passes of
    # sum(w) give exactly 40 everywhere. minidl's `grad.data += g` races (NumPy drops the GIL) and two
    # first gradients can both see .grad None: some elements end below 40 (in most trials here)
    import sys
    import threading

    def trial():
        w = mdl.zeros(1_000_000, requires_grad=True)
        start = threading.Barrier(4)

        def work():
            start.wait()
            for _ in range(10):
                (w * 1.0).sum().backward()

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return values(w.grad)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(10):
            np.testing.assert_array_equal(trial(), np.full(1_000_000, 40.0))
    finally:
        sys.setswitchinterval(interval)


# -- memory -----------------------------------------------------------------------------------------

def test_a_detached_tensor_does_not_keep_its_sources_graph_alive():
    # PyTorch: detach() cuts the record, so keeping `out.detach()` (logging, evaluation without no_grad)
    # frees the graph and what it saved. minidl's detach kept (source, source's node) for the stale-view
    # check: every kept output held its whole graph (47.8 MiB instead of 9.5 for 10 outputs of 5 layers)
    import gc
    import weakref

    w = mdl.tensor(np.full((3, 3), 0.1), requires_grad=True)
    h = mdl.tanh(mdl.tensor(np.ones((2, 3))) @ w)
    node = weakref.ref(h.grad_fn)
    kept = h.detach()
    del h
    gc.collect()
    assert node() is None
    np.testing.assert_allclose(values(kept), np.tanh(np.full((2, 3), 0.3)))
