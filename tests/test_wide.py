"""Wide circuits, written the way users write them (issue 11, parts 1 and 5).

A user's circuit is not shaped like the examples: a sum of a few thousand terms, a product
of as many factors, a ``Max`` of every input, a ``Piecewise`` whose condition is an ``And``
of many comparisons, a piecewise map iterated inside one expression, ``0.0**y``, a
polynomial of degree 17, the notes' logistic regression with 17+ scalar features. Every
test compares circuitc with an oracle that shares no code with it: closed forms written
here, ``math.fsum``, mpmath, central differences, torch when it is importable.

Sizes are drawn by hypothesis (derandomized, bounded ``max_examples``); the widest cases
(20,000 terms) are marked ``slow`` and still run in CI.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import assert_close, central_grad, vjp_check

import circuitc

#: the widest n-ary op a hypothesis example draws (the 20,000-term cases are the slow tests)
MAX_WIDTH = 1000

#: float64's unit roundoff
U = 2.0**-53

WIDE = settings(
    max_examples=5,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SMALL = settings(
    max_examples=10,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def symbols(n: int, prefix: str = "x") -> list[sp.Symbol]:
    return list(sp.symbols(f"{prefix}0:{n}"))


def point_of(syms, values) -> dict[str, float]:
    return {s.name: float(v) for s, v in zip(syms, values, strict=True)}


def wide_tol(n: int) -> float:
    """Relative error bound of n roundings (a sum or product of n floats, each rounded once),
    with a factor 4 of slack: the oracle is exact, circuitc rounds as float64 must."""
    return 4.0 * (n + 2) * U


def widths(lo: int = 1, hi: int = MAX_WIDTH):
    """Arities from lo to hi, drawn so that both small and large widths come up."""
    return st.one_of(st.integers(lo, min(hi, 40)), st.integers(lo, hi))


# -- n-ary sums --------------------------------------------------------------------------------
@WIDE
@given(n=widths(), seed=st.integers(0, 2**16))
def test_weighted_sum_of_any_width(n, seed):
    """J = Σ c_i x_i: J is fsum's value within n roundings, each gradient is c_i exactly."""
    rng = np.random.default_rng(seed)
    xs = symbols(n)
    coeffs = rng.integers(-9, 10, size=n)
    coeffs[coeffs == 0] = 1
    values = rng.uniform(-2, 2, size=n)
    m = circuitc.compile(sp.Add(*(int(c) * x for c, x in zip(coeffs, xs, strict=True))), wrt=xs)
    J, g = m.value_and_grad(**point_of(xs, values))
    terms = [float(c) * v for c, v in zip(coeffs, values, strict=True)]
    assert abs(J - math.fsum(terms)) <= wide_tol(n) * math.fsum(abs(t) for t in terms)
    assert [g[x.name] for x in xs] == [float(c) for c in coeffs]


@WIDE
@given(n=widths(17), seed=st.integers(0, 2**16))
def test_mean_of_any_width(n, seed):
    """The mean of n symbols: d/dx_i = 1/n (up to one rounding)."""
    rng = np.random.default_rng(seed)
    xs = symbols(n)
    values = rng.uniform(-5, 5, size=n)
    m = circuitc.compile(sp.Add(*xs) / n, wrt=xs)
    J, g = m.value_and_grad(**point_of(xs, values))
    assert abs(J - math.fsum(values) / n) <= wide_tol(n) * math.fsum(np.abs(values)) / n
    for x in xs:
        assert abs(g[x.name] - 1 / n) <= 2 * U / n


@WIDE
@given(n=widths(17), seed=st.integers(0, 2**16))
def test_squared_norm(n, seed):
    """J = Σ x_i²: the gradient is 2x exactly."""
    rng = np.random.default_rng(seed)
    xs = symbols(n)
    values = rng.uniform(-3, 3, size=n)
    m = circuitc.compile(sp.Add(*(x**2 for x in xs)), wrt=xs)
    J, g = m.value_and_grad(**point_of(xs, values))
    assert abs(J - math.fsum(values**2)) <= wide_tol(n) * math.fsum(values**2)
    assert [g[x.name] for x in xs] == [2 * v for v in values]


# -- n-ary products ----------------------------------------------------------------------------
def product_oracle(values) -> tuple[float, list[float]]:
    """The product and every partial ∏_{j≠i} x_j, in mpmath at 30 digits, by the closed form:
    P/x_i without zeros; with one zero at k only the k-th partial is non-zero; with two, none."""
    with mpmath.workdps(30):
        vals = [mpmath.mpf(float(v)) for v in values]
        zeros = [i for i, v in enumerate(vals) if v == 0]
        nonzero = mpmath.fprod(v for v in vals if v != 0)
        if not zeros:
            return float(nonzero), [float(nonzero / v) for v in vals]
        grads = [0.0] * len(vals)
        if len(zeros) == 1:
            grads[zeros[0]] = float(nonzero)
        return 0.0, grads


def product_values(rng, n: int, zeros: int) -> np.ndarray:
    """Factors near ±1 (so a product of thousands stays finite), with ``zeros`` exact zeros."""
    values = rng.uniform(0.97, 1.03, size=n) * rng.choice([-1.0, 1.0], size=n)
    for k in rng.choice(n, size=min(zeros, n), replace=False):
        values[k] = 0.0
    return values


def check_product(n: int, values: np.ndarray, m, xs) -> None:
    J, g = m.value_and_grad(**point_of(xs, values))
    want, grads = product_oracle(values)
    tol = wide_tol(n)
    assert abs(J - want) <= tol * abs(want)
    for x, expect in zip(xs, grads, strict=True):
        got = g[x.name]
        assert np.isfinite(got), f"d/d{x.name} is {got} (a partial through ans/x_i?)"
        assert abs(got - expect) <= tol * abs(expect), (x.name, got, expect)


@WIDE
@given(n=widths(2), zeros=st.integers(0, 3), seed=st.integers(0, 2**16))
def test_product_of_any_width_exact_at_zeros(n, zeros, seed):
    """J = ∏ x_i: each partial is the product of the others, exact where factors are 0."""
    rng = np.random.default_rng(seed)
    xs = symbols(n)
    m = circuitc.compile(sp.Mul(*xs), wrt=xs)
    check_product(n, product_values(rng, n, zeros), m, xs)


# -- Max / Min ----------------------------------------------------------------------------------
@WIDE
@given(
    n=widths(2, 2000),
    which=st.sampled_from([sp.Max, sp.Min]),
    seed=st.integers(0, 2**16),
)
def test_max_min_of_any_width_tie_rule(n, which, seed):
    """Max/Min of n symbols with ties: the whole gradient goes to the first tied argument in
    SymPy's own argument order (docs/design.md, Conventions)."""
    rng = np.random.default_rng(seed)
    xs = symbols(n)
    # SymPy's own Max(*xs) compares every pair of arguments (minutes for a few hundred);
    # evaluate=False keeps its canonical argument order without that
    expr = which(*xs, evaluate=n <= 20)
    values = rng.integers(-3, 4, size=n).astype(float)  # few distinct values: many ties
    point = point_of(xs, values)
    m = circuitc.compile(expr, wrt=xs)
    J, g = m.value_and_grad(**point)
    best = max(values) if which is sp.Max else min(values)
    assert best == J
    winner = next(a.name for a in expr.args if point[a.name] == best)
    assert {k: v for k, v in g.items() if v != 0} == {winner: 1.0}


# -- conditions of any arity --------------------------------------------------------------------
@SMALL
@given(
    n=st.integers(1, 200),
    joiner=st.sampled_from([sp.And, sp.Or]),
    seed=st.integers(0, 2**16),
)
def test_and_or_condition_of_any_arity(n, joiner, seed):
    """Piecewise((x·y, And/Or of n comparisons), (x + y, True)): the condition is evaluated
    here in Python; the gradient is the taken branch's."""
    rng = np.random.default_rng(seed)
    x, y = sp.symbols("x y")
    zs = symbols(n, "z")
    cuts = rng.uniform(-1, 1, size=n)
    cond = joiner(*(z > float(c) for z, c in zip(zs, cuts, strict=True)))
    m = circuitc.compile(sp.Piecewise((x * y, cond), (x + y, True)), wrt=[x, y])
    for trial in range(3):
        zv = cuts + rng.choice([-0.5, 0.5], size=n) * (rng.random(n) < 0.5 + 0.5 * (trial == 0))
        point = {"x": 1.5, "y": -0.25, **point_of(zs, zv)}
        held = [v > c for v, c in zip(zv, cuts, strict=True)]
        taken = all(held) if joiner is sp.And else any(held)
        J, g = m.value_and_grad(**point)
        assert (1.5 * -0.25 if taken else 1.5 - 0.25) == J
        assert g == ({"x": -0.25, "y": 1.5} if taken else {"x": 1.0, "y": 1.0})


def test_and_of_fifteen_comparisons_prints():
    """An And of 15+ comparisons used to raise RecursionError('inline expression too deep')."""
    x = sp.Symbol("x")
    zs = symbols(40, "z")
    cond = sp.And(*(z > 0 for z in zs))
    m = circuitc.compile(sp.Piecewise((x**2, cond), (-x, True)), wrt=[x])
    on = {z.name: 1.0 for z in zs}
    assert m.value_and_grad(x=3.0, **on) == (9.0, {"x": 6.0})
    assert m.value_and_grad(x=3.0, **{**on, "z39": -1.0}) == (-3.0, {"x": -1.0})


# -- nested Piecewise: a DAG, never a tree -----------------------------------------------------
def iterated(depth: int, cuts) -> tuple[sp.Expr, sp.Symbol, sp.Symbol]:
    """e_{k+1} = Piecewise((sin(e_k) + x, x > c_k), (e_k·x/2 − x, True)), e_0 = y: every level
    reads the previous one in both branches (one SymPy object, shared: a DAG)."""
    x, y = sp.symbols("x y")
    e = y
    for k in range(depth):
        e = sp.Piecewise((sp.sin(e) + x, x > float(cuts[k])), (e * x / 2 - x, True))
    return e, x, y


def iterated_reference(depth: int, cuts, x, y):
    """The same map in Python (works for floats and mpmath numbers)."""
    e = y
    for k in range(depth):
        e = (mpmath.sin(e) + x) if x > cuts[k] else (e * x / 2 - x)
    return e


@SMALL
@given(depth=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_iterated_piecewise_map(depth, seed):
    """The nested Piecewise against the map written in Python: value by mpmath, gradient by
    mpmath.diff (the point is drawn away from every cut, where the map is smooth)."""
    rng = np.random.default_rng(seed)
    cuts = [float(c) for c in rng.uniform(-1, 1, size=depth)]
    expr, x, y = iterated(depth, cuts)
    xv = float(rng.uniform(-1, 1))
    while min(abs(xv - c) for c in cuts) < 1e-3:
        xv += 2e-3
    yv = float(rng.uniform(-0.5, 0.5))
    m = circuitc.compile(expr, wrt=[x, y])
    J, g = m.value_and_grad(x=xv, y=yv)
    with mpmath.workdps(30):
        want = iterated_reference(depth, cuts, mpmath.mpf(xv), mpmath.mpf(yv))
        dx = mpmath.diff(lambda t: iterated_reference(depth, cuts, t, mpmath.mpf(yv)), xv)
        dy = mpmath.diff(lambda t: iterated_reference(depth, cuts, mpmath.mpf(xv), t), yv)
    assert_close(J, float(want), "mpmath_edge", "J")
    assert_close(g["x"], float(dx), "mpmath_edge", "dJ/dx")
    assert_close(g["y"], float(dy), "mpmath_edge", "dJ/dy")


def emitted_lines(expr, wrt) -> int:
    return circuitc.source(expr, wrt=wrt).count("\n")


def test_iterated_piecewise_source_is_linear_in_depth():
    """The emitted module grows linearly with the nesting depth (the DAG), not as 2^depth
    (the tree): doubling the depth at most a little more than doubles the line count."""
    cuts = [0.1 * k - 1 for k in range(64)]
    sizes = {}
    for depth in (5, 10, 20):
        expr, x, y = iterated(depth, cuts)
        sizes[depth] = emitted_lines(expr, [x, y])
    base = emitted_lines(iterated(0, cuts)[0] + sp.Symbol("x"), [sp.Symbol("x")])
    for d in (5, 10):
        assert sizes[2 * d] - base <= 2.2 * (sizes[d] - base), sizes


# -- constant bases -----------------------------------------------------------------------------
@SMALL
@given(y=st.floats(0.01, 30))
def test_zero_to_the_y(y):
    """0.0**y is 0 for y > 0, and so is d/dy (autograd's own test suite has this case)."""
    ys = sp.Symbol("y")
    m = circuitc.compile(sp.Float(0.0) ** ys, wrt=[ys])
    assert m.value_and_grad(y=y) == (0.0, {"y": 0.0})
    assert m.grad(y=np.array([y, 2 * y]))["y"].tolist() == [0.0, 0.0]


@SMALL
@given(base=st.sampled_from([2, 3, sp.Rational(1, 2), sp.Float(2.5), sp.pi]), y=st.floats(-8, 8))
def test_constant_base_to_the_y(base, y):
    """b**y for a constant b: value and d/dy = b**y·log(b) against mpmath."""
    ys = sp.Symbol("y")
    m = circuitc.compile(base**ys, wrt=[ys])
    J, g = m.value_and_grad(y=y)
    with mpmath.workdps(30):
        b = mpmath.mpf(sp.N(base, 40))
        assert_close(J, float(b ** mpmath.mpf(y)), "mpmath", "b**y")
        assert_close(g["y"], float(b ** mpmath.mpf(y) * mpmath.log(b)), "mpmath", "d/dy")


# -- polynomials --------------------------------------------------------------------------------
@SMALL
@given(degree=st.integers(17, 60), seed=st.integers(0, 2**16))
def test_polynomial_of_high_degree(degree, seed):
    """Σ c_k x^k with degree ≥ 17 against NumPy's polynomial module (value and derivative)."""
    rng = np.random.default_rng(seed)
    x = sp.Symbol("x")
    coeffs = rng.integers(-5, 6, size=degree + 1)
    coeffs[-1] = 1
    m = circuitc.compile(sum(int(c) * x**k for k, c in enumerate(coeffs)), wrt=[x])
    xv = float(rng.uniform(-1.1, 1.1))
    J, g = m.value_and_grad(x=xv)
    poly = np.polynomial.Polynomial(coeffs.astype(float))
    scale = float(np.polynomial.Polynomial(np.abs(coeffs).astype(float))(abs(xv)))
    assert abs(J - poly(xv)) <= 1e-13 * degree * max(1.0, scale)
    assert abs(g["x"] - poly.deriv()(xv)) <= 1e-13 * degree**2 * max(1.0, scale)


@SMALL
@given(n=st.integers(17, 40), xv=st.floats(-1.9, 0.5))
def test_expanded_binomial(n, xv):
    """expand((1+x)**n) has n+1 terms: its value is (1+x)**n, its derivative n(1+x)**(n-1)."""
    x = sp.Symbol("x")
    m = circuitc.compile(sp.expand((1 + x) ** n), wrt=[x])
    J, g = m.value_and_grad(x=xv)
    # the expanded form sums terms of size up to 2**n·|x|^k: that, not (1+x)**n, sets the error
    scale = (1 + abs(xv)) ** n
    assert abs(J - (1 + xv) ** n) <= 1e-14 * n * scale
    assert abs(g["x"] - n * (1 + xv) ** (n - 1)) <= 1e-14 * n * n * scale


# -- losses over many scalars -------------------------------------------------------------------
@SMALL
@given(n=widths(17, 500), seed=st.integers(0, 2**16))
def test_log_sum_exp_of_many_symbols(n, seed):
    """log Σ exp(x_i) as a user writes it: value by scipy's logsumexp, gradient softmax."""
    from scipy.special import logsumexp, softmax

    rng = np.random.default_rng(seed)
    xs = symbols(n)
    values = rng.uniform(-3, 3, size=n)
    m = circuitc.compile(sp.log(sp.Add(*(sp.exp(x) for x in xs))), wrt=xs)
    J, g = m.value_and_grad(**point_of(xs, values))
    assert abs(J - logsumexp(values)) <= 8 * wide_tol(n) * max(1.0, abs(logsumexp(values)))
    soft = softmax(values)
    got = np.array([g[x.name] for x in xs])
    assert np.allclose(got, soft, rtol=wide_tol(n) * 8, atol=0)


def logistic(D: int):
    """The notes' binary logistic regression with D scalar features and the sigmoid written
    out: J = −[y log σ(a) + (1−y) log(1−σ(a))], a = Σ θ_j x_j."""
    thetas = symbols(D, "theta")
    feats = symbols(D, "f")
    y = sp.Symbol("y")
    a = sp.Add(*(t * f for t, f in zip(thetas, feats, strict=True)))
    s = 1 / (1 + sp.exp(-a))
    J = -(y * sp.log(s) + (1 - y) * sp.log(1 - s))
    return J, thetas, feats, y


@SMALL
@given(D=st.integers(17, 200), label=st.sampled_from([0.0, 1.0]), seed=st.integers(0, 2**16))
def test_logistic_regression_with_many_scalar_features(D, label, seed):
    """The gradient is (σ(a) − y)·x_j (the closed form), and directional central differences
    agree."""
    rng = np.random.default_rng(seed)
    J, thetas, feats, y = logistic(D)
    m = circuitc.compile(J, wrt=thetas)
    tv = rng.normal(0, 0.3, size=D)
    fv = rng.normal(0, 1, size=D)
    point = {**point_of(thetas, tv), **point_of(feats, fv), "y": label}
    value, g = m.value_and_grad(**point)
    a = math.fsum(tv * fv)
    sig = 1 / (1 + math.exp(-a))
    want = -(label * math.log(sig) + (1 - label) * math.log(1 - sig))
    assert_close(value, want, "mpmath_edge", "J")
    for t, f in zip(thetas, fv, strict=True):
        assert_close(g[t.name], (sig - label) * f, "mpmath_edge", t.name)
    vjp_check(m.forward, g, point, [t.name for t in thetas], seed=seed)


def test_logistic_regression_against_torch():
    """Seventeen features, the same loss in torch (float64 autograd)."""
    torch = pytest.importorskip("torch")
    D = 17
    J, thetas, feats, y = logistic(D)
    m = circuitc.compile(J, wrt=thetas)
    rng = np.random.default_rng(3)
    tv, fv = rng.normal(0, 0.5, size=D), rng.normal(0, 1, size=D)
    value, g = m.value_and_grad(**point_of(thetas, tv), **point_of(feats, fv), y=1.0)
    th = torch.tensor(tv, dtype=torch.float64, requires_grad=True)
    a = (th * torch.tensor(fv, dtype=torch.float64)).sum()
    s = 1 / (1 + torch.exp(-a))
    loss = -(1.0 * torch.log(s) + 0.0 * torch.log(1 - s))
    loss.backward()
    assert_close(value, loss.item(), "exact", "J", scale=1e2)
    assert_close([g[t.name] for t in thetas], th.grad.numpy(), "exact", "grad", scale=1e2)


# -- matrices -----------------------------------------------------------------------------------
@SMALL
@given(k=st.integers(17, 60), seed=st.integers(0, 2**16))
def test_matadd_of_many_matrices(k, seed):
    """S = W_0 + … + W_{k-1} (2×3 each), J = Σ (S∘S): every dJ/dW_i is 2S (NumPy oracle)."""
    rng = np.random.default_rng(seed)
    Ws = [sp.MatrixSymbol(f"W{i}", 2, 3) for i in range(k)]
    S = sp.MatAdd(*Ws)
    J = circuitc.nn.sum(sp.HadamardProduct(S, S))  # (SymPy's own ones·H·ones)[0, 0] takes seconds
    m = circuitc.compile(J, wrt=Ws)
    vals = {W.name: rng.normal(size=(2, 3)) for W in Ws}
    value, g = m.value_and_grad(**vals)
    total = sum(vals[W.name] for W in Ws)
    assert_close(value, float(np.sum(total**2)), "exact", "J", scale=1e2)
    for W in Ws:
        np.testing.assert_allclose(g[W.name], 2 * total, rtol=1e-13 * k)


# -- scalars and arrays mixed -------------------------------------------------------------------
@SMALL
@given(
    n=st.integers(2, 60),
    length=st.integers(1, 6),
    data=st.data(),
    seed=st.integers(0, 2**16),
)
def test_mixed_scalar_and_array_arguments(n, length, data, seed):
    """J = Σ x_i + ∏ x_i with some x_i Python floats and others arrays of one length: J
    broadcasts, each gradient of sum(J) is reduced back to its argument's shape."""
    rng = np.random.default_rng(seed)
    xs = symbols(n)
    arrays = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    point = {
        x.name: (rng.uniform(0.5, 1.5, size=length) if is_array else float(rng.uniform(0.5, 1.5)))
        for x, is_array in zip(xs, arrays, strict=True)
    }
    m = circuitc.compile(sp.Add(*xs) + sp.Mul(*xs), wrt=xs)
    J, g = m.value_and_grad(**point)
    full = np.array([np.broadcast_to(point[x.name], (length,)) for x in xs])
    want = full.sum(axis=0) + full.prod(axis=0)
    if any(arrays):
        np.testing.assert_allclose(J, want, rtol=wide_tol(n))
    else:
        assert_close(J, float(want[0]), "exact", "J")
    for i, x in enumerate(xs):
        others = np.prod(np.delete(full, i, axis=0), axis=0)
        per_element = 1.0 + others
        expect = per_element if arrays[i] else float(per_element.sum())
        assert np.shape(g[x.name]) == np.shape(point[x.name])
        np.testing.assert_allclose(g[x.name], expect, rtol=wide_tol(n) * 4)


# -- a registered function of many arguments -----------------------------------------------------
def test_registered_function_of_seventeen_arguments():
    """A registered 17-argument function, f(a) = Σ a_k², implemented by a plain callable."""

    class SumSquares17(sp.Function):
        nargs = 17

    circuitc.register(
        SumSquares17,
        derivative=lambda g, ans, *a: tuple(2 * g * v for v in a),
        numpy="wide_functions:sum_squares",
    )
    xs = symbols(17)
    m = circuitc.compile(sp.sin(SumSquares17(*xs)), wrt=xs)
    values = np.linspace(-1, 1, 17)
    J, g = m.value_and_grad(**point_of(xs, values))
    s = math.fsum(values**2)
    assert_close(J, math.sin(s), "mpmath", "J")
    for x, v in zip(xs, values, strict=True):
        assert_close(g[x.name], 2 * v * math.cos(s), "mpmath", x.name)


# -- an empty batch ----------------------------------------------------------------------------
def test_mean_over_an_empty_batch_is_a_value_error():
    """A mean over N = 0 rows is a ValueError naming the dimension, not ZeroDivisionError."""
    N = sp.Symbol("N")
    X = sp.MatrixSymbol("X", N, 3)
    w = sp.MatrixSymbol("w", 3, 1)
    J = circuitc.nn.mean(sp.HadamardProduct(X * w, X * w))
    m = circuitc.compile(J, wrt=[w])
    empty = {"w": np.ones((3, 1)), "X": np.zeros((0, 3))}
    for call in (m.forward, m.value_and_grad, m.grad):
        with pytest.raises(ValueError, match=r"\bN\b.*\b0\b|\b0\b.*\bN\b"):
            call(**empty)
    # one row is fine: the oracle is the hand-written mean
    X1 = np.array([[1.0, 2.0, 3.0]])
    J1, g1 = m.value_and_grad(w=np.ones((3, 1)), X=X1)
    assert J1 == 36.0
    np.testing.assert_array_equal(g1["w"], 2 * 6.0 * X1.T)


# -- the widest cases (slow, run in CI) ----------------------------------------------------------
WIDEST = 20_000


@pytest.mark.slow
def test_sum_of_twenty_thousand_terms():
    """J = Σ c_i x_i over 20,000 terms: value within n roundings of fsum, gradients exact."""
    rng = np.random.default_rng(20_000)
    xs = symbols(WIDEST)
    coeffs = rng.integers(1, 7, size=WIDEST)
    m = circuitc.compile(sp.Add(*(int(c) * x for c, x in zip(coeffs, xs, strict=True))), wrt=xs)
    values = rng.uniform(-1, 1, size=WIDEST)
    J, g = m.value_and_grad(**point_of(xs, values))
    terms = coeffs * values
    assert abs(J - math.fsum(terms)) <= wide_tol(WIDEST) * math.fsum(np.abs(terms))
    assert [g[x.name] for x in xs] == [float(c) for c in coeffs]


@pytest.mark.slow
def test_product_of_twenty_thousand_factors_exact_at_zeros():
    """∏ x_i over 20,000 factors: every partial is the product of the others (no ans/x_i),
    checked without zeros, with one zero and with two zeros."""
    rng = np.random.default_rng(20_001)
    xs = symbols(WIDEST)
    m = circuitc.compile(sp.Mul(*xs), wrt=xs)
    for zeros in (0, 1, 2):
        check_product(WIDEST, product_values(rng, WIDEST, zeros), m, xs)


@pytest.mark.slow
def test_max_of_twenty_thousand_arguments():
    """Max over 20,000 symbols with ties: the first tied argument in SymPy's order gets 1."""
    xs = symbols(WIDEST)
    expr = sp.Max(*xs, evaluate=False)
    rng = np.random.default_rng(20_002)
    values = rng.integers(0, 50, size=WIDEST).astype(float)
    point = point_of(xs, values)
    m = circuitc.compile(expr, wrt=xs)
    J, g = m.value_and_grad(**point)
    assert values.max() == J
    winner = next(a.name for a in expr.args if point[a.name] == values.max())
    assert {k: v for k, v in g.items() if v != 0} == {winner: 1.0}


def test_central_differences_on_a_wide_mixed_circuit():
    """A wide circuit mixing the ops above, against central differences coordinate by
    coordinate: J = log Σ exp(x_i) · ∏ (1 + x_i²)/Σ x_i² + Max(x)."""
    n = 24
    xs = symbols(n)
    expr = (
        sp.log(sp.Add(*(sp.exp(x) for x in xs))) * sp.Mul(*(1 + x**2 for x in xs))
        - sp.Add(*(x**2 for x in xs))
        + sp.Max(*xs, evaluate=False)
    )
    m = circuitc.compile(expr, wrt=xs)
    rng = np.random.default_rng(24)
    point = point_of(xs, rng.uniform(-0.3, 0.3, size=n))
    _, g = m.value_and_grad(**point)
    for x in xs:
        assert_close(g[x.name], central_grad(m.forward, point, x.name), "central", x.name)
