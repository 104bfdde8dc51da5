"""mdl.graph: bytes kept per node, their total against tracemalloc, the backward peak, DOT and rendering."""
import gc
import shutil
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import minidl as mdl
from minidl import nn, zoo

N = 1000  # elements of the float64 vectors below: 8000 bytes each
VECTOR = N * 8


def vector(requires_grad=True):
    return mdl.tensor(np.linspace(-1, 1, N), requires_grad=requires_grad)


def lenet_loss(batch, model, loss_fn, targets):
    x = mdl.randn(batch, 1, 28, 28)  # made here, so only the record keeps it alive (through its im2col)
    return loss_fn(model(x), targets)


def test_each_row_is_a_node_with_its_op_shape_and_dtype():
    x = vector()
    report = mdl.graph(mdl.exp(x * 2).sum())
    assert [(r.index, r.op, r.shape, r.dtype) for r in report.rows] == [
        (1, "multiply", (N,), "float64"), (2, "exp", (N,), "float64"), (3, "sum", (), "float64")]


def test_a_node_keeps_only_what_its_vjps_read():
    x, w = vector(), vector()
    rows = mdl.graph(mdl.tanh(x * w).sum()).rows
    assert rows[0].keeps == ("x: leaf", "y: leaf") and rows[0].kept_bytes == 0  # the leaves' own arrays
    assert rows[1].keeps == ("out",) and rows[1].kept_bytes == VECTOR           # tanh keeps its output
    assert rows[2].keeps == ("shape of x",) and rows[2].kept_bytes == 0         # sum keeps a shape


def test_an_array_kept_by_two_nodes_is_counted_once_on_the_first():
    x, w = vector(), vector()
    a = mdl.tanh(x)      # keeps a
    b = a * w            # keeps a again (for w's gradient)
    rows = mdl.graph(b.sum()).rows
    assert [r.kept_bytes for r in rows] == [VECTOR, 0, 0]
    assert rows[1].keeps == ("x: #1", "y: leaf")


def test_a_view_is_counted_as_the_array_it_views():
    x, w = vector(), vector()
    a = mdl.exp(x)                      # keeps a
    b = a.reshape(10, 100) * w.reshape(10, 100)  # keeps the views of a and of w
    report = mdl.graph(b.sum())
    assert report.total == VECTOR


def test_the_rows_add_up_to_the_total_and_leaves_are_apart():
    model, loss_fn, y = zoo.create("lenet5"), nn.CrossEntropyLoss(), mdl.tensor([1, 2, 3, 4])
    report = mdl.graph(lenet_loss(4, model, loss_fn, y))
    assert report.total == sum(r.kept_bytes for r in report.rows) > 0
    assert report.leaf_bytes == sum(p.data.nbytes for p in model.parameters())


def record_held(build):
    """The record built by ``build()``, and the bytes tracemalloc sees alive once only the result is held."""
    gc.collect()
    tracemalloc.start()
    try:
        loss = build()
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return loss, held


def test_the_total_agrees_with_tracemalloc_on_lenet5():
    model, loss_fn = zoo.create("lenet5"), nn.CrossEntropyLoss()
    y = mdl.tensor(np.arange(16) % 10)
    lenet_loss(16, model, loss_fn, y)  # warm up: first calls allocate caches that would count
    loss, held = record_held(lambda: lenet_loss(16, model, loss_fn, y))
    assert mdl.graph(loss).total == pytest.approx(held, rel=0.10)


def test_the_total_agrees_with_tracemalloc_on_a_chain():
    w = mdl.randn(100, 100, dtype="float64", requires_grad=True)

    def chain():
        y = w
        for _ in range(20):
            y = mdl.tanh(y) * 1.5
        return y.sum()
    loss, held = record_held(chain)
    assert mdl.graph(loss).total == pytest.approx(held, rel=0.10)


def test_the_peak_of_a_chain_is_the_kept_outputs_plus_one_gradient_and_one_vjp_result():
    x = vector()
    loss = mdl.exp(mdl.exp(mdl.exp(x))).sum()  # each exp keeps its output: 3 arrays
    # the worst step is the last exp's VJP: 3 kept + its gradient in + its result out
    assert mdl.graph(loss).peak == 5 * VECTOR


def test_the_peak_bounds_what_backward_allocates_from_below_within_its_workspace():
    model, loss_fn = zoo.create("lenet5"), nn.CrossEntropyLoss()
    y = mdl.tensor(np.arange(16) % 10)
    lenet_loss(16, model, loss_fn, y)
    gc.collect()
    tracemalloc.start()
    try:
        loss = lenet_loss(16, model, loss_fn, y)
        gc.collect()
        estimate = mdl.graph(loss).peak
        tracemalloc.reset_peak()
        loss.backward()
        measured = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the workspace: a convolution's weight VJP unfolds its input again (the record keeps the input, not the
    # unfolded windows), and the largest such matrix is conv1's, 5x5 windows of the padded 16x1x28x28 input
    unfolded = 25 * 16 * 28 * 28 * 4
    assert estimate <= 1.02 * measured <= 1.02 * (estimate + unfolded)


def test_a_released_record_keeps_nothing():
    x = vector()
    loss = mdl.tanh(x).sum()
    loss.backward()
    report = mdl.graph(loss)
    assert report.total == 0 and [r.keeps for r in report.rows] == [("nothing",), ("nothing",)]


def test_a_tensor_without_a_record_is_refused():
    with pytest.raises(ValueError, match="no record"):
        mdl.graph(vector())


def test_label_modules_groups_rows_by_module_and_names_parameters():
    model, loss_fn = zoo.create("lenet5"), nn.CrossEntropyLoss()
    with mdl.label_modules(model, loss_fn):
        loss = lenet_loss(2, model, loss_fn, mdl.tensor([0, 1]))
    report = mdl.graph(loss)
    modules = [r.module for r in report.rows]
    assert modules[0] == "0 (Conv2d)" and modules[-1] == "CrossEntropyLoss"
    assert {"1 (ReLU)", "2 (MaxPool2d)", "6 (Flatten)", "11 (Linear)"} <= set(modules)
    assert modules == sorted(modules, key=lambda m: modules.index(m))  # each module's rows are together
    assert {"0.weight", "11.bias"} <= {name for name, *_ in report.leaves}
    assert "\n7 (Linear): " in str(report)


def test_label_modules_removes_its_hooks_when_the_block_ends():
    model = zoo.create("lenet5")
    with mdl.label_modules(model):
        pass
    loss = model(mdl.randn(1, 1, 28, 28)).sum()
    assert {r.module for r in mdl.graph(loss).rows} == {""}


def test_to_dot_has_one_box_per_node_and_one_edge_per_parent():
    x, w = vector(), vector()
    loss = (mdl.tanh(x * w) + x).sum()
    dot = mdl.graph(loss).to_dot()
    assert dot.startswith("digraph record {") and dot.endswith("}")
    assert dot.count("[label=\"#") == 4 and dot.count("shape=ellipse") == 2
    assert dot.count(" -> ") == 2 + 1 + 2 + 1


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)")
def test_to_dot_is_read_by_graphviz():
    model = zoo.create("lenet5")
    with mdl.label_modules(model):
        loss = model(mdl.randn(1, 1, 28, 28)).sum()
    result = subprocess.run(["dot", "-Tsvg"], input=mdl.graph(loss).to_dot(), capture_output=True, text=True)
    assert result.returncode == 0 and "<svg" in result.stdout, result.stderr


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)")
def test_render_writes_svg_and_png(tmp_path):
    pytest.importorskip("graphviz", reason='the graphviz package is not installed (pip install "minidl[viz]")')
    report = mdl.graph(mdl.exp(vector()).sum())
    assert report.render(tmp_path / "g.svg") == tmp_path / "g.svg"
    assert b"<svg" in (tmp_path / "g.svg").read_bytes()
    report.render(str(tmp_path / "g.png"))
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_render_without_the_graphviz_package_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz now raises ImportError
    with pytest.raises(RuntimeError, match='pip install "minidl\\[viz\\]"'):
        mdl.graph(mdl.exp(vector()).sum()).render(tmp_path / "g.svg")


def test_render_without_the_dot_program_says_what_to_install(tmp_path, monkeypatch):
    pytest.importorskip("graphviz", reason='the graphviz package is not installed (pip install "minidl[viz]")')
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on it
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        mdl.graph(mdl.exp(vector()).sum()).render(tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()


def test_render_needs_an_extension_for_the_format(tmp_path):
    with pytest.raises(ValueError, match="extension"):
        mdl.graph(mdl.exp(vector()).sum()).render(tmp_path / "drawing")
