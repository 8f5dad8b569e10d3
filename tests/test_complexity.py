"""Compile cost is linear in the circuit: op counts of the emitted code, never wall-clock times.

Each circuit of the issue's part 3 is compiled and the operations of its generated
``value_and_grad`` are counted from the source text (arithmetic operators and library calls,
comments excluded): the backward pass must cost at most a small constant times the forward
pass, and doubling the circuit must at most (about) double the count. The gradients are also
checked against hand-written loops, so a cheap but wrong backward pass cannot pass.
"""

from __future__ import annotations

import io
import math
import tokenize

import numpy as np
import pytest
import sympy as sp
from measure import sin_chain

import circuitc

#: the backward pass may cost this many times the forward pass (the notes' "small constant")
BACKWARD_FACTOR = 4

_ARITH = {"+", "-", "*", "/", "**", "@", "+=", "-=", "*=", "/="}


def count_ops(source: str) -> tuple[int, int]:
    """(forward, backward) operation counts of ``value_and_grad`` in a generated module."""
    body = source.split("\ndef value_and_grad(", 1)[1].split("\ndef ", 1)[0]
    forward, backward = body.split("# backward", 1)
    forward = forward.split("# forward", 1)[1]
    return _ops(forward), _ops(backward.split("\n", 1)[1].split("grad = {", 1)[0])


def _ops(text: str) -> int:
    """Arithmetic operators plus calls of ``_np.*``/``_math.*``/helpers in some lines of code."""
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(text).readline)
        if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)
    ]
    count = 0
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.OP and tok.string in _ARITH:
            count += 1
        elif (
            tok.type == tokenize.NAME
            and i + 1 < len(tokens)
            and tokens[i + 1].string == "("
            and tok.string.startswith("_")
            and tok.string not in ("_ones_like", "_zeros_like")
        ) or (tok.type == tokenize.NAME and i > 0 and tokens[i - 1].string == "."):
            count += 1  # a call such as _np.sin( or _sigmoid(
    return count


# -- the three circuits of part 3 (and the 1000-level DAG of the profiling brief) ---------------


def product(n: int) -> tuple[sp.Expr, list[sp.Symbol]]:
    xs = list(sp.symbols(f"p0:{n}"))
    return sp.Mul(*xs), xs


def logistic_map(levels: int) -> tuple[sp.Expr, sp.Symbol, sp.Symbol]:
    """x_{k+1} = r x_k (1 - x_k), as one SymPy expression (SymPy flattens the products)."""
    x, r = sp.symbols("x r")
    e = x
    for _ in range(levels):
        e = r * e * (1 - e)
    return e, x, r


def dag(levels: int) -> tuple[sp.Expr, sp.Symbol, sp.Symbol]:
    """x <- sin(x)·x + cos(x)/(1+x²) + a: every level uses the previous one four times.

    The symbols are named after ``levels`` so that SymPy's construction cache never compares
    two deep expressions (that comparison recurses).
    """
    x, a = sp.symbols(f"x{levels} a{levels}")
    e = x
    for _ in range(levels):
        e = sp.sin(e) * e + sp.cos(e) / (1 + e**2) + a
    return e, x, a


def _check_ratio(text: str) -> tuple[int, int]:
    fwd, bwd = count_ops(text)
    assert fwd > 0
    assert bwd <= BACKWARD_FACTOR * fwd, (fwd, bwd)
    return fwd, bwd


# -- the op counter itself -----------------------------------------------------------------------
def test_count_ops_counts_the_small_example():
    x = sp.Symbol("x")
    text = circuitc.source(sp.cos(sp.sin(x**2) + 3 * x**2), wrt=[x])
    fwd, bwd = count_ops(text)
    # x**2, 3*t0, sin, t1 + t2, cos: five forward operations
    assert fwd == 5
    assert 5 <= bwd <= 12


# -- part 3 ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_sin_chain_10000_steps_is_linear_and_right():
    n = 10_000
    module = circuitc.compile(sin_chain(n))
    fwd, bwd = _check_ratio(_src(module))
    assert fwd == n
    x0 = 0.7
    value, grad = module.value_and_grad(x=x0)
    v, d = x0, 1.0  # hand-written forward-mode loop
    for _ in range(n):
        v, d = math.sin(v), d * math.cos(v)
    assert value == pytest.approx(v, rel=1e-12)
    assert grad["x"] == pytest.approx(d, rel=1e-9)


def test_sin_chain_op_count_doubles_with_the_chain():
    small = sum(count_ops(circuitc.source(sin_chain(500))))
    large = sum(count_ops(circuitc.source(sin_chain(1000))))
    assert large <= 2 * small + 10


@pytest.mark.slow
def test_all_partials_of_a_product_of_1000_symbols_cost_O_n():
    n = 1000
    expr, xs = product(n)
    text = circuitc.source(expr, wrt=xs, name="product")
    fwd, bwd = _check_ratio(text)
    assert fwd == n - 1  # one multiplication per extra factor
    assert bwd <= 3 * n  # prefix products (with the adjoint), suffix products, one per partial
    module = circuitc.compile(expr, wrt=xs, name="product")
    rng = np.random.default_rng(0)
    vals = rng.uniform(0.5, 1.5, n)
    value, grad = module.value_and_grad(**{s.name: float(v) for s, v in zip(xs, vals, strict=True)})
    total = math.prod(vals)
    assert value == pytest.approx(total, rel=1e-12)
    got = np.array([grad[s.name] for s in xs])
    np.testing.assert_allclose(got, total / vals, rtol=1e-11)


def test_product_op_count_doubles_with_the_factors():
    small = sum(count_ops(circuitc.source(*product(100))))
    large = sum(count_ops(circuitc.source(*product(200))))
    assert large <= 2 * small + 10


def test_logistic_map_20_levels_is_linear_and_right():
    expr, x, r = logistic_map(20)
    text = circuitc.source(expr, wrt=[x, r], name="logistic_map")
    _check_ratio(text)
    module = circuitc.compile(expr, wrt=[x, r], name="logistic_map")
    x0, r0 = 0.3, 3.7
    value, grad = module.value_and_grad(x=x0, r=r0)
    # hand-written forward mode: (value, d/dx, d/dr)
    v, dx, dr = x0, 1.0, 0.0
    for _ in range(20):
        v, dx, dr = (
            r0 * v * (1 - v),
            r0 * (1 - 2 * v) * dx,
            v * (1 - v) + r0 * (1 - 2 * v) * dr,
        )
    assert value == pytest.approx(v, rel=1e-9)
    assert grad["x"] == pytest.approx(dx, rel=1e-7)
    assert grad["r"] == pytest.approx(dr, rel=1e-7)


@pytest.mark.slow
def test_deep_dag_is_linear_and_right():
    n = 400  # SymPy itself needs seconds to build the 1000-level expression (benchmarks do)
    expr, x, a = dag(n)
    module = circuitc.compile(expr, wrt=[x, a], name="dag")
    _check_ratio(_src(module))
    x0, a0 = 0.1, 0.05
    value, grad = module.value_and_grad(**{x.name: x0, a.name: a0})
    # hand-written forward mode
    v, dx, da = x0, 1.0, 0.0
    for _ in range(n):
        dv = math.cos(v) * v + math.sin(v) - math.sin(v) / (1 + v * v)
        dv -= math.cos(v) * 2 * v / (1 + v * v) ** 2
        v, dx, da = (
            math.sin(v) * v + math.cos(v) / (1 + v * v) + a0,
            dv * dx,
            dv * da + 1.0,
        )
    assert value == pytest.approx(v, rel=1e-9)
    assert grad[x.name] == pytest.approx(dx, rel=1e-6, abs=1e-12)
    assert grad[a.name] == pytest.approx(da, rel=1e-6)


def test_dag_op_count_doubles_with_the_levels():
    e100, *wrt100 = dag(100)
    e200, *wrt200 = dag(200)
    # both with jvp and hvp (200 levels are above second_order="auto"'s size: like with like)
    small = sum(count_ops(circuitc.source(e100, wrt=wrt100, second_order=True)))
    large = sum(count_ops(circuitc.source(e200, wrt=wrt200, second_order=True)))
    assert large <= 2 * small + 10


def _src(module) -> str:
    return module.__source__


def test_replayed_rules_build_the_same_module_as_lowering_each_rule(monkeypatch):
    """The sweep lowers each scalar rule once and replays its builder calls per node; the
    emitted module must be byte-identical to lowering the rule's SymPy form at every node."""
    from circuitc.calculus import reverse

    x, y, z = sp.symbols("x y z")
    exprs = [
        sp.cos(sp.sin(x**2) + 3 * x**2),
        sp.exp(x * y) / (1 + x**2) + sp.tanh(z) * sp.atan2(y, x),
        sp.log(circuitc.sigmoid(x * y)) + circuitc.softplus(x - z),
        sp.sqrt(x**2 + y**2) ** 3 + x**y + sp.asin(x / 2) * sp.acos(y / 3),
        sp.Abs(x - y) * sp.sign(x) + sp.Max(x, y) * sp.Min(x, z),
        x ** sp.Rational(3, 2) * y**-3 + 1 / (x * y * z) + sp.sinh(x) * sp.cosh(y) * sp.tan(z),
        sp.Piecewise((x**2, x > 0), (sp.sin(x), True)) * x * y * z * sp.cos(x) * sp.sin(z),
    ]
    replayed = [circuitc.source(e, wrt=[x, y, z], name="ab") for e in exprs]
    monkeypatch.setattr(reverse, "_program", lambda *args: None)
    lowered = [circuitc.source(e, wrt=[x, y, z], name="ab") for e in exprs]
    assert replayed == lowered


# -- the emitter's own walks are linear too (not just the code it writes) -------------------------
class _CountingNodes(list):
    """A graph's node list that counts reads, so a walk's work is measured without a clock."""

    reads = 0

    def __getitem__(self, i):
        _CountingNodes.reads += 1
        return super().__getitem__(i)


def _render_reads(n: int) -> int:
    from circuitc.emit.render import render
    from circuitc.pipeline import build

    compiled = build(sin_chain(n))
    compiled.graph.nodes = _CountingNodes(compiled.graph.nodes)
    _CountingNodes.reads = 0
    render(compiled)  # every function of the module: forward, gradient, jvp, hvp
    return _CountingNodes.reads


def test_rendering_reads_the_graph_a_linear_number_of_times():
    # a walk per line (the tangent lines' dependency walk once was one) reads a chain n²/2 times
    small, large = _render_reads(150), _render_reads(600)
    assert large <= 4.6 * small, (small, large)
