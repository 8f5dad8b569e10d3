"""Optimisation: every pass preserves values (central differences and hand derivatives are the
oracles), forward values are reused by the backward pass, dead code is never emitted, and
returned arrays are fresh even where the module skips a copy."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import circuitc
from circuitc.passes.optimize import fold_seed
from circuitc.pipeline import build

x, y, a = sp.symbols("x y a")


def central(f, v: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Elementwise central differences of sum(f) for an elementwise f."""
    return (f(v + h) - f(v - h)) / (2 * h)


def body(module, function: str = "value_and_grad") -> str:
    """The NumPy path of one function of a generated module (after any float fast path)."""
    text = module.__source__.split(f"\ndef {function}(", 1)[1].split("\ndef ", 1)[0]
    return text.split("_arg(", 1)[1]


# -- fold_seed ---------------------------------------------------------------------------------------
def test_seed_is_folded_when_J_is_a_function_of_one_value():
    c = build(circuitc.front.circuit.as_circuit(sp.cos(sp.sin(x**2) + 3 * x**2), [x]))
    assert c.seed_folded
    assert fold_seed(c) is False  # idempotent
    module = circuitc.compile(sp.cos(sp.sin(x**2) + 3 * x**2), wrt=[x])
    assert "_ones_like" not in body(module)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_folded_seed_keeps_values_shapes_and_dtype(dtype):
    module = circuitc.compile(sp.cos(sp.sin(x**2) + 3 * x**2), wrt=[x])
    xs = np.linspace(-2, 2, 41).astype(dtype)
    value, grad = module.value_and_grad(x=xs)
    assert value.dtype == dtype and grad["x"].dtype == dtype and grad["x"].shape == xs.shape
    x64 = xs.astype(np.float64)
    # hand derivative and central differences, both independent of circuitc
    hand = -np.sin(np.sin(x64**2) + 3 * x64**2) * (np.cos(x64**2) + 3) * 2 * x64
    cd = central(lambda v: np.cos(np.sin(v**2) + 3 * v**2), x64)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(grad["x"], hand, rtol=rtol, atol=rtol * 10)
    np.testing.assert_allclose(hand, cd, rtol=1e-6, atol=1e-6)


def test_seed_is_kept_when_J_broadcasts_a_scalar():
    """J = x·y + y with a scalar y: dJ/dy sums over x's elements, so J's seed must stay J-shaped."""
    module = circuitc.compile(x * y + y, wrt=[x, y])
    xs = np.linspace(-1, 1, 7)
    value, grad = module.value_and_grad(x=xs, y=2.0)
    assert grad["y"] == pytest.approx(float(np.sum(xs + 1)))
    np.testing.assert_allclose(grad["x"], np.full(7, 2.0))
    c = build(circuitc.front.circuit.as_circuit(x * y + y, [x, y]))
    assert not c.seed_folded


def test_a_scalar_parameter_of_a_unary_J_still_sums_over_the_data():
    """J = sin(a·x): a is a float, x an array; dJ/da = Σ x cos(a x)."""
    module = circuitc.compile(sp.sin(a * x), wrt=[a])
    xs = np.linspace(-1, 3, 11)
    _, grad = module.value_and_grad(a=0.7, x=xs)
    assert grad["a"] == pytest.approx(float(np.sum(xs * np.cos(0.7 * xs))), rel=1e-13)
    cd = (np.sum(np.sin(0.7000001 * xs)) - np.sum(np.sin(0.6999999 * xs))) / 2e-7
    assert grad["a"] == pytest.approx(cd, rel=1e-6)


@pytest.mark.parametrize(
    ("expr", "derivative"),
    [
        (sp.exp(x), np.exp),
        (sp.tanh(x), lambda v: 1 - np.tanh(v) ** 2),
        (circuitc.sigmoid(x), lambda v: np.exp(-v) / (1 + np.exp(-v)) ** 2),
        (x**3, lambda v: 3 * v**2),
        (sp.sqrt(x), lambda v: 0.5 / np.sqrt(v)),
        (sp.log(x), lambda v: 1 / v),
    ],
    ids=["exp", "tanh", "sigmoid", "cube", "sqrt", "log"],
)
def test_unary_outputs_give_the_right_gradient_and_fresh_arrays(expr, derivative):
    module = circuitc.compile(expr, wrt=[x])
    xs = np.linspace(0.2, 2.0, 9)
    keep = xs.copy()
    value, grad = module.value_and_grad(x=xs)
    np.testing.assert_allclose(grad["x"], derivative(xs), rtol=1e-12)
    # J and the gradient are distinct arrays, neither is the caller's x
    assert not np.shares_memory(value, grad["x"])
    assert not np.shares_memory(grad["x"], xs) and not np.shares_memory(value, xs)
    # a later call never overwrites what an earlier one returned
    first_value, first_grad = value.copy(), grad["x"].copy()
    module.value_and_grad(x=xs * 1.5)
    np.testing.assert_array_equal(value, first_value)
    np.testing.assert_array_equal(grad["x"], first_grad)
    np.testing.assert_array_equal(xs, keep)


def test_exp_contribution_is_J_itself_and_is_not_added_into_in_place():
    """J = exp(x) + ... is not unary; J = exp(x·x): dJ/d(x·x) = J, a forward value."""
    module = circuitc.compile(sp.exp(x * x), wrt=[x])
    xs = np.linspace(-1, 1, 5)
    value, grad = module.value_and_grad(x=xs)
    np.testing.assert_allclose(value, np.exp(xs * xs), rtol=1e-15)
    np.testing.assert_allclose(grad["x"], 2 * xs * np.exp(xs * xs), rtol=1e-14)


# -- fresh gradients without copies ------------------------------------------------------------------
def test_fresh_gradients_are_not_copied_but_never_shared():
    module = circuitc.compile(sp.sin(x) * y + x**2, wrt=[x, y])
    assert "_reduce(_d_x, x, True)" in module.__source__
    xs, ys = np.linspace(-1, 1, 6), np.linspace(2, 3, 6)
    value, grad = module.value_and_grad(x=xs, y=ys)
    np.testing.assert_allclose(grad["x"], np.cos(xs) * ys + 2 * xs, rtol=1e-14)
    np.testing.assert_allclose(grad["y"], np.sin(xs), rtol=1e-15)
    arrays = [value, grad["x"], grad["y"], xs, ys]
    for i, p in enumerate(arrays):
        for q in arrays[i + 1 :]:
            assert not np.shares_memory(p, q)


def test_a_gradient_that_aliases_an_adjoint_is_copied():
    """J = sin(x + y): dJ/dx and dJ/dy are the same adjoint; each must be its own array."""
    module = circuitc.compile(sp.sin(x + y), wrt=[x, y])
    xs = np.linspace(-1, 1, 4)
    _, grad = module.value_and_grad(x=xs, y=xs + 1)
    assert not np.shares_memory(grad["x"], grad["y"])
    grad["x"][0] = 99.0
    assert grad["y"][0] == pytest.approx(np.cos(2 * xs[0] + 1))


# -- what the builders already do ------------------------------------------------------------------------
def test_backward_reuses_forward_values():
    """sigmoid's s(1-s), tanh's 1-t², and sin/cos of one argument are computed once."""
    for expr, call in [
        (circuitc.sigmoid(x) * y, "_sigmoid("),
        (sp.tanh(x) * y, "_np.tanh("),
        (sp.exp(x) * y, "_np.exp("),
    ]:
        text = body(circuitc.compile(expr, wrt=[x, y]))
        assert text.count(call) == 1, (expr, text)
    text = body(circuitc.compile(sp.sin(x) * sp.cos(x) * y, wrt=[x, y]))
    assert text.count("_np.sin(x)") == 1 and text.count("_np.cos(x)") == 1


def test_dead_code_is_not_emitted():
    s1, s2 = sp.symbols("s1 s2")
    circuit = circuitc.Circuit(
        "dead", output=s1, wrt=[x, y], steps=[(s1, sp.sin(x)), (s2, sp.exp(x) * 5)]
    )
    module = circuitc.compile(circuit)
    assert "_np.exp" not in module.__source__  # s2 feeds nothing
    value, grad = module.value_and_grad(x=0.3, y=1.0)
    assert grad["y"] == 0.0 and grad["x"] == pytest.approx(np.cos(0.3), rel=1e-15)


# -- in-place accumulation never corrupts a value that is read later ---------------------------------
def _random_expression(rng: np.random.Generator, symbols, size: int) -> sp.Expr:
    """A random expression DAG over ``symbols``: shared sub-expressions, fan-out, powers."""
    pool = list(symbols)
    for _ in range(size):
        kind = rng.integers(0, 6)
        a, b = (pool[i] for i in rng.integers(0, len(pool), 2))
        if kind == 0:
            new = a * b
        elif kind == 1:
            new = a + 2 * b
        elif kind == 2:
            new = sp.sin(a) * b
        elif kind == 3:
            new = sp.cos(a - b)
        elif kind == 4:
            new = a**2 * b
        else:
            new = sp.exp(a / 4) * a * b * sp.sin(b)
        pool.append(new)
    return sum(pool[-3:], sp.Integer(0)) * pool[-1]


@pytest.mark.parametrize("seed", range(12))
def test_random_dags_match_central_differences(seed):
    """Fan-out makes adjoints with several contributions (``+=``): the values read later must
    not have been overwritten in place, whatever the sharing pattern."""
    rng = np.random.default_rng(seed)
    syms = sp.symbols("p q r")
    expr = _random_expression(rng, syms, 6)
    module = circuitc.compile(expr, wrt=list(syms), name=f"random{seed}")
    f = sp.lambdify(syms, expr, "numpy")  # the oracle's values: SymPy's own printing
    point = {s.name: rng.uniform(-0.8, 0.8, 5) for s in syms}
    value, grad = module.value_and_grad(**point)
    np.testing.assert_allclose(value, f(*point.values()), rtol=1e-10, atol=1e-12)
    for s in syms:
        h = 1e-6
        up = dict(point, **{s.name: point[s.name] + h})
        down = dict(point, **{s.name: point[s.name] - h})
        cd = (f(*up.values()) - f(*down.values())) / (2 * h)
        np.testing.assert_allclose(grad[s.name], cd, rtol=1e-5, atol=1e-6)
