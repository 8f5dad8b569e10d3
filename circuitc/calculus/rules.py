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

import keyword
import math as _math
from collections.abc import Callable

import numpy as _np
import sympy as sp

from ..core.ir import Graph
from ..core.ops import BY_HEAD, COMPARISONS, LOGIC, MATRIX_OPS, OPS, RESERVED_OPS, Op
from ..errors import CircuitError
from ..functions import sigmoid, softplus


def _no_derivative(g, ans, *args):
    """Piecewise-constant functions (sign, Heaviside in x): derivative 0, also at the kink."""
    return tuple(None for _ in args)


#: the built-in elementwise functions, one line per SymPy head
_BUILTIN = [
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
OPS.update({op.name: op for op in _BUILTIN})
BY_HEAD.update({op.head: op for op in _BUILTIN})


def register(
    function: type,
    derivative: Callable[..., sp.Expr | tuple],
    numpy: str,
    math: str | None = None,
    name: str | None = None,
    leading: tuple[float, ...] = (),
) -> None:
    """Teach circuitc a new elementwise function (docs/design.md, Custom ops).

    Args:
        function: the SymPy ``Function`` subclass that appears in circuits.
        derivative: ``derivative(g, ans, *args)`` returns the adjoint contribution to each
            argument as a SymPy expression in ``g`` (the incoming adjoint), ``ans`` (the
            function's value) and the arguments; a tuple for several arguments. It may use
            any supported or registered function.
        numpy: the name of a NumPy attribute that computes the function (``"logaddexp"``).
        math: optionally, the name of a ``math`` attribute for Python floats.
        name: the op's name in the IR (default: the class name, lower-cased).
        leading: constant numbers passed to the NumPy/math function before the op's own
            arguments, for functions whose NumPy form takes an extra constant: softplus is
            ``register(Softplus, derivative=lambda g, ans, a: g * sigmoid(a),
            numpy="logaddexp", leading=(0.0,))``, printed ``_np.logaddexp(0.0, a)``.

    Raises:
        CircuitError: ``function`` is not a SymPy ``Function`` class; ``numpy``/``math`` do
            not name a public function of NumPy/``math``; ``leading`` holds anything but
            finite numbers; ``name`` is not an identifier or is a built-in op's.
    """
    if not (isinstance(function, type) and issubclass(function, sp.Function)):
        raise CircuitError(f"register() needs a sympy Function class, got {function!r}")
    for label, attr in (("numpy", numpy), ("math", math)):
        if attr is not None and (
            not attr.isidentifier() or keyword.iskeyword(attr) or attr.startswith("_")
        ):
            raise CircuitError(f"register(): {label}={attr!r} is not a plain attribute name")
    for label, attr, module in (("numpy", numpy, _np), ("math", math, _math)):
        if attr is not None and not callable(getattr(module, attr, None)):
            raise CircuitError(
                f"register(): {label}={attr!r} is not a function of {module.__name__}"
            )
    if not isinstance(leading, tuple) or not all(
        isinstance(c, (int, float)) and not isinstance(c, bool) and _math.isfinite(c)
        for c in leading
    ):
        raise CircuitError(f"register(): leading={leading!r} must be a tuple of finite numbers")
    op_name = name or function.__name__.lower()
    if not op_name.isidentifier():
        raise CircuitError(f"register(): op name {op_name!r} is not an identifier")
    if function is sp.Piecewise or any(op.head is function for op in _BUILTIN):
        # re-registering sin would change every circuit's sin, silently
        raise CircuitError(
            f"register(): {function.__name__} is built in; register a Function class of your own"
        )
    if op_name in RESERVED_OPS:
        raise CircuitError(
            f"register(): op name {op_name!r} is one of circuitc's own ops; pass another name="
        )
    taken = OPS.get(op_name)
    if taken is not None and taken.head is not function:
        if _same_definition(taken.head, function):
            # the same class defined again (a notebook cell or a circuit file run twice)
            del BY_HEAD[taken.head]
        else:
            raise CircuitError(
                f"register(): op name {op_name!r} is taken by {taken.head.__module__}."
                f"{taken.head.__qualname__}; pass another name="
            )
    nargs = _nargs_of(function)

    def rule(g, ans, *args):
        out = derivative(g, ans, *args)
        return out if isinstance(out, tuple) else (out,)

    op = Op(op_name, function, numpy, math, rule, nargs, tuple(float(c) for c in leading))
    OPS[op_name] = op
    BY_HEAD[function] = op
    for key in [k for k in _cache if k[0] == op_name]:
        del _cache[key]  # registered again (a notebook cell run twice): the new rule counts


def _same_definition(old: type, new: type) -> bool:
    """True when ``new`` is a re-definition of the class ``old`` (same module and qualified name)."""
    return old.__module__ == new.__module__ and old.__qualname__ == new.__qualname__


def _nargs_of(function: type) -> int:
    nargs = getattr(function, "nargs", None)
    if isinstance(nargs, sp.FiniteSet) and len(nargs) == 1:
        return int(next(iter(nargs)))
    return 1


# -- placeholders the SymPy rules are written in -------------------------------------------
G = sp.Symbol("_g")
ANS = sp.Symbol("_ans")
ARGS = tuple(sp.Symbol(f"_a{i}") for i in range(16))

_cache: dict[tuple, tuple] = {}


def sympy_vjp(op: str, consts: tuple) -> tuple:
    """The contributions of a SymPy-form rule, in the placeholders ``G``, ``ANS``, ``ARGS``.

    ``consts`` holds, per argument, its exact value when it is a constant (so that
    ``x**2`` differentiates to ``2*x`` and not ``e*x**(e-1)``) or ``None``. Cached: the
    expression depends only on the op and the constants.
    """
    key = (op, consts)
    found = _cache.get(key)
    if found is None:
        args = [ARGS[i] if c is None else c for i, c in enumerate(consts)]
        if op == "pow":
            found = _pow_vjp(G, ANS, *args)
        elif op == "add":
            found = tuple(G for _ in args)
        elif op == "mul":
            found = tuple(
                G * sp.Mul(*(a for j, a in enumerate(args) if j != i)) for i in range(len(args))
            )
        else:
            found = tuple(OPS[op].derivative(G, ANS, *args))
            if len(found) != len(args):
                raise CircuitError(
                    f"the derivative of '{op}' gave {len(found)} contributions for {len(args)} arguments"
                )
        _cache[key] = found
    return found


def _pow_vjp(g, ans, base, exp):
    """d(b**e) for a constant exponent: to the base ``e*b**(e-1)`` (``-ans**2`` for a
    reciprocal). An exponent that is not a constant is ``_symbolic_pow_vjp``'s."""
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
    if op == "mul" and len(args) > SMALL_PRODUCT:
        return _product_vjp(graph, args, g)
    if op == "where":
        cond, _, _ = args
        zero = graph.const(0)
        return [None, graph.call("where", cond, g, zero), graph.call("where", cond, zero, g)]
    if op == "pow" and not graph.is_const(args[1]):
        return _symbolic_pow_vjp(graph, nid, g)
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


def _symbolic_pow_vjp(graph: Graph, nid: int, g: int) -> list[int]:
    """b**e with an exponent that is not a constant: to the base ``g*e*b**(e-1)``, to the
    exponent ``g*ans*log(b)``, except where ans is 0 (b = 0, e > 0): there ans*log(b) is
    0*(-inf) = nan while its limit is 0, which a where gives (as PyTorch does)."""
    base, exp = graph.nodes[nid].args
    to_base = graph.mul(g, exp, graph.pow(base, graph.add(exp, graph.const(-1))))
    if graph.is_const(base):  # 2**e: log(2) is a number
        return [to_base, graph.mul(g, nid, graph.const(sp.log(graph.values[base])))]
    zero = graph.const(0)
    to_exp = graph.mul(g, nid, graph.call("log", base))
    return [to_base, graph.call("where", graph.call("eq", nid, zero), zero, to_exp)]


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
    if not axes:
        return contrib
    have = graph.nodes[contrib].shape
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
    "rowmax": ("0 (the shift cancels)",),
    "logsumexp": ("softmax = exp(_a0 - _ans)", "0 (the shift cancels)"),
}


def _product_vjp(graph: Graph, args, g: int) -> list[int]:
    """All partials of a_0·…·a_{n-1} from prefix and suffix products: 3n multiplications, not n².

    The prefix products carry the incoming adjoint (``prefix[i] = g·a_0·…·a_{i-1}``), so each
    contribution ``prefix[i]·suffix[i]`` costs one more multiplication.
    """
    n = len(args)
    prefix = [g] * n  # prefix[i] = g · a_0 … a_{i-1}
    suffix = [None] * n  # suffix[i] = a_{i+1} … a_{n-1}
    for i in range(1, n):
        prefix[i] = graph.mul(prefix[i - 1], args[i - 1])
    for i in range(n - 2, -1, -1):
        suffix[i] = args[n - 1] if i == n - 2 else graph.mul(args[i + 1], suffix[i + 1])
    return [prefix[i] if suffix[i] is None else graph.mul(prefix[i], suffix[i]) for i in range(n)]


def structural_partial_template(graph: Graph, nid: int, i: int) -> str:
    """The local partial d(node)/d(arg i) of a structural rule, in the placeholders ``_a0``…"""
    node = graph.nodes[nid]
    if node.op in _MATRIX_PARTIALS:
        return _MATRIX_PARTIALS[node.op][i]
    if node.op == "element":
        return f"1 at [{node.attrs[0]}, {node.attrs[1]}], 0 elsewhere"
    if node.op == "stack":
        return f"entry [{i // node.shape[1]}, {i % node.shape[1]}]"
    if node.op == "mul":
        return "product of the other factors"
    if node.op == "where":
        return "1 where _a0 else 0" if i == 1 else "0 where _a0 else 1"
    if node.op == "heaviside":
        return "1 where _a0 == 0 else 0" if i == 1 else "0"
    if node.op == "pow":  # an exponent that is not a constant
        if i == 0:
            return "_a1*_a0**(_a1 - 1)"
        if graph.is_const(node.args[0]):
            return "_ans*log(_a0)"
        return "0 where _ans == 0 else _ans*log(_a0)"
    if node.op in ("maximum", "minimum"):
        rel = ">=" if node.op == "maximum" else "<="
        cond = f"_a0 {rel} _a1"
        return f"1 where {cond} else 0" if i == 0 else f"0 where {cond} else 1"
    return "0"
