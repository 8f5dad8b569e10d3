"""Edge cases that once gave a wrong answer silently, each against an independent oracle:
complex arguments, Heaviside's gradient in its value at 0, x**y's gradient in y at x = 0,
the dtype of a constant J, and line breaks in user text that reaches comments and strings.
"""

from __future__ import annotations

import math

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
        assert grad["x"][i] == 0.0  # docs/design.md: Heaviside's derivative in x is 0, also at 0
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


# -- 3. x**y: the gradient in y at x = 0 is the limit 0 (not 0 * -inf = nan) ----------------------
def _mp_pow_grads(xv: float, yv: float) -> tuple[float, float]:
    """d(x**y)/dx and d(x**y)/dy by mpmath; at x = 0 (y > 0) d/dy is 0: 0**t is 0 for every
    t > 0 (and x**y log(x) -> 0 as x -> 0+), which mpmath confirms with a one-sided difference."""
    with mpmath.workdps(30):
        xm, ym = mpmath.mpf(xv), mpmath.mpf(yv)
        if xv == 0:
            assert yv > 0
            h = ym / 4
            dy = (xm ** (ym + h) - xm ** (ym - h)) / (2 * h)  # both powers are exactly 0
        else:
            dy = mpmath.diff(lambda t: xm**t, ym)
        if xv != 0:
            dx = float(mpmath.diff(lambda t: t**ym, xm))
        else:  # y x**(y-1) at x = 0: 0 for y > 1, 1 for y = 1, +inf for 0 < y < 1
            dx = 0.0 if yv > 1 else (1.0 if yv == 1 else math.inf)
        return dx, float(dy)


POW_GRID = [(0.0, 2.0), (0.0, 0.5), (0.0, 1.0), (0.0, 3.7), (0.5, 2.0), (2.0, 3.0), (3.0, -1.5)]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_power_gradient_in_the_exponent_at_zero_base_matches_mpmath(backend):
    if backend == "numba":
        pytest.importorskip("numba")
    m = circuitc.compile(x**y, wrt=[x, y], name=f"pow_{backend}", backend=backend)
    xs = np.array([p[0] for p in POW_GRID])
    ys = np.array([p[1] for p in POW_GRID])
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) in the branch not taken
        _, grad = m.value_and_grad(x=xs, y=ys)
    for i, (xv, yv) in enumerate(POW_GRID):
        dx, dy = _mp_pow_grads(xv, yv)
        assert_close(grad["y"][i], dy, "mpmath", f"d(x**y)/dy at x={xv}, y={yv}")
        assert_close(grad["x"][i], dx, "mpmath", f"d(x**y)/dx at x={xv}, y={yv}")
    assert np.all(grad["y"][xs == 0] == 0.0)  # was nan


def test_power_gradient_in_the_exponent_matches_central_differences_away_from_zero():
    expr = sp.sin(x) ** (y * x) + 2**y * x
    m = circuitc.compile(expr, wrt=[x, y], name="pow_cd")
    for xv, yv in [(0.7, 1.3), (1.2, -0.4), (2.5, 2.0)]:
        _, grad = m.value_and_grad(x=xv, y=yv)
        assert_close(
            grad["y"], central_diff(lambda t, xv=xv: m.forward(x=xv, y=t), yv), "central", "dJ/dy"
        )
        assert_close(
            grad["x"], central_diff(lambda t, yv=yv: m.forward(x=t, y=yv), xv), "central", "dJ/dx"
        )


def test_power_gradient_at_zero_base_inside_a_circuit_and_in_float32():
    # J = sum(x**y * w): dJ/dy = w x**y log(x), 0 where x = 0 (hand-written NumPy below)
    w = sp.Symbol("w")
    m = circuitc.compile(x**y * w, wrt=[y], name="pow_f32")
    xs = np.array([0.0, 0.25, 1.0, 4.0], dtype=np.float32)
    ys = np.array([1.5, 1.5, 2.0, 0.5], dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        grad = m.grad(x=xs, y=ys, w=np.float32(3.0))["y"]
    assert grad.dtype == np.float32 and np.all(np.isfinite(grad))
    x64, y64 = xs.astype(np.float64), ys.astype(np.float64)
    safe = np.where(x64 == 0, 1.0, x64)
    want = np.where(x64 == 0, 0.0, 3.0 * x64**y64 * np.log(safe))
    np.testing.assert_allclose(grad, want, rtol=1e-6, atol=1e-7)


# -- 4. a constant J follows the arguments' dtype (float32 in, float32 out) ------------------------
t = sp.Symbol("t")
CONSTANT_J = [
    pytest.param(lambda: circuitc.Circuit("const_j", t, [x], steps=[(t, sp.Integer(3))]), 3.0),
    pytest.param(lambda: circuitc.Circuit("const_half", sp.Rational(1, 2), [x]), 0.5),
    pytest.param(lambda: circuitc.Circuit("const_pi", sp.pi, [x, y]), np.pi),
]


@pytest.mark.parametrize("make, value", CONSTANT_J)
@pytest.mark.parametrize(
    "arg, dtype",
    [
        (np.float32(1.5), np.float32),
        (np.array([1.0, 2.0], dtype=np.float32), np.float32),
        (np.array([1.0, 2.0], dtype=np.float16), np.float16),
        (np.array([1.0, 2.0]), None),  # float64: a Python float, as for every scalar J
        (1.5, None),
        (2, None),
    ],
)
def test_a_constant_output_has_the_arguments_dtype(make, value, arg, dtype):
    c = make()
    m = circuitc.compile(c)
    kwargs = {s.name: arg for s in c.wrt}
    for j in (m.forward(**kwargs), m.value_and_grad(**kwargs)[0]):
        if dtype is None:
            assert type(j) is float and j == value
        else:
            # hand-written: the constant rounded to the arguments' dtype, as NumPy would
            assert type(j) is dtype and j == dtype(value)
    grad = m.grad(**kwargs)
    for s in c.wrt:
        assert (
            np.all(grad[s.name] == 0.0)
            and np.asarray(grad[s.name]).dtype == np.asarray(arg, dtype=dtype or np.float64).dtype
        )


def test_a_constant_prediction_has_the_arguments_dtype():
    m = circuitc.compile(
        circuitc.Circuit("const_pred", (x - y) ** 2, [x], prediction=sp.Integer(2))
    )
    p32 = m.predict(x=np.float32(1.0))
    assert type(p32) is np.float32 and p32 == 2
    p64 = m.predict(x=1.0)
    assert type(p64) is float and p64 == 2.0  # a float, never an int


# -- 5. no user text breaks a line of the emitted code --------------------------------------------
#: every character str.splitlines ends a line at (Python's tokenizer ends one at "\r" too)
BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def _code_tokens(source: str) -> list[str]:
    """The text of every token of ``source`` that is not a comment (Python's own tokenizer)."""
    import io
    import tokenize

    toks = tokenize.generate_tokens(io.StringIO(source).readline)
    return [tok.string for tok in toks if tok.type != tokenize.COMMENT]


@pytest.mark.parametrize("brk", BREAKS, ids=[ascii(b) for b in BREAKS])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_line_break_in_a_registered_class_name_stays_in_its_comment(brk, backend):
    if backend == "numba":
        pytest.importorskip("numba")
    # a class name that would be code after the break;
    # the function is fabs (f(a) = a for the a > 0 used here), its derivative written as
    # f(a)/a so that the class name reaches the comment of the backward line too
    cls = type(f"Same{brk}_injected = 1  #", (sp.Function,), {})
    op = f"same_{backend}_{BREAKS.index(brk)}"
    circuitc.register(
        cls, derivative=lambda g, ans, a: g * cls(a) / a, numpy="fabs", math="fabs", name=op
    )
    s = sp.Symbol("s")
    circuit = circuitc.Circuit("odd_names", s * 2, [x], steps=[(s, cls(x) * x + sp.sin(x))])
    if backend == "numba":
        src = circuitc.source(circuit, backend="numba")
    else:
        src = circuitc.source(circuit)
    # every line break in the module is a "\n" the emitter wrote
    assert src.splitlines() == src.split("\n")[:-1]
    # shown, escaped, in the steps (and in a backward line's comment: the NumPy module's only)
    assert src.count("Same") >= (2 if backend == "numpy" else 1)
    assert not any("_injected" in t for t in _code_tokens(src))
    if backend == "numpy":
        m = circuitc.compile(circuit)
        assert not hasattr(m, "_injected")
        # hand-written oracle: J = 2 (x*x + sin x), dJ/dx = 2 (2x + cos x)
        value, grad = m.value_and_grad(x=0.7)
        assert_close(value, 2 * (0.49 + math.sin(0.7)), "central", "J")
        assert_close(grad["x"], 2 * (1.4 + math.cos(0.7)), "central", "dJ/dx")


@pytest.mark.parametrize("brk", BREAKS, ids=[ascii(b) for b in BREAKS])
def test_a_line_break_in_a_circuit_or_symbol_name_is_refused(brk):
    with pytest.raises(circuitc.CircuitError):
        circuitc.Circuit(f"name{brk}x", x**2, [x])
    with pytest.raises(circuitc.CircuitError):
        circuitc.compile(sp.Symbol(f"x{brk}y") ** 2, wrt=[x])


def test_one_line_leaves_no_line_break_of_any_unicode_character():
    import sys

    from circuitc.emit.layout import one_line

    every = "".join(chr(i) for i in range(sys.maxunicode + 1))
    safe = one_line(every)
    assert len(safe.splitlines()) == 1 and "\x00" not in safe
    safe.encode("utf-8")  # no lone surrogate is left either
    assert one_line("log(sigmoid(a))") == "log(sigmoid(a))"  # printable text is kept as it is
