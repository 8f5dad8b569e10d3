"""The SymPy nodes that ``circuitc.nn`` builds and the front end lowers (circuitc/front/matrix.py).

They live in the front end, below ``circuitc.nn``, so that lowering never imports the public
builders; ``circuitc.nn`` re-exports nothing of them but uses them.
"""

from __future__ import annotations

import sympy as sp

from .. import functions


class MatrixSum(sp.Expr):
    """The sum of all elements of a matrix: a scalar."""

    is_commutative = True

    def __new__(cls, A):
        return sp.Expr.__new__(cls, A)

    def _sympystr(self, printer):
        return f"sum({printer._print(self.args[0])})"


class AxisSum(sp.MatrixExpr):
    """The sum over axis 0 (a 1×cols row) or axis 1 (a rows×1 column), axis kept."""

    def __new__(cls, A, axis):
        return sp.MatrixExpr.__new__(cls, A, sp.Integer(axis))

    @property
    def shape(self):
        A, axis = self.args
        return (1, A.shape[1]) if int(axis) == 0 else (A.shape[0], 1)

    def _sympystr(self, printer):
        return f"sum({printer._print(self.args[0])}, axis={int(self.args[1])})"


class Softmax(sp.MatrixExpr):
    """Row-wise softmax: each row of the result sums to 1."""

    def __new__(cls, A):
        return sp.MatrixExpr.__new__(cls, A)

    @property
    def shape(self):
        return self.args[0].shape


class LogSoftmax(sp.MatrixExpr):
    """Row-wise log-softmax ``A - logsumexp(A, axis=1)``."""

    def __new__(cls, A):
        return sp.MatrixExpr.__new__(cls, A)

    @property
    def shape(self):
        return self.args[0].shape


class AddBias(sp.MatrixExpr):
    """``A + b`` with ``b`` a 1×H row broadcast over the N rows of the N×H matrix ``A``."""

    def __new__(cls, A, b):
        return sp.MatrixExpr.__new__(cls, A, b)

    @property
    def shape(self):
        return self.args[0].shape


class stable_softplus(functions.softplus):  # noqa: N801  (named like SymPy's functions)
    """``softplus`` written by a loss; the emitted line says which rewrite it is."""

    circuitc_note = "stable: log(1+exp(a)) = softplus(a)"
