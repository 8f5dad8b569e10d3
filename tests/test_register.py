"""Custom ops (docs/design.md, Custom ops): ``circuitc.register`` feeds the same rule table.

Each registered op is checked against mpmath (its own definition at 30 digits, derivative by
``mpmath.diff``) and against central differences; registering a name that is not a plain
NumPy/math function is refused.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from oracles import assert_close, central_diff, mp_derivative

import circuitc
from circuitc import CircuitError

x, y = sp.symbols("x y", real=True)


class Expm1(sp.Function):
    """exp(x) - 1, accurate near 0."""

    nargs = 1


class Log1pTest(sp.Function):
    """log(1 + x)."""

    nargs = 1


class SoftplusTest(sp.Function):
    """log(1 + exp(x)), computed as logaddexp(0, x)."""

    nargs = 1


class HypotTest(sp.Function):
    """sqrt(x² + y²)."""

    nargs = 2


circuitc.register(Expm1, derivative=lambda g, ans, a: g * (ans + 1), numpy="expm1", math="expm1")
# a derivative that uses another registered op
circuitc.register(Log1pTest, derivative=lambda g, ans, a: g / (1 + a), numpy="log1p", math="log1p")
# softplus: NumPy's logaddexp takes (0, x); ``leading`` gives the constant first argument
circuitc.register(
    SoftplusTest,
    derivative=lambda g, ans, a: g * circuitc.sigmoid(a),
    numpy="logaddexp",
    leading=(0.0,),
)
circuitc.register(
    HypotTest,
    derivative=lambda g, ans, a, b: (g * a / ans, g * b / ans),
    numpy="hypot",
    math="hypot",
)

#: each registered op's definition, for mpmath
MP = {
    "Expm1": lambda a: mpmath.expm1(a),
    "Log1pTest": lambda a: mpmath.log1p(a),
    "SoftplusTest": lambda a: mpmath.log(1 + mpmath.exp(a)),
    "HypotTest": lambda a, b: mpmath.hypot(a, b),
}

UNARY = [
    ("Expm1", Expm1, [-30.0, -1.0, -1e-10, 0.0, 1e-10, 0.5, 20.0, 700.0]),
    ("Log1pTest", Log1pTest, [-0.999, -0.5, -1e-10, 0.0, 1e-10, 3.0, 1e10]),
    ("SoftplusTest", SoftplusTest, [-700.0, -30.0, -1.0, 0.0, 1e-8, 2.0, 30.0, 700.0, 1e4]),
]


def _ids(cases):
    return [c[0] for c in cases]


@pytest.mark.parametrize(("name", "cls", "points"), UNARY, ids=_ids(UNARY))
def test_unary_registered_op_against_mpmath_and_central_differences(name, cls, points):
    m = circuitc.compile(cls(x), wrt=[x], name=f"reg_{name.lower()}")
    assert "import circuitc" not in m.__source__
    for v in points:
        value, grad = m.value_and_grad(x=v)
        with mpmath.workdps(30):
            expected = float(MP[name](mpmath.mpf(v)))
        assert_close(value, expected, "mpmath", f"{name}({v})")
        slope = mp_derivative(MP[name], {"x": v}, ["x"], "x")
        assert_close(grad["x"], slope, "mpmath", f"{name}'({v})")
        if abs(v) < 1e3 and v > -0.99:  # inside the domain and no overflow of x ± h
            fd = central_diff(lambda t: m.forward(x=t), v, scale=min(1.0, abs(v + 1) / 1e3))
            assert_close(grad["x"], fd, "central", f"{name}'({v}) vs central differences")


def test_softplus_registered_is_stable_and_prints_the_constant_first():
    text = circuitc.source(SoftplusTest(x), wrt=[x], name="sp")
    assert "_np.logaddexp(0.0, x)" in text
    m = circuitc.compile(SoftplusTest(x), wrt=[x], name="sp")
    for v in (-1e4, 1e4):
        value, grad = m.value_and_grad(x=v)
        assert np.isfinite(value) and np.isfinite(grad["x"])
    assert m.value_and_grad(x=1e4) == (1e4, {"x": 1.0})
    # the same numbers as circuitc's own softplus
    ref = circuitc.compile(circuitc.softplus(x), wrt=[x], name="ref")
    for v in (-3.0, 0.0, 0.7, 12.0):
        assert_close(m.value_and_grad(x=v)[0], ref.value_and_grad(x=v)[0], "exact", "value")
        assert_close(m.grad(x=v)["x"], ref.grad(x=v)["x"], "exact", "slope")


def test_two_argument_registered_op():
    m = circuitc.compile(HypotTest(x, y) * x, wrt=[x, y], name="hyp")
    for a, b in ((3.0, 4.0), (-1.0, 2.5), (1e-3, -7.0)):
        value, grad = m.value_and_grad(x=a, y=b)
        assert_close(value, math.hypot(a, b) * a, "exact", "value")

        def f(p, q):
            return MP["HypotTest"](p, q) * p

        assert_close(
            grad["x"], mp_derivative(f, {"x": a, "y": b}, ["x", "y"], "x"), "mpmath", "d/dx"
        )
        assert_close(
            grad["y"], mp_derivative(f, {"x": a, "y": b}, ["x", "y"], "y"), "mpmath", "d/dy"
        )
        fd = central_diff(lambda t, a=a: m.forward(x=a, y=t), b)
        assert_close(grad["y"], fd, "central", "d/dy vs central differences")


def test_registered_ops_compose_with_builtins_and_each_other():
    expr = Log1pTest(Expm1(x) ** 2) + sp.sin(Expm1(x))
    m = circuitc.compile(expr, wrt=[x], name="compose")

    def f(a):
        e = mpmath.expm1(a)
        return mpmath.log1p(e**2) + mpmath.sin(e)

    for v in (-2.0, 0.1, 1.3):
        value, grad = m.value_and_grad(x=v)
        with mpmath.workdps(30):
            assert_close(value, float(f(mpmath.mpf(v))), "mpmath", "value")
        assert_close(grad["x"], mp_derivative(f, {"x": v}, ["x"], "x"), "mpmath", "slope")
    # Expm1(x) is one node, used twice: computed once
    assert m.__source__.split("def forward", 1)[1].split("return", 1)[0].count("expm1(x)") == 1


def test_batches_and_float32_through_a_registered_op():
    m = circuitc.compile(Expm1(x) * y, wrt=[x], name="batch")
    xs = np.linspace(-1, 1, 5).astype(np.float32)
    value, grad = m.value_and_grad(x=xs, y=np.float32(2.0))
    assert value.dtype == np.float32 and grad["x"].dtype == np.float32
    assert_close(grad["x"], 2 * np.exp(xs.astype(np.float64)), "float32", "d/dx")


# -- refusals -------------------------------------------------------------------------------------
class Bad(sp.Function):
    nargs = 1


@pytest.mark.parametrize(
    "numpy_name",
    [
        "os.system",
        "__import__",
        "_private",
        "",
        "sin; import os",
        "sin(0) or exec('1')",
        "lambda",
        "no_such_numpy_function",
        "pi",  # an attribute, but not a function
        "os",
        "import",
        "sin\n",
    ],
)
def test_bad_numpy_names_are_refused(numpy_name):
    with pytest.raises(CircuitError):
        circuitc.register(Bad, derivative=lambda g, ans, a: g, numpy=numpy_name)
    with pytest.raises(CircuitError):
        circuitc.register(Bad, derivative=lambda g, ans, a: g, numpy="sin", math=numpy_name)


@pytest.mark.parametrize("leading", [("0",), (float("nan"),), ("__import__('os')",), 0.0, (x,)])
def test_bad_leading_constants_are_refused(leading):
    with pytest.raises(CircuitError):
        circuitc.register(Bad, derivative=lambda g, ans, a: g, numpy="logaddexp", leading=leading)


def test_other_bad_registrations():
    with pytest.raises(CircuitError):
        circuitc.register(object, derivative=lambda g, ans, a: g, numpy="sin")
    with pytest.raises(CircuitError):
        circuitc.register(sp.sin(x), derivative=lambda g, ans, a: g, numpy="sin")
    with pytest.raises(CircuitError, match="sin"):
        circuitc.register(Bad, derivative=lambda g, ans, a: g, numpy="sin", name="sin")
    with pytest.raises(CircuitError):
        circuitc.register(Bad, derivative=lambda g, ans, a: g, numpy="sin", name="not an id")


def test_derivative_of_the_wrong_arity_is_refused_at_register_time():
    """One contribution for two arguments: refused when registered (it used to surface only
    when a circuit was compiled)."""

    class Wrong(sp.Function):
        nargs = 2

    with pytest.raises(CircuitError, match="Wrong.*1 contributions for 2"):
        circuitc.register(
            Wrong, derivative=lambda g, ans, a, b: g, numpy="hypot", name="wrong_arity"
        )


def test_builtin_heads_and_circuitc_op_names_cannot_be_registered():
    """Registering sin again would change every circuit's sin; an op named like one of the IR's
    own (where, mul, matmul...) would be mistaken for it."""
    for head in (sp.sin, sp.exp, sp.Abs, sp.Piecewise, circuitc.sigmoid):
        with pytest.raises(CircuitError, match="built in"):
            circuitc.register(head, derivative=lambda g, ans, a: 2 * g, numpy="sin", name="again")

    class Where(sp.Function):
        nargs = 1

    for name in (None, "mul", "add", "pow", "lt", "and", "const", "matmul"):
        with pytest.raises(CircuitError, match="circuitc's own"):
            circuitc.register(Where, derivative=lambda g, ans, a: g, numpy="sin", name=name)
    # sin is untouched
    m = circuitc.compile(sp.sin(x), wrt=[x], name="still_sin")
    assert m.value_and_grad(x=0.0) == (0.0, {"x": 1.0})


def test_registering_again_replaces_the_rule():
    """A notebook cell run twice, with the derivative fixed in between: the new rule counts."""

    class Twice(sp.Function):
        nargs = 1

    circuitc.register(Twice, derivative=lambda g, ans, a: g * sp.sin(a), numpy="sin")  # wrong
    assert circuitc.compile(Twice(x), wrt=[x], name="twice").grad(x=0.0)["x"] == 0.0
    circuitc.register(Twice, derivative=lambda g, ans, a: g * sp.cos(a), numpy="sin")  # right
    m = circuitc.compile(Twice(x), wrt=[x], name="twice")
    assert "= cos(x)" in m.__source__ and "= sin(x)" not in m.__source__  # the comment, too
    for v in (0.0, 0.4, -2.0):
        assert_close(m.grad(x=v)["x"], math.cos(v), "exact", f"d sin/dx at {v}")


def _define_cube():
    """A fresh class object each call, as re-running a notebook cell makes."""

    class Cube(sp.Function):
        nargs = 1

    return Cube


def test_registering_a_redefined_class_again_replaces_it():
    x = sp.Symbol("x")
    first = _define_cube()
    circuitc.register(
        first, derivative=lambda g, ans, a: 3 * g * a**2, numpy="cbrt", name="cube_op"
    )
    second = _define_cube()
    assert second is not first
    # the same definition run again: accepted, and the new rule is the one used
    circuitc.register(
        second, derivative=lambda g, ans, a: g * ans / (3 * a), numpy="cbrt", name="cube_op"
    )
    m = circuitc.compile(second(x), wrt=[x])
    value, grad = m.value_and_grad(x=8.0)
    assert value == pytest.approx(2.0)
    # oracle: d/dx x**(1/3) = x**(-2/3) / 3 by hand
    assert grad["x"] == pytest.approx(8.0 ** (-2 / 3) / 3, rel=1e-12)


def test_another_class_cannot_take_a_registered_name():
    class Other(sp.Function):
        nargs = 1

    class Again(sp.Function):
        nargs = 1

    circuitc.register(Other, derivative=lambda g, ans, a: g, numpy="negative", name="other_op")
    with pytest.raises(circuitc.CircuitError, match="other_op.*taken by.*Other.*name="):
        circuitc.register(Again, derivative=lambda g, ans, a: g, numpy="negative", name="other_op")
