"""Python floats beside float64 arrays on the NumPy path (``emit/floats.py``).

The prologue's fast test lets a scalar argument stay a Python float when the arrays are all
float64 and no value computed from Python floats alone reaches Python's ``/`` or ``**`` (which
raise where NumPy gives inf/nan). Checked: which arguments are allowed, that the results are
the very numbers of the call with NumPy float64 scalars (the converting path) and of NumPy
written by hand, that division by zero and overflow still give inf/nan, and that jvp, hvp and
jacobian take Python floats too.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import circuitc
from circuitc.emit.floats import may_stay_floats
from circuitc.front.circuit import as_circuit
from circuitc.pipeline import build

w, b, x, y = sp.symbols("w b x y")

CASES = {
    # expr, wrt, the scalar arguments that may stay Python floats
    "affine": (w * x + b, [w, b], {"w", "b", "x"}),
    "exp_sq": (sp.exp(w * x) + w**2 * y, [w], {"w", "x", "y"}),
    "sqrt": (sp.sqrt(w) * x, [w], {"w", "x"}),
    "div_by_param": (x / w, [w], {"x"}),  # w / Python 0.0 would raise
    "cube": (w**3 * x, [w], {"x"}),  # 1e200**3 would raise OverflowError
    "sq_of_sum": ((w + b) ** 2 * x, [w, b], {"x"}),  # (w + b)**2 printed with **
    "div_of_data": (w / x, [w], {"w"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_which_arguments_may_stay_floats(case):
    expr, wrt, want = CASES[case]
    c = build(as_circuit(expr, wrt, case))
    names = [n for n, _ in c.wrt] + c.inputs
    assert may_stay_floats(c, names) == want


def test_division_by_zero_and_overflow_stay_numpy():
    """x / w at a Python 0.0 and w**3 at 1e200: inf as NumPy gives, never an exception."""
    data = np.array([1.0, -2.0, 0.0])
    div = circuitc.compile(x / w, wrt=[w])
    with np.errstate(all="ignore"):
        J, g = div.value_and_grad(w=0.0, x=data)
        J64, g64 = div.value_and_grad(w=np.float64(0.0), x=data)
    np.testing.assert_array_equal(J, J64)
    np.testing.assert_array_equal(g["w"], g64["w"])
    assert np.isinf(J[0]) and np.isnan(J[2])
    cube = circuitc.compile(w**3 * x, wrt=[w])
    with np.errstate(all="ignore"):
        J, g = cube.value_and_grad(w=1e200, x=data)
    assert np.isinf(J[0]) and not np.isfinite(g["w"])  # inf·1 + inf·(-2): nan


def hand_affine_exp(wv, xv, yv):
    """J = exp(w x) + w² y and dsum(J)/dw, by hand."""
    e = np.exp(wv * xv)
    return e + wv * wv * yv, float(np.sum(xv * e + 2 * wv * yv))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(n=st.integers(1, 20), wv=st.floats(-3, 3), seed=st.integers(0, 999))
def test_floats_give_the_converting_paths_numbers(n, wv, seed):
    """A Python float w beside float64 arrays: J and the gradient bit for bit those of the call
    with a NumPy float64 (the converting path) and within rounding of the hand formula."""
    m = _exp_sq()
    rng = np.random.default_rng(seed)
    xv, yv = rng.normal(size=n), rng.normal(size=n)
    J, g = m.value_and_grad(w=wv, x=xv, y=yv)
    J64, g64 = m.value_and_grad(w=np.float64(wv), x=xv, y=yv)
    np.testing.assert_array_equal(J, J64)
    assert g["w"] == g64["w"] and type(g["w"]) is float
    want_J, want_g = hand_affine_exp(wv, xv, yv)
    np.testing.assert_allclose(J, want_J, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(g["w"], want_g, rtol=1e-12, atol=1e-12)


_MODULES: dict[str, object] = {}


def _exp_sq():
    if "exp_sq" not in _MODULES:
        expr, wrt, _ = CASES["exp_sq"]
        _MODULES["exp_sq"] = circuitc.compile(expr, wrt=wrt, name="exp_sq")
    return _MODULES["exp_sq"]


def test_source_tests_floats_only_where_allowed():
    src = circuitc.source(x / w + b * x, wrt=[w, b])
    assert "_f64(b)" in src and "_f64(x)" in src
    assert "_f64(w)" not in src and "_type(w) is _ndarray" in src


def test_jvp_hvp_jacobian_take_python_floats():
    """The forward-mode functions with a Python float parameter, against hand derivatives:
    d/dw [exp(w x) + w² y] = x e + 2 w y, d²/dw² = x² e + 2 y."""
    m = _exp_sq()
    xv, yv = np.array([0.5, -1.0, 2.0]), np.array([1.0, 2.0, -0.5])
    wv = 0.3
    e = np.exp(wv * xv)
    J, dot = m.jvp({"w": 2.0}, w=wv, x=xv, y=yv)
    np.testing.assert_allclose(dot, 2.0 * (xv * e + 2 * wv * yv), rtol=1e-14)
    hv = m.hvp({"w": 1.5}, w=wv, x=xv, y=yv)
    np.testing.assert_allclose(hv["w"], 1.5 * np.sum(xv * xv * e + 2 * yv), rtol=1e-13)
    X = sp.MatrixSymbol("X", 3, 1)  # jacobian() is for matrix outputs: d exp(w X)/dw = X e
    mat = circuitc.compile((w * X).applyfunc(sp.exp), wrt=[w], name="exp_wX")
    Xv = xv.reshape(3, 1)
    jac = mat.jacobian(w=wv, X=Xv)
    np.testing.assert_allclose(jac["w"], Xv * np.exp(wv * Xv), rtol=1e-14)
