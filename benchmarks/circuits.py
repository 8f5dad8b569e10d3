"""Circuits written the way users write them, in styles ``examples/`` does not use.

* ``mlp_columns``: a 784-256-10 network with instances as COLUMNS (X is D×N, ``W1*X``), the
  sigmoid written out with ``applyfunc`` instead of ``circuitc.nn``, and the squared loss
  summed through a ``HadamardProduct`` between rows and columns of ones.
* ``logreg_scalars``: logistic regression with D scalar parameters θ_j and D scalar features
  x_j, each bound to an array of N instances at call time, and the cross-entropy written out
  from σ (J per instance; gradients of ΣJ).
"""

from __future__ import annotations

import sympy as sp
from sympy import HadamardProduct, OneMatrix


def sigmoid_written_out(v):
    """σ(v) as a user types it."""
    return 1 / (1 + sp.exp(-v))


def mlp_columns(D: int = 784, H: int = 256, K: int = 10):
    """(J, wrt): Z = σ(W1 X), Ŷ = σ(W2 Z), J = 1ᵀ (E ∘ E) 1 / (2N) with E = Ŷ − Y."""
    N = sp.Symbol("N")
    X = sp.MatrixSymbol("X", D, N)
    Y = sp.MatrixSymbol("Y", K, N)
    W1 = sp.MatrixSymbol("W1", H, D)
    W2 = sp.MatrixSymbol("W2", K, H)
    Z = (W1 * X).applyfunc(sigmoid_written_out)
    E = (W2 * Z).applyfunc(sigmoid_written_out) - Y
    J = OneMatrix(1, K) * HadamardProduct(E, E) * OneMatrix(N, 1) / (2 * N)
    return J, [W1, W2]


def logreg_scalars(D: int = 31):
    """(J, wrt): a = Σ_j θ_j x_j, J = −[y log σ(a) + (1 − y) log(1 − σ(a))] per instance."""
    thetas = sp.symbols(f"theta0:{D}")
    xs = sp.symbols(f"x0:{D}")
    y = sp.Symbol("y")
    a = sp.Add(*(t * x for t, x in zip(thetas, xs, strict=True)))
    s = sigmoid_written_out(a)
    J = -(y * sp.log(s) + (1 - y) * sp.log(1 - s))
    return J, list(thetas)
