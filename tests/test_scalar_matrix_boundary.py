"""A scalar argument given an array, next to a scalar made from matrices (docs/design.md, "One
rule for outputs"): the gradient is of sum(J), so the adjoint arriving where a matrix becomes
one number (trace, a sum over everything, an entry, a 1×1 product read as a scalar) is summed
before a matrix rule uses it; a scalar argument that meets a matrix (a 1×1 product, c * A) must be one number,
and the module says so (a ValueError naming it) instead of a NumPy error or a wrong number.

Oracles: PyTorch autograd of sum(J) (skipped without torch) and central differences of the
module's own forward (values checked against NumPy written by hand).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import circuitc
from circuitc import nn
from tests.oracles import assert_close, central_grad

c = sp.Symbol("c")
A = sp.MatrixSymbol("A", 3, 2)
w = sp.MatrixSymbol("w", 2, 1)

#: inner scalars made from matrices: SymPy, the same in NumPy (values) and in torch (oracle)
INNER = {
    "trace": (sp.Trace(A.T * A), lambda m, a, v: m.trace(a.T @ a)),
    "sum": (nn.sum(A), lambda m, a, v: a.sum()),
    "entry": ((A * w)[1, 0], lambda m, a, v: (a @ v)[1, 0]),
    "product": ((w.T * w)[0, 0], lambda m, a, v: (v.T @ v)[0, 0]),
}
#: functions around it: SymPy, NumPy/torch by name
OUTER = {"id": (lambda e: e, None), "exp": (sp.exp, "exp"), "sin": (sp.sin, "sin")}
#: how c enters: J = form(c, inner)
FORMS = {
    "scaled": lambda k, s, f: f(k * s),
    "times": lambda k, s, f: f(s) * k,
    "shifted": lambda k, s, f: f(s + k),
}


def _apply(lib, name, x):
    return x if name is None else getattr(lib, name)(x)


def _point(rng, c_shape):
    return {
        "c": rng.uniform(-1, 1, c_shape) if c_shape else float(rng.uniform(-1, 1)),
        "A": rng.uniform(-0.5, 0.5, (3, 2)),
        "w": rng.uniform(-0.5, 0.5, (2, 1)),
    }


def _compile(expr, wrt, name):
    m = circuitc.compile(expr, wrt=wrt, name=name)
    return m, [*m.INPUTS, *m.WRT]


def _torch_grads(inner, outer, form, point, names):
    """d sum(J) / d each argument by torch autograd."""
    torch = pytest.importorskip("torch")
    t = {
        k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True)
        for k, v in point.items()
    }
    s = INNER[inner][1](torch, t["A"], t["w"])
    J = FORMS[form](t["c"], s, lambda e: _apply(torch, OUTER[outer][1], e))
    J.sum().backward()
    return {k: t[k].grad.numpy() for k in names}


def _build(inner, outer, form):
    expr = FORMS[form](c, INNER[inner][0], OUTER[outer][0])
    used = [s for s in (A, w) if s in expr.atoms(sp.MatrixSymbol)]
    return expr, used


# -- the five circuits of the report ----------------------------------------------------------

VALS = {"c": np.array([1.0, 2.0]), "A": np.ones((3, 2)), "w": np.ones((2, 1))}


def _call(m, names, **over):
    vals = {**VALS, **over}
    return m.value_and_grad(**{k: vals[k] for k in names})


def test_sum_of_matrix_times_array():
    m, names = _compile(c * nn.sum(A), [A], "b_sum")
    J, g = _call(m, names)
    np.testing.assert_allclose(J, [6.0, 12.0])
    np.testing.assert_allclose(g["A"], np.full((3, 2), 3.0))  # sum(c) everywhere


def test_trace_times_array():
    m, names = _compile(c * sp.Trace(A.T * A), [A], "b_trace")
    J, g = _call(m, names)
    np.testing.assert_allclose(J, [6.0, 12.0])
    np.testing.assert_allclose(g["A"], np.full((3, 2), 6.0))  # sum(c) * 2A


def test_entry_times_array():
    m, names = _compile(c * (A * w)[0, 0], [w], "b_entry")
    J, g = _call(m, names)
    np.testing.assert_allclose(J, [2.0, 4.0])
    np.testing.assert_allclose(g["w"], np.full((2, 1), 3.0))  # sum(c) * A[0, :].T


@pytest.mark.parametrize(
    "build",
    [
        lambda: sp.exp(c * (w.T * w)),
        lambda: c * (w.T * w),
        lambda: sp.Trace(A.T * (c * A)) + (w.T * w)[0, 0],  # c would weight A's columns
        lambda: nn.sum((sp.sin(c) * A).applyfunc(sp.exp)) * (w.T * w)[0, 0],
    ],
)
def test_array_meeting_a_matrix_is_refused(build):
    m, names = _compile(build(), [w], "b_one")
    for call in (m.value_and_grad, m.forward, m.grad):
        with pytest.raises(ValueError, match=r"^c must be a single number in this circuit"):
            call(**{k: VALS[k] for k in names})
    with pytest.raises(ValueError, match=r"^c must be a single number"):
        m.jvp({"w": np.ones((2, 1))}, **{k: VALS[k] for k in names})
    with pytest.raises(ValueError, match=r"^c must be a single number"):
        m.hvp({"w": np.ones((2, 1))}, **{k: VALS[k] for k in names})


def test_array_api_backend_sums_and_refuses_the_same():
    pytest.importorskip("array_api_compat")
    m = circuitc.compile(c * sp.Trace(A.T * A), wrt=[A], name="b_xp", backend="array_api")
    J, g = m.value_and_grad(c=VALS["c"], A=VALS["A"])
    np.testing.assert_allclose(np.asarray(g["A"]), np.full((3, 2), 6.0))
    one = circuitc.compile(c * (w.T * w), wrt=[w], name="b_xp_one", backend="array_api")
    with pytest.raises(ValueError, match=r"^c must be a single number in this circuit"):
        one.value_and_grad(c=VALS["c"], w=VALS["w"])
    J, g = one.value_and_grad(c=np.array(2.0), w=VALS["w"])
    np.testing.assert_allclose(np.asarray(g["w"]), np.full((2, 1), 4.0))  # 2c·w


@pytest.mark.parametrize("value", [2.0, np.float64(2.0), np.array(2.0), np.array([2.0])])
def test_one_number_meeting_a_1x1_product(value):
    m, names = _compile(sp.exp(c * (w.T * w)) / 4, [w], "b_one_ok")
    wv = np.array([[0.3], [-0.2]])
    J, g = m.value_and_grad(**{"c": value, "w": wv})
    s = float((wv.T @ wv)[0, 0])
    assert_close(J, np.exp(2.0 * s) / 4, "exact", "J")
    assert_close(g["w"], np.exp(2.0 * s) / 4 * 2.0 * 2.0 * wv, "exact", "dJ/dw")


# -- drawn circuits ----------------------------------------------------------------------------

C_SHAPES = st.sampled_from([(), (1,), (3,), (4,), (2, 1), (3, 1)])


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    inner=st.sampled_from(sorted(INNER)),
    outer=st.sampled_from(sorted(OUTER)),
    form=st.sampled_from(sorted(FORMS)),
    c_shape=C_SHAPES,
    c_wrt=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_drawn_gradients_match_torch_and_central_differences(
    inner, outer, form, c_shape, c_wrt, seed
):
    expr, used = _build(inner, outer, form)
    m, names = _compile(expr, used + ([c] if c_wrt else []), f"b_{inner}_{outer}_{form}")
    full = _point(np.random.default_rng(seed), c_shape)
    point = {k: v for k, v in full.items() if k in names}
    J, g = m.value_and_grad(**point)
    assert np.shape(J) == np.shape(point["c"])
    for name in m.WRT:
        assert_close(g[name], central_grad(m.forward, point, name), "central", f"d/d{name}")
        assert np.shape(g[name]) == np.shape(point[name])
    pytest.importorskip("torch")
    want = _torch_grads(inner, outer, form, full, list(m.WRT))
    for name in m.WRT:
        assert_close(g[name], want[name], "exact", f"d/d{name} vs torch")


def _along(point, direction, h):
    return {
        k: (np.asarray(v) + h * direction[k] if k in direction else v) for k, v in point.items()
    }


@settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    inner=st.sampled_from(sorted(INNER)),
    outer=st.sampled_from(sorted(OUTER)),
    form=st.sampled_from(sorted(FORMS)),
    c_shape=C_SHAPES,
    seed=st.integers(0, 2**16),
)
def test_drawn_jvp_and_hvp_match_central_differences(inner, outer, form, c_shape, seed):
    expr, used = _build(inner, outer, form)
    m, names = _compile(expr, used, f"b2_{inner}_{outer}_{form}")
    rng = np.random.default_rng(seed)
    point = {k: v for k, v in _point(rng, c_shape).items() if k in names}
    direction = {k: rng.uniform(-1, 1, np.shape(point[k])) for k in m.WRT}
    h = 1e-6
    J, dot = m.jvp(direction, **point)
    hi, lo = m.forward(**_along(point, direction, h)), m.forward(**_along(point, direction, -h))
    assert_close(dot, (np.asarray(hi) - np.asarray(lo)) / (2 * h), "central", "jvp")
    hv = m.hvp(direction, **point)
    ghi, glo = m.grad(**_along(point, direction, h)), m.grad(**_along(point, direction, -h))
    for name in m.WRT:
        assert_close(hv[name], (ghi[name] - glo[name]) / (2 * h), "central", f"hvp {name}")


def test_circuits_without_scalar_arguments_get_no_reduction():
    """The reduction is only emitted where a scalar argument can make an adjoint an array."""
    N = sp.Symbol("N")
    X = sp.MatrixSymbol("X", N, 2)
    plain = circuitc.source(sp.exp(sp.Trace(A.T * A)) / N + nn.sum(X), wrt=[A], name="b_plain")
    assert (
        "axis=None)"
        not in plain.split("def value_and_grad")[1].split("# backward")[1].split("_grad = {")[0]
    )
    mixed = circuitc.source(c * sp.Trace(A.T * A), wrt=[A], name="b_mixed")
    assert "_np.add.reduce(" in mixed.split("def value_and_grad")[1].split("# backward")[1]
