"""Edge cases that once gave a wrong answer silently, each against an independent oracle:
complex arguments, Heaviside's gradient in its value at 0, x**y's gradient in y at x = 0,
the dtype of a constant J, and line breaks in user text that reaches comments and strings.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp
from oracles import assert_close, central_diff, mp_derivative

import circuitc

x, y = sp.symbols("x y")


# -- 1. complex arguments are refused, naming the argument ---------------------------------------
@pytest.fixture(scope="module")
def sin_xy():
    return circuitc.compile(sp.sin(x) * y, wrt=[x], name="sin_xy")


COMPLEX = [
    pytest.param(1j, id="python-complex"),
    pytest.param(np.complex128(1.0), id="numpy-complex-scalar"),
    pytest.param(np.array([1.0 + 0j, 2.0]), id="complex128-array"),
    pytest.param(np.array([1.0], dtype=np.complex64), id="complex64-array"),
    pytest.param([1.0, 2j], id="list-with-complex"),
]


@pytest.mark.parametrize("value", COMPLEX)
@pytest.mark.parametrize("fn", ["forward", "value_and_grad", "grad"])
@pytest.mark.parametrize("where", ["x", "y"])
def test_a_complex_argument_is_a_type_error_naming_it(sin_xy, value, fn, where):
    kwargs = {"x": 0.5, "y": 2.0, where: value}
    with pytest.raises(TypeError, match=f"argument '{where}' is complex"):
        getattr(sin_xy, fn)(**kwargs)


def test_the_numba_backend_refuses_a_complex_argument_too():
    pytest.importorskip("numba")
    m = circuitc.compile(sp.sin(x) * y, wrt=[x], name="sin_xy_numba", backend="numba")
    for fn in ("forward", "value_and_grad"):
        with pytest.raises(TypeError, match="argument 'y' is complex"):
            getattr(m, fn)(x=0.5, y=np.array([1.0, 2j]))


def test_real_arguments_of_every_kind_still_work(sin_xy):
    # hand-written NumPy oracle: J = sin(x) y, dJ/dx = cos(x) y
    for xv, yv in [(0.5, 2.0), (np.array([0.5, 1.0]), 2.0), ([0.5, 1.0], 2), (np.float32(0.5), 2)]:
        value, grad = sin_xy.value_and_grad(x=xv, y=yv)
        xa = np.asarray(xv, dtype=np.float64)
        np.testing.assert_allclose(value, np.sin(xa) * yv, rtol=1e-6)
        np.testing.assert_allclose(grad["x"], np.cos(xa) * yv, rtol=1e-6)


# -- 2. Heaviside(x, h0): the gradient in h0 is 1 where x == 0 -----------------------------------
def _mp_heaviside(xv, h0):
    return h0 if xv == 0 else (mpmath.mpf(1) if xv > 0 else mpmath.mpf(0))


def test_heaviside_gradient_in_its_value_at_zero_matches_mpmath():
    expr = sp.sin(y) * sp.Heaviside(x, y**2) + sp.Heaviside(x, y)
    m = circuitc.compile(expr, wrt=[x, y], name="heaviside_h0")

    def f(xv, yv):
        return mpmath.sin(yv) * _mp_heaviside(xv, yv**2) + _mp_heaviside(xv, yv)

    xs = np.array([-1.5, -0.0, 0.0, 0.0, 2.0, 1e-300])
    ys = np.array([0.3, -0.7, 1.2, 0.0, 2.5, 0.4])
    value, grad = m.value_and_grad(x=xs, y=ys)
    for i, (xv, yv) in enumerate(zip(xs, ys, strict=True)):
        point = {"x": float(xv), "y": float(yv)}
        assert_close(value[i], f(mpmath.mpf(point["x"]), mpmath.mpf(point["y"])), "mpmath", "J")
        want = mp_derivative(f, point, ["x", "y"], "y")
        assert_close(grad["y"][i], want, "mpmath", f"dJ/dy at {point}")
        assert grad["x"][i] == 0.0  # DESIGN.md: Heaviside's derivative in x is 0, also at 0
    # at x == 0 the gradient in h0 is not zero: the bug this guards against
    assert grad["y"][2] != 0.0


def test_heaviside_gradient_in_h0_keeps_float32_and_matches_central_differences():
    m = circuitc.compile(sp.Heaviside(x, y) * y, wrt=[y], name="heaviside_h0_f32")
    xs = np.array([0.0, 1.0, -1.0, 0.0], dtype=np.float32)
    ys = np.array([2.0, 2.0, 2.0, -3.0], dtype=np.float32)
    grad = m.grad(x=xs, y=ys)["y"]
    assert grad.dtype == np.float32
    for i in range(4):
        xv = float(xs[i])

        def along(t, xv=xv):
            return m.forward(x=xv, y=t)

        assert_close(grad[i], central_diff(along, float(ys[i])), "central", f"dJ/dy[{i}]")
    # hand-written: d(H(x, y) y)/dy = H(x, y) + y [x == 0]
    np.testing.assert_array_equal(grad, np.array([4.0, 1.0, 0.0, -6.0], dtype=np.float32))
