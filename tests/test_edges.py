"""Corner cases of circuits that once broke the core, each against a hand-written oracle:
steps that are just an input or a constant, a constant output, and constants too large for
an int64 or a float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from oracles import assert_close

import circuitc

x, y, t, s = sp.symbols("x y t s")


def test_a_step_that_is_an_input():
    m = circuitc.compile(circuitc.Circuit("alias", t * 2 + sp.sin(t), [x], steps=[(t, x)]))
    value, grad = m.value_and_grad(x=1.5)
    assert_close(value, 3.0 + math.sin(1.5), "exact", "J")
    assert_close(grad["x"], 2.0 + math.cos(1.5), "exact", "dJ/dx")


def test_a_step_that_is_a_data_input_and_a_second_parameter():
    m = circuitc.compile(circuitc.Circuit("alias2", t * x, [x, y], steps=[(t, y)]))
    assert m.value_and_grad(x=2.0, y=3.0) == (6.0, {"x": 3.0, "y": 2.0})


@pytest.mark.parametrize("output", [t, t * x])
def test_a_step_that_is_a_constant(output):
    m = circuitc.compile(circuitc.Circuit("const_step", output, [x], steps=[(t, sp.Integer(3))]))
    value, grad = m.value_and_grad(x=1.5)
    if output == t:
        assert value == 3.0 and type(value) is float and grad == {"x": 0.0}
    else:
        assert value == 4.5 and grad == {"x": 3.0}


def test_two_steps_with_one_expression():
    m = circuitc.compile(circuitc.Circuit("same", t + s, [x], steps=[(t, x**2), (s, x**2)]))
    assert m.value_and_grad(x=1.5) == (4.5, {"x": 6.0})


@pytest.mark.parametrize("const", [sp.Integer(3), sp.pi, sp.Rational(1, 3), sp.Float(0.25)])
def test_a_constant_output(const):
    m = circuitc.compile(const, wrt=[x], name="constant")
    value, grad = m.value_and_grad(x=2.0)
    assert type(value) is float and value == float(const)
    assert grad == {"x": 0.0} and type(grad["x"]) is float
    assert type(m.forward(x=2.0)) is float
    _, grad = m.value_and_grad(x=np.ones(3))
    np.testing.assert_array_equal(grad["x"], np.zeros(3))


def test_huge_integer_and_fraction_constants():
    m = circuitc.compile(x * 10**30 + y * sp.Rational(10**400, 3), wrt=[x], name="huge")
    value, grad = m.value_and_grad(x=2.0, y=0.0)
    assert math.isnan(value)  # inf * 0, as float64 arithmetic has it
    value, grad = m.value_and_grad(x=2.0, y=1.0)
    assert value == math.inf and grad["x"] == 1e30
    tiny = circuitc.compile(x * sp.Rational(1, 10**400) + x, wrt=[x], name="tiny")
    assert tiny.value_and_grad(x=2.0) == (2.0, {"x": 1.0})
    # an integer beyond 2**53 is its nearest float
    big = circuitc.compile(x * (2**64 + 1), wrt=[x], name="big")
    assert big.grad(x=1.0)["x"] == float(2**64)
    assert big.forward(x=np.ones(2, dtype=np.float32)).dtype == np.float32


# -- a negated contribution is subtracted -----------------------------------------------------------
@pytest.mark.parametrize(
    "expr",
    [
        x * y - y * sp.sin(x) + sp.cos(y) * x,
        x - x * y,
        -(y * sp.log(x)) - (1 - y) * sp.log(1 - x),
        x - 3 * x * y**2 - sp.exp(-x),
    ],
)
def test_negated_contributions_are_subtracted_and_right(expr):
    text = circuitc.source(expr, wrt=[x, y], name="neg")
    backward = text.split("# backward", 1)[1].split("_grad = {", 1)[0]
    assert "+= -" not in backward and "+ (-" not in backward, backward
    m = circuitc.compile(expr, wrt=[x, y], name="neg")
    point = {"x": 0.3, "y": 0.7}
    _, grad = m.value_and_grad(**point)
    for name, sym in (("x", x), ("y", y)):
        expected = float(
            sp.diff(expr, sym).evalf(30, subs={x: sp.Rational(3, 10), y: sp.Rational(7, 10)})
        )
        assert_close(grad[name], expected, "mpmath", f"dJ/d{name} of {expr}")


# -- a sum of negative terms printed inline ---------------------------------------------------------
@pytest.mark.parametrize(
    "expr",
    [
        sp.sqrt(-y - 1) + x,
        sp.exp(-y - 2 * s) * x,
        sp.Piecewise((sp.sqrt(-y - 1), y < -1.2), (sp.exp(-y), y > 1), (-y, True)) * x,
    ],
)
def test_inline_sum_of_negative_terms(expr):
    m = circuitc.compile(expr, wrt=[x], name="negsum")
    for yv in (-3.0, 0.5, 2.0):
        point = {"x": 2.0, "y": yv, "s": 0.25}
        kw = {k: v for k, v in point.items() if k in (*m.WRT, *m.INPUTS)}
        with np.errstate(invalid="ignore"):
            value, grad = m.value_and_grad(**kw)
        subs = {sp.Symbol(k): sp.Float(v, 30) for k, v in point.items()}
        exact = expr.evalf(30, subs=subs)
        if exact.is_real is False:  # sqrt of a negative number: nan in float64
            assert np.isnan(value)
            continue
        assert_close(value, float(exact), "mpmath", f"{expr} at y={yv}")
        assert_close(grad["x"], float(sp.diff(expr, x).evalf(30, subs=subs)), "mpmath", "dJ/dx")


# -- predict() does not need the target -------------------------------------------------------------
def test_predict_needs_only_what_the_prediction_reads():
    w, b, xx, yy = sp.symbols("w b x y")
    s = circuitc.sigmoid(w * xx + b)
    loss = -(yy * sp.log(s) + (1 - yy) * sp.log(1 - s))
    c = circuitc.Circuit("lr", loss, [w, b], features=[xx], target=yy, prediction=s)
    m = circuitc.compile(c)
    xs = np.array([-2.0, 0.0, 3.0])
    expected = 1 / (1 + np.exp(-(0.5 * xs - 0.25)))
    assert_close(m.predict(w=0.5, b=-0.25, x=xs), expected, "exact", "predict without y")
    # the target may still be given (training code passes a whole batch), and is ignored
    assert_close(m.predict(w=0.5, b=-0.25, x=xs, y=np.ones(3)), expected, "exact", "with y")
    with pytest.raises(TypeError, match="'x'"):
        m.predict(w=0.5, b=-0.25)


def test_a_step_the_output_does_not_use_but_the_backward_pass_rebuilds():
    """atan's derivative 1/(1 + x**2) rebuilds x**2, the node of the unused step t."""
    c = circuitc.Circuit("dead", s * x, [x], steps=[(t, x**2), (s, sp.atan(x))])
    m = circuitc.compile(c)
    value, grad = m.value_and_grad(x=0.5)
    assert_close(value, 0.5 * math.atan(0.5), "exact", "J")
    assert_close(grad["x"], math.atan(0.5) + 0.5 / 1.25, "exact", "dJ/dx")
