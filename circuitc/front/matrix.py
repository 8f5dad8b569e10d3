"""Matrix expressions → IR: SymPy's ``MatrixExpr`` family and the nodes of ``circuitc.nn``.

The lowerer (``lower.py``) walks the expression; for a matrix head it asks ``matrix_children``
which sub-expressions to lower first and ``build_matrix`` for the node. Products of matrices
become ``matmul``, Hadamard products and sums stay the elementwise ``mul``/``add`` (so every
scalar rule applies to matrices unchanged), and reductions are ``sum`` nodes with an axis.
Shapes are ``(rows, cols)`` of ints or dimension names; SymPy accepts ``X*X`` for an N×D
``X``, circuitc does not: distinct dimension symbols count as unequal.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.hadamard import HadamardPower, HadamardProduct
from sympy.matrices.expressions.matexpr import MatrixElement
from sympy.matrices.expressions.matpow import MatPow
from sympy.matrices.expressions.slice import MatrixSlice
from sympy.matrices.expressions.special import Identity, OneMatrix, ZeroMatrix
from sympy.matrices.immutable import ImmutableDenseMatrix

from ..errors import CircuitError
from . import nodes
from .names import dim

#: matrix heads that are leaves of the walk
MATRIX_LEAVES = (ZeroMatrix, OneMatrix, Identity)


def _is_matrix(e) -> bool:
    return isinstance(e, sp.MatrixExpr) or getattr(e, "is_Matrix", False)


def _shape(lw, e) -> tuple:

    return tuple(dim(d) for d in e.shape)


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")" if shape else "scalar"


def matmul_entry(e: sp.Basic):
    """SymPy expands ``(P*Q)[i, j]`` into ``Σ_k P[i, k]*Q[k, j]``: for that sum return
    ``(P, Q, i, j)`` (lowered as ``(P @ Q)[i, j]``), else None. Parents are compared by name
    (a MatrixSymbol) or identity, never with SymPy's recursive ``==``."""
    terms = e.args
    if not (isinstance(e, sp.Add) and isinstance(terms[0], sp.Mul)):
        return None
    found, ks = None, set()
    for term in terms:
        if not (
            isinstance(term, sp.Mul)
            and len(term.args) == 2
            and all(isinstance(a, MatrixElement) for a in term.args)
        ):
            return None
        match = None
        for left, right in (term.args, term.args[::-1]):
            _, i, k = left.args
            _, k2, j = right.args
            if not all(isinstance(x, sp.Integer) for x in (i, k, k2, j)) or int(k) != int(k2):
                continue
            key = (_identity(left.parent), _identity(right.parent), int(i), int(j))
            if found is None or key == found[0]:
                match = (key, left.parent, right.parent, int(k))
                break
        if match is None:
            return None
        found = found or match
        ks.add(match[3])
    _, left, right, _ = found
    n = left.shape[1]
    if not isinstance(n, (int, sp.Integer)) or ks != set(range(int(n))) or len(terms) != int(n):
        return None
    return left, right, found[0][2], found[0][3]


def _identity(parent) -> tuple:
    if isinstance(parent, sp.MatrixSymbol):
        return ("symbol", parent.name, tuple(str(d) for d in parent.shape))
    return ("object", id(parent))


def matrix_children(e: sp.Basic):
    """The sub-expressions lowered before the matrix node ``e``, or None for a non-matrix head."""
    if isinstance(e, sp.Add) and not isinstance(e, sp.MatrixExpr):
        entry = matmul_entry(e)
        return None if entry is None else entry[:2]
    if isinstance(e, (MatrixElement, MatrixSlice)):
        return (e.parent,)
    if isinstance(e, ImmutableDenseMatrix):
        return tuple(e)
    if isinstance(e, nodes.AxisSum):
        return (e.args[0],)
    return None


def _same_shapes(g, args, what: str) -> None:
    """SymPy's own agreement test, with distinct dimension symbols unequal."""
    shapes = [g.nodes[a].shape for a in args if g.nodes[a].shape != ()]
    for s in shapes[1:]:
        if s != shapes[0]:
            raise CircuitError(f"shapes do not agree in {what}: {_fmt(shapes[0])} and {_fmt(s)}")


def _square(g, a: int, what: str) -> tuple:
    s = g.nodes[a].shape
    if len(s) != 2 or s[0] != s[1]:
        raise CircuitError(f"{what} needs a square matrix, got shape {_fmt(s)}")
    return s


def build_matrix(lw, e: sp.Basic, args: list[int]) -> int | None:
    """The node of the matrix head ``e`` from its lowered children, or None for another head.

    ``_BUILDERS`` is the table, one row per head, tried in order (a subclass before its base:
    ``MatAdd`` is also an ``Add``)."""
    for head, builder in _BUILDERS:
        if isinstance(e, head):
            return builder(lw.graph, lw, e, args)
    return None


def _ones(g, lw, e, args):
    return g.leaf("ones", (_shape(lw, e),), _shape(lw, e))


def _zeros(g, lw, e, args):
    return g.leaf("zeros", (_shape(lw, e),), _shape(lw, e))


def _eye(g, lw, e, args):
    n = _shape(lw, e)[0]
    return g.leaf("eye", (n,), (n, n))


def _entry_of_product(g, lw, e, args):
    """A scalar sum that is one entry of a matrix product (SymPy's expanded ``(A*B)[i, j]``)."""
    entry = None if isinstance(e, sp.MatrixExpr) else matmul_entry(e)
    if entry is None:
        return None
    return g.element(g.matmul(args[0], args[1]), entry[2], entry[3])


def _matmul(g, lw, e, args):
    mats = [a for a in args if g.nodes[a].shape != ()]
    scalars = [a for a in args if g.nodes[a].shape == ()]
    if not mats:  # 1×1 factors that became scalars (sqrt(w.T*w) * (v.T*v)**-1)
        return g.mul(*scalars)
    out = mats[0]
    for m in mats[1:]:
        out = g.matmul(out, m)
    return g.mul(*scalars, out) if scalars else out


def _matadd(g, lw, e, args):
    _same_shapes(g, args, "a matrix sum")
    return g.add(*args)


def _hadamard_product(g, lw, e, args):
    _same_shapes(g, args, "a Hadamard product")
    return g.mul(*args)


def _hadamard_power(g, lw, e, args):
    if g.nodes[args[1]].shape != ():
        raise CircuitError("HadamardPower needs a scalar exponent")
    return g.pow(args[0], args[1])


def _matpow(g, lw, e, args):  # Inverse too
    exp = e.args[1]
    if g.nodes[args[0]].shape == (1, 1):
        # a 1×1 matrix counts as a scalar: sqrt(w.T*w), (w.T*w)**-1
        return g.pow(g.element(args[0], 0, 0), args[1])
    if not (isinstance(exp, sp.Integer) and exp > 0):
        raise CircuitError(
            f"matrix power with exponent {exp} is not supported; for an elementwise power "
            "use HadamardPower(A, p) or A.applyfunc(lambda t: t**p)"
        )
    _square(g, args[0], "a matrix power (A @ A)")
    out = args[0]
    for _ in range(int(exp) - 1):
        out = g.matmul(out, args[0])
    return out


def _transpose(g, lw, e, args):
    return g.transpose(args[0])


def _trace(g, lw, e, args):
    _square(g, args[0], "Trace")
    return g.add_node("trace", (args[0],), (), ())


def _element(g, lw, e, args):
    i, j = e.args[1], e.args[2]
    if not (isinstance(i, sp.Integer) and isinstance(j, sp.Integer)):
        raise CircuitError("a matrix element needs constant integer indices, like X[0, 0]")
    return g.element(args[0], int(i), int(j))


def _slice(g, lw, e: MatrixSlice, args) -> int:
    """``X[a:b:s, c:d:t]`` (a row ``X[i, :]`` and a column ``X[:, j]`` are slices too): a
    ``slice`` node whose attrs are (start, stop, step) per axis, or X itself for ``X[:, :]``.

    Bounds must be integers; an axis whose size is a dimension symbol (bound at call time)
    can only be taken whole, since a fixed bound there could silently cut fewer rows."""
    a = args[0]
    parent = g.nodes[a].shape
    axes = []
    for k, (start, stop, step) in enumerate((e.rowslice, e.colslice)):
        size = parent[k]
        if isinstance(size, str):
            if start == 0 and step == 1 and isinstance(stop, sp.Symbol) and stop.name == size:
                axes.append((0, size, 1))
                continue
            raise CircuitError(
                f"the matrix slice {e} cuts axis {k} of size {size}, which is bound at call "
                f"time: a slice may take such an axis only whole (':')"
            )
        if not all(isinstance(b, (int, sp.Integer)) for b in (start, stop, step)):
            raise CircuitError(f"the matrix slice {e} needs constant integer bounds")
        axes.append((int(start), int(stop), int(step)))
    shape = tuple(
        size if isinstance(stop, str) else len(range(start, stop, step))
        for (start, stop, step), size in zip(axes, parent, strict=True)
    )
    if 0 in shape:
        raise CircuitError(f"the matrix slice {e} is empty")
    if shape == parent and all(step == 1 for _, _, step in axes):
        return a  # X[:, :] is X
    return g.add_node("slice", (a,), tuple(axes), shape)


def _explicit(g, lw, e, args):
    rows, cols = e.shape
    for a in args:
        if g.nodes[a].shape != ():
            raise CircuitError("an explicit Matrix must have scalar entries")
    return g.add_node("stack", tuple(args), (rows, cols), (rows, cols))


def _log_softmax(g, lw, e, args):
    return g.add(args[0], g.mul(g.const(-1), logsumexp(g, args[0])))


def _softmax(g, lw, e, args):
    return g.call("exp", g.add(args[0], g.mul(g.const(-1), logsumexp(g, args[0]))))


def _add_bias(g, lw, e, args):
    a, b = args
    sa, sb = g.nodes[a].shape, g.nodes[b].shape
    if len(sa) != 2 or sb != (1, sa[1]):
        raise CircuitError(
            f"add_bias: the bias must be a 1×{sa[1] if sa else '?'} row, got shape {_fmt(sb)}"
        )
    return g.add(a, b)


#: matrix head -> builder(graph, lowerer, expr, lowered args), tried in this order
_BUILDERS = (
    (OneMatrix, _ones),
    (ZeroMatrix, _zeros),
    (Identity, _eye),
    (sp.MatAdd, _matadd),  # before sp.Add: a MatAdd is an Add too
    (sp.Add, _entry_of_product),
    (sp.MatMul, _matmul),
    (HadamardProduct, _hadamard_product),
    (HadamardPower, _hadamard_power),
    (MatPow, _matpow),
    (sp.Transpose, _transpose),
    (sp.Trace, _trace),
    (MatrixElement, _element),
    (MatrixSlice, _slice),
    (ImmutableDenseMatrix, _explicit),
    (nodes.MatrixSum, lambda g, lw, e, args: g.reduce_sum(args[0], None)),
    (nodes.AxisSum, lambda g, lw, e, args: g.reduce_sum(args[0], int(e.args[1]))),
    (nodes.LogSoftmax, _log_softmax),
    (nodes.Softmax, _softmax),
    (nodes.AddBias, _add_bias),
)


def logsumexp(g, a: int) -> int:
    """log(sum(exp(a), axis=1)) per row, with the row max subtracted first (no overflow)."""
    rows = g.nodes[a].shape[0]
    top = g.add_node("rowmax", (a,), (), (rows, 1))
    out = g.add_node("logsumexp", (a, top), (), (rows, 1))
    g.notes[out] = "stable: log-sum-exp, the row max subtracted before exp"
    return out


def lambda_parts(f) -> tuple:
    """The variable and body of the function of ``A.applyfunc(f)`` (a Lambda or a class)."""
    if isinstance(f, sp.Lambda) and len(f.variables) == 1:
        return f.variables[0], f.expr
    var = sp.Dummy("t")
    return var, f(var)


def scalar_args(lw, e: sp.Basic, args: list[int]) -> list[int]:
    """Arguments of a scalar head: a 1×1 matrix counts as its element; a larger one is an error."""
    children = lw.children(e)
    out = list(args)
    for k, child in enumerate(children):
        if not _is_matrix(child):
            continue
        shape = lw.graph.nodes[args[k]].shape
        if shape == (1, 1):
            out[k] = lw.graph.element(args[k], 0, 0)
            continue
        name = getattr(type(e), "__name__", "function")
        what = child.name if isinstance(child, sp.MatrixSymbol) else "a matrix"
        raise CircuitError(
            f"{name}() is given {what} of shape {_fmt(shape)}: a scalar SymPy function of a "
            f"matrix is not elementwise; write A.applyfunc({name.lower()}) or use circuitc.nn "
            "(sigmoid, tanh, relu, softmax, ...)"
        )
    return out


def dimension_symbols(exprs) -> frozenset:
    """Names of the symbols used as matrix dimensions anywhere in ``exprs`` (an iterative walk)."""
    dims: set[str] = set()
    seen: set[int] = set()
    keep = []
    stack = [e for e in exprs if isinstance(e, sp.Basic)]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        keep.append(e)
        if isinstance(e, (sp.MatrixSymbol, OneMatrix, ZeroMatrix, Identity)):
            dims.update(d.name for d in e.shape if isinstance(d, sp.Symbol))
            continue
        stack.extend(e.args)
    return frozenset(dims)


def check_step_shape(g, sym: sp.MatrixSymbol, nid: int) -> None:
    """A step named by a MatrixSymbol must have that symbol's shape."""

    want = tuple(dim(d) for d in sym.shape)
    if g.nodes[nid].shape != want:
        raise CircuitError(
            f"step {sym.name!r} is declared {_fmt(want)} but its expression is {_fmt(g.nodes[nid].shape)}"
        )
