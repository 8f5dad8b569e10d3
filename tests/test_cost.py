"""``circuitc cost``: op counts of the emitted passes, beside the naive ``sympy.diff`` route.

The expected counts are derived by hand: a product of n symbols is n - 1 multiplications, and
each of its partial derivatives (a product of the n - 1 others) is n - 2 of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

import circuitc
from circuitc import cli
from circuitc.views.cost import cost, expand_steps, naive_route, tree_ops

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "examples" / "small_example.py"


def product(n: int):
    xs = sp.symbols(f"x0:{n}")
    return sp.Mul(*xs), list(xs)


def test_counts_on_a_product_of_n_symbols_grow_linearly():
    counts = {}
    for n in (10, 100, 1000):
        expr, xs = product(n)
        r = cost(expr, wrt=xs, naive=False)
        assert r.forward_ops == n - 1
        # reverse mode: every partial from prefix and suffix products, a few ops per factor
        assert n <= r.backward_ops <= 4 * n
        assert r.ratio <= 4
        counts[n] = r.backward_ops
    # linear: growing n tenfold grows the increment tenfold (n log n or n² would not)
    step_small = counts[100] - counts[10]
    step_large = counts[1000] - counts[100]
    assert 9 * step_small <= step_large <= 11 * step_small


def test_naive_route_of_a_small_product_is_counted_by_hand():
    expr, xs = product(10)
    r = cost(expr, wrt=xs, time_limit=60)
    n = r.naive
    assert n.status == "done", n.message
    assert n.expanded_ops == 9
    assert n.diff_ops == {x.name: 8 for x in xs}
    assert n.diff_tree_ops == 80
    assert n.cse_ops is not None and n.cse_ops <= n.diff_tree_ops
    text = str(r)
    assert "80 ops" in text and "with cse" in text


def test_small_example_cost():
    x = sp.Symbol("x")
    t, u1, u2, u, J = sp.symbols("t u1 u2 u J")
    steps = [(t, x**2), (u1, sp.sin(t)), (u2, 3 * t), (u, u1 + u2), (J, sp.cos(u))]
    r = cost(circuitc.Circuit("small_example", J, [x], steps=steps), time_limit=60)
    # five forward ops: x², sin, 3·, +, cos
    assert r.forward_ops == 5
    # the backward reads t (cos(t)) and u (sin(u)), not u1 or u2
    assert "t" in r.kept and "u" in r.kept
    assert "u1" not in r.kept and "u2" not in r.kept
    assert r.naive.status == "done"
    # the expanded J = cos(sin(x²) + 3x²) is a tree of 6 ops (x² counted twice)
    assert r.naive.expanded_ops == 6


def test_expand_steps_substitutes_without_recursion_of_ours():
    x = sp.Symbol("x")
    steps, prev = [], x
    for k in range(4):
        s = sp.Symbol(f"s{k}")
        steps.append((s, sp.sin(prev)))
        prev = s
    c = circuitc.Circuit("chain", prev, [x], steps=steps)
    assert expand_steps(c) == sp.sin(sp.sin(sp.sin(sp.sin(x))))
    assert tree_ops(expand_steps(c)) == 4


def test_a_time_limit_stops_the_naive_route():
    expr, xs = product(10)
    circuit = circuitc.Circuit("prod", expr, xs)
    n = naive_route(circuit, time_limit=0.0)
    assert n.status == "stopped"
    assert n.expanded_ops is None and n.cse_ops is None
    r = cost(circuit, time_limit=0.0)
    assert "stopped after 0 s" in str(r)


def test_a_recursion_error_is_the_naive_route_failing():
    # 3000 nested sin: SymPy's recursive helpers cannot differentiate (or even build) it
    x = sp.Symbol("x")
    steps, prev = [], x
    for k in range(3000):
        s = sp.Symbol(f"s{k}")
        steps.append((s, sp.sin(prev)))
        prev = s
    circuit = circuitc.Circuit("deep", prev, [x], steps=steps)
    r = cost(circuit, time_limit=120)
    assert r.naive.status == "failed"
    assert "RecursionError" in r.naive.message
    assert r.forward_ops == 3000  # circuitc itself compiled it: one sin per step
    # one cos and one multiplication per step (the first one, by dJ/dJ = 1, may be folded)
    assert r.backward_ops in (5999, 6000)
    assert "failed" in str(r)


def test_cli_cost(capsys):
    assert cli.main(["cost", str(SMALL), "--time-limit", "60"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith("cost of small_example")
    assert "forward ops" in out and "naive" in out
    assert cli.main(["cost", str(SMALL), "--no-naive", "--format", "markdown"]) == 0
    out, _ = capsys.readouterr()
    assert "| forward ops | 5 |" in out and "naive" not in out
    assert cli.main(["cost", str(SMALL), "--time-limit", "-1"]) == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_report_formats(fmt):
    expr, xs = product(3)
    r = cost(expr, wrt=xs, naive=False)
    text = r.format(fmt)
    assert "forward ops" in text and "backward / forward" in text
    assert r._repr_markdown_() == r.format("markdown")


def test_matrix_nodes_sympy_cannot_differentiate_are_reported_not_counted():
    X = sp.MatrixSymbol("X", 4, 3)
    W = sp.MatrixSymbol("W", 3, 2)
    # SymPy's diff treats circuitc.nn.sum as a constant and would answer 0
    r = cost(circuitc.nn.sum(circuitc.nn.sigmoid(X * W)), wrt=[W], time_limit=60)
    assert r.naive.status == "failed" and "MatrixSum" in r.naive.message
    assert r.naive.diff_tree_ops is None
    assert r.forward_ops == 3  # matmul, sigmoid, sum


def logistic_map(levels: int) -> circuitc.Circuit:
    x = sp.Symbol("x")
    y, steps = x, []
    for i in range(levels):
        s = sp.Symbol(f"y{i}")
        steps.append((s, sp.Rational(37, 10) * y * (1 - y)))
        y = s
    return circuitc.Circuit(f"logmap{levels}", y, [x], steps=steps)


def test_the_naive_route_blows_up_where_reverse_mode_stays_linear():
    small, large = cost(logistic_map(4), time_limit=60), cost(logistic_map(8), time_limit=60)
    assert small.naive.status == large.naive.status == "done"
    # each level is the same few ops: twice the levels, twice the ops (give or take the seed)
    assert abs(large.forward_ops - 2 * small.forward_ops) <= 2
    assert abs(large.backward_ops - 2 * small.backward_ops) <= 2
    # the expanded derivative, a tree, grows far faster than twice
    assert large.naive.diff_tree_ops > 8 * small.naive.diff_tree_ops
    assert large.naive.diff_tree_ops > 100 * large.backward_ops


def test_dims_naming_no_dimension_of_the_circuit_is_refused(capsys):
    """``--dims N=1000`` on a circuit without N said "at N=1000" over per-number bytes."""
    from circuitc.cli import main

    small = str(Path(__file__).resolve().parents[1] / "examples" / "small_example.py")
    assert main(["cost", small, "--no-naive", "--dims", "N=1000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dimension N" in err and "no dimension symbols" in err
    mlp = str(Path(__file__).resolve().parents[1] / "examples" / "mlp.py")
    assert main(["cost", mlp, "--no-naive", "--dims", "N=8,M=3"]) == 2
    assert "dimension M" in capsys.readouterr().err
    assert main(["cost", mlp, "--no-naive", "--dims", "N=8"]) == 0
    assert "at N=8" in capsys.readouterr().out
