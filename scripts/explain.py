#!/usr/bin/env python
"""See inside minidl: the lectures' evaluation and adjoint traces, and the record of one training step.

    python scripts/explain.py                                               # y = ln(x1) + x1*x2 - sin(x2) at (2, 5)
    python scripts/explain.py --expr "log(x1) + x1*x2 - sin(x2)" --at x1=2 x2=5
    python scripts/explain.py --expr "tanh(w*x + b)" --at w=0.5 x=2 b=-1 --markdown
    python scripts/explain.py --model lenet5 --batch-size 32                # the record of one training step
    python scripts/explain.py --model lenet5 --render lenet5.svg            # ... and its drawing (Graphviz)

The expression is parsed with ``ast`` and evaluated by walking its tree: only numbers, the
variables given with --at, + - * / ** (unary - and +) and the functions in FUNCTIONS are
allowed. Nothing is passed to eval or exec.
"""
import argparse
import ast
import gc
import inspect
import operator
import os
import sys
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

import minidl as mdl  # noqa: E402
from minidl import nn, optim, zoo  # noqa: E402

LECTURE = "log(x1) + x1*x2 - sin(x2)"  # y = ln(x1) + x1·x2 − sin(x2), at x1 = 2, x2 = 5
LECTURE_AT = ["x1=2", "x2=5"]
_CANDIDATES = ("log exp sin cos tan tanh sqrt sigmoid relu abs square log1p expm1 log2 log10 sinh cosh arcsin "
               "arccos arctan erf softplus maximum minimum arctan2 logaddexp").split()
FUNCTIONS = {name: getattr(mdl, name) for name in _CANDIDATES if hasattr(mdl, name)}  # those this minidl has
OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
             ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--expr", default=None, help=f"an expression in the --at variables (default: {LECTURE})")
    p.add_argument("--at", nargs="+", default=None, metavar="NAME=VALUE", help="the point, e.g. x1=2 x2=5")
    p.add_argument("--markdown", action="store_true", help="print the traces as Markdown tables")
    p.add_argument("--model", default=None, choices=zoo.list_models(),
                   help="instead, report the record of one training step of this zoo model")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--render", default=None, metavar="PATH", help="with --model: draw the record (.svg, .png)")
    args = p.parse_args(argv)
    if args.model is None and args.expr is None:
        args.expr, args.at = LECTURE, args.at or LECTURE_AT
    if args.expr is not None and not args.at:
        p.error("--expr needs the point: --at NAME=VALUE ...")
    return args


def parse_point(pairs):
    """``["x1=2", "x2=5"]`` -> ``{"x1": 2.0, "x2": 5.0}``, in the order given."""
    point = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise ValueError(f"--at {pair!r}: write NAME=VALUE, e.g. x1=2")
        try:
            point[name] = float(value)
        except ValueError:
            raise ValueError(f"--at {pair!r}: {value!r} is not a number") from None
    return point


def compile_expression(text, names):
    """A function of ``names`` (in that order) that evaluates ``text`` on minidl tensors.

    The tree is checked once, here: an unknown name, an unsupported operator or any other
    construct (attributes, subscripts, lambdas, keywords) raises ValueError naming it.
    """
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        raise ValueError(f"--expr {text!r} is not an expression: {err.msg}") from None
    for node in ast.walk(tree):
        _check(node, names)
    unused = [n for n in names if n not in {v.id for v in ast.walk(tree) if isinstance(v, ast.Name)}]
    if unused:
        raise ValueError(f"--at gives {', '.join(unused)}, which --expr {text!r} does not use")

    def f(*values):
        return _evaluate(tree.body, dict(zip(names, values)))
    f.__signature__ = inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    f.__name__ = "expression"
    return f


def _check(node, names):
    if isinstance(node, (ast.Expression, ast.Load, *OPERATORS)):
        return
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        return
    if isinstance(node, ast.UnaryOp) and type(node.op) in OPERATORS:
        return
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return
    if isinstance(node, ast.Name):
        if node.id not in names and node.id not in FUNCTIONS:
            raise ValueError(f"unknown name {node.id!r}: give its value with --at {node.id}=..., or use one of "
                             f"the functions {', '.join(sorted(FUNCTIONS))}")
        return
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS and not node.keywords:
        return
    what = ast.unparse(node) if not isinstance(node, (ast.operator, ast.unaryop)) else type(node).__name__
    raise ValueError(f"{what!r} is not allowed in --expr: use numbers, the --at variables, + - * / ** and "
                     f"the functions {', '.join(sorted(FUNCTIONS))}(...)")


def _evaluate(node, env):
    """The value of a checked tree (see ``_check``): a walk, never eval."""
    if isinstance(node, ast.Constant):
        return float(node.value)  # a float: 9**9**9 overflows at once instead of growing a huge int
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.BinOp):
        return OPERATORS[type(node.op)](_evaluate(node.left, env), _evaluate(node.right, env))
    if isinstance(node, ast.UnaryOp):
        return OPERATORS[type(node.op)](_evaluate(node.operand, env))
    return FUNCTIONS[node.func.id](*(_evaluate(a, env) for a in node.args))


def explain_expression(text, pairs, markdown):
    point = parse_point(pairs)
    f = compile_expression(text, list(point))
    try:
        trace = mdl.trace(f, *point.values())
    except ArithmeticError as err:  # in the numbers alone: 1/0, 9**9**9
        raise ValueError(f"--expr {text!r}: {err.args[-1] if err.args else type(err).__name__}") from None
    print(f"y = {text} at " + ", ".join(f"{k} = {v:g}" for k, v in point.items()) + "\n")
    print(trace.to_markdown() if markdown else trace)


def explain_model(name, batch_size, render):
    """Print the record of one SGD step of a zoo model on a random 1x28x28 batch, and what tracemalloc measures."""
    mdl.manual_seed(0)
    model = zoo.create(name)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    images, labels = rng.random((batch_size, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, batch_size)
    loss_fn = nn.CrossEntropyLoss()
    gc.collect()
    tracemalloc.start()  # after the model: what it sees is the batch (as a loader makes it) and the record
    with mdl.label_modules(model, loss_fn):  # forward hooks name each node after its module
        loss = loss_fn(model(mdl.tensor(images)), mdl.tensor(labels))
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    report = mdl.graph(loss)
    tracemalloc.reset_peak()
    optimizer.zero_grad()
    loss.backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    optimizer.step()
    print(f"{name}, one training step on a batch of {batch_size} (1x28x28, float32)\n")
    print(report)
    size = mdl.graph_report.size
    print(f"measured by tracemalloc: the record held {size(held)}, and the peak during backward() was {size(peak)}")
    if render:
        print(f"drawing written to {report.render(render)}")


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.model is not None:
            explain_model(args.model, args.batch_size, args.render)
        else:
            explain_expression(args.expr, args.at, args.markdown)
    except ValueError as err:
        sys.exit(f"explain.py: {err}")


if __name__ == "__main__":
    main()
