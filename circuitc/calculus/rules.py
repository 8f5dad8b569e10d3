"""The rule table: every local derivative circuitc knows, and nothing else.

A rule maps the incoming adjoint ``g`` (dJ/d ans), the op's forward value ``ans`` and its
arguments to one adjoint contribution per argument (``None`` where the argument gets
nothing). Elementwise functions are rows of ``OPS``, written as SymPy expressions in ``g``,
``ans`` and the arguments; the reverse sweep lowers them into the circuit's own DAG, so a
sub-expression the forward pass already computed (``ans`` itself, ``sin(x)`` next to
``cos(x)``) is reused, not recomputed. The few structural ops whose contributions are not
expressions of that kind (n-ary sums and products, ``where``, ``maximum``/``minimum``) are
written against the IR builder in ``structural_vjp``.

Kinks follow docs/design.md (Conventions): ``Abs``, ``sign`` and ``Heaviside`` have derivative 0 at 0, and at a
tie ``Max``/``Min`` give the whole gradient to the first argument.
"""

from __future__ import annotations

import numpy as _np
import sympy as sp

from ..core.ir import Graph
from ..core.ops import (
    BY_HEAD,
    COMPARISONS,
    LOGIC,
    MATRIX_OPS,
    OPS,
    Op,
)
from ..errors import CircuitError
from ..functions import floor_divide, sigmoid, softplus
from .products import product_vjp, symbolic_pow_vjp


def _no_derivative(g, ans, *args):
    """Piecewise-constant functions (sign, Heaviside in x): derivative 0, also at the kink."""
    return tuple(None for _ in args)


def _sinc_slope(ans, x):
    """d/dx sin(x)/x = (cos(x) - sinc(x))/x; for |x| < 0.1 its Taylor series instead, where
    the difference cancels (at 1e-8 both terms round to 1). The series, in Horner form, to the
    x**9 term: its first omitted term is below 1e-19 of the value."""
    u = x**2
    series = -x / 3 * (1 - u / 10 * (1 - u / 28 * (1 - u / 54 * (1 - u / 88))))
    return sp.Piecewise((series, sp.Abs(x) < sp.Rational(1, 10)), ((sp.cos(x) - ans) / x, True))


_A = sp.Symbol("_a0", real=True)


def _real_part(name: str, head: type, body: sp.Expr) -> Op:
    """A row expanded by the front end (no node, no rule of its own): ``head(_a0) = body``."""
    return Op(name, head, None, None, None, expansion=sp.Lambda((_A,), body))


#: the built-in elementwise functions, one line per SymPy head
BUILTIN = [
    Op("exp", sp.exp, "exp", "exp", lambda g, ans, x: (g * ans,)),
    Op("log", sp.log, "log", "log", lambda g, ans, x: (g / x,)),
    Op("sin", sp.sin, "sin", "sin", lambda g, ans, x: (g * sp.cos(x),)),
    Op("cos", sp.cos, "cos", "cos", lambda g, ans, x: (-g * sp.sin(x),)),
    Op("tan", sp.tan, "tan", "tan", lambda g, ans, x: (g * (1 + ans**2),)),
    Op("asin", sp.asin, "arcsin", "asin", lambda g, ans, x: (g / sp.sqrt(1 - x**2),)),
    Op("acos", sp.acos, "arccos", "acos", lambda g, ans, x: (-g / sp.sqrt(1 - x**2),)),
    Op("atan", sp.atan, "arctan", "atan", lambda g, ans, x: (g / (1 + x**2),)),
    Op(
        "atan2",
        sp.atan2,
        "arctan2",
        "atan2",
        lambda g, ans, y, x: (g * x / (x**2 + y**2), -g * y / (x**2 + y**2)),
        nargs=2,
    ),
    # (x - 1)(x + 1), not x**2 - 1: exact near the domain's end (x - 1 loses nothing there)
    Op("asinh", sp.asinh, "arcsinh", "asinh", lambda g, ans, x: (g / sp.sqrt(1 + x**2),)),
    Op("acosh", sp.acosh, "arccosh", "acosh", lambda g, ans, x: (g / sp.sqrt((x - 1) * (x + 1)),)),
    Op("atanh", sp.atanh, "arctanh", "atanh", lambda g, ans, x: (g / ((1 - x) * (1 + x)),)),
    Op(
        "erf",
        sp.erf,
        "scipy.special:erf",  # NumPy has no erf; math.erf differs from SciPy's in the last bit
        "erf",
        lambda g, ans, x: (2 * g * sp.exp(-(x**2)) / sp.sqrt(sp.pi),),
        needs="SciPy (pip install scipy)",
    ),
    Op("sinc", sp.sinc, "_sinc", None, lambda g, ans, x: (g * _sinc_slope(ans, x),)),
    # piecewise constant: derivative 0, at the jumps too (docs/design.md, Conventions)
    Op("floor", sp.floor, "floor", None, _no_derivative),
    Op("ceiling", sp.ceiling, "ceil", None, _no_derivative),
    # np.mod and Python's %: the result takes the divisor's sign; x - y*floor(x/y)
    Op("mod", sp.Mod, "mod", None, lambda g, ans, x, y: (g, -g * floor_divide(x, y)), nargs=2),
    Op("floor_divide", floor_divide, "floor_divide", None, _no_derivative, nargs=2),
    # SymPy writes these for a symbol without real=True (Abs(exp(x)) is exp(re(x))); every
    # circuitc input is real, so each is expanded: re(a) = conjugate(a) = a, im(a) = 0, and
    # arg(a) = pi where a < 0, else 0 (np.angle's value at 0); their derivatives follow
    _real_part("re", sp.re, _A),
    _real_part("conjugate", sp.conjugate, _A),
    _real_part("im", sp.im, sp.Integer(0)),
    _real_part("arg", sp.arg, sp.Piecewise((sp.pi, _A < 0), (0, True))),
    Op("sinh", sp.sinh, "sinh", "sinh", lambda g, ans, x: (g * sp.cosh(x),)),
    Op("cosh", sp.cosh, "cosh", "cosh", lambda g, ans, x: (g * sp.sinh(x),)),
    Op("tanh", sp.tanh, "tanh", "tanh", lambda g, ans, x: (g * (1 - ans**2),)),
    Op("abs", sp.Abs, "abs", "fabs", lambda g, ans, x: (g * sp.sign(x),)),
    Op("sign", sp.sign, "sign", None, _no_derivative),
    # d/dh0 (1 where x == 0) is built in structural_vjp: a where keeps the adjoint's dtype
    Op("heaviside", sp.Heaviside, "heaviside", None, _no_derivative, nargs=2),
    Op("sigmoid", sigmoid, "_sigmoid", None, lambda g, ans, x: (g * ans * (1 - ans),)),
    Op("softplus", softplus, "_softplus", None, lambda g, ans, x: (g * sigmoid(x),)),
]

# the rows fill the op registries (``register`` adds to both)
OPS.update({op.name: op for op in BUILTIN})
BY_HEAD.update({op.head: op for op in BUILTIN})


# -- placeholders the SymPy rules are written in -------------------------------------------
G = sp.Symbol("_g")
ANS = sp.Symbol("_ans")
#: the argument placeholders made so far; ``arg(i)`` makes more (an op may have any arity)
ARGS: list[sp.Symbol] = []


def arg(i: int) -> sp.Symbol:
    """The placeholder ``_a<i>`` of a rule's argument ``i``."""
    while len(ARGS) <= i:
        ARGS.append(sp.Symbol(f"_a{len(ARGS)}"))
    return ARGS[i]


_cache: dict[tuple, tuple] = {}


def forget(op: str) -> None:
    """Drop the cached contributions of ``op`` (registered again: the new rule counts)."""
    for key in [k for k in _cache if k[0] == op]:
        del _cache[key]


def sympy_vjp(op: str, consts: tuple) -> tuple:
    """The contributions of a SymPy-form rule, in the placeholders ``G``, ``ANS``, ``ARGS``.

    ``consts`` holds, per argument, its exact value when it is a constant (so that
    ``x**2`` differentiates to ``2*x`` and not ``e*x**(e-1)``) or ``None``. Cached: the
    expression depends only on the op and the constants.
    """
    key = (op, consts)
    found = _cache.get(key)
    if found is None:
        args = [arg(i) if c is None else c for i, c in enumerate(consts)]
        if op == "pow":
            found = _pow_vjp(G, ANS, *args)
        elif op == "mul":
            found = tuple(
                G * sp.Mul(*(a for j, a in enumerate(args) if j != i)) for i in range(len(args))
            )
        else:
            found = _rule_of(op, args)
            if len(found) != len(args):
                raise CircuitError(
                    f"the derivative of '{op}' gave {len(found)} contributions for {len(args)} arguments"
                )
        _cache[key] = found
    return found


def checked_expr(value: object, allowed: set, what: str, label: str) -> sp.Expr | None:
    """One contribution (or an expansion): a SymPy expression in the ``allowed`` symbols."""
    if value is None:
        return None
    if isinstance(value, _np.ndarray):
        raise CircuitError(f"{label}: {what} is an array, not one SymPy expression")
    if isinstance(value, (sp.MatrixBase, sp.MatrixExpr)):
        raise CircuitError(f"{label}: {what} is a matrix, not one SymPy expression")
    if isinstance(value, (int, float, _np.floating, _np.integer)) and not isinstance(value, bool):
        return sp.Float(value) if isinstance(value, (float, _np.floating)) else sp.Integer(value)
    if not isinstance(value, sp.Expr):
        raise CircuitError(
            f"{label}: {what} is {type(value).__name__} {value!r}, not a SymPy expression"
        )
    stray = sorted(s.name for s in _symbols(value) if s not in allowed)
    if stray:
        raise CircuitError(
            f"{label}: {what} mentions {', '.join(stray)}; it may use only its arguments"
            + (" and g, ans" if G in allowed else "")
        )
    return value


def _symbols(e: sp.Basic) -> set:
    """The symbols ``e`` mentions, by an iterative walk (SymPy's ``free_symbols`` recurses)."""
    found, stack, seen = set(), [e], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, (sp.Symbol, sp.MatrixSymbol)):
            found.add(node)
        else:
            stack.extend(node.args)
    return found


def _rule_of(op: str, args: list) -> tuple:
    """The contributions of a SymPy-form rule (the arguments may be constants here), checked
    as ``register`` checks them: a derivative that raises or returns anything but SymPy
    expressions in the placeholders is a CircuitError naming the op, never an internal error."""
    label = f"the derivative of '{op}'"
    try:
        found = tuple(OPS[op].derivative(G, ANS, *args))
    except Exception as e:
        raise CircuitError(f"{label} raised {type(e).__name__}: {e}") from None
    allowed = {G, ANS, *ARGS}
    return tuple(checked_expr(c, allowed, f"contribution {i}", label) for i, c in enumerate(found))


def _pow_vjp(g, ans, base, exp):
    """d(b**e) for a constant exponent: to the base ``e*b**(e-1)`` (``-ans**2`` for a
    reciprocal). An exponent that is not a constant is ``products.symbolic_pow_vjp``'s."""
    to_base = -g * ans**2 if exp == -1 else g * exp * base ** (exp - 1)
    return (to_base, None)


#: an n-ary product above this many factors uses prefix/suffix products (O(n) ops in all)
SMALL_PRODUCT = 4


def structural_vjp(graph: Graph, nid: int, g: int) -> list[int | None] | None:
    """Contributions of the ops written against the IR builder, or ``None`` for a SymPy rule."""
    node = graph.nodes[nid]
    op, args = node.op, node.args
    if op in MATRIX_OPS:
        return _matrix_vjp(graph, nid, g)
    if op == "add":
        # every term receives the sum's adjoint, whatever the arity
        return [g for _ in args]
    if op == "mul" and len(args) > SMALL_PRODUCT:
        return product_vjp(graph, args, g)
    if op == "where":
        cond, _, _ = args
        zero = graph.const(0)
        return [None, graph.call("where", cond, g, zero), graph.call("where", cond, zero, g)]
    if op == "pow" and not graph.is_const(args[1]):
        return symbolic_pow_vjp(graph, nid, g)
    if op == "heaviside":
        # Heaviside(x, h0) is h0 where x == 0: d/dh0 is 1 there and 0 elsewhere; d/dx is 0
        x, h0 = args
        if graph.is_const(h0):
            return [None, None]
        zero = graph.const(0)
        return [None, graph.call("where", graph.call("eq", x, zero), g, zero)]
    if op in ("maximum", "minimum"):
        a, b = args
        # the first argument wins a tie (docs/design.md, Conventions)
        first = graph.call("ge" if op == "maximum" else "le", a, b)
        zero = graph.const(0)
        return [graph.call("where", first, g, zero), graph.call("where", first, zero, g)]
    if op in COMPARISONS or op in LOGIC:
        return [None for _ in args]
    return None


# -- matrices ----------------------------------------------------------------------------------


def _matrix_vjp(graph: Graph, nid: int, g: int) -> list[int | None]:
    """Contributions of the matrix ops. An adjoint may be smaller than its node (a scalar or a
    row standing for its broadcast, as the seed of a sum is); ``matmul`` expands it first."""
    node = graph.nodes[nid]
    op, args = node.op, node.args
    if op == "matmul":
        a, b = args
        full = graph.expand(g, node.shape)
        # C = A @ B:  dJ/dA = dJ/dC @ B.T,  dJ/dB = A.T @ dJ/dC
        return [graph.matmul(full, graph.transpose(b)), graph.matmul(graph.transpose(a), full)]
    if op == "transpose":
        return [graph.transpose(g)]
    if op == "sum":
        # every summed element gets the adjoint of the sum: g stands for its broadcast
        return [g]
    if op == "broadcast":
        return [unbroadcast(graph, g, graph.nodes[args[0]].shape, node.shape)]
    if op == "element":
        i, j = node.attrs
        shape = graph.nodes[args[0]].shape
        return [graph.add_node("unit", (g,), (i, j), shape)]
    if op == "slice":
        # X[rows, cols]: the adjoint goes back into a zero matrix of X's shape at those places
        # (a smaller adjoint, standing for its broadcast, is broadcast by the assignment)
        return [graph.add_node("unslice", (g,), node.attrs, graph.nodes[args[0]].shape)]
    if op == "unslice":
        full = graph.expand(g, node.shape)
        return [graph.add_node("slice", (full,), node.attrs, graph.nodes[args[0]].shape)]
    if op == "trace":
        n = node_shape = graph.nodes[args[0]].shape
        return [graph.mul(g, graph.leaf("eye", (n[0],), node_shape))]
    if op == "rowmax":
        # the shift of the log-sum-exp: its derivative cancels exactly (the result does not
        # depend on it), so it is a constant for the backward pass
        return [None]
    if op == "logsumexp":
        a, _ = args
        # d logsumexp(a) / da = softmax(a) = exp(a - logsumexp(a))
        soft = graph.call("exp", graph.add(a, graph.mul(graph.const(-1), nid)))
        return [graph.mul(g, soft), None]
    if op == "stack":
        full = graph.expand(g, node.shape)
        cols = node.shape[1]
        return [graph.element(full, k // cols, k % cols) for k in range(len(args))]
    raise KeyError(op)


def unbroadcast(graph: Graph, contrib: int, arg_shape: tuple, node_shape: tuple) -> int:
    """A contribution summed over the axes along which the argument was broadcast in its op
    (a 1×H bias row over N rows: ``_np.sum(..., axis=0, keepdims=True)``; a scalar: all)."""
    if arg_shape == node_shape or node_shape == ():
        return contrib
    axes = [k for k in (0, 1) if (arg_shape == () or arg_shape[k] == 1) and node_shape[k] != 1]
    have = graph.nodes[contrib].shape
    if not axes:
        # a scalar in a 1×1 op: its contribution is 1×1, summed to the scalar it must be
        return graph.reduce_sum(contrib, None) if arg_shape == () and have != () else contrib
    if have == () or any(have[k] == 1 for k in axes):
        # the contribution is itself a broadcast along a summed axis: materialise it first
        contrib = graph.expand(contrib, node_shape)
    if len(axes) == 2:
        return graph.reduce_sum(contrib, None)
    return graph.reduce_sum(contrib, axes[0])


def fit(graph: Graph, nid: int, i: int, contrib: int | None) -> int | None:
    """The contribution of node ``nid`` to its argument ``i``, reduced to the argument's shape
    where the (elementwise) op broadcast it."""
    node = graph.nodes[nid]
    if contrib is None or node.op in MATRIX_OPS:
        return contrib
    return unbroadcast(graph, contrib, graph.nodes[node.args[i]].shape, node.shape)


_MATRIX_PARTIALS = {
    "matmul": ("(·) @ _a1.T", "_a0.T @ (·)"),
    "transpose": ("transpose",),
    "sum": ("1, broadcast over the summed axis",),
    "broadcast": ("summed back over the broadcast axes",),
    "trace": ("identity",),
    "slice": ("1 at the sliced entries, 0 elsewhere",),
    "unslice": ("the entries at the slice",),
    "rowmax": ("0 (the shift cancels)",),
    "logsumexp": ("softmax = exp(_a0 - _ans)", "0 (the shift cancels)"),
}


def structural_partial_template(graph: Graph, nid: int, i: int) -> str:
    """The local partial d(node)/d(arg i) of a structural rule, in the placeholders ``_a0``…"""
    node = graph.nodes[nid]
    if node.op in _MATRIX_PARTIALS:
        return _MATRIX_PARTIALS[node.op][i]
    if node.op == "element":
        return f"1 at [{node.attrs[0]}, {node.attrs[1]}], 0 elsewhere"
    if node.op == "stack":
        return f"entry [{i // node.shape[1]}, {i % node.shape[1]}]"
    if node.op == "add":
        return "1"
    if node.op == "mul":
        return "product of the other factors"
    if node.op == "where":
        return "1 where _a0 else 0" if i == 1 else "0 where _a0 else 1"
    if node.op == "heaviside":
        return "1 where _a0 == 0 else 0" if i == 1 else "0"
    if node.op == "pow":  # an exponent that is not a constant
        if i == 0:
            return "_a1*_a0**(_a1 - 1)"
        if graph.is_const(node.args[0]) and graph.values[node.args[0]].is_zero:
            return "0 (0**_a1 is 0 for _a1 > 0)"
        if graph.is_const(node.args[0]):
            return "_ans*log(_a0)"
        return "0 where _ans == 0 else _ans*log(_a0)"
    if node.op in ("maximum", "minimum"):
        rel = ">=" if node.op == "maximum" else "<="
        cond = f"_a0 {rel} _a1"
        return f"1 where {cond} else 0" if i == 0 else f"0 where {cond} else 1"
    return "0"
