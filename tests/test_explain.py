"""scripts/explain.py: the lectures' traces, any safe expression, and the record of a training step."""
import importlib.util
import math
import pathlib
import shutil

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "explain.py"
spec = importlib.util.spec_from_file_location("explain", SCRIPT)
explain = importlib.util.module_from_spec(spec)
spec.loader.exec_module(explain)


def run(capsys, *args):
    explain.main(list(args))
    return capsys.readouterr().out


def last_lines(text, n):
    return [line.split() for line in text.strip().splitlines()[-n:]]


def test_without_arguments_it_traces_the_lectures_example(capsys):
    out = run(capsys)
    assert out.startswith("y = log(x1) + x1*x2 - sin(x2) at x1 = 2, x2 = 5")
    assert "v_4  = sin(v_0)   = -0.958924" in out
    assert last_lines(out, 2) == [["x̄1", "=", "v̄_-1", "=", "5.5"], ["x̄2", "=", "v̄_0", "=", "1.71634"]]


def test_an_expression_is_traced_at_the_given_point(capsys):
    out = run(capsys, "--expr", "sqrt(a) * exp(-b) / 2", "--at", "a=4", "b=0")
    assert "v_1  = sqrt(v_-1)" in out and "v_2  = -v_0" in out
    # d/da = exp(-b) / (4 sqrt(a)) = 0.125; d/db = -sqrt(a) exp(-b) / 2 = -1
    assert last_lines(out, 2) == [["a\u0304", "=", "v̄_-1", "=", "0.125"], ["b̄", "=", "v̄_0", "=", "-1"]]


def test_markdown_output(capsys):
    out = run(capsys, "--expr", "x1*x2", "--at", "x1=3", "x2=4", "--markdown")
    assert "| v_1 | v_-1 * v_0 | 12 |" in out and "| x̄1 | v̄_-1 | 4 |" in out


def test_the_expression_function_computes_on_tensors():
    f = explain.compile_expression("log(x1) + x1*x2 - sin(x2)", ["x1", "x2"])
    assert f(2.0, 5.0) == pytest.approx(math.log(2) + 10 - math.sin(5))


@pytest.mark.parametrize("expr", [
    "__import__('os').system('true')",  # a call of something not in FUNCTIONS
    "x.__class__",                      # attributes
    "x[0]",                             # subscripts
    "(lambda: 1)()",                    # lambdas
    "x if x else 1",                    # conditionals
    "x % 2",                            # an operator minidl's tables do not explain here
    "exp(x, out=x)",                    # keywords
    "'text' * x",                       # strings
])
def test_anything_beyond_numbers_variables_operators_and_functions_is_refused(expr):
    with pytest.raises(ValueError, match="not allowed|unknown name"):
        explain.compile_expression(expr, ["x"])


def test_unknown_and_unused_names_are_errors_that_say_what_to_do(capsys):
    with pytest.raises(SystemExit, match="unknown name 'y': give its value with --at y="):
        explain.main(["--expr", "x + y", "--at", "x=1"])
    with pytest.raises(SystemExit, match="--at gives z, which --expr 'x' does not use"):
        explain.main(["--expr", "x", "--at", "x=1", "z=2"])
    with pytest.raises(SystemExit, match="write NAME=VALUE"):
        explain.main(["--expr", "x", "--at", "x"])


def test_arithmetic_errors_in_the_numbers_are_reported_not_raised():
    with pytest.raises(SystemExit, match="float division by zero"):
        explain.main(["--expr", "x * (1 / 0)", "--at", "x=1"])


def test_the_model_report_of_one_training_step(capsys):
    out = run(capsys, "--model", "lenet5", "--batch-size", "2")
    assert "lenet5, one training step on a batch of 2" in out
    assert "\n0 (Conv2d): " in out and "\nCrossEntropyLoss: " in out
    assert "measured by tracemalloc: the record held" in out


def test_render_draws_the_record_or_says_what_is_missing(capsys, tmp_path):
    """With Graphviz (the Python package and its dot program) the drawing is an SVG; without, a clear error."""
    path = tmp_path / "lenet5.svg"
    can_draw = importlib.util.find_spec("graphviz") is not None and shutil.which("dot") is not None
    if can_draw:
        run(capsys, "--model", "lenet5", "--batch-size", "2", "--render", str(path))
        assert path.read_text().lstrip().startswith(("<?xml", "<svg"))
    else:
        with pytest.raises(RuntimeError, match="graphviz"):
            run(capsys, "--model", "lenet5", "--batch-size", "2", "--render", str(path))
        assert not path.exists()
