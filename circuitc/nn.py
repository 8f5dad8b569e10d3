"""Building blocks of the notes' networks, for matrix circuits (instances are rows).

Every function returns a SymPy expression, so it composes with ``*``, ``+``, ``.T`` and the
rest of SymPy's matrix algebra, and works on scalars too (a scalar argument gives the scalar
formula). Elementwise functions are ``A.applyfunc(f)``; reductions and the row-wise softmax
are small SymPy nodes defined here, which circuitc lowers into ``_np.sum(..., axis=...)`` and
a log-sum-exp with the row max subtracted.

Losses take ``reduction="mean"`` (the default: the sum over instances divided by the number
of rows, so a learning rate does not depend on the batch size) or ``"sum"``, and are built in
their numerically stable forms: for logits of ±1e4 the loss and its gradient are finite.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.hadamard import HadamardPower, HadamardProduct

from . import functions
from .errors import CircuitError
from .front.nodes import AddBias, AxisSum, LogSoftmax, MatrixSum, Softmax, stable_softplus

#: what ``from circuitc.nn import *`` binds: every building block except ``sum``, which would
#: shadow the builtin (it stays ``circuitc.nn.sum``)
__all__ = [
    "add_bias",
    "binary_cross_entropy_with_logits",
    "l2",
    "linear",
    "log_softmax",
    "mean",
    "relu",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
    "squared_loss",
    "tanh",
]


# -- helpers ---------------------------------------------------------------------------------
def _is_matrix(A) -> bool:
    return isinstance(A, sp.MatrixExpr) or getattr(A, "is_Matrix", False)


def _elementwise(A, f):
    return A.applyfunc(f) if _is_matrix(A) else f(sp.sympify(A))


def _reduce(total, rows, reduction: str):
    if reduction == "mean":
        return total / rows
    if reduction == "sum":
        return total
    raise CircuitError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def _rows(A):
    return A.shape[0] if _is_matrix(A) else 1


# -- layers and activations --------------------------------------------------------------------
def add_bias(A, b):
    """``A + b`` with the 1×H row ``b`` added to every row of the N×H matrix ``A``."""
    if not _is_matrix(A):
        return A + b
    return AddBias(A, b)


def linear(X, W, b=None):
    """``X @ W`` (+ the bias row ``b``): X is N×D, W is D×H, b is 1×H."""
    out = X * W
    return out if b is None else add_bias(out, b)


def sigmoid(A):
    """The logistic function, elementwise (computed without overflow)."""
    return _elementwise(A, functions.sigmoid)


def tanh(A):
    """``tanh``, elementwise."""
    return _elementwise(A, sp.tanh)


def relu(A):
    """``max(a, 0)``, elementwise; its derivative at 0 is 0."""
    return _elementwise(A, lambda t: sp.Max(0, t))


def softmax(A):
    """Row-wise softmax (instances are rows), via a stable log-sum-exp."""
    return Softmax(A) if _is_matrix(A) else sp.Integer(1)


def log_softmax(A):
    """Row-wise log-softmax ``A - logsumexp(A, axis=1)``, with the row max subtracted."""
    return LogSoftmax(A) if _is_matrix(A) else sp.Integer(0)


# -- reductions --------------------------------------------------------------------------------
def sum(A, axis=None):  # noqa: A001  (the natural name: circuitc.nn.sum)
    """The sum of all elements (``axis=None``, a scalar), or over axis 0 / 1 (axis kept)."""
    if not _is_matrix(A):
        return sp.sympify(A)
    if axis is None:
        return MatrixSum(A)
    if axis not in (0, 1):
        raise CircuitError(f"sum: axis must be None, 0 or 1, got {axis!r}")
    return AxisSum(A, axis)


def mean(A, axis=None):
    """The mean of all elements, or over axis 0 / 1; a symbolic dimension divides by its symbol."""
    if not _is_matrix(A):
        return sp.sympify(A)
    rows, cols = A.shape
    count = rows * cols if axis is None else (rows if axis == 0 else cols)
    return sum(A, axis) / count


# -- losses ------------------------------------------------------------------------------------
def squared_loss(prediction, target, reduction: str = "mean"):
    """½‖ŷ − y‖² summed over the rows, divided by their number for ``reduction="mean"``."""
    d = prediction - target
    if not _is_matrix(d):
        return _reduce(d**2 / 2, 1, reduction)
    return _reduce(MatrixSum(HadamardPower(d, 2)) / 2, _rows(d), reduction)


def binary_cross_entropy_with_logits(logits, target, reduction: str = "mean"):
    """−[y log σ(a) + (1−y) log(1−σ(a))] = softplus(a) − y·a, the stable form."""
    if not _is_matrix(logits):
        a, y = sp.sympify(logits), sp.sympify(target)
        return _reduce(stable_softplus(a) - y * a, 1, reduction)
    per = logits.applyfunc(stable_softplus) - HadamardProduct(target, logits)
    return _reduce(MatrixSum(per), _rows(logits), reduction)


def softmax_cross_entropy(logits, target, reduction: str = "mean"):
    """−Σ_k y_k log softmax(a)_k per row (y one-hot or probabilities), via log-sum-exp."""
    if not _is_matrix(logits):
        raise CircuitError("softmax_cross_entropy needs a matrix of logits (one row per instance)")
    per = HadamardProduct(target, LogSoftmax(logits))
    return _reduce(-MatrixSum(per), _rows(logits), reduction)


def l2(A):
    """½‖A‖², the sum of squares over 2 (weight decay)."""
    if not _is_matrix(A):
        return sp.sympify(A) ** 2 / 2
    return MatrixSum(HadamardPower(A, 2)) / 2
