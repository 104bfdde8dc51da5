"""mdl.trace: the lectures' evaluation trace and adjoint trace, read from the record."""
import math

import numpy as np
import pytest

import minidl as mdl


def lecture(x1, x2):
    return mdl.log(x1) + x1 * x2 - mdl.sin(x2)


def lecture_in_its_own_order(x1, x2):
    """The program as the lecture numbers it: sin(x2) is evaluated before the sum."""
    v1 = mdl.log(x1)
    v2 = x1 * x2
    v3 = mdl.sin(x2)
    v4 = v1 + v2
    return v4 - v3


def rows_by_name(rows):
    return {r.name: r for r in rows}


def test_the_lecture_example_forward_trace_has_every_value():
    rows = mdl.trace(lecture, 2.0, 5.0).forward_table()
    assert [(r.name, r.expression) for r in rows] == [
        ("v_-1", "x1"), ("v_0", "x2"), ("v_1", "log(v_-1)"), ("v_2", "v_-1 * v_0"), ("v_3", "v_1 + v_2"),
        ("v_4", "sin(v_0)"), ("v_5", "v_3 - v_4")]
    expected = [2, 5, math.log(2), 10, math.log(2) + 10, math.sin(5), math.log(2) + 10 - math.sin(5)]
    assert [r.value.item() for r in rows] == pytest.approx(expected, rel=1e-12)


def test_the_lecture_example_adjoint_trace_sums_the_partial_adjoints():
    trace = mdl.trace(lecture, 2.0, 5.0)
    rows = rows_by_name(trace.adjoint_table())
    assert [r.name for r in trace.adjoint_table()] == ["v̄_5", "v̄_4", "v̄_3", "v̄_2", "v̄_1", "v̄_0", "v̄_-1"]
    assert rows["v̄_5"].partials is None and rows["v̄_5"].value.item() == 1  # the seed
    assert rows["v̄_4"].value.item() == -1  # v_5 = v_3 - v_4
    x2 = {p.consumer: p.value.item() for p in rows["v̄_0"].partials}
    assert x2 == pytest.approx({"v_2": 2.0, "v_4": -math.cos(5)})
    x1 = {p.consumer: p.value.item() for p in rows["v̄_-1"].partials}
    assert x1 == pytest.approx({"v_1": 0.5, "v_2": 5.0})
    assert rows["v̄_-1"].value.item() == pytest.approx(5.5)
    assert rows["v̄_0"].value.item() == pytest.approx(1.716, abs=5e-4)
    assert [g.item() for g in trace.gradients] == pytest.approx([5.5, 2 - math.cos(5)])


def test_a_program_written_in_the_lectures_order_gets_the_lectures_numbers():
    trace = mdl.trace(lecture_in_its_own_order, 2.0, 5.0)
    assert [r.expression for r in trace.forward_table()[2:]] == [
        "log(v_-1)", "v_-1 * v_0", "sin(v_0)", "v_1 + v_2", "v_4 - v_3"]
    adjoints = {r.name: r.value.item() for r in trace.adjoint_table()}
    assert adjoints["v̄_4"] == 1 and adjoints["v̄_3"] == -1  # v̄_4 = v̄_5, v̄_3 = -v̄_5, as on the board
    assert [p.consumer for p in rows_by_name(trace.adjoint_table())["v̄_0"].partials] == ["v_2", "v_3"]


def test_print_shows_both_traces_ending_with_the_inputs_gradients():
    text = str(mdl.trace(lecture, 2.0, 5.0))
    forward, adjoint = text.split("Adjoint trace")
    assert "v_1  = log(v_-1)" in forward and "= 0.693147" in forward
    assert "v̄_0  = v̄_2·∂v_2/∂v_0 + v̄_4·∂v_4/∂v_0 = 2 + (-0.283662)" in adjoint
    last = adjoint.strip().splitlines()[-2:]
    assert last[0].split() == ["x̄1", "=", "v̄_-1", "=", "5.5"]
    assert last[1].split() == ["x̄2", "=", "v̄_0", "=", "1.71634"]


def test_markdown_renders_both_tables():
    text = mdl.trace(lecture, 2.0, 5.0).to_markdown()
    assert "| v_2 | v_-1 * v_0 | 10 |" in text
    assert "| v̄_-1 | v̄_1·∂v_1/∂v_-1 + v̄_2·∂v_2/∂v_-1 = 0.5 + 5 | 5.5 |" in text
    assert "| x̄2 | v̄_0 | 1.71634 |" in text


def test_inputs_are_named_after_the_parameters_or_x1_to_xn():
    assert [r.expression for r in mdl.trace(lambda a, b: a * b, 1.0, 2.0).forward_table()[:2]] == ["a", "b"]
    assert [r.expression for r in mdl.trace(lambda *xs: xs[0] * xs[1], 1.0, 2.0).forward_table()[:2]] == ["x1", "x2"]
    assert [r.name for r in mdl.trace(lambda a, b, c: a * b * c, 1.0, 2.0, 3.0).forward_table()[:3]] == [
        "v_-2", "v_-1", "v_0"]


def test_constant_operands_are_written_into_the_expression():
    rows = mdl.trace(lambda x: (2 * x + 1) ** 3 - mdl.tensor(0.5), 1.0).forward_table()
    assert [r.expression for r in rows[1:]] == ["2 * v_0", "v_1 + 1", "v_2 ** 3", "v_3 - 0.5"]


def test_trace_gradients_equal_the_engines_with_broadcasting_and_reuse():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)

    def f(a, b):
        h = mdl.tanh(a * b + b)
        return (h @ h.T).sum() + (h * a).mean()
    trace = mdl.trace(f, a, b)
    expected = mdl.grad(f, argnums=(0, 1))(mdl.tensor(a, dtype="float64"), mdl.tensor(b, dtype="float64"))
    for got, want in zip(trace.gradients, expected):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


def test_a_tensor_from_outside_that_requires_grad_is_a_named_vertex_with_its_adjoint():
    w = mdl.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    trace = mdl.trace(lambda x: (x * w).sum(), [3.0, 4.0])
    assert ("w_1", "(from outside f)") in [(r.name, r.expression) for r in trace.forward_table()]
    assert rows_by_name(trace.adjoint_table())["w̄_1"].value.tolist() == [3.0, 4.0]


def test_values_are_taken_when_each_op_ran_not_after_a_later_in_place_write():
    def f(x):
        a = x * 2
        b = mdl.exp(a)  # keeps its output, not a
        a += 1
        return b + a
    rows = mdl.trace(f, 0.0).forward_table()
    assert [(r.expression, r.value.item()) for r in rows[1:3]] == [("v_0 * 2", 0.0), ("exp(v_1)", 1.0)]
    assert rows[3].value.item() == 1.0  # the in-place add, v_1 + 1


def test_a_saved_value_changed_in_place_is_refused_as_backward_refuses_it():
    def f(x):
        a = x * 2
        b = a * a
        a += 1
        return b
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        mdl.trace(f, 1.0)


def test_tensors_keep_their_dtype_and_numbers_become_float64():
    trace = mdl.trace(lambda x, y: (x * y).sum(), mdl.tensor([1.0, 2.0]), 3)
    assert trace.forward_table()[0].value.dtype == mdl.float32
    assert trace.forward_table()[1].value.dtype == mdl.float64


def test_big_values_are_summarised_by_shape_dtype_and_first_numbers():
    first = str(mdl.trace(lambda x: x.sum(), mdl.ones(20, 30))).splitlines()[1]
    assert first.split("=") == ["  v_0 ", " x        ", " (20, 30) float32 [1, 1, 1, ...]"]


def test_an_output_with_more_than_one_element_is_refused():
    with pytest.raises(ValueError, match=r"shape \(2,\).*reduce"):
        mdl.trace(lambda x: x * 2, [1.0, 2.0])


def test_an_output_that_does_not_depend_on_the_inputs_is_refused():
    with pytest.raises(TypeError, match="computed from its inputs"):
        mdl.trace(lambda x: mdl.tensor(1.0), 1.0)


def test_an_integer_tensor_input_is_refused():
    with pytest.raises(TypeError, match="input x has dtype int64"):
        mdl.trace(lambda x: x * 2, mdl.tensor([1, 2]))


def test_tracing_leaves_no_mode_behind_and_later_ops_keep_nothing_extra():
    mdl.trace(lecture, 2.0, 5.0)
    assert not mdl.is_anomaly_enabled()
    y = mdl.tensor(1.0, requires_grad=True) * 2
    assert y.grad_fn.stack is None
