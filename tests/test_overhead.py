"""The cheap call path of a generated module: float64 arrays skip the conversion pass, shapes are
compared as tuples (``_bind`` words the error only when that fails), the sigmoid is the usual
formula with exp's overflow silenced, sums call ``add.reduce``. Every other call gives the same
numbers as before; the oracles are hand-written NumPy and mpmath.
"""

from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp
from oracles import assert_close

import circuitc
from circuitc import nn

N = sp.Symbol("N", integer=True, positive=True)


@pytest.fixture(scope="module")
def logreg():
    X, w, y = sp.MatrixSymbol("X", N, 3), sp.MatrixSymbol("w", 3, 1), sp.MatrixSymbol("y", N, 1)
    a = X * w
    J = nn.sum(a.applyfunc(circuitc.softplus) - sp.HadamardProduct(a, y)) / N
    c = circuitc.Circuit("lr", J, [w], features=[X], target=y, prediction=nn.sigmoid(a))
    return circuitc.compile(c)


def hand(w, X, y):
    """Mean cross-entropy of sigmoid(Xw) and its gradient, by hand."""
    a = X @ w
    p = 1.0 / (1.0 + np.exp(-a))
    return np.mean(np.logaddexp(0.0, a) - y * a), X.T @ (p - y) / X.shape[0]


def data(n=7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return rng.normal(size=(3, 1)), X, (rng.random((n, 1)) < 0.5).astype(np.float64)


def test_float64_arrays_and_other_arguments_agree_with_hand_numpy(logreg):
    w, X, y = data()
    J, g = hand(w, X, y)
    calls = {
        "float64 arrays": dict(w=w, X=X, y=y),
        "lists": dict(w=w.tolist(), X=X.tolist(), y=y.tolist()),
        "int labels": dict(w=w, X=X, y=y.astype(np.int64)),
        "a subclass": dict(w=w, X=X.view(type("Sub", (np.ndarray,), {})), y=y),
        "non-contiguous X": dict(w=w, X=np.asfortranarray(X), y=y),
    }
    for what, kw in calls.items():
        value, grad = logreg.value_and_grad(**kw)
        assert_close(value, J, "exact", what)
        assert_close(grad["w"], g, "exact", what)
        assert isinstance(grad["w"], np.ndarray) and grad["w"].dtype == np.float64, what
    # float32 stays float32 (the conversion path), to float32's precision
    value, grad = logreg.value_and_grad(w=w.astype(np.float32), X=X.astype(np.float32), y=y)
    assert grad["w"].dtype == np.float32
    np.testing.assert_allclose(grad["w"], g, rtol=1e-5, atol=1e-6)


def test_shape_errors_are_still_worded_by_bind(logreg):
    w, X, y = data()
    with pytest.raises(ValueError, match=r"'X' has shape \(7,\); expected \(N, 3\)"):
        logreg.forward(w=w, X=X[:, 0], y=y)  # the dimension's source has the wrong rank
    with pytest.raises(ValueError, match="dimension N is bound inconsistently"):
        logreg.value_and_grad(w=w, X=X, y=y[:5])
    with pytest.raises(ValueError, match=r"'w' has shape \(1, 3\); expected \(3, 1\)"):
        logreg.predict(w=w.T, X=X)
    with pytest.raises(ValueError, match=r"'w' has shape \(\); expected \(3, 1\)"):
        logreg.value_and_grad(w=1.0, X=X, y=y)


def test_sigmoid_of_huge_logits_is_quiet_and_right(logreg):
    a = np.array([-1e4, -745.5, -709.0, -30.0, -1.0, 0.0, 1e-8, 2.0, 30.0, 700.0, 1e4])
    X = np.zeros((a.size, 3))
    X[:, 0] = a
    w = np.array([[1.0], [0.0], [0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = logreg.predict(w=w, X=X)
        value, grad = logreg.value_and_grad(w=w, X=X, y=np.ones((a.size, 1)))
    assert np.all(np.isfinite(p)) and np.isfinite(value) and np.all(np.isfinite(grad["w"]))
    # the caller's error state is neither needed nor changed: "raise" stays "raise" afterwards
    with np.errstate(over="raise", divide="raise"):
        np.testing.assert_array_equal(logreg.predict(w=w, X=X), p)
        assert np.geterr()["over"] == "raise" and np.geterr()["divide"] == "raise"
        with pytest.raises(FloatingPointError):
            np.exp(np.array([1e4]))
    for v, got in zip(a, p[:, 0], strict=True):
        exact = float(1 / (1 + mpmath.exp(-mpmath.mpf(v))))
        assert_close(got, exact, "mpmath", f"sigmoid({v})")
