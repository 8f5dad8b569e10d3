"""The op vocabulary: every op name the IR may hold, and the registry of elementwise functions.

This module is the shared dictionary of the stages. The front end reads ``BY_HEAD`` (which
SymPy heads it may lower), the emitter reads ``OPS`` (how a function prints), and the rule
table in ``circuitc/calculus/rules.py`` fills both registries with its rows when it is imported
(as autograd's ``numpy_vjps`` fills the registry of its ``core``). ``circuitc/__init__.py``
imports the rule table, and importing any ``circuitc`` module runs the package's ``__init__``
first, so the registries are full before any circuit is lowered; nothing here reads them at
import time.

An ``Op`` record holds an elementwise function's SymPy head (front end), its printed names
(emitter) and its derivative (calculus): one row per function, so that adding a function is
one line of the rule table. Only the calculus *calls* ``derivative``; ``local_partial`` is the
one door for SymPy's ``fdiff`` of circuitc's own functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from .ir import LEAF_OPS


@dataclass(frozen=True)
class Op:
    """One elementwise function: its SymPy head, how it prints, and its derivative.

    ``numpy`` names what computes the function on arrays: an attribute of NumPy (``"sin"``
    prints ``_np.sin(x)``), an explicit import path ``"module:attr"`` (``"scipy.special:erf"``
    prints ``_mod_scipy_special.erf(x)``, and the emitted module imports ``scipy.special``), or
    a helper the emitted module defines itself (a name starting with ``_``). ``math`` names an
    attribute of ``math`` for Python floats. ``derivative(g, ans, *args)`` returns one SymPy
    expression (or ``None``) per argument. An op registered as an expression in other ops has
    ``expansion`` (a ``Lambda`` of its arguments) instead: the lowerer writes it out, so it never
    becomes a node and its derivative is its ops' rules.
    """

    name: str
    head: type
    numpy: str | None
    math: str | None
    derivative: Callable[..., tuple] | None
    nargs: int = 1
    #: constant arguments printed before the op's own (softplus as ``logaddexp(0.0, a)``)
    leading: tuple[float, ...] = ()
    #: the function written in other ops (``register(..., expr=...)``), a Lambda, or None
    expansion: sp.Lambda | None = None
    #: the package that ``numpy``'s import path needs, as an error message names it
    needs: str = ""

    @property
    def module(self) -> str | None:
        """The module of an import path (``"scipy.special"``), or None for NumPy and helpers."""
        return self.numpy.split(":", 1)[0] if self.numpy and ":" in self.numpy else None

    @property
    def attr(self) -> str | None:
        """The attribute called: of NumPy, of ``module``, or the helper's name."""
        return self.numpy.split(":", 1)[1] if self.numpy and ":" in self.numpy else self.numpy


#: IR op name -> Op, and SymPy head -> Op; filled by ``circuitc/calculus/rules.py``
OPS: dict[str, Op] = {}
BY_HEAD: dict[type, Op] = {}

#: ops with a value but no derivative at all (conditions of a Piecewise)
COMPARISONS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
LOGIC = ("and", "or", "not")

#: the ops that are not elementwise; every other op broadcasts its arguments like NumPy
MATRIX_OPS = frozenset(
    {"matmul", "transpose", "sum", "broadcast", "element", "trace", "rowmax", "logsumexp", "stack"}
    | {"slice", "unslice"}  # X[a:b, c:d] and its adjoint (g put back in zeros of X's shape)
)

#: the IR's structural ops (sums, products, where, the backward pass's own nodes...)
STRUCTURAL_OPS = frozenset(
    {"add", "mul", "pow", "where", "maximum", "minimum", "bool", "call", "unit", "adj"}
)

#: every op name that belongs to circuitc itself: ``register`` refuses them as names
RESERVED_OPS = STRUCTURAL_OPS | MATRIX_OPS | LEAF_OPS | frozenset(COMPARISONS) | frozenset(LOGIC)


def local_partial(expr: sp.Function, argindex: int) -> sp.Expr:
    """The rule of ``expr``'s head with g = 1 and ans = expr: d expr / d (argument ``argindex``).

    SymPy's ``diff`` of circuitc's own functions (``sigmoid``, ``softplus``) uses this, so
    their calculus is written once, in the rule table.
    """
    op = BY_HEAD[type(expr)]
    partial = op.derivative(sp.Integer(1), expr, *expr.args)[argindex - 1]
    return sp.Integer(0) if partial is None else partial


def supported() -> list[str]:
    """Names of every SymPy head circuitc compiles (for error messages and the docs)."""
    heads = ["Add", "Mul", "Pow", "Max", "Min", "Piecewise", "MatrixSlice"]
    return heads + sorted(op.head.__name__ for op in BY_HEAD.values())
