"""``Piecewise`` (docs/design.md, Conventions): nested ``where`` with the double-``where`` pattern.

Values and gradients are checked against mpmath (SymPy's own ``Piecewise`` and its
``sympy.diff``) and central differences away from the boundaries; at points where the branch
not taken would be nan or inf, the gradient must stay finite.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sympy as sp
from oracles import EPS, assert_close, central_diff, finite, mp_function

import circuitc

x, y = sp.symbols("x y", real=True)

CASES = {
    "log_or_zero": (sp.Piecewise((sp.log(x), x > 0), (0, True)), [-3.0, -1e-8, 1e-8, 0.5, 4.0]),
    "sqrt_shifted": (sp.Piecewise((sp.sqrt(x - 2), x > 2), (x, True)), [-5.0, 0.0, 1.0, 2.5, 9.0]),
    "three_pieces": (
        sp.Piecewise((sp.sin(x), x < 0), (x**3, x < 2), (sp.exp(x), True)),
        [-4.0, -0.5, 0.5, 1.5, 2.5, 10.0],
    ),
    "and_condition": (
        sp.Piecewise((x**2, sp.And(x > -1, x < 1)), (sp.Abs(x), True)),
        [-3.0, -0.5, 0.25, 0.9, 1.5],
    ),
    "or_condition": (
        sp.Piecewise((sp.cos(x), sp.Or(x < -1, x > 1)), (1 - x**2 / 2, True)),
        [-3.0, -0.5, 0.25, 1.5],
    ),
    "nested": (
        sp.Piecewise((sp.Piecewise((sp.log(x), x > 1), (x - 1, True)), x > 0), (sp.sqrt(-x), True)),
        [-4.0, -0.25, 0.5, 0.99, 1.01, 3.0],
    ),
    "reciprocal_or_linear": (sp.Piecewise((1 / x, x > 1), (2 - x, True)), [-2.0, 0.0, 0.5, 3.0]),
}


#: where each case switches pieces (or a piece's domain ends)
BOUNDARIES = {
    "log_or_zero": [0.0],
    "sqrt_shifted": [2.0],
    "three_pieces": [0.0, 2.0],
    "and_condition": [-1.0, 1.0],
    "or_condition": [-1.0, 1.0],
    "nested": [0.0, 1.0],
    "reciprocal_or_linear": [1.0],
}


@pytest.fixture(scope="module")
def modules():
    return {k: circuitc.compile(e, wrt=[x], name=f"pw_{k}") for k, (e, _) in CASES.items()}


def _all_points():
    return [pytest.param(k, v, id=f"{k}[{v:g}]") for k, (_, pts) in CASES.items() for v in pts]


@pytest.mark.parametrize(("key", "v"), _all_points())
def test_values_and_gradients_against_mpmath_and_central_differences(modules, key, v):
    expr, _ = CASES[key]
    m = modules[key]
    value, grad = m.value_and_grad(x=v)
    assert_close(value, mp_function(expr, [x])({"x": v}), "mpmath", f"{key}({v})")
    slope = mp_function(sp.diff(expr, x), [x])({"x": v})
    assert_close(grad["x"], slope, "mpmath", f"{key}'({v})")
    # the step stays well inside the piece: a thousandth of the distance to the nearest boundary
    dist = min(abs(v - b) for b in BOUNDARIES[key])
    fd = central_diff(lambda t: m.forward(x=t), v, scale=min(max(1.0, abs(v)), dist / 1000 / EPS))
    assert_close(grad["x"], fd, "central", f"{key}'({v}) vs central differences")


def test_double_where_log_branch_gives_finite_gradients_and_no_warnings(modules):
    m = modules["log_or_zero"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log is never even evaluated at x <= 0
        for v in (0.0, -0.0, -1.0, -1e300):
            value, grad = m.value_and_grad(x=v)
            assert value == 0.0 and grad["x"] == 0.0
        xs = np.array([-2.0, 0.0, 1.0, np.e])
        value, grad = m.value_and_grad(x=xs)
    np.testing.assert_allclose(value, [0.0, 0.0, 0.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(grad["x"], [0.0, 0.0, 1.0, 1 / np.e], rtol=1e-15)


def test_double_where_sqrt_branch_gives_finite_gradients(modules):
    m = modules["sqrt_shifted"]
    for v in (2.0, 1.0, 0.0, -5.0, -1e300):
        value, grad = m.value_and_grad(x=v)
        assert value == v and grad["x"] == 1.0, (v, value, grad)
    xs = np.array([-3.0, 2.0, 2.0 + 1e-12, 6.0])
    with np.errstate(invalid="ignore"):
        value, grad = m.value_and_grad(x=xs)
    assert finite(value) and finite(grad["x"])
    np.testing.assert_allclose(grad["x"][[0, 1, 3]], [1.0, 1.0, 0.25], rtol=1e-15)


def test_reciprocal_branch_at_zero_gives_finite_gradient(modules):
    m = modules["reciprocal_or_linear"]
    value, grad = m.value_and_grad(x=0.0)
    assert value == 2.0 and grad["x"] == -1.0


def test_condition_only_variables_get_zero_gradient():
    m = circuitc.compile(sp.Piecewise((x, y > 0), (2 * x, True)), wrt=[x, y])
    assert m.value_and_grad(x=3.0, y=1.0) == (3.0, {"x": 1.0, "y": 0.0})
    assert m.value_and_grad(x=3.0, y=-1.0) == (6.0, {"x": 2.0, "y": 0.0})
    value, grad = m.value_and_grad(x=np.ones(4), y=np.array([-1.0, 1.0, -2.0, 2.0]))
    np.testing.assert_array_equal(value, [2.0, 1.0, 2.0, 1.0])
    np.testing.assert_array_equal(grad["x"], [2.0, 1.0, 2.0, 1.0])
    np.testing.assert_array_equal(grad["y"], np.zeros(4))


def test_two_symbols_in_the_condition_and_the_branches():
    expr = sp.Piecewise((x * y, x > y), (x + y**2, True))
    m = circuitc.compile(expr, wrt=[x, y])
    for a, b in ((2.0, 1.0), (-1.0, 3.0), (0.5, -4.0)):
        _, grad = m.value_and_grad(x=a, y=b)
        for name, s in (("x", x), ("y", y)):
            slope = mp_function(sp.diff(expr, s), [x, y])({"x": a, "y": b})
            assert_close(grad[name], slope, "mpmath", f"d/d{name} at {(a, b)}")


def test_piecewise_without_a_default_is_nan_where_no_condition_holds():
    m = circuitc.compile(sp.Piecewise((x**2, x > 0)), wrt=[x])
    assert m.forward(x=2.0) == 4.0
    assert np.isnan(m.forward(x=-2.0))
    assert m.grad(x=2.0)["x"] == 4.0


def test_piecewise_inside_a_condition_becomes_ite():
    """SymPy turns ``Piecewise(...) > c`` into ``ITE(cond, a > c, b > c)``: a boolean where."""
    inner = sp.Piecewise((sp.log(x), x > 0.5), (x**2, True))
    expr = sp.Piecewise((sp.sin(inner), inner > 0.2), (inner**3, True)) * y
    assert any(isinstance(a, sp.ITE) for a in sp.preorder_traversal(expr))
    m = circuitc.compile(expr, wrt=[x, y])
    value_of = mp_function(expr, [x, y])
    slope_of = mp_function(sp.diff(expr, x), [x, y])
    for v in (0.1, 0.4, 0.7, 1.5, 3.0):
        point = {"x": v, "y": 2.0}
        value, grad = m.value_and_grad(**point)
        assert_close(value, value_of(point), "mpmath", f"J({v})")
        assert_close(grad["x"], slope_of(point), "mpmath", f"dJ/dx({v})")
        assert_close(grad["y"], value / 2.0, "exact", f"dJ/dy({v})")


@pytest.mark.parametrize(
    ("expr", "points"),
    [
        (sp.Piecewise((sp.sqrt(x - 2), x > 2), (x, True)), [-5.0, 0.0, 1.0, 2.0, 3.0]),
        (sp.Piecewise((x, x > 2), (sp.sqrt(2 - x), True)), [-5.0, 0.0, 1.0, 3.0, 1e300]),
        (sp.Piecewise((sp.acos(x), sp.And(x > -1, x < 1)), (0, True)), [-5.0, 0.5, 3.0]),
        (
            sp.Piecewise(
                (sp.sin(x), x < 0), (sp.sqrt(x) * sp.log(2 - x), x < 2), (sp.exp(x), True)
            ),
            [-5.0, 0.5, 1.0, 3.0],
        ),
    ],
)
def test_branches_not_taken_compute_inside_their_domain(expr, points):
    """The masked inputs of a branch take a value where its condition holds (3 for x > 2),
    so the branch not taken warns of nothing; the results are SymPy's."""
    m = circuitc.compile(expr, wrt=[x])
    value_of = mp_function(expr, [x])
    slope_of = mp_function(sp.diff(expr, x), [x])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for v in points:
            value, grad = m.value_and_grad(x=v)
            assert_close(value, value_of({"x": v}), "mpmath", f"J({v})")
            assert_close(grad["x"], slope_of({"x": v}), "mpmath", f"dJ/dx({v})")
        value, grad = m.value_and_grad(x=np.array(points))
    assert finite(value) and finite(grad["x"])


def test_conditions_of_three_terms():
    """And/Or of three comparisons (NumPy's logical_and is binary: they are chained)."""
    expr = sp.Piecewise(
        (sp.acos(x) * y, sp.And(x > -1, x < 1, y > 0)),
        (x**2, sp.Or(x > 5, x < -5, y < -3)),
        (x + y, True),
    )
    m = circuitc.compile(expr, wrt=[x, y])
    for a, b in ((-5.5, 1.0), (0.5, 1.0), (0.5, -1.0), (6.0, 1.0), (0.0, -4.0), (2.0, 2.0)):
        point = {"x": a, "y": b}
        value, grad = m.value_and_grad(**point)
        assert_close(value, mp_function(expr, [x, y])(point), "mpmath", f"J{(a, b)}")
        for name, s in (("x", x), ("y", y)):
            slope = mp_function(sp.diff(expr, s), [x, y])(point)
            assert_close(grad[name], slope, "mpmath", f"dJ/d{name}{(a, b)}")


def test_a_step_read_by_a_branch_is_masked_inside_its_domain():
    t = sp.Symbol("t")
    c = circuitc.Circuit(
        "masked_step", sp.Piecewise((sp.sqrt(t), t > 0), (0, True)) * y, [x], steps=[(t, x - 2)]
    )
    m = circuitc.compile(c)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for v, want in ((1.0, 0.0), (-5.0, 0.0), (6.0, 0.25 * 3.0)):
            value, grad = m.value_and_grad(x=v, y=3.0)
            assert grad["x"] == want
            assert value == (3.0 * np.sqrt(v - 2) if v > 2 else 0.0)
