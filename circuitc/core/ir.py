"""The intermediate representation: a hash-consed DAG of nodes in SSA form.

Every distinct sub-expression is one node (``Graph.add`` returns the existing node for a
repeated ``(op, args, attrs)``), nodes are numbered in creation order, and a node is created
only after its arguments, so ascending ids are a topological order. The small builders
(``mul``, ``add``, ``pow``) fold constants and drop neutral elements, which is all the
algebraic clean-up the backward pass needs (``·1``, ``+0``, ``−(−a)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..errors import CircuitError

#: ops whose node is a leaf (no arguments)
LEAF_OPS = frozenset({"sym", "const", "adj", "dot", "dim", "ones", "zeros", "eye"})

#: the most arguments one sum or product node holds: a wider one is built as a tree of nodes
#: of at most this many (a few terms a line in the emitted code, and no expression deep enough
#: to make Python's own compiler recurse); the association is fixed here, so every backend
#: computes the same rounding
MAX_ARITY = 8


@dataclass(frozen=True)
class Node:
    """One operation. ``shape`` is ``()`` for a (broadcastable) scalar or ``(rows, cols)``."""

    op: str
    args: tuple[int, ...]
    attrs: tuple = ()
    shape: tuple = ()


@dataclass
class Graph:
    """The DAG. ``values`` keeps the exact SymPy number of each constant node."""

    nodes: list[Node] = field(default_factory=list)
    index: dict[tuple, int] = field(default_factory=dict)
    values: dict[int, sp.Expr] = field(default_factory=dict)
    notes: dict[int, str] = field(default_factory=dict)

    # -- construction -------------------------------------------------------------------
    def add_node(
        self, op: str, args: tuple[int, ...] = (), attrs: tuple = (), shape: tuple = ()
    ) -> int:
        """Return the node for ``(op, args, attrs)``, creating it when it is new."""
        key = (op, args, attrs)
        found = self.index.get(key)
        if found is not None:
            return found
        self.nodes.append(Node(op, args, attrs, shape))
        nid = len(self.nodes) - 1
        self.index[key] = nid
        return nid

    def const(self, value) -> int:
        """A constant node for a SymPy number (or a Python int/float)."""
        value = sp.sympify(value)
        if not value.is_number or value.is_real is False:
            raise CircuitError(f"constant {value} is not a real number")
        if isinstance(value, sp.Float):
            attrs = ("float", repr(float(value)))
        elif value in (sp.pi, sp.E):
            attrs = ("named", str(value))
        elif value.is_Rational:
            attrs = ("rational", int(value.p), int(value.q))
        elif value in (sp.oo, -sp.oo):
            attrs = ("float", repr(float(value)))
        elif value is sp.nan:
            attrs = ("float", "nan")
        else:
            # another exact constant such as sqrt(2) or log(2): keep its float value
            attrs = ("float", repr(float(value)))
            value = sp.Float(float(value))
        nid = self.add_node("const", (), attrs)
        self.values[nid] = value
        return nid

    def is_const(self, nid: int, value=None) -> bool:
        """True when ``nid`` is a constant (equal to ``value`` when one is given)."""
        if self.nodes[nid].op != "const":
            return False
        return value is None or self.values[nid] == value

    def elementwise_shape(self, args, what: str) -> tuple:
        """The shape of an elementwise op: scalars broadcast, matrices must agree."""
        shape: tuple = ()
        for a in args:
            shape = broadcast_shapes(shape, self.nodes[a].shape, what)
        return shape

    def add(self, *args: int) -> int:
        """Sum of nodes, with constants folded and zeros dropped."""
        total = sp.Integer(0)
        rest = []
        for a in args:
            if self.is_const(a):
                total += self.values[a]
            else:
                rest.append(a)
        if total != 0 or not rest:
            rest.append(self.const(total))
        if len(rest) == 1:
            return rest[0]
        rest.sort()
        return self.nary("add", rest, "a sum")

    def mul(self, *args: int) -> int:
        """Elementwise product, with constants folded, ones dropped and ``-(-a)`` cancelled."""
        coeff = sp.Integer(1)
        rest = []
        for a in args:
            node = self.nodes[a]
            if node.op == "const":
                coeff *= self.values[a]
            elif node.op == "mul" and len(node.args) == 2 and self.is_const(node.args[0]):
                # a nested (c * x): fold its coefficient so that -(-x) becomes x
                coeff *= self.values[node.args[0]]
                rest.append(node.args[1])
            else:
                rest.append(a)
        if coeff == 0 or not rest:
            return self.const(coeff)
        rest.sort()
        if coeff != 1:
            # the coefficient stays first in the top node (the printer reads a sign from it)
            top = self.chunks("mul", rest, MAX_ARITY - 1, "a product")
            return self.add_node(
                "mul", (self.const(coeff), *top), (), self.elementwise_shape(top, "a product")
            )
        if len(rest) == 1:
            return rest[0]
        return self.nary("mul", rest, "a product")

    def nary(self, op: str, args: list[int], what: str) -> int:
        """An n-ary ``add``/``mul`` of ``args`` (two or more, in order): one node, or a tree of
        nodes of at most ``MAX_ARITY`` arguments each, consecutive arguments grouped."""
        top = self.chunks(op, args, MAX_ARITY, what)
        if len(top) == 1:
            return top[0]
        return self.add_node(op, tuple(top), (), self.elementwise_shape(top, what))

    def chunks(self, op: str, args: list[int], width: int, what: str) -> list[int]:
        """``args`` grouped into nodes of ``op`` (level by level, iteratively) until at most
        ``width`` remain: the arguments of the top node."""
        while len(args) > width:
            grouped = []
            for k in range(0, len(args), MAX_ARITY):
                part = args[k : k + MAX_ARITY]
                if len(part) == 1:
                    grouped.append(part[0])
                else:
                    shape = self.elementwise_shape(part, what)
                    grouped.append(self.add_node(op, tuple(part), (), shape))
            args = grouped
        return args

    def pow(self, base: int, exp: int) -> int:
        """``base ** exp`` with the trivial exponents folded."""
        if self.is_const(exp, 1):
            return base
        if self.is_const(exp, 0):
            return self.const(1)
        if self.is_const(base) and self.is_const(exp):
            return self.const(self.values[base] ** self.values[exp])
        shape = self.elementwise_shape((base, exp), "a power")
        return self.add_node("pow", (base, exp), (), shape)

    def call(self, op: str, *args: int, attrs: tuple = ()) -> int:
        """An elementwise function node (``sin``, ``where``, a registered op, ...)."""
        return self.add_node(op, tuple(args), attrs, self.elementwise_shape(args, op))

    # -- matrix builders ------------------------------------------------------------------
    def matmul(self, a: int, b: int) -> int:
        """``a @ b``; a product with a row of ones is a column sum (``OneMatrix(1, N) * X``)."""
        sa, sb = self.nodes[a].shape, self.nodes[b].shape
        if len(sa) != 2 or len(sb) != 2 or sa[1] != sb[0]:
            raise CircuitError(
                f"shapes do not agree in a matrix product: {_fmt(sa)} @ {_fmt(sb)}"
                " (distinct dimension symbols count as unequal)"
            )
        if self.nodes[a].op == "ones" and sa[0] == 1:
            return self.reduce_sum(b, 0)
        if self.nodes[b].op == "ones" and sb[1] == 1:
            return self.reduce_sum(a, 1)
        return self.add_node("matmul", (a, b), (), (sa[0], sb[1]))

    def transpose(self, a: int) -> int:
        """``a.T``, with ``a.T.T`` folded back to ``a`` (a scalar is its own transpose)."""
        node = self.nodes[a]
        if node.shape == ():
            return a
        if node.op == "transpose":
            return node.args[0]
        return self.add_node("transpose", (a,), (), (node.shape[1], node.shape[0]))

    def reduce_sum(self, a: int, axis: int | None = None) -> int:
        """Sum over all elements (``axis=None``, a scalar) or over one axis, keeping it (1)."""
        s = self.nodes[a].shape
        if s == () or (axis is not None and s[axis] == 1):
            return a
        shape = () if axis is None else ((1, s[1]) if axis == 0 else (s[0], 1))
        return self.add_node("sum", (a,), (axis,), shape)

    def expand(self, a: int, shape: tuple) -> int:
        """``a`` broadcast to ``shape`` (a read-only view; only the backward pass makes these)."""
        if self.nodes[a].shape == shape:
            return a
        return self.add_node("broadcast", (a,), (shape,), shape)

    def element(self, a: int, i: int, j: int) -> int:
        """The scalar ``a[i, j]`` for constant indices."""
        node = self.nodes[a]
        for k, n in zip((i, j), node.shape, strict=True):
            if isinstance(n, int) and not 0 <= k < n:
                raise CircuitError(f"index ({i}, {j}) is out of range for shape {_fmt(node.shape)}")
        if node.op == "stack":
            return node.args[i * node.shape[1] + j]
        return self.add_node("element", (a,), (i, j), ())

    def leaf(self, op: str, attrs: tuple, shape: tuple = ()) -> int:
        """A leaf without arguments: ``dim`` (a dimension bound at call time), ``ones``, ``eye``."""
        return self.add_node(op, (), attrs, shape)

    # -- queries --------------------------------------------------------------------------
    def cone(self, roots) -> list[int]:
        """All nodes that ``roots`` depend on (roots included), in ascending (topological) order."""
        seen = set()
        stack = list(roots)
        while stack:
            v = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            stack.extend(self.nodes[v].args)
        return sorted(seen)


def broadcast_shapes(a: tuple, b: tuple, what: str) -> tuple:
    """The shape of an elementwise op on shapes ``a`` and ``b``: a scalar ``()`` broadcasts,
    and so does a length-1 axis (a 1×H row over the rows, an N×1 column over the columns —
    circuitc's own nodes use this; SymPy has already checked the user's shapes agree)."""
    if a == () or a == b:
        return b
    if b == ():
        return a
    out = []
    for x, y in zip(a, b, strict=True):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise CircuitError(f"shapes do not agree in {what}: {_fmt(a)} and {_fmt(b)}")
    return tuple(out)


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")" if shape else "scalar"
