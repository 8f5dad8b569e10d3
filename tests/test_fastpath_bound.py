"""The ``math`` fast path's documented bound, on random scalar circuits (docs/design.md,
Conventions): the fast path factors adjoint sums, so it rounds differently from the NumPy
path; both stay within ``BOUND · ε · M`` of the exact value, where ``M`` is the first-order
running error bound (Wilkinson) of the NumPy path's own sequence of operations.

``M`` is computed here by running the NumPy path's operations, in its order, on ``Err``
numbers: every operation adds the magnitude of its result (it rounds once, to within one ulp)
and passes on its operands' bounds scaled by the magnitude of its partial derivatives. The
exact value is mpmath's, at 30 digits, of SymPy's own derivative.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from oracles import mp_function

import circuitc
from circuitc.api import as_circuit
from circuitc.emit.fastpath import FastPrinter
from circuitc.emit.plan import plan
from circuitc.pipeline import build

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

#: the documented bound, in units of ε = 2**-52 times M
BOUND = 2
EPS = 2.0**-52

SYMBOLS = sp.symbols("x y z", real=True)


class Err:
    """A float and a first-order bound on its rounding error, in units of ε: an operation
    adds |result| (one rounding, within one ulp) to its operands' bounds times |partials|."""

    __slots__ = ("v", "e")

    def __init__(self, v: float, e: float = 0.0):
        self.v, self.e = float(v), e

    @staticmethod
    def of(a) -> Err:
        return a if isinstance(a, Err) else Err(a)

    def __add__(self, other):
        o = Err.of(other)
        v = self.v + o.v
        return Err(v, self.e + o.e + abs(v))

    __radd__ = __add__

    def __sub__(self, other):
        o = Err.of(other)
        v = self.v - o.v
        return Err(v, self.e + o.e + abs(v))

    def __rsub__(self, other):
        return Err.of(other) - self

    def __mul__(self, other):
        o = Err.of(other)
        v = self.v * o.v
        return Err(v, abs(o.v) * self.e + abs(self.v) * o.e + abs(v))

    __rmul__ = __mul__

    def __truediv__(self, other):
        o = Err.of(other)
        v = self.v / o.v
        return Err(v, self.e / abs(o.v) + abs(v) * o.e / abs(o.v) + abs(v))

    def __rtruediv__(self, other):
        return Err.of(other) / self

    def __neg__(self):
        return Err(-self.v, self.e)

    def __pow__(self, k):
        v = self.v**k
        return Err(v, abs(k * self.v ** (k - 1)) * self.e + abs(v))


class ErrMath:
    """``_math`` for ``Err`` numbers: the functions the fast path may call."""

    pi, e = Err(math.pi, math.pi), Err(math.e, math.e)

    @staticmethod
    def sin(a):
        return Err(math.sin(a.v), abs(math.cos(a.v)) * a.e + abs(math.sin(a.v)))

    @staticmethod
    def cos(a):
        return Err(math.cos(a.v), abs(math.sin(a.v)) * a.e + abs(math.cos(a.v)))

    @staticmethod
    def sqrt(a):
        r = math.sqrt(a.v)
        return Err(r, a.e / (2 * r) + r if r else math.inf)


def running_bounds(expr, wrt, point) -> dict[str, float]:
    """M of J and of each gradient: the NumPy path's operations (the plan's lines before the
    fast path's passes: every node and every contribution, in the notes' order) on ``Err``."""
    c = build(as_circuit(expr, wrt, "bound"))
    p = plan(c, math=True, printer_class=FastPrinter)
    env = {"_math": ErrMath, **{k: Err(v) for k, v in point.items()}}
    for line in p.forward_full + p.backward:
        value = eval(line.rhs, {}, env)  # noqa: S307 - circuitc's own printed arithmetic
        if line.op == "+=":
            value = env[line.lhs] + value
        elif line.op == "-=":
            value = env[line.lhs] - value
        env[line.lhs] = value
    out = {"J": Err.of(eval(p.output, {}, env)).e}  # noqa: S307
    for name, text in p.grads:
        out[name] = Err.of(eval(text, {}, env)).e  # noqa: S307
    return out


# -- random scalar circuits: + - * /, sin, cos, sqrt, integer powers; values reused (fan-out)
UNARY = [
    lambda a: sp.sin(a),
    lambda a: sp.cos(a),
    lambda a: a**2,
    lambda a: sp.sin(a) ** 3,
    lambda a: sp.sqrt(1 + a**2),
    lambda a: 1 / (2 + sp.cos(a)),
]
BINARY = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / (1 + b**2),
    lambda a, b: 3 * a * b + sp.Rational(1, 2) * a,
]


@st.composite
def circuits(draw):
    """A circuit of 2 to 9 steps over 1 to 3 symbols, each step reading earlier values."""
    n = draw(st.integers(1, 3))
    values = list(SYMBOLS[:n])
    for _ in range(draw(st.integers(2, 9))):
        pick = st.integers(0, len(values) - 1)
        if draw(st.booleans()):
            values.append(draw(st.sampled_from(UNARY))(values[draw(pick)]))
        else:
            values.append(draw(st.sampled_from(BINARY))(values[draw(pick)], values[draw(pick)]))
    J = values[-1] + values[draw(st.integers(n, len(values) - 1))]
    wrt = sorted(J.free_symbols, key=lambda s: s.name)
    return J, wrt


def _numpy_path(fn, point):
    with np.errstate(all="ignore"):
        return fn(**{k: np.float64(v) for k, v in point.items()})


def check_bound(J, wrt, point, module=None):
    """The fast path and the NumPy path against mpmath, within BOUND·ε·M; and each other."""
    module = module or circuitc.compile(J, wrt=wrt, name="bound")
    value, grad = module.value_and_grad(**point)
    ref_value, ref_grad = _numpy_path(module.value_and_grad, point)
    M = running_bounds(J, wrt, point)
    exact = {"J": mp_function(J, wrt)(point)}
    exact |= {s.name: mp_function(sp.diff(J, s), wrt)(point) for s in wrt}
    fast = {"J": value} | grad
    numpy = {"J": ref_value} | ref_grad
    for key, m in M.items():
        if not (math.isfinite(m) and m < 1e250 and math.isfinite(exact[key])):
            continue  # an overflow on the way: the fast path hands such points to NumPy
        tol = BOUND * EPS * m + 2 * EPS * abs(exact[key]) + 1e-300  # + mpmath's own rounding
        assert abs(fast[key] - exact[key]) <= tol, (key, fast[key], exact[key], m)
        assert abs(numpy[key] - exact[key]) <= tol, (key, numpy[key], exact[key], m)
        assert abs(fast[key] - numpy[key]) <= 2 * tol, (key, fast[key], numpy[key], m)


@pytest.mark.slow
@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    circuits(), st.lists(st.floats(-3, 3).filter(lambda v: abs(v) > 1e-3), min_size=3, max_size=3)
)
def test_random_circuits_are_within_the_bound(circuit, coords):
    J, wrt = circuit
    assume(wrt and not J.is_number)
    module = circuitc.compile(J, wrt=wrt, name="bound")
    assume("if _type(" in module.__source__)  # a circuit whose every op has a fast path
    point = {s.name: float(v) for s, v in zip(wrt, coords, strict=False)}
    check_bound(J, wrt, point, module)


def test_the_small_example_is_within_the_bound():
    x = SYMBOLS[0]
    J = sp.cos(sp.sin(x**2) + 3 * x**2)
    module = circuitc.compile(J, wrt=[x], name="small")
    for v in np.random.default_rng(5).uniform(-3, 3, 200):
        check_bound(J, [x], {"x": float(v)}, module)
