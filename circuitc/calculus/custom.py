"""Custom ops: ``circuitc.register`` adds rows to the rule table (docs/design.md, Custom ops).

A row says what computes the function (a NumPy attribute, an explicit import path
``"module:attr"``, or an expression in supported ops that the front end expands) and, but for
an expression, its derivative. Every argument is checked here, at ``register`` time, so that a
mistake is a ``CircuitError`` naming the function rather than an internal error when a circuit
is compiled: the derivative is called once in the rule's placeholders and must return one SymPy
expression (or ``None``) per argument, in ``g``, ``ans`` and the arguments alone.
"""

from __future__ import annotations

import importlib
import inspect
import keyword
import math as _math
from collections.abc import Callable
from dataclasses import replace

import numpy as _np
import sympy as sp

from ..core.ops import BY_HEAD, OPS, RESERVED_OPS, Op, supported
from ..errors import CircuitError
from .rules import ANS, BUILTIN, G, arg, checked_expr, forget


def register(
    function: type,
    derivative: Callable[..., sp.Expr | tuple] | None = None,
    numpy: str | None = None,
    math: str | None = None,
    name: str | None = None,
    leading: tuple[float, ...] = (),
    *,
    expr: Callable[..., sp.Expr] | sp.Lambda | None = None,
) -> None:
    """Teach circuitc a new elementwise function (docs/design.md, Custom ops).

    Either say what computes it and give its derivative (``numpy=``, ``derivative=``), or
    write it in supported ops (``expr=``): it is then expanded where it is used and
    differentiated by those ops' rules.

    Args:
        function: the SymPy ``Function`` subclass that appears in circuits.
        derivative: ``derivative(g, ans, *args)`` returns the adjoint contribution to each
            argument (a tuple for several, ``None`` for none) as a SymPy expression in ``g``
            (the incoming adjoint), ``ans`` (the function's value) and the arguments alone;
            it may use any supported or registered function. Called once here, as a check.
        numpy: a string: a NumPy attribute (``"logaddexp"``) or an import path
            ``"module:attr"`` (``"scipy.special:erfcx"``) that the emitted module imports
            where the op is used. Never an object (its import path would be a guess).
        math: optionally, a ``math`` attribute for Python floats (the fused numba loop).
        name: the op's name in the IR (default: the class name, lower-cased).
        leading: constant numbers passed before the op's own arguments: softplus is
            ``numpy="logaddexp", leading=(0.0,)``, printed ``_np.logaddexp(0.0, a)``.
        expr: the function in supported ops, a callable of its arguments
            (``lambda a: a / (1 + sp.Abs(a))``) or a ``sympy.Lambda``; excludes the others.

    Raises:
        CircuitError: any argument that is not what is described above, named (the full
            list is in docs/design.md, Custom ops).
    """
    if not (isinstance(function, type) and issubclass(function, sp.Function)):
        raise CircuitError(f"register() needs a sympy Function class, got {function!r}")
    label = f"register({function.__name__})"
    op_name = _op_name(function, name, label)
    if expr is not None:
        given = [k for k, v in (("numpy", numpy), ("math", math), ("derivative", derivative)) if v]
        if given or leading != ():
            raise CircuitError(
                f"{label}: expr= defines the function and, through its ops, its derivative; "
                f"do not also pass {', '.join(given or ['leading'])}="
            )
        op = Op(op_name, function, None, None, None, _nargs_of(function))
        op = replace(op, expansion=_checked_expansion(function, expr, op.nargs, label))
    else:
        op = _numpy_op(function, op_name, derivative, numpy, math, leading, label)
    taken = OPS.get(op_name)
    if taken is not None and taken.head is not function:
        del BY_HEAD[taken.head]  # the same class defined again (_op_name allowed only that)
    OPS[op_name] = op
    BY_HEAD[function] = op
    forget(op_name)  # registered again (a notebook cell run twice): the new rule counts


def _numpy_op(function, op_name, derivative, numpy, math, leading, label: str) -> Op:
    """The row of an op computed by ``numpy`` (a NumPy name or an import path), checked."""
    if numpy is None:
        raise CircuitError(
            f"{label}: say what computes the function: numpy= a NumPy attribute name "
            "(numpy='logaddexp') or an import path (numpy='scipy.special:erf'), or write "
            "it in supported ops with expr="
        )
    numpy = _checked_numpy(numpy, label)
    math = _checked_math(math, label)
    if not isinstance(leading, tuple) or not all(
        isinstance(c, (int, float)) and not isinstance(c, bool) and _math.isfinite(c)
        for c in leading
    ):
        raise CircuitError(f"{label}: leading={leading!r} must be a tuple of finite numbers")
    if derivative is None:
        raise CircuitError(
            f"{label}: numpy= needs derivative=lambda g, ans, *args: ... (or define the "
            "function with expr= in supported ops)"
        )
    nargs = _nargs_of(function)
    rule = _checked_derivative(function, derivative, nargs, label)
    return Op(op_name, function, numpy, math, rule, nargs, tuple(float(c) for c in leading))


def _op_name(function: type, name: str | None, label: str) -> str:
    """The IR name of a new op, refused where it would change or shadow another op."""
    op_name = name or function.__name__.lower()
    if not isinstance(op_name, str) or not op_name.isidentifier():
        raise CircuitError(f"{label}: op name {op_name!r} is not an identifier")
    if function is sp.Piecewise or any(op.head is function for op in BUILTIN):
        # re-registering sin would change every circuit's sin, silently
        raise CircuitError(
            f"register(): {function.__name__} is built in; register a Function class of your own"
        )
    if op_name in RESERVED_OPS:
        raise CircuitError(
            f"register(): op name {op_name!r} is one of circuitc's own ops; pass another name="
        )
    taken = OPS.get(op_name)
    if (
        taken is not None
        and taken.head is not function
        and not _same_definition(taken.head, function)
    ):
        raise CircuitError(
            f"register(): op name {op_name!r} is taken by {taken.head.__module__}."
            f"{taken.head.__qualname__}; pass another name="
        )
    return op_name


def _public_name(text: str) -> bool:
    """An ASCII identifier that is not a keyword and not private (no leading ``_``)."""
    return (
        text.isascii() and text.isidentifier() and not keyword.iskeyword(text)
    ) and not text.startswith("_")


def _checked_numpy(numpy: object, label: str) -> str:
    """``numpy=``: a public NumPy function's name, or an importable ``module:attr``."""
    if not isinstance(numpy, str):
        raise CircuitError(
            f"{label}: numpy= must be a string, got {type(numpy).__name__}; name the function: "
            "numpy='sin' for NumPy's, or an import path such as numpy='scipy.special:erf'"
        )
    if ":" not in numpy:
        if not _public_name(numpy) or not callable(getattr(_np, numpy, None)):
            raise CircuitError(
                f"{label}: numpy={numpy!r} is not a function of numpy (for another module, "
                "give an import path such as 'scipy.special:erf')"
            )
        return numpy
    module, _, attr = numpy.partition(":")
    if not (module and all(_public_name(p) for p in module.split(".")) and _public_name(attr)):
        raise CircuitError(
            f"{label}: numpy={numpy!r} is not an import path 'module:attr' of public dotted "
            "identifiers, such as 'scipy.special:erf'"
        )
    try:
        found = getattr(importlib.import_module(module), attr, None)
    except Exception as e:  # an ImportError, or whatever the module raised while importing
        raise CircuitError(f"{label}: cannot import {module!r}: {type(e).__name__}: {e}") from None
    if not callable(found):
        raise CircuitError(f"{label}: {module}.{attr} is not a function")
    return numpy


def _checked_math(math: object, label: str) -> str | None:
    """``math=``: None, or the name of a public function of the ``math`` module."""
    if math is None:
        return None
    if (
        not isinstance(math, str)
        or not _public_name(math)
        or not callable(getattr(_math, math, None))
    ):
        raise CircuitError(f"{label}: math={math!r} is not a function of math")
    return math


def _called(f: Callable, args: tuple, what: str, label: str):
    """``f(*args)``, with a wrong signature or an exception turned into a CircuitError."""
    try:
        inspect.signature(f).bind(*args)
    except TypeError as e:
        raise CircuitError(f"{label}: {what} must take {len(args)} argument(s) ({e})") from None
    except ValueError:
        pass  # no signature to read (a builtin): the call below says what is wrong
    try:
        return f(*args)
    except Exception as e:
        raise CircuitError(f"{label}: {what} raised {type(e).__name__}: {e}") from None


def _checked_derivative(function: type, derivative: Callable, nargs: int, label: str):
    """The rule of a registered op, after one call in the placeholders has checked it."""
    if not callable(derivative):
        raise CircuitError(f"{label}: derivative= must be a function (g, ans, *args) -> exprs")
    args = (G, ANS, *(arg(i) for i in range(nargs)))
    out = _called(derivative, args, "the derivative", label)
    if isinstance(out, list):
        out = tuple(out)
    items = out if isinstance(out, tuple) else (out,)
    if len(items) != nargs:
        raise CircuitError(
            f"{label}: the derivative gave {len(items)} contributions for {nargs} argument(s)"
        )
    allowed = set(args)
    for i, item in enumerate(items):
        checked_expr(item, allowed, f"the derivative's contribution {i}", label)

    def rule(g, ans, *args):
        got = derivative(g, ans, *args)
        return tuple(got) if isinstance(got, (tuple, list)) else (got,)

    return rule


def _checked_expansion(function: type, expr, nargs: int, label: str) -> sp.Lambda:
    """``expr=``: the function's body as a Lambda of the placeholders, checked to be
    supported ops of its arguments alone."""
    args = tuple(arg(i) for i in range(nargs))
    if isinstance(expr, sp.Lambda):
        if len(expr.variables) != nargs:
            raise CircuitError(
                f"{label}: the Lambda takes {len(expr.variables)} argument(s); "
                f"{function.__name__} takes {nargs}"
            )
        body = expr(*args)
    elif callable(expr):
        body = _called(expr, args, "expr", label)
    else:
        raise CircuitError(f"{label}: expr= must be a function of the arguments or a Lambda")
    body = checked_expr(body, set(args), "expr", label)
    _check_heads(function, body, label)
    return sp.Lambda(args, body)


#: SymPy heads the lowerer handles itself (besides BY_HEAD's functions)
def _structural_heads() -> tuple:
    from sympy.core.relational import Relational
    from sympy.functions.elementary.piecewise import ExprCondPair
    from sympy.logic.boolalg import BooleanAtom, BooleanFunction

    return (
        sp.Add, sp.Mul, sp.Pow, sp.Max, sp.Min, sp.Piecewise, ExprCondPair,
        Relational, BooleanFunction, BooleanAtom, sp.Symbol, sp.Number, sp.NumberSymbol,
    )  # fmt: skip


def _check_heads(function: type, body: sp.Expr, label: str) -> None:
    """Every head of ``body`` (and of the expansions it uses) is supported, and none is
    ``function`` itself (an expansion that uses itself would never end). Iterative."""
    ok = _structural_heads()
    stack, seen = [body], set()
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        head = type(e)
        if head is function or (isinstance(e, sp.Function) and _same_class(head, function)):
            raise CircuitError(f"{label}: expr uses {function.__name__} itself")
        if not isinstance(e, ok):
            op = next((BY_HEAD[b] for b in head.__mro__ if b in BY_HEAD), None)
            if op is None:
                raise CircuitError(
                    f"{label}: expr uses {head.__name__}, which circuitc does not support "
                    f"(supported: {', '.join(supported())})"
                )
            if op.expansion is not None:
                stack.append(op.expansion.expr)
        stack.extend(e.args)


def _same_class(a: type, b: type) -> bool:
    return a is b or _same_definition(a, b)


def _same_definition(old: type, new: type) -> bool:
    """True when ``new`` is a re-definition of the class ``old`` (same module and qualified name)."""
    return old.__module__ == new.__module__ and old.__qualname__ == new.__qualname__


def _nargs_of(function: type) -> int:
    nargs = getattr(function, "nargs", None)
    if isinstance(nargs, sp.FiniteSet) and len(nargs) == 1:
        return int(next(iter(nargs)))
    return 1
