"""Wide sums of scalar parameters times inputs (``Σ_j θ_j·x_j``) on the NumPy path.

``emit/lincomb.py`` stacks the x_j and computes the sum and the D gradients as two matrix
products; the helpers fall back to term-by-term arithmetic whenever the arguments are not D
float arrays of one shape with scalar parameters. Every case is checked against NumPy written
by hand from the mathematics (in long double where rounding matters), central differences and
PyTorch: over widths D (below and above ``MIN_TERMS``, up to a few hundred), batch sizes,
dtypes, parameters given as floats, NumPy scalars, 0-d and 1-element arrays and full arrays,
inputs of different broadcastable shapes, and sums with terms that do not match.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import central_grad

import circuitc
from circuitc.emit.lincomb import MIN_TERMS

WIDTHS = [3, MIN_TERMS, 9, 31, 64, 200]


@functools.cache
def logreg(D: int):
    """J = -(y log σ(a) + (1 - y) log(1 - σ(a))), a = Σ θ_j x_j, σ written out (as users do)."""
    thetas, xs = sp.symbols(f"theta0:{D}"), sp.symbols(f"x0:{D}")
    y = sp.Symbol("y")
    a = sp.Add(*(t * x for t, x in zip(thetas, xs, strict=True)))
    s = 1 / (1 + sp.exp(-a))
    J = -(y * sp.log(s) + (1 - y) * sp.log(1 - s))
    return circuitc.compile(J, wrt=list(thetas), name=f"logreg_scalars_{D}")


@functools.cache
def linreg(D: int):
    """J = (b + Σ w_j x_j - y)² / 2 + λ Σ_{j<3} w_j²: a bias (a term that does not match) and
    three weights that other terms use too (an L2 penalty), so they keep their own updates."""
    ws, xs = sp.symbols(f"w0:{D}"), sp.symbols(f"x0:{D}")
    b, y = sp.symbols("b y")
    J = (b + sp.Add(*(w * x for w, x in zip(ws, xs, strict=True))) - y) ** 2 / 2
    J += sp.Rational(1, 10) * sp.Add(*(w**2 for w in ws[:3]))
    return circuitc.compile(J, wrt=[b, *ws], name=f"linreg_scalars_{D}")


def softplus(a):
    return np.logaddexp(0.0, a)


def sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def reduce_to(grad, like):
    """sum(grad) over the axes ``like`` was broadcast along (what every gradient is)."""
    shape = np.shape(like)
    grad = np.asarray(grad)
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    return np.sum(grad, axis=axes, keepdims=True).reshape(shape)


def hand_logreg(thetas, xs, y):
    """J and dsum(J)/dθ_j from the mathematics, in long double: dJ/da = σ(a) - y."""
    ld = np.longdouble
    a = sum(
        np.asarray(t, dtype=ld) * np.asarray(x, dtype=ld) for t, x in zip(thetas, xs, strict=True)
    )
    J = y * softplus(-a) + (1 - y) * softplus(a)
    da = sigmoid(a) - np.asarray(y, dtype=ld)
    return J, [reduce_to(da * np.asarray(x, dtype=ld), t) for t, x in zip(thetas, xs, strict=True)]


def hand_linreg(b, ws, xs, y):
    ld = np.longdouble
    r = np.asarray(b, dtype=ld) - np.asarray(y, dtype=ld)
    r = r + sum(
        np.asarray(w, dtype=ld) * np.asarray(x, dtype=ld) for w, x in zip(ws, xs, strict=True)
    )
    J = r * r / 2 + sum(np.asarray(w, dtype=ld) ** 2 for w in ws[:3]) / 10
    grads = [reduce_to(r, b)]
    for j, (w, x) in enumerate(zip(ws, xs, strict=True)):
        extra = np.asarray(w, dtype=ld) / 5 if j < 3 else 0  # per instance, as J's penalty
        grads.append(reduce_to(r * np.asarray(x, dtype=ld) + extra, w))
    return J, grads


def kwargs(names, values):
    return dict(zip(names, values, strict=True))


def assert_near(got, want, scale, rel=1e-12, what=""):
    """|got - want| within ``rel`` of ``scale`` (the sum of the magnitudes of what was added:
    the error bound of a dot product of that size is D·u·Σ|terms|)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    err = np.max(np.abs(got - want)) if got.size else 0.0
    assert err <= rel * max(1.0, float(np.max(scale))), (what, err, float(np.max(scale)))


# -- how a parameter is given --------------------------------------------------------------------
KINDS = ["float", "float64", "0-d", "1-elem", "full"]


def as_kind(value: float, kind: str, n: int, rng):
    if kind == "float":
        return float(value)
    if kind == "float64":
        return np.float64(value)
    if kind == "0-d":
        return np.array(value)
    if kind == "1-elem":
        return np.array([value])
    return value + 0.01 * rng.standard_normal(n)  # one parameter per instance


@settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    D=st.sampled_from(WIDTHS),
    N=st.integers(1, 40),
    kind=st.sampled_from(KINDS),
    seed=st.integers(0, 2**16),
)
def test_logreg_matches_hand_numpy(D, N, kind, seed):
    """J and every gradient against the hand-written oracle, each parameter kind."""
    rng = np.random.default_rng(seed)
    m = logreg(D)
    thetas = [as_kind(v, kind, N, rng) for v in rng.normal(0, 0.5, D)]
    xs = [rng.normal(0, 2, N) for _ in range(D)]
    y = (rng.random(N) < 0.5).astype(np.float64)
    names = list(m.WRT) + [f"x{j}" for j in range(D)]
    J, g = m.value_and_grad(**kwargs(names, thetas + xs), y=y)
    want_J, want_g = hand_logreg(thetas, xs, y)
    scale = sum(np.abs(np.asarray(t) * x) for t, x in zip(thetas, xs, strict=True))
    assert_near(J, want_J, scale, what="J")
    assert_near(m.forward(**kwargs(names, thetas + xs), y=y), J, scale, rel=0, what="forward")
    for j, name in enumerate(m.WRT):
        got = g[name]
        assert np.shape(got) == np.shape(thetas[j]), (name, np.shape(got))
        assert_near(got, want_g[j], np.sum(np.abs(xs[j])) * np.size(got), what=name)
        if kind == "float" or kind == "float64":
            assert type(got) is float, (name, type(got))  # as _reduce gives a scalar parameter
        elif kind == "0-d":
            assert isinstance(got, np.float64), (name, type(got))


@settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    D=st.sampled_from(WIDTHS),
    N=st.integers(1, 30),
    seed=st.integers(0, 2**16),
    bias=st.sampled_from(["float", "0-d", "full"]),
)
def test_linreg_rest_and_shared_terms(D, N, seed, bias):
    """A bias that does not match, weights with a penalty of their own, against the oracle."""
    rng = np.random.default_rng(seed)
    m = linreg(D)
    b = as_kind(rng.normal(), bias, N, rng)
    ws = [float(v) for v in rng.normal(0, 0.5, D)]
    xs = [rng.normal(0, 2, N) for _ in range(D)]
    y = rng.normal(0, 1, N)
    point = {"b": b, "y": y} | kwargs([f"w{j}" for j in range(D)], ws)
    point |= kwargs([f"x{j}" for j in range(D)], xs)
    J, g = m.value_and_grad(**point)
    want_J, want_g = hand_linreg(b, ws, xs, y)
    scale = (sum(np.abs(w * x) for w, x in zip(ws, xs, strict=True)) + np.abs(b) + np.abs(y)) ** 2
    assert_near(J, want_J, scale, what="J")
    for name, want in zip(m.WRT, want_g, strict=True):
        assert_near(g[name], want, np.sqrt(scale) * sum(np.abs(x) for x in xs).sum(), what=name)


@pytest.mark.parametrize("D", [MIN_TERMS, 31])
def test_broadcast_shapes_and_array_parameters(D):
    """Inputs of different broadcastable shapes ((N,), (1,), (N, 1), scalars) and parameters
    given as arrays: the term-by-term route, against the oracle and central differences."""
    rng = np.random.default_rng(D)
    m = logreg(D)
    N = 5
    shapes = [(N,), (1,), (N, 1), (), (1, N)]
    xs = [rng.normal(0, 1, shapes[j % len(shapes)]) for j in range(D)]
    xs = [float(x) if np.ndim(x) == 0 else x for x in xs]
    thetas = [
        rng.normal(0, 0.3, (N,)) if j % 3 == 0 else float(rng.normal(0, 0.3)) for j in range(D)
    ]
    y = rng.random((N, 1))
    point = kwargs(list(m.WRT), thetas) | kwargs([f"x{j}" for j in range(D)], xs) | {"y": y}
    J, g = m.value_and_grad(**point)
    want_J, want_g = hand_logreg(thetas, xs, y)
    assert_near(J, want_J, 10.0, what="J")
    for j, name in enumerate(m.WRT):
        assert_near(g[name], want_g[j], 100.0, what=name)
    for name in list(m.WRT)[:4]:
        fd = central_grad(m.forward, point, name)
        assert_near(g[name], fd, 1e4 * max(1.0, float(np.max(np.abs(fd)))), what=f"fd {name}")


@pytest.mark.parametrize(
    "x_dtype, theta_kind, want",
    [
        (np.float32, "float", np.float32),  # Python floats beside float32 data stay float32
        (np.float32, "float32", np.float32),
        (np.float32, "float64", np.float64),  # a float64 parameter promotes, as NumPy does
        (np.float64, "float32", np.float64),
        (np.float64, "float", np.float64),
    ],
)
def test_dtypes(x_dtype, theta_kind, want):
    """The dtype rules of the design doc hold through the stacked route: J and each gradient
    in the promoted dtype (gradients in their parameter's dtype), values near the oracle."""
    D, N = 31, 50
    rng = np.random.default_rng(3)
    m = logreg(D)
    raw = rng.normal(0, 0.3, D)
    make = {"float": float, "float32": np.float32, "float64": np.float64}[theta_kind]
    thetas = [make(v) for v in raw]
    xs = [rng.normal(0, 1, N).astype(x_dtype) for _ in range(D)]
    y = (rng.random(N) < 0.5).astype(x_dtype)
    point = kwargs(list(m.WRT), thetas) | kwargs([f"x{j}" for j in range(D)], xs) | {"y": y}
    J, g = m.value_and_grad(**point)
    assert J.dtype == want
    want_J, want_g = hand_logreg(thetas, xs, y)
    rel = 1e-12 if want == np.float64 else 1e-5
    assert_near(J, want_J, 10.0, rel=rel, what="J")
    for j, name in enumerate(m.WRT):
        if theta_kind != "float":
            assert np.asarray(g[name]).dtype == np.dtype(make), (name, type(g[name]))
        rel = 1e-12 if np.asarray(g[name]).dtype == np.float64 else 1e-6  # θ's own dtype
        assert_near(g[name], want_g[j], np.sum(np.abs(xs[j])), rel=rel, what=name)


def test_torch_agrees():
    torch = pytest.importorskip("torch")
    D, N = 64, 100
    rng = np.random.default_rng(11)
    m = logreg(D)
    thetas = [float(v) for v in rng.normal(0, 0.2, D)]
    xs = [rng.normal(0, 1, N) for _ in range(D)]
    y = (rng.random(N) < 0.5).astype(np.float64)
    point = kwargs(list(m.WRT), thetas) | kwargs([f"x{j}" for j in range(D)], xs) | {"y": y}
    J, g = m.value_and_grad(**point)
    t = torch.tensor(thetas, dtype=torch.float64, requires_grad=True)
    a = t @ torch.tensor(np.stack(xs))
    yt = torch.tensor(y)
    loss = -(yt * torch.log(torch.sigmoid(a)) + (1 - yt) * torch.log(1 - torch.sigmoid(a)))
    loss.sum().backward()
    np.testing.assert_allclose(J, loss.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose([g[n] for n in m.WRT], t.grad.numpy(), rtol=1e-11, atol=1e-12)


def test_the_module_stacks_wide_sums_only():
    """D ≥ MIN_TERMS: one stack, one product forward, one product backward, no line per term;
    below it, the notes' lines. The table (read from the plan) keeps every node either way."""
    wide = circuitc.source(_expr(31)[0], wrt=_expr(31)[1])
    narrow = circuitc.source(_expr(MIN_TERMS - 1)[0], wrt=_expr(MIN_TERMS - 1)[1])
    assert wide.count("_stack_rows(") == 3  # the helper, forward(), value_and_grad()
    assert wide.count("_lincomb_grad(") == 2  # the helper, value_and_grad()
    body = wide.split("def value_and_grad(")[1].split("def grad(")[0]
    assert "_d_t0 " not in body and "-theta0 * x0" not in body and "theta0 * x0" not in body
    assert "_stack_rows" not in narrow and "_lincomb" not in narrow
    table = str(circuitc.table(_expr(31)[0], wrt=_expr(31)[1]))
    assert "_t0 = -theta0 * x0" in table  # (σ's -a: SymPy distributes the minus sign)
    assert "dJ/dtheta30 += dJ/d_t" in table


def _expr(D):
    thetas, xs = sp.symbols(f"theta0:{D}"), sp.symbols(f"x0:{D}")
    a = sp.Add(*(t * x for t, x in zip(thetas, xs, strict=True)))
    return sp.log(1 + sp.exp(-a)), list(thetas)


def many_sums(k: int):
    """k neurons, each a sum of MIN_TERMS products w_ij·x_j, squared and added: k stacked sums."""
    xs = sp.symbols(f"x0:{MIN_TERMS}")
    ws = [sp.symbols(f"w{i}_0:{MIN_TERMS}") for i in range(k)]
    sums = [sp.Add(*(w * x for w, x in zip(row, xs, strict=True))) for row in ws]
    return sp.Add(*(s**2 for s in sums)), [w for row in ws for w in row]


def one_wide_sum(n: int):
    return _expr(n)


@pytest.mark.parametrize("make, n", [(many_sums, 40), (one_wide_sum, 400)])
def test_the_rewrite_is_linear(make, n):
    """The rewrite's own steps (lines executed, never time) at most ~double when the circuit
    doubles: each list of lines is rewritten in one pass for all the sums."""
    from test_wide_compile import DOUBLING, steps

    from circuitc.emit import lincomb
    from circuitc.emit.plan import plan
    from circuitc.emit.render import ModulePrinter
    from circuitc.front.circuit import as_circuit
    from circuitc.pipeline import build

    counts = []
    for k in (n, 2 * n):
        c = build(as_circuit(*make(k), name="wide"))
        p = plan(c, printer_class=ModulePrinter)
        out = lincomb.rewrite(c, p, ModulePrinter(c.graph, p.names))
        assert any("_lincomb_grad(" in line.rhs for line in out.backward)
        counts.append(
            steps(lambda c=c, p=p: lincomb.rewrite(c, p, ModulePrinter(c.graph, p.names)))
        )
    assert counts[1] <= DOUBLING * counts[0], counts


def _linear(ws, xs, scale=1):
    return sp.Add(*(scale * w * x for w, x in zip(ws, xs, strict=True)))


SHAPES_OF_SUMS = {
    # J per instance; the inputs a_j sort before the parameters w_j (x·θ order in the products)
    "J is the sum": lambda ws, xs: _linear(ws, xs),
    "scale 2, squared": lambda ws, xs: _linear(ws, xs, 2) ** 2,
    # w0 twice, the odd term first: the constant most terms share wins, the rest is added after
    "mixed scales": lambda ws, xs: (5 * ws[0] * xs[1] + _linear(ws, xs, sp.Rational(1, 3))) ** 2,
    "bias and sine": lambda ws, xs: sp.sin(_linear(ws, xs, -1) + ws[0] ** 2 + 3),
}


@pytest.mark.parametrize("case", sorted(SHAPES_OF_SUMS))
def test_shapes_of_sums_against_sympy(case):
    """J and sum-gradients against sympy.diff + lambdify (an independent oracle)."""
    D, N = 10, 7
    ws, xs = sp.symbols(f"w0:{D}"), sp.symbols(f"a0:{D}")
    J = SHAPES_OF_SUMS[case](ws, xs)
    m = circuitc.compile(J, wrt=list(ws), name="shapes")
    assert "_lincomb_grad(" in m.__source__
    rng = np.random.default_rng(len(case))
    wv, xv = [float(v) for v in rng.normal(0, 0.5, D)], [rng.normal(0, 1, N) for _ in range(D)]
    point = kwargs([w.name for w in ws], wv) | kwargs([x.name for x in xs], xv)
    value, g = m.value_and_grad(**point)
    args = list(ws) + list(xs)
    want = sp.lambdify(args, J, "numpy")(*wv, *xv) * np.ones(N)
    np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12)
    for w in ws:
        dw = sp.lambdify(args, sp.diff(J, w), "numpy")(*wv, *xv) * np.ones(N)
        np.testing.assert_allclose(g[w.name], np.sum(dw), rtol=1e-12, atol=1e-11)


def test_a_named_step_and_the_prediction():
    """The sum as a named step ``a`` read by the loss and by the prediction σ(a)."""
    D, N = 12, 9
    ws, xs = sp.symbols(f"w0:{D}"), sp.symbols(f"x0:{D}")
    a, y = sp.symbols("a y")
    s = circuitc.sigmoid(a)
    loss = -(y * sp.log(s) + (1 - y) * sp.log(1 - s))
    circuit = circuitc.Circuit(
        "stepped", loss, list(ws), steps=[(a, _linear(ws, xs))], prediction=s
    )
    m = circuitc.compile(circuit)
    assert "_lincomb_grad(" in m.__source__ and "_rows_a" in m.__source__
    rng = np.random.default_rng(2)
    wv, xv = [float(v) for v in rng.normal(0, 0.4, D)], [rng.normal(0, 1, N) for _ in range(D)]
    yv = (rng.random(N) < 0.5).astype(np.float64)
    point = kwargs([w.name for w in ws], wv) | kwargs([x.name for x in xs], xv)
    value, g = m.value_and_grad(**point, y=yv)
    want_J, want_g = hand_logreg(wv, xv, yv)
    assert_near(value, want_J, 10.0, what="J")
    for j, w in enumerate(ws):
        assert_near(g[w.name], want_g[j], np.sum(np.abs(xv[j])), what=w.name)
    av = sum(w * x for w, x in zip(wv, xv, strict=True))
    np.testing.assert_allclose(m.predict(**point), sigmoid(av), rtol=1e-14, atol=1e-15)
