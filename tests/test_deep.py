"""Deep inputs (docs/design.md, Deep inputs): a 1000-level DAG as one SymPy expression, and a
10,000-step ``Circuit``.

Both compile without ``RecursionError`` (even with Python's recursion limit set far below their
depth), with IR op counts linear in depth (counts are asserted, never times), and their
gradients match oracles that share nothing with circuitc: the recurrence evaluated by a
plain Python loop, central differences of that loop, and forward-mode dual numbers.
"""

from __future__ import annotations

import math
import sys
from contextlib import contextmanager

import pytest
import sympy as sp
from oracles import assert_close, central_diff

import circuitc
from circuitc.pipeline import build

#: IR nodes per level of the DAG (forward and backward together) may not exceed this
NODES_PER_LEVEL = 40
#: forward ops per level: sin, cos, x·sin, x², 1+x², 1/(1+x²), cos·(…), the sum
FORWARD_PER_LEVEL = 10


class Dual:
    """A forward-mode dual number v + d·ε (ε² = 0): enough arithmetic for the recurrences."""

    __slots__ = ("v", "d")

    def __init__(self, v: float, d: float = 0.0):
        self.v, self.d = v, d

    @staticmethod
    def lift(o) -> Dual:
        return o if isinstance(o, Dual) else Dual(float(o))

    def __add__(self, o):
        o = Dual.lift(o)
        return Dual(self.v + o.v, self.d + o.d)

    __radd__ = __add__

    def __mul__(self, o):
        o = Dual.lift(o)
        return Dual(self.v * o.v, self.d * o.v + self.v * o.d)

    __rmul__ = __mul__

    def __truediv__(self, o):
        o = Dual.lift(o)
        return Dual(self.v / o.v, (self.d * o.v - self.v * o.d) / (o.v * o.v))


def dsin(u: Dual) -> Dual:
    return Dual(math.sin(u.v), math.cos(u.v) * u.d)


def dcos(u: Dual) -> Dual:
    return Dual(math.cos(u.v), -math.sin(u.v) * u.d)


def dag_loop(x0, a0, levels: int):
    """x ← sin(x)·x + cos(x)/(1+x²) + a, by a plain loop (works on floats and on Duals)."""
    v = x0
    for _ in range(levels):
        if isinstance(v, Dual):
            v = dsin(v) * v + dcos(v) / (1 + v * v) + a0
        else:
            v = math.sin(v) * v + math.cos(v) / (1 + v * v) + a0
    return v


@contextmanager
def recursion_limit(limit: int):
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def forward_ops(compiled) -> int:
    """Forward nodes that are operations (not leaves) in the output's cone."""
    g = compiled.graph
    return sum(1 for v in g.cone([compiled.output]) if g.nodes[v].op not in ("sym", "const"))


@pytest.fixture(scope="module")
def deep_modules(deep_dag):
    x, a = deep_dag["x"], deep_dag["a"]
    out = {}
    for levels in (500, 1000):
        circuit = circuitc.Circuit(f"dag{levels}", deep_dag[levels], [x, a])
        # far below the depth: any recursion over the expression would fail here; jvp and
        # hvp asked for (the 'auto' size leaves them out of a DAG this deep)
        with recursion_limit(250):
            compiled = build(circuit, second_order=True)
            module = circuitc.compile(circuit, second_order=True)
        out[levels] = (compiled, module)
    return out


def test_deep_dag_compiles_with_linear_op_counts(deep_modules):
    small, _ = deep_modules[500]
    large, _ = deep_modules[1000]
    for levels, c in ((500, small), (1000, large)):
        assert forward_ops(c) <= FORWARD_PER_LEVEL * levels, (levels, forward_ops(c))
        # the primal graph (forward and backward); the tangent sweeps add at most 2.5x as many
        # (jvp's tangents, hvp's tangents of both passes)
        assert c.primal_nodes <= NODES_PER_LEVEL * levels, (levels, c.primal_nodes)
        assert len(c.graph.nodes) <= 3.5 * c.primal_nodes, (levels, len(c.graph.nodes))
        assert len(c.updates) <= 3 * FORWARD_PER_LEVEL * levels
    # doubling the depth at most doubles the counts (plus the leaves)
    assert len(large.graph.nodes) <= 2 * len(small.graph.nodes) + 10
    assert forward_ops(large) <= 2 * forward_ops(small) + 10
    assert len(large.updates) <= 2 * len(small.updates) + 10
    # ... and does not shrink them either: every level is really there
    assert forward_ops(large) >= 1.9 * forward_ops(small)


def test_deep_dag_emitted_code_is_linear(deep_modules):
    small = deep_modules[500][1].__source__.count("\n")
    large = deep_modules[1000][1].__source__.count("\n")
    # twice the levels, twice the lines (5% for names one digit longer, whose chain-rule
    # comments more often go on a line of their own); a quadratic emitter would give 4x
    assert large <= 2.1 * small
    # forward, value_and_grad and grad within the old budget; jvp and hvp at most 3x that
    before = deep_modules[1000][1].__source__.split("\ndef jvp(", 1)[0].count("\n")
    assert before <= 40 * 1000
    assert large <= 4 * before


@pytest.mark.parametrize(("x0", "a0"), [(0.1, 0.05), (0.3, -0.2), (1.0, 0.5)])
def test_deep_dag_value_and_gradient(deep_modules, x0, a0):
    module = deep_modules[1000][1]
    value, grad = module.value_and_grad(x=x0, a=a0)
    assert_close(value, dag_loop(x0, a0, 1000), "exact", "J (plain loop)", scale=1e-10)
    # central differences of the plain loop
    fd_a = central_diff(lambda t: dag_loop(x0, t, 1000), a0)
    assert_close(grad["a"], fd_a, "central", "dJ/da vs central differences")
    fd_x = central_diff(lambda t: dag_loop(t, a0, 1000), x0)
    assert_close(grad["x"], fd_x, "central", "dJ/dx vs central differences")
    # forward-mode dual numbers of the same loop (exact derivatives, no step)
    dual_a = dag_loop(Dual(x0), Dual(a0, 1.0), 1000)
    dual_x = dag_loop(Dual(x0, 1.0), Dual(a0), 1000)
    assert_close(grad["a"], dual_a.d, "exact", "dJ/da vs dual numbers", scale=1e-9)
    assert_close(grad["x"], dual_x.d, "exact", "dJ/dx vs dual numbers", scale=1e-9)


@pytest.mark.parametrize(("x0", "a0"), [(0.3, -0.2), (1.0, 0.5)])
def test_deep_dag_jvp_and_hvp(deep_modules, x0, a0):
    """At 1000 levels: jvp against dual numbers of the plain loop, hvp against central
    differences of the module's own gradient (its rows; the Hessian is symmetric)."""
    module = deep_modules[1000][1]
    assert module.SECOND_ORDER
    _, grad = module.value_and_grad(x=x0, a=a0)
    value, dot = module.jvp({"x": 0.25, "a": -1.5}, x=x0, a=a0)
    dual = dag_loop(Dual(x0, 0.25), Dual(a0, -1.5), 1000)
    assert_close(value, dual.v, "exact", "J", scale=1e-10)
    assert_close(dot, dual.d, "exact", "J-dot vs dual numbers", scale=1e-9)
    assert_close(dot, 0.25 * grad["x"] - 1.5 * grad["a"], "exact", "J-dot vs grad", scale=1e-9)
    for name in ("x", "a"):
        hv = module.hvp({name: 1.0}, x=x0, a=a0)
        for row in ("x", "a"):
            point = {"x": x0, "a": a0}

            def g(t, point=point, row=row, name=name):
                return module.grad(**{**point, name: t})[row]

            fd = central_diff(g, point[name])
            assert_close(hv[row], fd, "central", f"d2J/d{row}d{name}", scale=max(1.0, abs(fd)))


def test_deep_dag_at_500_levels_agrees_too(deep_modules):
    module = deep_modules[500][1]
    value, grad = module.value_and_grad(x=0.7, a=0.1)
    dual = dag_loop(Dual(0.7), Dual(0.1, 1.0), 500)
    assert_close(value, dual.v, "exact", "J", scale=1e-10)
    assert_close(grad["a"], dual.d, "exact", "dJ/da", scale=1e-9)


# -- a 10,000-step Circuit ---------------------------------------------------------------------------
STEPS = 10_000


def sin_chain(n: int) -> circuitc.Circuit:
    """x_{k+1} = sin(x_k), one step each, J = x_n."""
    xs = [sp.Symbol("x")] + [sp.Symbol(f"x{k}") for k in range(1, n + 1)]
    steps = [(xs[k + 1], sp.sin(xs[k])) for k in range(n)]
    return circuitc.Circuit(f"sin_chain_{n}", xs[-1], [xs[0]], steps=steps)


@pytest.fixture(scope="module")
def chains():
    out = {}
    for n in (STEPS // 2, STEPS):
        with recursion_limit(250):
            compiled = build(sin_chain(n))
        out[n] = compiled
    return out


def test_step_circuit_op_counts_are_linear(chains):
    half, full = chains[STEPS // 2], chains[STEPS]
    assert forward_ops(full) == STEPS  # one sin per step, nothing else
    assert len(full.updates) == STEPS  # one backward line per step
    assert full.primal_nodes <= 5 * STEPS
    assert len(full.graph.nodes) <= 2 * len(half.graph.nodes) + 10


@pytest.fixture(scope="module")
def chain_module():
    return circuitc.compile(sin_chain(STEPS))


@pytest.mark.parametrize("x0", [0.5, -1.2, 3.0])
def test_step_circuit_matches_dual_numbers(chain_module, x0):
    module = chain_module
    value, grad = module.value_and_grad(x=x0)
    d = Dual(x0, 1.0)
    for _ in range(STEPS):
        d = dsin(d)
    assert_close(value, d.v, "exact", "x_n")
    assert_close(grad["x"], d.d, "exact", "dx_n/dx_0", scale=abs(d.d))
    # the emitted code names each step
    assert "    x10000 = _np.sin(x9999)" in module.__source__
