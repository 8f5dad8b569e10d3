"""The scalar fast path: Python floats run ``math`` code with the NumPy path's results.

The NumPy path is reached with the same numbers as NumPy float64 scalars (the fast path runs
for Python floats only), and the two results are compared bit for bit — ``inf``, ``nan`` and
the sign of zero included — on grids that reach overflow (``x**2`` of 1e200), domain edges
(``sqrt`` of a negative, ``sin`` of inf, a division by 0) and the tiniest subnormal. J is
always the NumPy path's bit for bit; so are the gradients of a circuit whose fast path
factors nothing (``FACTORED`` lists those that do: their gradients round differently, within
the bound ``test_fastpath_bound.py`` checks on random circuits).
"""

from __future__ import annotations

import itertools
import math
import sys

import numpy as np
import pytest
import sympy as sp
from oracles import assert_close, mp_function

import circuitc

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the NumPy path at inf

x, y = sp.symbols("x y")

#: circuits whose every op has an exact ``math`` equivalent
FAST = {
    "small_example": (sp.cos(sp.sin(x**2) + 3 * x**2), [x]),
    "sqrt_div": (sp.sqrt(x**2 + y**2) + x / y, [x, y]),
    "powers": (x**3 * y**-2 + sp.sqrt(x * y) + 1 / (x - y), [x, y]),
    "trig_product": (sp.sin(x) * sp.cos(y) * x * y * (x + y) * sp.cos(x * y), [x, y]),
}

#: the circuits of FAST whose fast path factors an adjoint sum (``g·a + g·b`` → ``g·(a + b)``)
FACTORED = {"small_example"}

EDGES = [0.0, -0.0, 5e-324, -5e-324, 1e-300, 0.5, -0.5, 1.0, -3.25, 7.0, 1e154, 1.4e154]
EDGES += [1e155, -1e200, 1e308, math.inf, -math.inf, math.nan]


def same(a: float, b: float) -> bool:
    """Bit-for-bit equality of two floats, where every nan equals every nan."""
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def near(a: float, b: float, ulps: float = 4) -> bool:
    """``same``, or two finite floats within ``ulps`` ulps of the larger: a factored gradient
    of FAST, whose factored sums do not cancel (3 + cos t lies in [2, 4])."""
    a, b = float(a), float(b)
    if same(a, b):
        return True
    big = max(abs(a), abs(b))
    return math.isfinite(big) and abs(a - b) <= ulps * math.ulp(big)


def numpy_path(fn, **kw):
    """The same call through the NumPy path: NumPy float64 scalars are not Python floats."""
    with np.errstate(all="ignore"):
        return fn(**{k: np.float64(v) for k, v in kw.items()})


def points(names: list[str]):
    rng = np.random.default_rng(7)
    grid = list(itertools.product(EDGES, repeat=len(names)))
    grid += [tuple(rng.uniform(-20, 20, len(names))) for _ in range(300)]
    for p in grid:
        yield {n: float(v) for n, v in zip(names, p, strict=True)}


@pytest.fixture(scope="module", params=sorted(FAST))
def fast_module(request):
    expr, wrt = FAST[request.param]
    return circuitc.compile(expr, wrt=wrt, name=request.param), [w.name for w in wrt]


def test_fast_path_is_emitted_and_uses_math(fast_module):
    module, _ = fast_module
    assert "except _MathError" in module.__source__  # the Python-float fast path
    assert "_math_" in module.__source__.split("def forward", 1)[1]


def test_value_and_grad_are_the_numpy_paths(fast_module):
    """J bit for bit; the gradients too unless the fast path factors (then within 4 ulps)."""
    module, names = fast_module
    agree = near if module.NAME in FACTORED else same
    for kw in points(names):
        value, grad = module.value_and_grad(**kw)
        ref_value, ref_grad = numpy_path(module.value_and_grad, **kw)
        assert type(value) is float
        assert same(value, ref_value), (kw, value, ref_value)
        for n in names:
            assert type(grad[n]) is float
            assert agree(grad[n], ref_grad[n]), (kw, n, grad[n], ref_grad[n])


def test_forward_is_exactly_the_numpy_paths(fast_module):
    module, names = fast_module
    for kw in points(names):
        assert same(module.forward(**kw), numpy_path(module.forward, **kw)), kw


def test_fast_path_against_mpmath(fast_module):
    """The bit-for-bit tests above compare two circuitc paths; this one checks the numbers."""
    module, names = fast_module
    expr, wrt = FAST[module.NAME]
    value_of = mp_function(expr, wrt)
    slope_of = {s.name: mp_function(sp.diff(expr, s), wrt) for s in wrt}
    rng = np.random.default_rng(3)
    for _ in range(20):
        kw = {n: float(v) for n, v in zip(names, rng.uniform(0.2, 3.0, len(names)), strict=True)}
        if "y" in kw:
            kw["y"] += 3.5  # keeps x - y away from 0 (powers divides by it)
        value, grad = module.value_and_grad(**kw)
        assert type(value) is float
        assert_close(value, value_of(kw), "mpmath", f"{module.NAME} at {kw}")
        for n in names:
            assert_close(grad[n], slope_of[n](kw), "mpmath", f"d{module.NAME}/d{n} at {kw}")


def test_floats_take_the_fast_path_and_overflow_falls_back(monkeypatch):
    module = circuitc.compile(FAST["small_example"][0], wrt=[x], name="small_example")

    def numpy_path_taken(*values):
        raise AssertionError("the NumPy path ran")

    monkeypatch.setattr(module, "_dtype", numpy_path_taken)
    monkeypatch.setattr(module, "_f64", numpy_path_taken)  # its fast test (a float may pass)
    value, grad = module.value_and_grad(x=0.5)  # the fast path never reaches the NumPy path
    # the notes' small example, differentiated by hand
    t = 0.25
    assert value == pytest.approx(math.cos(math.sin(t) + 3 * t), rel=1e-15)
    expected = -math.sin(math.sin(t) + 3 * t) * (math.cos(t) + 3) * 2 * 0.5
    assert grad["x"] == pytest.approx(expected, rel=1e-14)
    with pytest.raises(AssertionError, match="NumPy path ran"):
        module.value_and_grad(x=1e200)  # x**2 overflows in math: left to NumPy
    with pytest.raises(AssertionError, match="NumPy path ran"):
        module.forward(x=np.float64(0.5))  # not a Python float
    with pytest.raises(AssertionError, match="NumPy path ran"):
        module.forward(x=1)  # an int goes through NumPy's promotion


def test_domain_errors_give_numpys_nan():
    module = circuitc.compile(sp.sqrt(x) + sp.sin(y), wrt=[x, y], name="domain")
    with np.errstate(all="ignore"):
        value, grad = module.value_and_grad(x=-1.0, y=math.inf)
    assert math.isnan(value) and math.isnan(grad["x"]) and math.isnan(grad["y"])
    value, grad = module.value_and_grad(x=0.0, y=0.0)  # d sqrt / dx = inf at 0
    assert value == 0.0 and grad["x"] == math.inf and grad["y"] == 1.0


@pytest.mark.parametrize(
    "expr",
    [sp.exp(x) * y, sp.log(x) + y, sp.tanh(x * y), x**y, sp.Max(x, y), x ** sp.Rational(3, 2) + y],
    ids=["exp", "log", "tanh", "pow_var", "max", "pow_3_2"],
)
def test_ops_numpy_computes_differently_keep_only_the_numpy_path(expr):
    """NumPy's SIMD exp/log/tanh/power may differ from math's by an ulp: no fast path."""
    module = circuitc.compile(expr, wrt=[x, y], name="inexact")
    assert "except _MathError" not in module.__source__  # no Python-float fast path
    value, grad = module.value_and_grad(x=0.7, y=1.3)
    ref_value, ref_grad = numpy_path(module.value_and_grad, x=0.7, y=1.3)
    assert same(value, ref_value) and same(grad["x"], ref_grad["x"])


def test_unused_parameter_gets_a_zero_float():
    module = circuitc.compile(sp.sin(x), wrt=[x, y], name="unused")
    value, grad = module.value_and_grad(x=0.3, y=2.0)
    assert grad["y"] == 0.0 and type(grad["y"]) is float
    assert grad["x"] == math.cos(0.3)


def test_user_names_that_shadow_builtins_are_fine():
    type_, float_ = sp.symbols("type float")
    module = circuitc.compile(type_ * sp.sin(float_), wrt=[type_, float_], name="shadow")
    value, grad = module.value_and_grad(type=2.0, float=0.5)
    assert value == 2.0 * math.sin(0.5)
    assert grad == {"type": math.sin(0.5), "float": 2.0 * math.cos(0.5)}


#: the circuits of FAST whose every op NumPy arrays compute as ``math`` does on this machine
#: (``x**2`` is printed ``x * x``, which is NumPy's array square; sin/cos/sqrt agree)
ARRAY_EXACT = ["small_example", "sqrt_div", "trig_product"]


@pytest.mark.parametrize("name", ARRAY_EXACT)
def test_fast_path_is_bit_for_bit_numpy_on_arrays(name):
    """The README's claim: a Python float gets exactly the numbers a NumPy array of the same
    points gets (the array path is what NumPy computes with its SIMD loops), J always and the
    gradients where nothing is factored."""
    expr, wrt = FAST[name]
    agree = near if name in FACTORED else same
    module = circuitc.compile(expr, wrt=wrt, name=name)
    names = [w.name for w in wrt]
    rng = np.random.default_rng(11)
    pts = {n: rng.uniform(-20, 20, 4000) for n in names}
    with np.errstate(all="ignore"):
        values, grads = module.value_and_grad(**pts)  # elementwise: gradients of sum(J)
    for i in range(4000):
        kw = {n: float(pts[n][i]) for n in names}
        value, grad = module.value_and_grad(**kw)
        assert same(value, values[i]), (kw, value, values[i])
        for n in names:
            assert agree(grad[n], grads[n][i]), (kw, n, grad[n], grads[n][i])


@pytest.mark.parametrize("k", [3, 4, 5, 7, -3, -4])
def test_integer_powers_are_within_one_ulp_of_numpy_arrays(k):
    """The documented bound where the two differ: ``x**k`` for |k| > 2 is the C library's pow
    for a float and NumPy's SIMD pow for an array; they differ by at most one ulp."""
    rng = np.random.default_rng(k + 50)
    xs = rng.uniform(-30, 30, 20000)
    with np.errstate(all="ignore"):
        arrays = xs**k
    floats = np.array([float(v) ** k for v in xs])
    ulps = np.abs(floats - arrays) / np.spacing(np.abs(arrays))
    assert np.max(ulps) <= 1.0


def test_powers_circuit_is_within_a_few_ulps_of_numpy_arrays():
    """x³y⁻² + √(xy) + 1/(x − y): within 4 ulps of the size of its largest term (the terms
    of a gradient may cancel, so the bound is on their scale, not on the sum)."""
    expr, wrt = FAST["powers"]
    module = circuitc.compile(expr, wrt=wrt, name="powers")
    rng = np.random.default_rng(12)
    xs, ys = rng.uniform(0.5, 20, 2000), rng.uniform(0.5, 20, 2000) + 25.0
    values, grads = module.value_and_grad(x=xs, y=ys)
    # the terms' sizes, by hand
    scale = {
        "J": xs**3 / ys**2 + np.sqrt(xs * ys) + 1 / np.abs(xs - ys),
        "x": 3 * xs**2 / ys**2 + np.sqrt(ys / xs) / 2 + 1 / (xs - ys) ** 2,
        "y": 2 * xs**3 / ys**3 + np.sqrt(xs / ys) / 2 + 1 / (xs - ys) ** 2,
    }
    for i in range(2000):
        value, grad = module.value_and_grad(x=float(xs[i]), y=float(ys[i]))
        assert abs(value - values[i]) <= 4 * np.spacing(scale["J"][i])
        for n in ("x", "y"):
            assert abs(grad[n] - grads[n][i]) <= 4 * np.spacing(scale[n][i]), (n, i)


def test_fast_path_drops_copies_and_folds_single_use_values():
    """The fast path is rewritten freely (the NumPy path keeps the notes' lines)."""
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from examples.small_example import circuit  # the notes' named steps t, u1, u2, u, J

    src = circuitc.source(circuit)
    fast = src[src.index("def value_and_grad") :]
    fast = fast[: fast.index("except _MathError")]
    assert "_d_u1" not in fast and "_d_u2" not in fast  # the copies of dJ/du
    assert "u1 = " not in fast  # a single-use value written into its reader
    # the NumPy path keeps every line of the notes' table
    numpy_path = src[src.index("# backward", src.index("def value_and_grad")) :]
    assert "_d_u1 = _d_u" in numpy_path
