"""Edge cases that once gave a wrong answer silently, each against an independent oracle:
complex arguments, Heaviside's gradient in its value at 0, x**y's gradient in y at x = 0,
the dtype of a constant J, and line breaks in user text that reaches comments and strings.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

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


def test_real_arguments_of_every_kind_still_work(sin_xy):
    # hand-written NumPy oracle: J = sin(x) y, dJ/dx = cos(x) y
    for xv, yv in [(0.5, 2.0), (np.array([0.5, 1.0]), 2.0), ([0.5, 1.0], 2), (np.float32(0.5), 2)]:
        value, grad = sin_xy.value_and_grad(x=xv, y=yv)
        xa = np.asarray(xv, dtype=np.float64)
        np.testing.assert_allclose(value, np.sin(xa) * yv, rtol=1e-6)
        np.testing.assert_allclose(grad["x"], np.cos(xa) * yv, rtol=1e-6)
