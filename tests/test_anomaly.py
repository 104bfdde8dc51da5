"""detect_anomaly: NaN/Inf named by op and by the forward call's file:line; nothing at all when it is off."""
import sys
import threading

import pytest

import minidl as mdl
from minidl import modes, nn

THIS_FILE = __file__
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy warns of the NaN and Inf these tests make


def here():
    """The line number of the caller."""
    return sys._getframe(1).f_lineno


def test_a_forward_op_producing_nan_raises_naming_the_op_and_the_line():
    x = mdl.tensor([1.0, -1.0])
    line = here() + 2
    with mdl.detect_anomaly(), pytest.raises(mdl.AnomalyError) as info:
        mdl.log(x)
    assert "forward op log produced NaN or Inf" in str(info.value)
    assert f"{THIS_FILE}:{line} (`mdl.log(x)`)" in str(info.value)


def test_a_forward_op_producing_inf_raises_naming_the_op():
    with mdl.detect_anomaly(), pytest.raises(mdl.AnomalyError, match="forward op exp produced NaN or Inf"):
        mdl.tensor([1000.0]).exp()


def test_nothing_is_checked_outside_the_block():
    with mdl.detect_anomaly():
        pass
    assert mdl.log(mdl.tensor(-1.0)).isfinite().item() is False


def test_a_vjp_producing_inf_raises_naming_the_op_the_argument_and_the_forward_line():
    x = mdl.tensor([0.0, 4.0], requires_grad=True)
    with mdl.detect_anomaly():
        line = here() + 1
        y = mdl.sqrt(x)
        with pytest.raises(mdl.AnomalyError) as info:
            y.sum().backward()
    message = str(info.value)
    assert "the gradient of sqrt with respect to argument 0 (x) contains NaN or Inf" in message
    assert f"{THIS_FILE}:{line} (`y = mdl.sqrt(x)`)" in message


def test_a_tensor_method_is_located_at_the_users_line_not_in_tensor_py():
    x = mdl.tensor([0.0], requires_grad=True)
    with mdl.detect_anomaly():
        line = here() + 1
        y = x.sqrt()
        with pytest.raises(mdl.AnomalyError, match=f"{THIS_FILE}:{line} "):
            y.backward(mdl.ones(1))


def test_an_op_called_inside_minidl_names_that_line_and_the_users_line():
    layer = nn.Linear(2, 1)
    x = mdl.tensor([[float("inf"), 1.0]])
    line = here() + 2
    with mdl.detect_anomaly(), pytest.raises(mdl.AnomalyError) as info:
        layer(x)
    message = str(info.value)
    assert "minidl/nn/" in message.split("called at ")[1].split(", from ")[0]
    assert f"from {THIS_FILE}:{line} (`layer(x)`)" in message


def test_a_vjp_under_create_graph_is_still_named_as_a_gradient():
    x = mdl.tensor([0.0], requires_grad=True)
    with mdl.detect_anomaly():
        y = mdl.sqrt(x).sum()
        with pytest.raises(mdl.AnomalyError, match="the gradient of sqrt"):
            mdl.autograd.grad(y, x, create_graph=True)


def test_a_node_recorded_outside_the_block_is_named_without_a_line():
    x = mdl.tensor([0.0], requires_grad=True)
    y = mdl.sqrt(x).sum()
    with mdl.detect_anomaly(), pytest.raises(mdl.AnomalyError, match="recorded outside detect_anomaly"):
        y.backward()


def test_check_nan_false_records_where_ops_ran_without_checking():
    with mdl.detect_anomaly(check_nan=False):
        assert mdl.is_anomaly_enabled() and not modes.is_anomaly_check_nan_enabled()
        x = mdl.tensor([-1.0], requires_grad=True)
        line = here() + 1
        y = mdl.log(x)
    assert f"{THIS_FILE}:{line}" in y.grad_fn.stack.location()
    y.backward(mdl.ones(1))  # a finite gradient: nothing to report either way


def test_the_switch_is_restored_after_an_error_and_works_as_a_decorator():
    @mdl.detect_anomaly()
    def bad():
        return mdl.log(mdl.tensor(-1.0))
    with pytest.raises(mdl.AnomalyError):
        bad()
    assert not mdl.is_anomaly_enabled() and modes.anomaly_threads == 0


def test_anomaly_mode_belongs_to_the_thread_that_set_it():
    inside, done = threading.Event(), threading.Event()
    results = {}

    def checking():
        with mdl.detect_anomaly():
            inside.set()
            done.wait(5)
            try:
                mdl.log(mdl.tensor(-1.0))
            except mdl.AnomalyError:
                results["checking"] = "raised"

    thread = threading.Thread(target=checking)
    thread.start()
    inside.wait(5)
    results["other"] = mdl.log(mdl.tensor(-1.0)).isfinite().item()  # this thread is not in the mode
    done.set()
    thread.join()
    assert results == {"other": False, "checking": "raised"}


def test_unused_hook_and_anomaly_machinery_is_never_entered():
    """The forward and backward of a chain through a module call nothing in hooks.py or anomaly.py when
    no hook is registered and detect_anomaly() is off: their cost is the inline checks only."""
    layer = nn.Linear(4, 4)
    x = mdl.randn(3, 4, requires_grad=True)
    entered = set()

    def profile(frame, event, arg):
        name = frame.f_code.co_filename
        if event == "call" and name.endswith(("minidl/hooks.py", "minidl/anomaly.py")):
            entered.add(f"{name.rsplit('/', 1)[-1]}:{frame.f_code.co_name}")
    sys.setprofile(profile)
    try:
        y = layer(x)
        for i in range(200):
            y = mdl.sin(y) if i % 2 else y * 0.999
        y.sum().backward()
    finally:
        sys.setprofile(None)
    assert entered == set() and x.grad is not None
