"""Functions users expect (issue 12, part 8): ``asinh``, ``acosh``, ``atanh``, ``erf``, ``sinc``,
``floor``, ``ceiling``, ``Mod`` and the ``re``/``im``/``arg``/``conjugate`` that SymPy inserts
for plain symbols.

Oracles, none of them circuitc's: values by mpmath at 60 digits; derivatives written out by hand
as closed forms and evaluated by mpmath (``sinc``'s by ``mpmath.diff``, which also covers 0);
central differences of the compiled forward pass; torch's autograd when it is importable. The
grids hold 0, ±large magnitudes, the kinks and the ends of each domain. ``floor``/``ceiling``/
``Mod`` are compared bit for bit with NumPy and Python's own ``%`` (the sign of zero included).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import assert_close, central_diff

import circuitc

#: the extreme grid points overflow x**2 in a derivative whose value there is ~0 (1/sqrt(1 + x²))
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

x, y = sp.symbols("x y", real=True)
PI = math.pi
DPS = 60

#: functions of one argument: the SymPy head, the value and the derivative by mpmath (closed
#: forms written here, not taken from circuitc or SymPy), the grid, the points where the float64
#: computation of the *oracle's* kind is ill-conditioned, and the domain walls
UNARY = {
    "asinh": (
        sp.asinh,
        mpmath.asinh,
        lambda a: 1 / mpmath.sqrt(1 + a**2),
        [-1e300, -1e8, -3.0, -1e-8, -0.0, 0.0, 5e-324, 1e-8, 0.5, 3.0, 1e8, 1e300],
        (),
    ),
    "acosh": (
        sp.acosh,
        mpmath.acosh,
        lambda a: 1 / mpmath.sqrt((a - 1) * (a + 1)),
        [1.0000001, 1.0 + 2**-30, 1.5, 2.0, 10.0, 1e8, 1e300],
        (1.0,),
    ),
    "atanh": (
        sp.atanh,
        mpmath.atanh,
        lambda a: 1 / ((1 - a) * (1 + a)),
        [-0.9999999, -0.5, -1e-8, 0.0, 1e-8, 0.5, 0.9999999, 1 - 2**-30],
        (-1.0, 1.0),
    ),
    "erf": (
        sp.erf,
        mpmath.erf,
        lambda a: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-(a**2)),
        [-30.0, -6.0, -2.0, -1e-8, 0.0, 1e-8, 0.5, 1.0, 3.0, 6.0, 30.0],
        (),
    ),
    "sinc": (
        sp.sinc,
        # SymPy's sinc is sin(x)/x (mpmath's too), not NumPy's normalised sin(πx)/(πx)
        mpmath.sinc,
        lambda a: mpmath.diff(mpmath.sinc, a),
        [-1e8, -20.0, -PI, -1.0, -0.1, -1e-3, -1e-8, 0.0, 5e-324, 1e-300, 1e-8, 1e-3]
        + [0.05, 0.1, 0.5, 1.0, PI, 7.0, 100.0, 1e8],
        (),
    ),
}


def mp_value(f, v: float) -> float:
    with mpmath.workdps(DPS):
        return float(f(mpmath.mpf(v)))


def unary_module(name: str):
    head = UNARY[name][0]
    return circuitc.compile(head(x), wrt=[x], name=f"new_{name}")


def _unary_points():
    for name, (_, _, _, grid, _) in UNARY.items():
        for v in grid:
            yield pytest.param(name, v, id=f"{name}[{v:g}]")


@pytest.mark.parametrize(("name", "v"), list(_unary_points()))
def test_unary_value_and_slope_against_mpmath(name, v):
    _, value_of, slope_of, _, _ = UNARY[name]
    m = unary_module(name)
    value, grad = m.value_and_grad(x=v)
    assert_close(value, mp_value(value_of, v), "mpmath", f"{name}({v})")
    assert_close(grad["x"], mp_value(slope_of, v), "mpmath", f"{name}'({v})")


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_slope_against_central_differences(name):
    _, _, slope_of, grid, walls = UNARY[name]
    m = unary_module(name)
    for v in grid:
        if abs(v) > 1e6 or v == 0 or abs(v) < 1e-100:
            continue  # x ± h would overflow or round away; mpmath covers those
        scale = max(1.0, abs(v))
        for w in walls:
            scale = min(scale, abs(v - w) / 1e4 / 1e-6)
        fd = central_diff(lambda t: m.forward(x=t), v, scale)
        assert_close(m.grad(x=v)["x"], fd, "central", f"{name}'({v})", scale=max(1.0, abs(fd)))


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_batches_float32_and_the_scalar_path_agree(name):
    """One call on the whole grid gives each scalar call's numbers; float32 stays float32; a
    Python float gives a Python float, bit for bit the NumPy path's (the fast path is honest)."""
    grid = np.array(UNARY[name][3])
    m = unary_module(name)
    values, grads = m.value_and_grad(x=grid)
    for k, v in enumerate(grid):
        value, grad = m.value_and_grad(x=float(v))
        assert type(value) is float and type(grad["x"]) is float
        ref_value, ref_grad = m.value_and_grad(x=np.float64(v))
        assert value == ref_value and grad["x"] == ref_grad["x"], (name, v)
        assert values[k] == value and grads["x"][k] == grad["x"], (name, v)
    # float32: away from overflow and from the domain's ends (1 + 1e-7 is 1 in float32)
    keep = (np.abs(grid) < 1e30) & np.all(
        [np.abs(grid - w) > 1e-3 for w in (*UNARY[name][4], 2e30)], axis=0
    )
    v32, g32 = m.value_and_grad(x=grid[keep].astype(np.float32))
    assert v32.dtype == np.float32 and g32["x"].dtype == np.float32
    assert np.allclose(g32["x"], grads["x"][keep], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_random_points_against_mpmath(name):
    _, value_of, slope_of, grid, _ = UNARY[name]
    lo, hi = {
        "asinh": (-1e6, 1e6),
        "acosh": (1.0 + 1e-9, 1e6),
        "atanh": (-0.999, 0.999),
        "erf": (-8.0, 8.0),
        "sinc": (-50.0, 50.0),
    }[name]
    m = unary_module(name)

    @settings(max_examples=30, derandomize=True, deadline=None, database=None)
    @given(st.floats(min_value=lo, max_value=hi, allow_nan=False))
    def check(v):
        value, grad = m.value_and_grad(x=v)
        assert_close(value, mp_value(value_of, v), "mpmath", f"{name}({v})")
        assert_close(grad["x"], mp_value(slope_of, v), "mpmath", f"{name}'({v})")

    check()


def test_sinc_is_sympys_not_numpys_and_finite_at_zero():
    m = unary_module("sinc")
    assert m.value_and_grad(x=0.0) == (1.0, {"x": 0.0})
    assert m.value_and_grad(x=-0.0) == (1.0, {"x": 0.0})
    # np.sinc(1) is 0 (normalised); SymPy's sinc(1) is sin(1)
    assert_close(m.forward(x=1.0), math.sin(1.0), "exact", "sinc(1)")
    values, grads = m.value_and_grad(x=np.array([0.0, 1e-200, -1e-8]))
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(grads["x"]))


def test_the_functions_compose_in_one_circuit():
    """A circuit of several new heads: its gradient against a derivative written out by hand."""
    expr = sp.asinh(x) * sp.erf(y) + sp.atanh(x / 2) - sp.sinc(x * y) + sp.acosh(y**2 + 1)
    m = circuitc.compile(expr, wrt=[x, y], name="new_compose")

    def parts(a, b):
        with mpmath.workdps(DPS):
            a, b = mpmath.mpf(a), mpmath.mpf(b)
            t = a * b
            dsinc = mpmath.diff(mpmath.sinc, t)
            q = b**2 + 1
            dacosh = 1 / mpmath.sqrt((q - 1) * (q + 1))
            value = mpmath.asinh(a) * mpmath.erf(b) + mpmath.atanh(a / 2) - mpmath.sinc(t)
            value += mpmath.acosh(q)
            da = mpmath.erf(b) / mpmath.sqrt(1 + a**2) + 1 / (2 * (1 - (a / 2) ** 2)) - b * dsinc
            db = mpmath.asinh(a) * 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-(b**2))
            db += -a * dsinc + 2 * b * dacosh
            return float(value), float(da), float(db)

    for a, b in ((0.3, 0.7), (-1.2, 1.5), (1.9, -0.2), (0.0, 2.0)):
        value, grad = m.value_and_grad(x=a, y=b)
        want, da, db = parts(a, b)
        assert_close(value, want, "mpmath", f"value at {(a, b)}")
        assert_close(grad["x"], da, "mpmath", f"d/dx at {(a, b)}")
        assert_close(grad["y"], db, "mpmath", f"d/dy at {(a, b)}")


# -- floor and ceiling: NumPy's values bit for bit (floats, never ints), derivative 0 ---------------
STEP_POINTS = [-1e300, -2.5, -2.0, -1.0, -0.5, -1e-300, -0.0, 0.0, 1e-300, 0.5, 1.0, 2.0, 2.7]
STEP_POINTS += [4503599627370495.5, 1e300, math.inf, -math.inf]


def same(a, b) -> bool:
    """Bit-for-bit equality of floats, the sign of zero included (nan equals nan)."""
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@pytest.mark.parametrize(("head", "ref"), [(sp.floor, np.floor), (sp.ceiling, np.ceil)])
def test_floor_and_ceiling_are_numpys_with_derivative_zero(head, ref):
    m = circuitc.compile(head(x), wrt=[x], name=f"new_{head.__name__}")
    for v in STEP_POINTS + [math.nan]:
        with np.errstate(invalid="ignore"):
            value, grad = m.value_and_grad(x=v)
        assert type(value) is float, (head, v, type(value))  # the math path returns floats
        assert same(value, ref(v)), (head, v, value)
        if math.isfinite(v):
            assert grad["x"] == 0.0, (head, v, grad)
        if math.isfinite(v) and abs(v) < 1e15:
            py = math.floor(v) if head is sp.floor else math.ceil(v)
            assert value == float(py)
    values, grads = m.value_and_grad(x=np.array(STEP_POINTS[:-2]))
    assert all(same(a, ref(b)) for a, b in zip(values, STEP_POINTS[:-2], strict=True))
    assert not np.any(grads["x"])


def test_floor_inside_a_product_by_the_product_rule():
    """d/dx (x·floor(x)) = floor(x) (floor' = 0 away from the integers): central differences."""
    m = circuitc.compile(x * sp.floor(x) + sp.ceiling(2 * x) * x**2, wrt=[x], name="new_steps")
    for v in (-2.3, -0.4, 0.3, 1.7, 12.25):
        grad = m.grad(x=v)["x"]
        hand = math.floor(v) + 2 * v * math.ceil(2 * v)
        assert grad == pytest.approx(hand, rel=1e-15)
        fd = central_diff(lambda t: m.forward(x=t), v, 1e-3)
        assert_close(grad, fd, "central", f"at {v}")


# -- Mod: np.mod / Python % semantics (the result takes the divisor's sign) -------------------------
MOD_X = [-7.5, -4.0, -3.0, -0.5, -0.0, 0.0, 0.5, 3.0, 4.0, 7.5, 1e10, -1e10]
MOD_Y = [-2.5, -2.0, -1.0, 0.3, 2.0, 1e-3, 1e12]


def test_mod_values_are_numpys_and_pythons():
    m = circuitc.compile(sp.Mod(x, y), wrt=[x, y], name="new_mod")
    for a in MOD_X:
        for b in MOD_Y:
            value = m.forward(x=a, y=b)
            assert type(value) is float
            assert same(value, np.mod(a, b)), (a, b, value)
            assert same(value, a % b), (a, b, value)


def _mod_slopes(a: float, b: float) -> tuple[float, float]:
    """d/dx, d/dy of x - y·floor(x/y): 1 and -floor(x/y), with x/y exact (mpmath)."""
    with mpmath.workdps(DPS):
        return 1.0, -float(mpmath.floor(mpmath.mpf(a) / mpmath.mpf(b)))


def test_mod_gradient_against_mpmath_and_central_differences():
    m = circuitc.compile(sp.Mod(x, y), wrt=[x, y], name="new_mod")
    for a in MOD_X:
        for b in MOD_Y:
            grad = m.grad(x=a, y=b)
            dx, dy = _mod_slopes(a, b)
            assert grad["x"] == dx and grad["y"] == dy, (a, b, grad, (dx, dy))
            q = a / b
            if abs(q - round(q)) < 1e-3 or abs(q) > 1e6:
                continue  # on or beside a jump: no central difference across it
            for name, base in (("x", a), ("y", b)):
                h_scale = min(max(1.0, abs(base)), abs(b) * 1e-3 / 1e-6 / max(1.0, abs(q)))

                def f(t, name=name, a=a, b=b):
                    return m.forward(**{"x": a, "y": b, name: t})

                fd = central_diff(f, base, h_scale)
                assert_close(grad[name], fd, "central", f"dMod/d{name} at {(a, b)}")


def test_mod_by_a_constant_and_in_a_batch():
    m = circuitc.compile(sp.Mod(x, 2) * y, wrt=[x, y], name="new_mod_const")
    xs = np.array(MOD_X)
    value, grad = m.value_and_grad(x=xs, y=3.0)
    assert all(same(a, b) for a, b in zip(value, 3.0 * np.mod(xs, 2.0), strict=True))
    np.testing.assert_array_equal(grad["x"], np.full(xs.shape, 3.0))
    assert grad["y"] == pytest.approx(float(np.sum(np.mod(xs, 2.0))), rel=1e-15)


# -- re, im, arg, conjugate: every circuitc input is real -----------------------------------------
p, q = sp.symbols("p q")  # plain symbols, as most users write them: SymPy assumes them complex

REAL_PARTS = {
    # expression, its value and slope in p (q = 0.7) for a real p, written by hand
    "abs_exp": (sp.Abs(sp.exp(p)), lambda v: (math.exp(v), math.exp(v))),
    "re": (sp.re(p) * q, lambda v: (0.7 * v, 0.7)),
    "im": (sp.im(p) + p, lambda v: (v, 1.0)),
    "conjugate": (sp.conjugate(p) * p, lambda v: (v * v, 2 * v)),
    "abs_squared": (sp.Abs(p * sp.exp(p)) ** 2, lambda v: ((v * math.exp(v)) ** 2, None)),
    "arg": (sp.arg(p) + p, lambda v: ((PI if v < 0 else 0.0) + v, 1.0)),
}


@pytest.mark.parametrize("key", sorted(REAL_PARTS))
def test_real_parts_of_plain_symbols_are_simplified(key):
    expr, hand = REAL_PARTS[key]
    assert not {type(e).__name__ for e in sp.preorder_traversal(expr)}.isdisjoint(
        {"re", "im", "arg", "conjugate"}
    ), "SymPy no longer inserts what this test is about"
    m = circuitc.compile(expr, wrt=[p], name=f"new_real_{key}")
    for v in (-2.5, -1e-3, 0.4, 1.5):
        value, grad = m.value_and_grad(p=v, q=0.7) if "q" in m.INPUTS else m.value_and_grad(p=v)
        want, slope = hand(v)
        assert_close(value, want, "exact", f"{key}({v})", scale=max(1.0, abs(want)))
        if slope is None:  # d/dp (p·e^p)² = 2(p·e^p)·e^p(1 + p)
            slope = 2 * v * math.exp(v) * math.exp(v) * (1 + v)
        assert_close(grad["p"], slope, "exact", f"{key}'({v})", scale=max(1.0, abs(slope)))


def test_im_of_a_parameter_has_a_zero_gradient():
    m = circuitc.compile(sp.im(p) + q, wrt=[p, q], name="new_im_only")
    value, grad = m.value_and_grad(p=3.0, q=2.0)
    assert value == 2.0 and grad == {"p": 0.0, "q": 1.0}


# -- torch, when importable: the same functions through its autograd, on a batch -------------------
def test_against_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    xs = rng.uniform(0.1, 0.9, 50)
    ys = rng.uniform(1.2, 3.0, 50)
    expr = (
        sp.asinh(x * 5)
        + sp.acosh(y) * sp.atanh(x)
        + sp.erf(x - y)
        + sp.sinc(3 * y)
        + sp.Mod(7 * x, y) * sp.floor(3 * y)
        + sp.ceiling(x * 4) * x
    )
    m = circuitc.compile(expr, wrt=[x, y], name="new_torch")
    value, grad = m.value_and_grad(x=xs, y=ys)
    tx = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(ys, dtype=torch.float64, requires_grad=True)
    t = (
        torch.asinh(tx * 5)
        + torch.acosh(ty) * torch.atanh(tx)
        + torch.erf(tx - ty)
        + torch.sin(3 * ty) / (3 * ty)
        + torch.remainder(7 * tx, ty) * torch.floor(3 * ty)
        + torch.ceil(tx * 4) * tx
    )
    t.sum().backward()
    np.testing.assert_allclose(value, t.detach().numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(grad["x"], tx.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(grad["y"], ty.grad.numpy(), rtol=1e-12, atol=1e-13)


def test_the_supported_list_names_the_new_heads():
    """The error for an unsupported function lists what is supported: the new heads among them."""
    with pytest.raises(circuitc.CircuitError) as err:
        circuitc.compile(sp.gamma(x), wrt=[x])
    for name in ("asinh", "acosh", "atanh", "erf", "sinc", "floor", "ceiling", "Mod"):
        assert name in str(err.value), name


# -- the fused numba loop: the ops with a math equivalent fuse; the others are refused by name -----
def test_fused_loop_of_the_new_ops_against_mpmath():
    pytest.importorskip("numba")
    expr = sp.asinh(x) * sp.erf(y) + sp.atanh(x / 2) + sp.acosh(y**2 + 1)
    m = circuitc.compile(expr, wrt=[x, y], name="new_fused", backend="numba")
    rng = np.random.default_rng(4)
    xs, ys = rng.uniform(-1.5, 1.5, 40), rng.uniform(0.1, 2.0, 40)
    value, grad = m.value_and_grad(x=xs, y=ys)

    def at(a, b):  # value, d/dx, d/dy written out by hand
        with mpmath.workdps(DPS):
            a, b = mpmath.mpf(a), mpmath.mpf(b)
            q = b**2 + 1
            v = mpmath.asinh(a) * mpmath.erf(b) + mpmath.atanh(a / 2) + mpmath.acosh(q)
            da = mpmath.erf(b) / mpmath.sqrt(1 + a**2) + 1 / (2 * (1 - (a / 2) ** 2))
            db = mpmath.asinh(a) * 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-(b**2))
            db += 2 * b / mpmath.sqrt((q - 1) * (q + 1))
            return float(v), float(da), float(db)

    for k in range(len(xs)):
        v, da, db = at(xs[k], ys[k])
        assert_close(value[k], v, "mpmath", f"value at {k}")
        assert_close(grad["x"][k], da, "mpmath", f"d/dx at {k}")
        assert_close(grad["y"][k], db, "mpmath", f"d/dy at {k}")
    for expr in (sp.floor(x), sp.Mod(x, y), sp.sinc(x)):
        with pytest.raises(circuitc.CircuitError, match="numba"):
            circuitc.compile(expr * x, wrt=[x], name="new_unfused", backend="numba")


@pytest.mark.parametrize("name", sorted(UNARY))
def test_the_new_ops_keep_the_numpy_path(name):
    """math's asinh/acosh/atanh/erf differ from NumPy's/SciPy's in the last bit on part of the
    float64 range (docs/design.md, Conventions): no math fast path for them, nor for sinc."""
    assert "is _float:" not in unary_module(name).__source__
