"""SymPy functions that circuitc adds: ``sigmoid`` (notes 2.2) and ``softplus``.

Each stays one node in the circuit. SymPy can still differentiate and evaluate them, so they
work with ``sympy.diff``/``lambdify`` too (the tests use that as an oracle).
"""

from __future__ import annotations

import sympy as sp


def _elementwise_on_matrix(cls, a):
    """circuitc's own functions given a matrix apply elementwise: ``A.applyfunc(f)``."""
    if isinstance(a, sp.MatrixExpr) and a.shape != (1, 1):
        return a.applyfunc(cls)
    return None


class sigmoid(sp.Function):  # noqa: N801  (named like SymPy's own functions)
    """The logistic function ``1 / (1 + exp(-a))``.

    The lecture notes write ``1/(1+exp(a))``, which is ``sigmoid(-a)``.
    """

    nargs = 1

    @classmethod
    def eval(cls, a):
        return _elementwise_on_matrix(cls, a)

    def fdiff(self, argindex=1):
        """SymPy's derivative, read from circuitc's rule table (the only place calculus lives)."""
        return _local_partial(self, argindex)

    def _eval_rewrite_as_exp(self, a, **kwargs):
        return 1 / (1 + sp.exp(-a))

    def _eval_evalf(self, prec):
        return (1 / (1 + sp.exp(-self.args[0])))._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


class softplus(sp.Function):  # noqa: N801
    """``log(1 + exp(a))``, computed stably as ``logaddexp(0, a)``."""

    nargs = 1

    @classmethod
    def eval(cls, a):
        return _elementwise_on_matrix(cls, a)

    def fdiff(self, argindex=1):
        """SymPy's derivative, read from circuitc's rule table (the only place calculus lives)."""
        return _local_partial(self, argindex)

    def _eval_rewrite_as_exp(self, a, **kwargs):
        return sp.log(1 + sp.exp(a))

    def _eval_evalf(self, prec):
        return sp.log(1 + sp.exp(self.args[0]))._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


def _local_partial(expr: sp.Function, argindex: int) -> sp.Expr:
    """d expr / d (argument ``argindex``), from the rule table (imported late: it imports us)."""
    from .core.ops import local_partial

    return local_partial(expr, argindex)


class floor_divide(sp.Function):  # noqa: N801  (named like NumPy's function)
    """``x // y`` as NumPy computes it: the quotient that ``np.mod``'s result belongs to.

    ``floor(x/y)`` rounds ``x/y`` first, so next to a multiple of ``y`` it can be off by one
    from the quotient ``np.mod(x, y)`` used (``-7.5 // 0.3`` is -26, ``floor(-7.5/0.3)`` is
    -25). It is the derivative of ``Mod`` in the divisor, so it must be this one.
    """

    nargs = 2

    @classmethod
    def eval(cls, x, y):
        if x.is_Number and y.is_Number and y != 0:
            return sp.floor(x / y)
        return None

    def _eval_is_real(self):
        return self.args[0].is_real and self.args[1].is_real
