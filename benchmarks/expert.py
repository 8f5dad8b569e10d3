"""Hand code as an expert writes it: the honest baselines of ``python -m benchmarks``.

Written from the mathematics of each circuit, never from (or shaped after) circuitc's output.
The rules an expert follows here:

* only what the emitted module may use too: ``math`` and NumPy (no SciPy ``expit``, no numba),
  so a ratio measures the shape of the code, not the choice of library;
* Python floats and ``math`` where a value is a scalar (one instance, one float), NumPy where it
  is an array;
* derivatives factored by hand (``-sin(u)·(cos(t) + 3)·2x``, ``σ(a) − y``), forward values
  reused, no adjoint of a node nobody asked for;
* one fused NumPy expression a line, so NumPy can reuse operator temporaries in place, and
  in-place updates (``out=``, ``*=``) into arrays the function itself allocated, never into
  the caller's;
* every returned array fresh.

Each function returns ``(J, gradients)`` with the gradients in the circuit's ``wrt`` order.
"""

from __future__ import annotations

import math

import numpy as np


# -- the notes' small example: J = cos(sin(x²) + 3x²) ---------------------------------------------
def small_scalar(x: float) -> tuple[float, float]:
    """At a Python float: four ``math`` calls, the derivative factored."""
    t = x * x
    u = math.sin(t) + 3.0 * t
    return math.cos(u), -2.0 * x * math.sin(u) * (math.cos(t) + 3.0)


def small_vector(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise over an array (the gradient of sum J): four transcendental passes, in place."""
    t = x * x
    u = np.sin(t)
    u += 3.0 * t
    J = np.cos(u)
    g = np.cos(t, out=t)  # t is dead after this line: its buffer takes cos(t)
    g += 3.0
    g *= np.sin(u, out=u)
    g *= x
    g *= -2.0
    return J, g


# -- logistic regression, instances as rows (X is N×D, θ D×1, y N×1) ------------------------------
def _softplus_and_sigmoid(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """softplus(a) = log(1 + eᵃ) and σ(a), stable for any a, from one exp(−|a|)."""
    e = np.exp(-np.abs(a))
    softplus = np.maximum(a, 0.0) + np.log1p(e)
    r = 1.0 / (1.0 + e)
    sigma = np.where(a >= 0.0, r, e * r)
    return softplus, sigma


def logreg_batch(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of σ(Xθ) and its gradient Xᵀ(σ(a) − y)/N."""
    n = X.shape[0]
    a = X @ theta
    softplus, sigma = _softplus_and_sigmoid(a)
    J = float(np.sum(softplus - y * a)) / n
    sigma -= y
    return J, X.T @ sigma / n


def logreg_sgd_step(theta: np.ndarray, x: np.ndarray, y: np.ndarray, lr: float) -> float:
    """One SGD step on one 1×D row, θ updated in place (it is the training loop's own state).

    The activation, the loss and the residual are Python floats; the only array operations are
    the dot product and the update. Returns the loss before the step.
    """
    a = float(x.ravel() @ theta.ravel())
    target = float(y[0, 0])
    e = math.exp(-abs(a))
    J = max(a, 0.0) + math.log1p(e) - target * a
    sigma = 1.0 / (1.0 + e) if a >= 0.0 else e / (1.0 + e)
    theta -= (lr * (sigma - target)) * x.T
    return J


# -- the notes' 2-layer network, rows: sigmoid hidden and output, mean ½(ŷ − y)² -----------------
def two_layer(alpha, beta, beta_0, X, y):
    """31-32-1 on a batch of rows; σ' written as σ(1 − σ) from the forward values."""
    n = X.shape[0]
    Z = 1.0 / (1.0 + np.exp(-(X @ alpha)))
    y_hat = 1.0 / (1.0 + np.exp(-(Z @ beta + beta_0)))
    d = y_hat - y
    J = 0.5 * float(d.ravel() @ d.ravel()) / n
    db = d * y_hat * (1.0 - y_hat) / n  # dJ/db, N×1
    dA = (db @ beta.T) * Z * (1.0 - Z)  # dJ/dA, N×H
    return J, (X.T @ dA, Z.T @ db, db.sum(axis=0, keepdims=True))


# -- MLP 784-256-10, rows: relu, softmax cross-entropy ---------------------------------------------
def mlp(W1, b1, W2, b2, X, Y):
    """Mean softmax cross-entropy; dJ/dA = (softmax(A) − Y)/N for one-hot rows of Y."""
    n = X.shape[0]
    H1 = X @ W1
    H1 += b1
    mask = H1 > 0.0
    Z = np.maximum(H1, 0.0, out=H1)  # the pre-activation is dead once its mask is taken
    A = Z @ W2 + b2
    A -= A.max(axis=1, keepdims=True)
    P = np.exp(A)
    S = P.sum(axis=1, keepdims=True)
    J = -float(np.sum(Y * (A - np.log(S)))) / n
    P /= S
    P -= Y
    P /= n  # dJ/dA
    dZ = P @ W2.T
    dZ *= mask
    return J, (X.T @ dZ, dZ.sum(axis=0, keepdims=True), Z.T @ P, P.sum(axis=0, keepdims=True))


# -- MLP 784-256-10, instances as COLUMNS: sigmoid written out, squared loss ------------------------
def mlp_columns(W1, W2, X, Y):
    """X is D×N, Y K×N; Z = σ(W1 X), Ŷ = σ(W2 Z), J = Σ (Ŷ − Y)² / (2N)."""
    n = X.shape[1]
    Z = np.exp(-(W1 @ X))  # H×N, built in place: exp, +1, reciprocal
    Z += 1.0
    np.reciprocal(Z, out=Z)
    P = 1.0 / (1.0 + np.exp(-(W2 @ Z)))  # K×N: small, one fused line
    E = P - Y
    J = 0.5 * float(E.ravel() @ E.ravel()) / n
    dB = E * P * (1.0 - P) / n  # dJ/d(W2 Z), K×N
    dA = W2.T @ dB  # dJ/dZ, H×N; then times σ' = Z(1 − Z), in place
    dA *= Z
    dA *= 1.0 - Z
    return J, (dA @ X.T, dB @ Z.T)


# -- logistic regression with D scalar parameters over arrays of instances ------------------------
def logreg_scalars(thetas, xs, y):
    """θ_j are floats, x_j arrays of N instances: J per instance, gradients of ΣJ as floats.

    The expert stacks the D feature arrays once (one copy) so that a and the D gradients are
    each one BLAS call.
    """
    X = np.stack(xs)  # D×N
    a = np.asarray(thetas) @ X
    softplus, sigma = _softplus_and_sigmoid(a)
    J = softplus - y * a
    sigma -= y
    return J, [float(g) for g in X @ sigma]
