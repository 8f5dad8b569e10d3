"""The tiny-shape path: a matrix circuit called with every dimension 1 computes its 1×1 values
as Python floats (docs/design.md, "The tiny-shape path").

Its contract is the NumPy path's values bit for bit, so most tests call both paths on the
same arrays and compare the bits: the NumPy path is reached with the same data as a subclass
view of ndarray (the guard admits exact float64 ndarrays only; ``_arg`` takes the view as a
plain ndarray, same strides, no copy). The values are also checked against oracles that
share no code with circuitc: logistic regression's closed form (J = softplus(a) − y·a,
∇θ = (σ(a) − y)·xᵀ, in hand NumPy and in mpmath) and central differences.
"""

from __future__ import annotations

import functools
import math
import sys
import warnings
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import assert_close, central_grad

import circuitc
from circuitc import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from examples import logistic_regression_batch, two_layer_nn_batch  # noqa: E402

N = sp.Symbol("N")
SETTINGS = dict(max_examples=25, deadline=None, derandomize=True)


class _Other(np.ndarray):
    """An ndarray subclass: the tiny guard refuses it, so a call runs the NumPy path."""


def numpy_path(fn, **kw):
    """The same call through the NumPy path, on the same data and strides."""
    return fn(**{k: v.view(_Other) if isinstance(v, np.ndarray) else v for k, v in kw.items()})


def same_bits(a, b) -> bool:
    """Equal bit for bit (nan equal to nan, the sign of zero compared), shapes and dtypes too."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return a.tobytes() == b.tobytes() or bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def assert_same(got, ref):
    """value_and_grad results equal bit for bit: J a float in both, each gradient's array."""
    (J, g), (J0, g0) = got, ref
    assert type(J) is type(J0)
    assert same_bits(J, J0), (J, J0)
    assert g.keys() == g0.keys()
    for name in g:
        assert type(g[name]) is type(g0[name]), name
        assert same_bits(g[name], g0[name]), (name, g[name], g0[name])


@functools.cache
def logreg(D: int):
    return circuitc.compile(logistic_regression_batch.make_circuit(D, name=f"logreg_{D}"))


def tripwire(monkeypatch, module, *helpers):
    """Make the NumPy path's own helpers raise: a call that gets through took the tiny path."""

    def boom(*args, **kwargs):
        raise AssertionError("the NumPy path ran")

    for name in helpers:
        monkeypatch.setattr(module, name, boom)


def closed_form(theta, x, y):
    """Logistic regression on one row, by hand: J = softplus(a) − y a, ∇θ = (σ(a) − y) xᵀ."""
    a = float(np.dot(x.ravel(), theta.ravel()))
    J = float(np.logaddexp(0.0, a)) - float(y[0, 0]) * a
    sigma = 0.5 * (1.0 + math.tanh(a / 2))
    return J, (sigma - float(y[0, 0])) * x.T


def mp_closed_form(theta, x, y):
    """The same at 40 digits (mpmath): the reference for large |a|."""
    with mpmath.workdps(40):
        a = mpmath.fsum(
            mpmath.mpf(float(p)) * float(q) for p, q in zip(x.ravel(), theta.ravel(), strict=True)
        )
        t = mpmath.mpf(float(y[0, 0]))
        J = mpmath.log1p(mpmath.exp(a)) - t * a
        r = 1 / (1 + mpmath.exp(-a)) - t
        return float(J), np.array([[float(r * float(v))] for v in x.ravel()])


rows = st.integers(1, 40).flatmap(
    lambda D: st.tuples(
        st.just(D),
        st.lists(st.floats(-3, 3), min_size=D, max_size=D),
        st.lists(st.floats(-3, 3), min_size=D, max_size=D),
        st.sampled_from([0.0, 1.0]),
        st.sampled_from([1e-3, 1.0, 30.0, 400.0, 3000.0]),
    )
)


# -- logistic regression, one instance ----------------------------------------------------------
@settings(**SETTINGS, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_logreg_row_is_the_numpy_paths_bit_for_bit_and_the_closed_form(case):
    """Over D and over |a| from 1e-3 to ~1e4 (where exp(-a) overflows, the tiny path hands the
    call to the NumPy path): the bits of the NumPy path, the closed form to rounding."""
    D, xs, ts, target, scale = case
    m = logreg(D)
    x = np.array([xs]) + 0.5  # never all zero
    theta = np.array([ts]).T * scale / D
    y = np.array([[target]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning from either path
        got = m.value_and_grad(theta=theta, X=x, y=y)
        ref = numpy_path(m.value_and_grad, theta=theta, X=x, y=y)
        assert_same(got, ref)
        assert same_bits(m.forward(theta=theta, X=x, y=y), got[0])
    J, g = mp_closed_form(theta, x, y)
    a_scale = (np.abs(x) @ np.abs(theta)).item() + 1.0  # the rounding of a scales with Σ|x θ|
    assert abs(got[0] - J) <= 1e-13 * a_scale
    assert np.all(np.abs(got[1]["theta"] - g) <= 1e-13 * a_scale * np.abs(x.T) + 1e-300)


def test_logreg_row_against_hand_numpy_and_central_differences(monkeypatch):
    rng = np.random.default_rng(3)
    m = logreg(31)
    tripwire(monkeypatch, m, "_softplus", "_sigmoid")
    for _ in range(20):
        x, theta = rng.normal(size=(1, 31)), rng.normal(0, 0.3, (31, 1))
        y = np.array([[float(rng.integers(0, 2))]])
        J, g = m.value_and_grad(theta=theta, X=x, y=y)
        J0, g0 = closed_form(theta, x, y)
        assert_close(J, J0, "exact")
        assert_close(g["theta"], g0, "exact")
        point = {"theta": theta, "X": x, "y": y}
        assert_close(g["theta"], central_grad(m.forward, point, "theta"), "central")


def test_large_logits_are_finite_and_stable():
    """|a| = 1e4: J = softplus(a) − y a without overflow, ∇ = (σ(a) − y) x."""
    m = logreg(2)
    x = np.array([[1.0, 0.0]])
    for a, t, loss, residual in [
        (1e4, 0.0, 1e4, 1.0),
        (1e4, 1.0, 0.0, 0.0),
        (-1e4, 1.0, 1e4, -1.0),
    ]:
        theta = np.array([[a], [0.0]])
        J, g = m.value_and_grad(theta=theta, X=x, y=np.array([[t]]))
        assert (J, g["theta"][0, 0], g["theta"][1, 0]) == (loss, residual, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        J, g = m.value_and_grad(theta=np.array([[-700.5], [0.0]]), X=x, y=np.array([[0.0]]))
    assert math.isclose(J, math.exp(-700.5), rel_tol=1e-14)
    assert math.isclose(g["theta"][0, 0], math.exp(-700.5), rel_tol=1e-14)


def test_the_softplus_of_floats_is_the_numpy_paths_bit_for_bit():
    """_tiny_softplus is the NumPy path's _softplus formula on a float: the same bits as
    _softplus of a 1×1 array, over a dense grid and the edges (a change to either breaks it)."""
    m = logreg(1)
    rng = np.random.default_rng(11)
    grid = np.concatenate([rng.normal(0, 5, 20000), rng.uniform(-800, 800, 20000)])
    grid = np.concatenate([grid, 10.0 ** rng.uniform(-12, 0, 5000) * rng.choice([-1, 1], 5000)])
    edges = [0.0, -0.0, 5e-324, -5e-324, 1e-300, 36.7, 37.0, -745.2, 709.9, 1e308, -1e308]
    with np.errstate(invalid="ignore"):
        for a in list(grid) + edges + [math.inf, -math.inf, math.nan]:
            assert same_bits(m._tiny_softplus(float(a)), m._softplus(np.array([[a]]))[0, 0]), a


@settings(**SETTINGS)
@given(st.floats(-800, 800))
def test_the_sigmoid_of_floats_is_the_numpy_paths(a):
    m = logreg(1)
    ref = m._sigmoid(np.array([[a]]))[0, 0]
    if a < -709.0:
        with pytest.raises(OverflowError):
            m._tiny_sigmoid(a)
    else:
        assert same_bits(m._tiny_sigmoid(a), ref)


# -- which calls take the tiny path ---------------------------------------------------------------
def test_the_guard_admits_float64_arrays_of_the_one_instance_shapes_only(monkeypatch):
    m = logreg(3)
    tripwire(monkeypatch, m, "_softplus", "_sigmoid")
    x, theta, y = np.ones((1, 3)), np.full((3, 1), 0.1), np.zeros((1, 1))
    m.value_and_grad(theta=theta, X=x, y=y)  # the tiny path: no NumPy helper called
    m.forward(theta=theta, X=x, y=y)
    others = [
        dict(theta=theta, X=np.ones((2, 3)), y=np.zeros((2, 1))),  # two rows
        dict(theta=theta.astype(np.float32), X=x, y=y),  # float32
        dict(theta=theta, X=x.tolist(), y=y),  # a list
        dict(theta=theta, X=x.view(_Other), y=y),  # a subclass
    ]
    for kw in others:
        with pytest.raises(AssertionError, match="the NumPy path ran"):
            m.value_and_grad(**kw)


def test_wrong_shapes_still_get_the_numpy_paths_errors():
    m = logreg(3)
    with pytest.raises(ValueError, match=r"argument 'X' has shape \(1, 4\); expected \(N, 3\)"):
        m.value_and_grad(theta=np.zeros((3, 1)), X=np.ones((1, 4)), y=np.zeros((1, 1)))
    with pytest.raises(ValueError, match="N = 0"):
        m.value_and_grad(theta=np.zeros((3, 1)), X=np.ones((0, 3)), y=np.zeros((0, 1)))


def test_float32_stays_float32():
    m = logreg(4)
    rng = np.random.default_rng(5)
    x, theta, y = rng.normal(size=(1, 4)), rng.normal(size=(4, 1)), np.ones((1, 1))
    J32, g32 = m.value_and_grad(
        theta=theta.astype(np.float32), X=x.astype(np.float32), y=y.astype(np.float32)
    )
    assert g32["theta"].dtype == np.float32 and np.asarray(J32).dtype == np.float32
    J, g = closed_form(theta.astype(np.float32).astype(np.float64), x.astype(np.float32), y)
    assert_close(J32, J, "float32")
    assert_close(g32["theta"], g, "float32")


@pytest.mark.parametrize("layout", ["fortran", "strided", "column_view"])
def test_non_contiguous_rows_are_the_numpy_paths_bit_for_bit(layout, monkeypatch):
    m = logreg(7)
    rng = np.random.default_rng(9)
    big = rng.normal(size=(5, 14)) * 10.0 ** rng.integers(-3, 4, (5, 14))
    theta = rng.normal(size=(7, 1))
    if layout == "fortran":
        x = np.asfortranarray(big[:, :7])[2:3]
    elif layout == "strided":
        x = big[1:2, ::2]
    else:
        x = big[:, :7].T.copy().T[3:4]
        theta = rng.normal(size=(21, 2))[::3, 1:2]  # a strided column
    theta *= 4.0 / (np.abs(x) @ np.abs(theta)).item()  # |a| <= 4: no hand-off to NumPy
    assert not (x.flags.c_contiguous and theta.flags.c_contiguous)
    y = np.ones((1, 1))
    ref = numpy_path(m.value_and_grad, theta=theta, X=x, y=y)
    tripwire(monkeypatch, m, "_softplus", "_sigmoid")
    got = m.value_and_grad(theta=theta, X=x, y=y)
    assert_same(got, ref)
    assert got[1]["theta"].flags.owndata or got[1]["theta"].base is not x


def test_the_gradient_is_a_fresh_array_each_call():
    m = logreg(3)
    x, theta, y = np.ones((1, 3)), np.full((3, 1), 0.1), np.zeros((1, 1))
    g1 = m.grad(theta=theta, X=x, y=y)["theta"]
    g2 = m.grad(theta=theta, X=x, y=y)["theta"]
    g1 += 1.0
    assert not np.shares_memory(g1, x) and not np.shares_memory(g1, g2)
    assert np.all(x == 1.0) and g2[0, 0] != g1[0, 0]


# -- other circuits: the tiny path of any op the printer knows ------------------------------------
def _layer(f, D: int = 3):
    """J = mean over rows of f(X θ + b) − y·(X θ), θ D×1, b 1×1: a 1×1 activation a row."""
    X, y = sp.MatrixSymbol("X", N, D), sp.MatrixSymbol("y", N, 1)
    theta, b = sp.MatrixSymbol("theta", D, 1), sp.MatrixSymbol("b", 1, 1)
    a = nn.add_bias(X * theta, b)
    J = nn.mean(a.applyfunc(f)) - nn.mean(sp.HadamardProduct(y, X * theta))
    return circuitc.compile(J, wrt=[theta, b], name="layer")


v = sp.Symbol("v", real=True)
CIRCUITS = {
    "trig_cube": lambda: _layer(sp.Lambda(v, sp.sin(v) ** 3 + sp.cos(v) * v)),
    "tanh_exp": lambda: _layer(sp.Lambda(v, sp.tanh(v) + sp.exp(-(v**2)))),
    "sqrt_div": lambda: _layer(sp.Lambda(v, sp.sqrt(v**2 + 1) + 1 / (v - sp.Rational(1, 2)))),
    "log_abs": lambda: _layer(sp.Lambda(v, sp.log(v**2 + 1) * sp.Abs(v))),
    "relu": lambda: _layer(sp.Lambda(v, sp.Max(v, 0) * v)),
    "sigmoid_written_out": lambda: _layer(sp.Lambda(v, 1 / (1 + sp.exp(-v)))),
    "two_layer": lambda: circuitc.compile(two_layer_nn_batch.circuit),
}


@functools.cache
def circuit_module(name):
    return CIRCUITS[name]()


def _point(m, rng, scale):
    shapes = {k: tuple(1 if isinstance(d, str) else d for d in s) for k, s in m.SHAPES.items()}
    return {k: rng.normal(0, scale, s) for k, s in shapes.items()}


@pytest.mark.parametrize("name", sorted(CIRCUITS))
def test_circuits_take_the_tiny_path_and_give_the_numpy_paths_bits(name):
    m = circuit_module(name)
    assert "tiny shapes (every dimension 1)" in m.__source__
    rng = np.random.default_rng(17)
    with np.errstate(all="ignore"):
        for scale in [1e-3, 0.3, 1.0, 5.0, 40.0]:
            for _ in range(40):
                kw = _point(m, rng, scale)
                if "b" in kw and rng.random() < 0.1:
                    kw["b"] = np.array([[0.5]]) - kw["X"] @ kw["theta"]  # a = 1/2: 1/(v − 1/2)
                assert_same(m.value_and_grad(**kw), numpy_path(m.value_and_grad, **kw))
                assert same_bits(m.forward(**kw), numpy_path(m.forward, **kw))


@pytest.mark.parametrize("name", sorted(CIRCUITS))
def test_circuits_tiny_path_against_central_differences(name):
    m = circuit_module(name)
    rng = np.random.default_rng(23)
    for _ in range(5):
        kw = _point(m, rng, 0.7)
        _, grads = m.value_and_grad(**kw)
        for param in m.WRT:
            slope = central_grad(m.forward, kw, param)
            assert_close(grads[param], slope, "central", scale=max(1.0, np.max(np.abs(slope))))


def test_circuits_whose_shapes_are_never_tiny_get_no_tiny_path():
    """A scalar circuit has the math fast path; a matrix J per instance or a circuit whose
    values are all matrices at one instance gains nothing: no second path either."""
    x = sp.Symbol("x")
    X, W = sp.MatrixSymbol("X", N, 4), sp.MatrixSymbol("W", 4, 3)
    for expr, wrt in [
        (sp.sin(x) * x, [x]),
        (nn.mean(nn.relu(X * W)), [W]),  # every value 1×3 at N = 1
        (nn.relu(X * sp.MatrixSymbol("w", 4, 1)), [sp.MatrixSymbol("w", 4, 1)]),  # J is N×1
    ]:
        assert "tiny shapes" not in circuitc.source(expr, wrt=wrt)


def test_per_instance_training_takes_the_tiny_path_and_ends_where_the_numpy_path_does(
    monkeypatch,
):
    """sgd.train with batch_size=1 passes one row at a time (views of the data): the tiny path
    runs, and the parameters after two epochs are bit for bit those of a module without it."""
    from circuitc.emit import render
    from circuitc.training import sgd
    from circuitc.training.data import split

    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 4))
    y = (X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(0, 0.5, 60) > 0).astype(float)
    data = split(X, y, seed=0)
    tiny = circuitc.compile(logistic_regression_batch.make_circuit(5, name="train_tiny"))
    with monkeypatch.context() as patch:
        patch.setattr(render, "tiny_context", lambda c, printer_class: {"tiny": None})
        plain = circuitc.compile(logistic_regression_batch.make_circuit(5, name="train_plain"))
    assert "tiny shapes" in tiny.__source__ and "tiny shapes" not in plain.__source__
    start = {"theta": np.random.default_rng(4).normal(0, 0.1, (5, 1))}
    p_tiny, _ = sgd.train(tiny, data, params={"theta": start["theta"].copy()}, epochs=2)
    p_plain, _ = sgd.train(plain, data, params={"theta": start["theta"].copy()}, epochs=2)
    assert same_bits(p_tiny["theta"], p_plain["theta"])
    calls = {"tiny": 0, "plain": 0}
    for name, module in (("tiny", tiny), ("plain", plain)):
        numpy_softplus = module._softplus

        def counted(a, name=name, numpy_softplus=numpy_softplus):
            calls[name] += 1
            return numpy_softplus(a)

        monkeypatch.setattr(module, "_softplus", counted)
        sgd.train(module, data, params={"theta": start["theta"].copy()}, epochs=1)
    steps = data.X_train.shape[0]
    assert calls["plain"] >= steps > 5 * calls["tiny"]  # the tiny module: epoch-end metrics only
