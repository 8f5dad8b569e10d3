"""Forward mode and second order (issue 13): ``jvp``, ``hvp``, ``circuitc.hessian``, ``jacobian``.

Every result is compared with an oracle that shares no code with circuitc's sweeps:

* JVPs: a directional central difference of the compiled forward pass (elementwise, so a
  vector or matrix J is checked entry by entry), ``sympy.diff`` of the small expression
  evaluated by mpmath, and torch's ``jvp`` (float64) when torch is importable; "vs reverse
  mode": a JVP along a basis vector is that entry of the gradient of sum(J);
* HVPs: a central difference of the compiled gradient along v, the second derivatives of the
  small expression by ``sympy.diff`` + mpmath, torch's ``hvp`` (float64), and for logistic
  regression the closed form ``Xᵀ diag(p(1−p)) X / N``;
* Jacobians of matrix outputs: torch's ``jacobian`` and central differences.

Cases run on scalar circuits, matrix circuits (every case of ``test_matrix.CASES``), broadcast
inputs and float32 (the ``float32`` row of the tolerance table).
"""

from __future__ import annotations

import functools
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import EPS, assert_close, mp_function, textbook
from test_matrix import CASES as MATRIX_CASES
from test_matrix import _point as matrix_point

import circuitc
from circuitc import nn

try:
    import torch
except ImportError:  # the torch comparisons skip cleanly
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example(name: str) -> dict:
    return runpy.run_path(str(EXAMPLES / f"{name}.py"))


# -- oracles built from the compiled forward pass and gradient ------------------------------------
def _as_float64(point: dict) -> dict:
    return {
        k: (v if isinstance(v, float) else np.asarray(v, dtype=np.float64))
        for k, v in point.items()
    }


def _moved(point: dict, direction: dict, h: float) -> dict:
    out = dict(point)
    for name, v in direction.items():
        moved = np.asarray(point[name], dtype=np.float64) + h * np.asarray(v, dtype=np.float64)
        out[name] = float(moved) if isinstance(point[name], float) else moved
    return out


def _step(point: dict, direction: dict) -> float:
    scale = max([1.0] + [float(np.max(np.abs(point[n]))) for n in direction])
    return EPS * scale


def directional_difference(f, point: dict, direction: dict):
    """(f(p + h v) − f(p − h v)) / 2h, elementwise: the oracle of a JVP of f."""
    h = _step(point, direction)
    hi = np.asarray(f(**_moved(point, direction, +h)), dtype=np.float64)
    lo = np.asarray(f(**_moved(point, direction, -h)), dtype=np.float64)
    return (hi - lo) / (2 * h)


def gradient_difference(grad, point: dict, direction: dict) -> dict:
    """(∇ sum J(p + h v) − ∇ sum J(p − h v)) / 2h per parameter: the oracle of an HVP."""
    h = _step(point, direction)
    hi, lo = grad(**_moved(point, direction, +h)), grad(**_moved(point, direction, -h))
    return {
        n: (np.asarray(hi[n], dtype=np.float64) - np.asarray(lo[n], dtype=np.float64)) / (2 * h)
        for n in hi
    }


def random_direction(point: dict, names, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for n in names:
        v = rng.standard_normal(np.shape(point[n]))
        out[n] = float(v) if isinstance(point[n], float) else v
    return out


def _scale(expected) -> float:
    return max(1.0, float(np.max(np.abs(expected))) if np.size(expected) else 1.0)


# -- JVP: matrix circuits --------------------------------------------------------------------------
_modules: dict[str, object] = {}


def matrix_module(case: str):
    if case not in _modules:
        expr, wrt, _ = MATRIX_CASES[case]
        _modules[case] = circuitc.compile(expr, wrt=wrt, name=f"so_{case}")
    return _modules[case]


@pytest.mark.parametrize("case", sorted(MATRIX_CASES))
def test_jvp_of_matrix_circuits_against_directional_differences(case):
    expr, wrt, _ = MATRIX_CASES[case]
    m = matrix_module(case)
    point = matrix_point(expr, wrt)
    names = [s.name for s in wrt]
    v = random_direction(point, names, seed=3)
    J, J_dot = m.jvp(v, **point)
    assert_close(J, m.forward(**point), "exact", "J of jvp vs forward")
    assert np.shape(J_dot) == np.shape(J)
    expected = directional_difference(m.forward, point, v)
    assert_close(J_dot, expected, "central", f"{case}: J_dot", scale=_scale(expected))


@pytest.mark.parametrize("case", sorted(MATRIX_CASES))
def test_hvp_of_matrix_circuits_against_gradient_differences(case):
    expr, wrt, _ = MATRIX_CASES[case]
    m = matrix_module(case)
    point = matrix_point(expr, wrt)
    names = [s.name for s in wrt]
    v = random_direction(point, names, seed=4)
    Hv = m.hvp(v, **point)
    assert list(Hv) == names
    expected = gradient_difference(m.grad, point, v)
    for n in names:
        assert np.shape(Hv[n]) == np.shape(point[n]), n
        assert_close(Hv[n], expected[n], "central", f"{case}: (Hv)[{n}]", scale=_scale(expected[n]))


def _torch_function(case: str, point: dict, names: list[str]):
    """sum(J) of the case's torch reference as a function of the parameters (float64)."""
    _, _, ref = MATRIX_CASES[case]
    data = {k: torch.tensor(v, dtype=torch.float64) for k, v in point.items() if k not in names}

    def f(*params):
        t = dict(data, **dict(zip(names, params, strict=True)))
        return ref(SimpleNamespace(**t)).sum()

    primal = tuple(torch.tensor(point[n], dtype=torch.float64) for n in names)
    return f, primal


@needs_torch
@pytest.mark.parametrize("case", sorted(MATRIX_CASES))
def test_jvp_and_hvp_of_matrix_circuits_against_torch(case):
    expr, wrt, _ = MATRIX_CASES[case]
    m = matrix_module(case)
    point = matrix_point(expr, wrt)
    names = [s.name for s in wrt]
    v = random_direction(point, names, seed=5)
    f, primal = _torch_function(case, point, names)
    tangents = tuple(torch.tensor(v[n], dtype=torch.float64) for n in names)
    _, t_jvp = torch.autograd.functional.jvp(f, primal, tangents)
    _, t_hvp = torch.autograd.functional.hvp(f, primal, tangents)
    _, J_dot = m.jvp(v, **point)
    assert_close(np.sum(J_dot), t_jvp.numpy(), "central", f"{case}: sum(J_dot) vs torch")
    Hv = m.hvp(v, **point)
    for n, expected in zip(names, t_hvp, strict=True):
        assert_close(Hv[n], expected.numpy(), "central", f"{case}: Hv[{n}] vs torch")


@pytest.mark.parametrize("case", ["softmax_cross_entropy", "add_bias", "matmul_chain", "trace"])
def test_jvp_along_a_basis_vector_is_the_gradient_entry(case):
    """Forward mode against reverse mode: ⟨∇ sum J, e_k⟩ = sum(J̇) for J̇ along e_k."""
    expr, wrt, _ = MATRIX_CASES[case]
    m = matrix_module(case)
    point = matrix_point(expr, wrt)
    g = m.grad(**point)
    for s in wrt:
        shape = np.shape(point[s.name])
        for idx in list(np.ndindex(shape))[:6]:
            e = np.zeros(shape)
            e[idx] = 1.0
            _, J_dot = m.jvp({s.name: e if shape else 1.0}, **point)
            assert_close(np.sum(J_dot), np.asarray(g[s.name])[idx], "exact", f"{s.name}{idx}")


# -- scalar circuits: sympy.diff + mpmath -------------------------------------------------------
x, y, z = sp.symbols("x y z", real=True)

#: expressions in x, y (z a data input) whose first and second derivatives sympy.diff knows;
#: points kept away from kinks and the ends of domains
SCALAR_CASES = {
    "small_example": sp.cos(sp.sin(x**2) + 3 * x**2) + 0 * y,
    "exp_log": sp.exp(x * y) + sp.log(x**2 + 1) * y,
    "trig": sp.sin(x) * sp.cos(y) + sp.tan(x / 3),
    "inverse_trig": sp.asin(x / 4) + sp.acos(y / 5) + sp.atan(x * y),
    "atan2": sp.atan2(y, x) * z,
    "hyperbolic": sp.sinh(x) * sp.cosh(y) + sp.tanh(x * y),
    "abs": sp.Abs(x) * y**2,
    "sigmoid_softplus": circuitc.sigmoid(x * y) + circuitc.softplus(x - y),
    "powers": x**3 * y**-2 + sp.sqrt(x**2 + 1) + x ** sp.Rational(1, 3) * y,
    "symbolic_pow": x**y + 2**x,
    "long_product": x * y * (x + 1) * (y + 2) * sp.sin(x) * (x - y) * z,
    "quotient": (x + y) / (1 + x**2 + y**2),
    "max_min": sp.Max(x, y) ** 2 + sp.Min(x * y, 1) * x,
    "piecewise": sp.Piecewise((x**2 * y, x < y), (sp.exp(x) + y, True)),
    "inverse_hyperbolic": sp.asinh(x * y) + sp.atanh(y / 4) * sp.acosh(x + 2),
}

SCALAR_POINTS = [
    {"x": 0.7, "y": 1.3, "z": -0.4},
    {"x": 1.9, "y": 0.6, "z": 2.1},
]


def _scalar_module(case):
    key = f"scalar_{case}"
    if key not in _modules:
        _modules[key] = circuitc.compile(SCALAR_CASES[case], wrt=[x, y], name=key)
    return _modules[key]


def _mp(expr):
    return mp_function(textbook(expr), [x, y, z])


@pytest.mark.parametrize("point", SCALAR_POINTS, ids=["p0", "p1"])
@pytest.mark.parametrize("case", sorted(SCALAR_CASES))
def test_scalar_jvp_and_hvp_against_sympy_and_mpmath(case, point):
    expr = SCALAR_CASES[case]
    m = _scalar_module(case)
    book = textbook(expr)
    grad = [sp.diff(book, s) for s in (x, y)]
    hess = [[sp.diff(gi, s) for s in (x, y)] for gi in grad]
    v = {"x": 0.8, "y": -1.7}
    kw = {n: point[n] for n in m.WRT + m.INPUTS}
    J, J_dot = m.jvp(v, **kw)
    expected_dot = sum(mp_function(grad[i], [x, y, z])(point) * v[s] for i, s in enumerate("xy"))
    assert_close(J, _mp(expr)(point), "mpmath_edge", f"{case}: J")
    assert_close(J_dot, expected_dot, "mpmath_edge", f"{case}: J_dot")
    Hv = m.hvp(v, **kw)
    for i, s in enumerate("xy"):
        expected = sum(mp_function(hess[i][j], [x, y, z])(point) * v[t] for j, t in enumerate("xy"))
        assert isinstance(Hv[s], float), s  # Python floats in, Python floats out
        assert_close(Hv[s], expected, "mpmath_edge", f"{case}: (Hv)[{s}]")


def test_missing_key_is_zero_and_unknown_key_is_a_type_error():
    m = _scalar_module("exp_log")
    point = {"x": 0.3, "y": 0.9}
    _, only_x = m.jvp({"x": 1.0}, **point)
    _, both = m.jvp({"x": 1.0, "y": 0.0}, **point)
    assert only_x == both
    _, nothing = m.jvp({}, **point)
    assert nothing == 0.0
    assert m.hvp({}, **point) == {"x": 0.0, "y": 0.0}
    with pytest.raises(TypeError, match="'w'"):
        m.jvp({"x": 1.0, "w": 1.0}, **point)
    with pytest.raises(TypeError, match="'z'"):
        m.hvp({"z": 1.0}, **point)  # a data input is not a parameter


def test_the_tangent_dict_never_collides_with_a_circuit_argument():
    tangents, vectors = sp.symbols("tangents vectors")
    m = circuitc.compile(tangents * vectors**2, wrt=[vectors], name="names")
    J, J_dot = m.jvp({"vectors": 1.0}, tangents=3.0, vectors=2.0)
    assert (J, J_dot) == (12.0, 12.0)
    assert m.hvp({"vectors": 1.0}, tangents=3.0, vectors=2.0) == {"vectors": 6.0}
    with pytest.raises(TypeError):
        m.jvp(_tangents={"vectors": 1.0}, tangents=3.0, vectors=2.0)  # positional-only


def test_a_wrongly_shaped_tangent_is_a_value_error_naming_it():
    m = matrix_module("matmul")
    point = matrix_point(*MATRIX_CASES["matmul"][:2])
    with pytest.raises(ValueError, match="'A'"):
        m.jvp({"A": np.ones((4, 3))}, **point)
    with pytest.raises(ValueError, match="'B'"):
        m.hvp({"B": np.ones(3)}, **point)


# -- broadcast inputs and float32 -----------------------------------------------------------------
def test_broadcast_inputs_jvp_is_elementwise_and_hvp_is_of_sum_J():
    m = _scalar_module("sigmoid_softplus")
    rng = np.random.default_rng(7)
    point = {"x": rng.normal(size=6), "y": 0.4}
    v = {"x": rng.normal(size=6), "y": 1.5}
    J, J_dot = m.jvp(v, **point)
    assert np.shape(J_dot) == (6,)
    assert_close(J_dot, directional_difference(m.forward, point, v), "central", "J_dot")
    Hv = m.hvp(v, **point)
    assert np.shape(Hv["x"]) == (6,) and np.ndim(Hv["y"]) == 0
    expected = gradient_difference(m.grad, point, v)
    for n in ("x", "y"):
        assert_close(Hv[n], expected[n], "central", f"Hv[{n}]", scale=_scale(expected[n]))


def test_a_tangent_of_a_broadcast_parameter_that_the_output_does_not_vary_along():
    """J̇ has J's shape even when only a scalar's tangent reaches it."""
    m = _scalar_module("exp_log")
    J, J_dot = m.jvp({"y": 1.0}, x=np.linspace(0.1, 0.9, 5), y=0.3)
    assert np.shape(J_dot) == np.shape(J) == (5,)


@pytest.mark.parametrize("case", ["softmax_cross_entropy", "sigmoid", "matmul_chain", "l2"])
def test_float32_in_float32_out(case):
    expr, wrt, _ = MATRIX_CASES[case]
    m = matrix_module(case)
    p64 = matrix_point(expr, wrt)
    p32 = {
        k: np.float32(v) if isinstance(v, float) else v.astype(np.float32) for k, v in p64.items()
    }
    names = [s.name for s in wrt]
    v64 = random_direction(p64, names, seed=9)
    v32 = {
        k: np.float32(a) if isinstance(a, float) else a.astype(np.float32) for k, a in v64.items()
    }
    _, d32 = m.jvp(v32, **p32)
    _, d64 = m.jvp(v64, **p64)
    assert np.asarray(d32).dtype == np.float32
    assert_close(d32, d64, "float32", "J_dot float32", scale=_scale(d64))
    h32, h64 = m.hvp(v32, **p32), m.hvp(v64, **p64)
    for n in names:
        assert np.asarray(h32[n]).dtype == np.float32, n
        assert_close(h32[n], h64[n], "float32", f"Hv[{n}] float32", scale=_scale(h64[n]))


# -- the notes' networks ------------------------------------------------------------------------
@functools.cache
def batch_example(name: str, **sizes):
    """The batch example compiled at these sizes (once: N is symbolic, so n needs no new module)."""
    return circuitc.compile(example(name)["make_circuit"](**sizes))


def _logreg_point(rng, n, d):
    X = np.hstack([np.ones((n, 1)), rng.normal(size=(n, d - 1))])
    theta = rng.normal(size=(d, 1)) * 0.5
    y = rng.integers(0, 2, (n, 1)).astype(float)
    return {"theta": theta, "X": X, "y": y}


@settings(max_examples=12, derandomize=True, deadline=None, database=None)
@given(n=st.integers(1, 40), d=st.integers(2, 7), seed=st.integers(0, 2**16))
def test_logistic_regression_hessian_is_the_closed_form(n, d, seed):
    m = batch_example("logistic_regression_batch", D=d)
    point = _logreg_point(np.random.default_rng(seed), n, d)
    X, theta = point["X"], point["theta"]
    p = 1 / (1 + np.exp(-X @ theta))
    closed = X.T @ (X * (p * (1 - p))) / n  # mean cross-entropy: Xᵀ diag(p(1−p)) X / N
    report = circuitc.hessian(m, at=point)
    assert report.matrix.shape == (d, d)
    assert_close(report.matrix, closed, "exact", "Hessian vs XᵀDX/N", scale=_scale(closed))
    assert report.blocks[("theta", "theta")].shape == (d, 1, d, 1)
    v = np.random.default_rng(seed + 1).normal(size=(d, 1))
    assert_close(
        m.hvp({"theta": v}, **point)["theta"], closed @ v, "exact", "Hv", scale=_scale(closed)
    )


@settings(max_examples=8, derandomize=True, deadline=None, database=None)
@given(
    n=st.integers(1, 12),
    d=st.integers(2, 5),
    h=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_two_layer_network_hvp_over_sizes(n, d, h, seed):
    m = batch_example("two_layer_nn_batch", D=d, H=h)
    rng = np.random.default_rng(seed)
    point = {
        "X": rng.normal(size=(n, d)),
        "y": rng.integers(0, 2, (n, 1)).astype(float),
        "alpha": rng.normal(size=(d, h)),
        "beta": rng.normal(size=(h, 1)),
        "beta_0": rng.normal(size=(1, 1)),
    }
    v = random_direction(point, m.WRT, seed)
    Hv = m.hvp(v, **point)
    expected = gradient_difference(m.grad, point, v)
    for name in m.WRT:
        assert_close(
            Hv[name], expected[name], "central", f"Hv[{name}]", scale=_scale(expected[name])
        )
    _, J_dot = m.jvp(v, **point)
    expected_dot = directional_difference(m.forward, point, v)
    assert_close(J_dot, expected_dot, "central", "J_dot", scale=_scale(expected_dot))


def test_hessian_report_blocks_and_matrix_in_wrt_order():
    m = circuitc.compile(example("mlp_digits")["make_circuit"](D=4, H=3, K=3))
    rng = np.random.default_rng(2)
    point = {
        "X": rng.normal(size=(5, 4)),
        "Y": np.eye(3)[rng.integers(0, 3, 5)],
        "W1": rng.normal(size=(4, 3)),
        "W2": rng.normal(size=(3, 3)),
        "b2": rng.normal(size=(1, 3)),
    }
    report = circuitc.hessian(m, at=point)
    sizes = [point[n].size for n in m.WRT]
    total = sum(sizes)
    assert report.matrix.shape == (total, total)
    assert_close(report.matrix, report.matrix.T, "exact", "symmetry", scale=_scale(report.matrix))
    offsets = np.cumsum([0] + sizes)
    for i, p in enumerate(m.WRT):
        for j, q in enumerate(m.WRT):
            block = report.blocks[(p, q)]
            assert block.shape == point[p].shape + point[q].shape
            flat = report.matrix[offsets[i] : offsets[i + 1], offsets[j] : offsets[j + 1]]
            np.testing.assert_array_equal(block.reshape(flat.shape), flat)  # C order
    # each column is a central difference of the gradient along a basis vector
    for col in (0, 5, total - 1):
        e = np.zeros(total)
        e[col] = 1.0
        direction = {
            n: e[offsets[k] : offsets[k + 1]].reshape(point[n].shape) for k, n in enumerate(m.WRT)
        }
        diff = gradient_difference(m.grad, point, direction)
        expected = np.concatenate([np.ravel(diff[n]) for n in m.WRT])
        assert_close(
            report.matrix[:, col], expected, "central", f"column {col}", scale=_scale(expected)
        )


def test_hessian_of_a_circuit_compiles_it():
    report = circuitc.hessian(
        circuitc.Circuit("h", x**2 * y + sp.sin(y), [x, y]), at={"x": 0.5, "y": 2.0}
    )
    expected = np.array([[2 * 2.0, 2 * 0.5], [2 * 0.5, -np.sin(2.0)]])
    assert_close(report.matrix, expected, "exact", "Hessian of x²y + sin y")


@needs_torch
def test_mlp_hvp_against_torch():
    m = circuitc.compile(example("mlp_digits")["make_circuit"](D=6, H=5, K=4))
    rng = np.random.default_rng(11)
    point = {
        "X": rng.normal(size=(7, 6)),
        "Y": np.eye(4)[rng.integers(0, 4, 7)],
        "W1": rng.normal(size=(6, 5)),
        "W2": rng.normal(size=(5, 4)),
        "b2": rng.normal(size=(1, 4)),
    }
    X, Y = (torch.tensor(point[k]) for k in ("X", "Y"))

    def loss(W1, W2, b2):
        logits = torch.sigmoid(X @ W1) @ W2 + b2
        return torch.nn.functional.cross_entropy(logits, Y)

    names = ("W1", "W2", "b2")
    primal = tuple(torch.tensor(point[n]) for n in names)
    v = random_direction(point, names, seed=12)
    _, expected = torch.autograd.functional.hvp(
        loss, primal, tuple(torch.tensor(v[n]) for n in names)
    )
    Hv = m.hvp(v, **point)
    for n, e in zip(names, expected, strict=True):
        assert_close(Hv[n], e.numpy(), "central", f"Hv[{n}] vs torch")


# -- Jacobians of matrix outputs -------------------------------------------------------------------
def _jacobian_by_differences(f, point, name):
    """d out / d point[name], shape out.shape + param.shape, one coordinate at a time."""
    base = np.asarray(point[name], dtype=np.float64)
    columns = []
    for idx in np.ndindex(base.shape):
        e = np.zeros_like(base)
        e[idx] = 1.0
        columns.append(directional_difference(f, point, {name: e}))
    out = np.stack(columns, axis=-1)
    return out.reshape(out.shape[:-1] + base.shape)


@pytest.mark.parametrize(
    "case", ["matmul", "matmul_chain", "add_bias", "softmax", "sum_axis0", "transpose"]
)
def test_jacobian_of_a_matrix_output_against_differences(case):
    expr, wrt, _ = MATRIX_CASES[case]
    m = matrix_module(case)
    point = matrix_point(expr, wrt)
    jac = m.jacobian(**point)
    out_shape = np.shape(m.forward(**point))
    assert list(jac) == [s.name for s in wrt]
    for s in wrt:
        assert jac[s.name].shape == out_shape + np.shape(point[s.name])
        expected = _jacobian_by_differences(m.forward, point, s.name)
        assert_close(
            jac[s.name], expected, "central", f"{case}: dJ/d{s.name}", scale=_scale(expected)
        )


@needs_torch
def test_jacobian_of_the_prediction_against_torch():
    m = circuitc.compile(example("mlp_digits")["make_circuit"](D=4, H=3, K=3))
    rng = np.random.default_rng(4)
    point = {
        "X": rng.normal(size=(5, 4)),
        "Y": np.eye(3)[rng.integers(0, 3, 5)],
        "W1": rng.normal(size=(4, 3)),
        "W2": rng.normal(size=(3, 3)),
        "b2": rng.normal(size=(1, 3)),
    }
    X = torch.tensor(point["X"])

    def predict(W1, W2, b2):
        return torch.softmax(torch.sigmoid(X @ W1) @ W2 + b2, 1)

    names = ("W1", "W2", "b2")
    expected = torch.autograd.functional.jacobian(
        predict, tuple(torch.tensor(point[n]) for n in names)
    )
    jac = m.jacobian(**point)
    for n, e in zip(names, expected, strict=True):
        assert jac[n].shape == (5, 3) + point[n].shape
        assert_close(jac[n], e.numpy(), "central", f"dŷ/d{n} vs torch")


def test_jacobian_of_wide_and_narrow_outputs():
    """A 4×30 output of 12 parameter entries and a 1×2 output of 80: both against differences."""
    A = sp.MatrixSymbol("A", 4, 3)
    B = sp.MatrixSymbol("B", 3, 30)
    w = sp.MatrixSymbol("w", 40, 2)
    r = sp.MatrixSymbol("r", 1, 40)
    rng = np.random.default_rng(0)
    wide = circuitc.compile(nn.sigmoid(A * B), wrt=[A], name="wide")
    narrow = circuitc.compile(nn.tanh(r * w), wrt=[w], name="narrow")
    for m, point, name in (
        (wide, {"A": rng.normal(size=(4, 3)), "B": rng.normal(size=(3, 30))}, "A"),
        (narrow, {"r": rng.normal(size=(1, 40)), "w": rng.normal(size=(40, 2))}, "w"),
    ):
        jac = m.jacobian(**point)
        expected = _jacobian_by_differences(m.forward, point, name)
        assert_close(jac[name], expected, "central", f"{m.NAME}", scale=_scale(expected))


def test_a_scalar_circuit_refuses_a_jacobian():
    """Its Jacobian over broadcast inputs is diagonal and huge: jvp and grad are the tools."""
    m = _scalar_module("exp_log")
    with pytest.raises(TypeError, match="scalar output.*grad"):
        m.jacobian(x=np.ones(3), y=0.5)


# -- cost: op counts --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.py")))
def test_hvp_costs_a_small_constant_times_one_gradient(name):
    from circuitc.cli import load_circuits

    for circuit in load_circuits(str(EXAMPLES / f"{name}.py")):
        report = circuitc.cost(circuit, naive=False)
        assert report.hvp_ops > 0
        assert report.hvp_ratio <= 3.0, (circuit.name, report.hvp_ratio)
        if report.entries is not None:
            assert report.forward_mode_ops == report.entries * (
                report.forward_ops + report.tangent_ops
            )


def test_hvp_cost_grows_linearly_with_depth():
    a = sp.Symbol("a")

    def chain(depth):
        e = x
        for _ in range(depth):
            e = sp.sin(e) * e + a
        return circuitc.cost(e, wrt=[x, a], naive=False)

    short, long = chain(40), chain(80)
    assert 1.8 <= long.hvp_ops / short.hvp_ops <= 2.2
    assert long.hvp_ratio <= 3.0


def test_the_small_example_forward_mode_by_hand():
    (circuit,) = [example("small_example")["circuit"]]
    report = circuitc.cost(circuit, naive=False)
    # the tangent lines: 2*x*ẋ (2), cos(t)*ṫ (2), 3*ṫ (1), u̇1 + u̇2 (1), -sin(u)*u̇ (3)
    assert report.tangent_ops == 9
    assert report.entries == 1 and report.forward_mode_ops == 5 + 9
    text = str(report)
    assert "forward mode, full gradient (1 x jvp)" in text
    assert "hvp (forward over reverse)" in text
    source = circuitc.source(circuit)
    assert "# tangents (ops: 9)" in source


# -- check: jvp and hvp rows ---------------------------------------------------------------------
def test_check_compares_jvp_and_hvp_with_central_differences():
    m = matrix_module("softmax_cross_entropy")
    report = circuitc.check(m)
    assert [r.name for r in report.rows] == ["W", "b"]  # the gradient rows, as before
    names = [r.name for r in report.second_order]
    assert "J-dot (jvp)" in names and "H.v: W (hvp)" in names and "H.v: b (hvp)" in names
    assert report.passed


def test_check_catches_a_wrong_hvp(monkeypatch):
    import types

    m = circuitc.compile(x**3 * y, wrt=[x, y], name="wrong_hvp")
    broken = types.ModuleType("broken")
    broken.__dict__.update(vars(m))
    right = m.hvp
    broken.hvp = lambda v, **kw: {k: val * 1.01 for k, val in right(v, **kw).items()}
    report = circuitc.check(broken)
    failed = [r.name for r in report.rows + report.second_order if not r.passed]
    assert failed == ["H.v: x (hvp)", "H.v: y (hvp)"]
    assert not report.passed


# -- the forward-mode table ---------------------------------------------------------------------
def test_forward_table_values_are_the_jvp():
    from circuitc.views.tangent_table import forward_table

    circuit = example("small_example")["circuit"]
    report = forward_table(circuit, at={"x": 0.5}, direction={"x": 2.0})
    by_node = {r.node: r for r in report.rows}
    # by hand: t = x², ṫ = 2x·ẋ = 2; u = sin t + 3t, u̇ = (cos t + 3)·ṫ; J̇ = -sin(u)·u̇
    t = 0.25
    u = np.sin(t) + 3 * t
    assert_close(by_node["t"].dot, 2.0, "exact", "t-dot")
    assert_close(by_node["u"].dot, (np.cos(t) + 3) * 2.0, "exact", "u-dot")
    assert_close(report.dot, -np.sin(u) * (np.cos(t) + 3) * 2.0, "exact", "J-dot")
    assert "t\u0307 = dt/dx · x\u0307" in str(report)  # ṫ, ẋ: the combining dot


def test_cli_table_forward_mode(tmp_path):
    import subprocess
    import sys

    path = str(EXAMPLES / "small_example.py")
    run = subprocess.run(
        [sys.executable, "-m", "circuitc", "table", path, "--mode", "forward", "--at", "x=0.5"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "forward mode of small_example: tangents along x\u0307 = 1" in run.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "circuitc",
            "table",
            path,
            "--mode",
            "forward",
            "--direction",
            "y=1",
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "'y'" in bad.stderr


# -- slices (issue 12's ops) ----------------------------------------------------------------------
@pytest.mark.parametrize("block", ["rows", "row", "column", "steps"])
def test_jvp_and_hvp_through_slices_by_hand(block):
    A = sp.MatrixSymbol("A", 3, 4)
    W = sp.MatrixSymbol("W", 4, 2)
    sl, index = {
        "rows": (A[0:2, 1:3], np.s_[0:2, 1:3]),
        "row": (A[1, :], np.s_[1:2, :]),
        "column": (A[:, 2], np.s_[:, 2:3]),
        "steps": (A[::2, 1:4:2], np.s_[::2, 1:4:2]),
    }[block]
    m = circuitc.compile(nn.sum(sl.applyfunc(sp.sin)) + nn.sum((A * W)[0:2, :]), wrt=[A, W])
    rng = np.random.default_rng(3)
    point = {"A": rng.normal(size=(3, 4)), "W": rng.normal(size=(4, 2))}
    v = {"A": rng.normal(size=(3, 4)), "W": rng.normal(size=(4, 2))}
    # by hand: J = Σ sin(A[index]) + Σ (A W)[0:2]; J̇ = Σ cos(A[index])·Ȧ[index] + Σ (ȦW + AẆ)[0:2]
    A0, W0, dA, dW = point["A"], point["W"], v["A"], v["W"]
    expected_dot = np.sum(np.cos(A0[index]) * dA[index]) + np.sum((dA @ W0 + A0 @ dW)[0:2])
    _, J_dot = m.jvp(v, **point)
    assert_close(J_dot, expected_dot, "exact", f"{block}: J_dot")
    # Hv for A: -sin(A[index])·Ȧ[index] placed back, plus Ẇ's rows summed over the first 2 rows
    Hv = m.hvp(v, **point)
    hA = np.zeros((3, 4))
    hA[index] = -np.sin(A0[index]) * dA[index]
    hA[0:2] += np.ones((2, 2)) @ dW.T
    hW = dA[0:2].T @ np.ones((2, 2))
    assert_close(Hv["A"], hA, "exact", f"{block}: Hv[A]")
    assert_close(Hv["W"], hW, "exact", f"{block}: Hv[W]")
