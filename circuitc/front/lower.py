"""SymPy expression → IR, iteratively.

The walk keeps its own stack, so an expression 1000 levels deep lowers without
``RecursionError``; it never calls SymPy's recursive helpers (``free_symbols``, ``subs``,
``==``, ``str``…) on user input, and it memoises by object identity, so a sub-expression
that SymPy shares is lowered once (the DAG is never expanded into a tree).
"""

from __future__ import annotations

import sympy as sp
from sympy.core.relational import Relational
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..core import ops
from ..core.ir import Graph
from ..errors import CircuitError
from ..functions import sigmoid, softplus
from .branches import satisfying, shared_between_branches
from .matrix import MATRIX_LEAVES, build_matrix, lambda_parts, matrix_children, scalar_args
from .names import check_name, dim

_RELATIONS = {
    sp.StrictLessThan: "lt",
    sp.LessThan: "le",
    sp.StrictGreaterThan: "gt",
    sp.GreaterThan: "ge",
    sp.Equality: "eq",
    sp.Unequality: "ne",
}
# ITE(c, a, b) is the boolean if-then-else SymPy makes of a Piecewise inside a condition
_LOGIC = {sp.And: "and", sp.Or: "or", sp.Not: "not", sp.ITE: "where"}


class Lowerer:
    """Lowers expressions into one shared ``Graph``.

    ``env`` maps SymPy symbols that already have a node (earlier steps, the rule
    placeholders) to that node; any other symbol becomes an input leaf, after its name has
    been checked. ``symbols`` records every input symbol met, by name, so that two different
    symbols with one name are refused.
    """

    #: inside a Piecewise branch: the value each masked input takes where the branch is not
    #: taken (a point of the branch's own condition when it bounds that input; else 1)
    fills: dict = {}

    def __init__(self, graph: Graph, env: dict | None = None, dims: frozenset = frozenset()):
        self.graph = graph
        self.env: dict = dict(env or {})
        self.symbols: dict[str, sp.Basic] = {}
        self.dims = dims
        # the memo of every walk, per mask (None: unmasked): a sub-expression met again under
        # the same mask, in another step, condition or branch, is the node it gave before
        self.memos: dict[int | None, dict[int, int]] = {}
        self.kept: list = []  # every visited object, so that no id() is reused meanwhile
        self.bound = 0  # > 0 inside the body of A.applyfunc(f): f's variable is bound there

    # -- leaves -------------------------------------------------------------------------------
    def symbol(self, s: sp.Basic, mask: int | None) -> int:
        nid = self.env.get(s)
        if nid is None and isinstance(s, sp.Symbol) and s.name in self.dims:
            # a matrix dimension used as a number (a mean divides by N): bound at call time
            return self.graph.leaf("dim", (s.name,))
        if nid is None:
            name = s.name
            check_name(name)
            seen = self.symbols.get(name)
            if seen is None:
                self.symbols[name] = s
            elif seen != s:
                raise CircuitError(
                    f"two different symbols are named {name!r} (their assumptions differ); "
                    "give them different names"
                )
            shape = tuple(dim(d) for d in s.shape) if isinstance(s, sp.MatrixSymbol) else ()
            nid = self.graph.add_node("sym", (), (name,), shape)
            self.env[s] = nid
        if mask is not None:
            # double-where: a Piecewise branch sees its inputs masked where it is not taken
            fill = self.fills.get(s.name, 1)
            nid = self.graph.call("where", mask, nid, self.graph.const(fill))
        return nid

    # -- the walk -----------------------------------------------------------------------------
    def lower(self, expr: sp.Basic, mask: int | None = None, seed: dict | None = None) -> int:
        """Return the node of ``expr``; ``mask`` (a condition node) masks the inputs it reads.
        ``seed`` maps ids of sub-expressions to the nodes they already have under this mask."""
        # a body of A.applyfunc(f) means another thing for each A: its walks memoise apart
        top = self.memos.setdefault(mask, {}) if not self.bound else {}
        for key, nid in (seed or {}).items():
            top.setdefault(key, nid)
        keep = self.kept
        # (expression, state, the memo of its scope, extra): the body of ``A.applyfunc(f)`` is
        # lowered in a scope of its own, with f's variable bound to A's node (state 1 -> 2)
        stack: list[tuple] = [(expr, 0, top, None)]
        while stack:
            e, ready, memo, extra = stack.pop()
            key = id(e)
            if key in memo:
                continue
            if isinstance(e, ElementwiseApplyFunction):
                keep.append(e)
                self._applyfunc_step(e, ready, memo, extra, stack)
                continue
            leaf = self._leaf(e, mask)
            if leaf is not None:
                memo[key] = leaf
                keep.append(e)
                continue
            children = self.children(e)
            if not ready:
                stack.append((e, 1, memo, None))
                for c in reversed(children):
                    if id(c) not in memo:
                        stack.append((c, 0, memo, None))
                continue
            keep.append(e)
            memo[key] = self.build(e, [memo[id(c)] for c in children])
        return top[id(expr)]

    def _elementwise_of(self, body: int, matrix: int) -> int:
        """The node of ``A.applyfunc(f)``: f's body, broadcast to A's shape when the body does
        not read its variable (a constant or another symbol would otherwise be one scalar, and
        a sum or trace over it would count one element instead of all)."""
        shape = self.graph.nodes[matrix].shape
        if self.graph.nodes[body].shape == shape:
            return body
        return self.graph.mul(body, self.graph.leaf("ones", (shape,), shape))

    def _applyfunc_step(self, e, ready: int, memo: dict, extra, stack: list) -> None:
        """One step of ``A.applyfunc(f)``: lower A (state 0), then f's body in a scope of its
        own with f's variable bound to A's node (state 1), then take the body's node and
        restore the variable (state 2)."""
        if ready == 0:
            stack.append((e, 1, memo, None))
            if id(e.expr) not in memo:
                stack.append((e.expr, 0, memo, None))
        elif ready == 1:
            var, body = lambda_parts(e.function)
            self.bound += 1
            saved = self.env.get(var)
            self.env[var] = memo[id(e.expr)]
            scope: dict[int, int] = {}
            stack.append((e, 2, memo, (var, saved, scope, body)))
            stack.append((body, 0, scope, None))
        else:
            var, saved, scope, body = extra
            self.bound -= 1
            memo[id(e)] = self._elementwise_of(scope[id(body)], memo[id(e.expr)])
            if saved is None:
                self.env.pop(var, None)
            else:
                self.env[var] = saved

    def _leaf(self, e: sp.Basic, mask: int | None) -> int | None:
        """The node of an expression lowered without its children first (a symbol, a number,
        a boolean, a matrix leaf, a ``Piecewise``), or None for any other expression."""
        if isinstance(e, (sp.Symbol, sp.MatrixSymbol)):
            return self.symbol(e, mask)
        if isinstance(e, (sp.Number, sp.NumberSymbol)):
            return self.graph.const(e)
        if isinstance(e, (sp.logic.boolalg.BooleanTrue, sp.logic.boolalg.BooleanFalse)):
            return self.graph.add_node("bool", (), (bool(e),))
        if isinstance(e, MATRIX_LEAVES):
            return build_matrix(self, e, [])
        if isinstance(e, sp.Piecewise):
            return self.piecewise(e, mask)
        return None

    def children(self, e: sp.Basic) -> tuple:
        """The sub-expressions lowered before ``e`` (with the log(sigmoid) rewrite's shortcut)."""
        if isinstance(e, sp.log) and len(e.args) == 1:
            inner = _sigmoid_argument(e.args[0])
            if inner is not None:
                return (inner[0],)
        found = matrix_children(e)
        return e.args if found is None else found

    def build(self, e: sp.Basic, args: list[int]) -> int:
        g = self.graph
        nid = build_matrix(self, e, args)
        if nid is not None:
            return nid
        args = scalar_args(self, e, args)
        if isinstance(e, sp.Add):
            return g.add(*args)
        if isinstance(e, sp.Mul):
            return g.mul(*args)
        if isinstance(e, sp.Pow):
            found = _written_sigmoid(g, *args)
            return found if found is not None else g.pow(*args)
        if isinstance(e, sp.log) and len(e.args) == 1:
            nid = _log_of_sigmoid(g, e, args[0])
            if nid is not None:
                return nid
        if isinstance(e, (sp.Max, sp.Min)):
            return _fold(g, "maximum" if isinstance(e, sp.Max) else "minimum", args)
        head = type(e)
        if head in _RELATIONS:
            return g.call(_RELATIONS[head], *args)
        if head in _LOGIC:
            if head in (sp.And, sp.Or) and len(args) > 2:
                # NumPy's logical_and/or are binary (a third argument would be ``out``)
                return _balanced(g, _LOGIC[head], args)
            return g.call(_LOGIC[head], *args)
        return self._registered(e, args)

    def _registered(self, e: sp.Basic, args: list[int]) -> int:
        """The node of a head in the op registry (or a subclass of one): an op registered as an
        expression is expanded, a function of constants folded to its value. An unknown head
        is a ``CircuitError`` naming it."""
        g = self.graph
        head = type(e)
        op = next((ops.BY_HEAD[b] for b in head.__mro__ if b in ops.BY_HEAD), None)
        if op is None:
            raise CircuitError(_unsupported(e))
        if op.expansion is not None:  # registered as an expression in other ops
            return self.expand(op, args)
        if len(args) != op.nargs:
            raise CircuitError(f"{head.__name__} takes {op.nargs} argument(s), got {len(args)}")
        if all(g.is_const(a) for a in args):
            # a function of constants (log(2), sin(pi/7)) is folded to its value
            return g.const(sp.N(op.head(*(g.values[a] for a in args)), 17))
        nid = g.call(op.name, *args)
        note = getattr(head, "circuitc_note", None)
        if note:
            g.notes[nid] = note  # e.g. the losses of circuitc.nn say which stable form they use
        return nid

    def expand(self, op: ops.Op, args: list[int]) -> int:
        """An op registered as an expression in other ops (``op.expansion``, a Lambda): its
        body lowered with the variables bound to the argument nodes, so it is hash-consed with
        the rest of the circuit and differentiated by its own ops' rules."""
        env = dict(zip(op.expansion.variables, args, strict=True))
        return Lowerer(self.graph, env, self.dims).lower(op.expansion.expr)

    def piecewise(self, e: sp.Piecewise, mask: int | None) -> int:
        """``Piecewise`` as nested ``where``, each branch reading inputs masked by its condition."""
        g = self.graph
        conds = []
        for _, cond in e.args:
            conds.append(None if cond is sp.true else self.lower(cond, mask))
        # what two branches (or a branch and a condition) both read is computed once, under
        # the enclosing mask, and each branch reads it masked: a Piecewise nested in both
        # branches of the next one stays a DAG (never one copy per path, 2^depth in all)
        shared = {}
        for sub in shared_between_branches(e):
            shared[id(sub)] = self.lower(sub, mask)
            self.kept.append(sub)
        taken_before = None  # "some earlier condition holds"
        branches = []
        for (value, own), cond in zip(e.args, conds, strict=True):
            if cond is None:
                effective = g.call("not", taken_before) if taken_before is not None else None
            elif taken_before is None:
                effective = cond
            else:
                effective = g.call("and", g.call("not", taken_before), cond)
            inner = (
                effective if mask is None or effective is None else g.call("and", mask, effective)
            )
            if inner is None:
                inner = mask
            # the masked inputs take a value where the branch's condition holds, so that
            # sqrt(x - 2) where x > 2 reads 3, not 1, and the branch not taken warns of nothing
            if cond is None and len(e.args) == 2 and isinstance(e.args[0][1], Relational):
                own = sp.Not(e.args[0][1])  # the default branch of two: the first one's negation
            outer = self.fills
            self.fills = {**outer, **satisfying(own)}
            seed = {
                key: nid if inner is None else g.call("where", inner, nid, g.const(1))
                for key, nid in shared.items()
            }
            try:
                branches.append(self.lower(value, inner, seed))
            finally:
                self.fills = outer
            if cond is None:
                break
            taken_before = cond if taken_before is None else g.call("or", taken_before, cond)
        out = branches[-1] if conds[len(branches) - 1] is None else g.const(sp.nan)
        stop = len(branches) - 1 if conds[len(branches) - 1] is None else len(branches)
        for i in range(stop - 1, -1, -1):
            out = g.call("where", conds[i], branches[i], out)
        return out


def _sigmoid_argument(e: sp.Basic):
    """For ``sigmoid(a)`` return ``(a, -1)``; for ``1 - sigmoid(a)`` return ``(a, +1)``; else None."""
    if isinstance(e, sigmoid):
        return (e.args[0], -1)
    if isinstance(e, sp.Add) and len(e.args) == 2 and e.args[0] == 1:
        term = e.args[1]
        if (
            isinstance(term, sp.Mul)
            and len(term.args) == 2
            and term.args[0] == -1
            and isinstance(term.args[1], sigmoid)
        ):
            return (term.args[1].args[0], +1)
    return None


def _sigmoid_node(g: Graph, nid: int):
    """``_sigmoid_argument`` on the DAG: ``(a, -1)`` for a sigmoid(a) node, ``(a, +1)`` for 1 - sigmoid(a)."""
    node = g.nodes[nid]
    if node.op == "sigmoid":
        return (node.args[0], -1)
    if node.op == "add" and len(node.args) == 2:
        ones = [v for v in node.args if g.is_const(v, 1)]
        terms = [v for v in node.args if not g.is_const(v, 1)]
        if len(ones) == 1 and len(terms) == 1:
            term = g.nodes[terms[0]]
            if term.op == "mul" and len(term.args) == 2 and g.is_const(term.args[0], -1):
                inner = g.nodes[term.args[1]]
                if inner.op == "sigmoid":
                    return (inner.args[0], +1)
    return None


def _written_sigmoid(g: Graph, base: int, exponent: int) -> int | None:
    """``1/(1 + exp(z))`` written out is ``sigmoid(-z)``: lowered as the stable sigmoid (no
    overflow of ``exp`` at large ``|z|``), so ``log`` of it gets the stable softplus form too.
    None for any other power."""
    if not g.is_const(exponent, -1):
        return None
    node = g.nodes[base]
    if node.op != "add" or len(node.args) != 2:
        return None
    ones = [v for v in node.args if g.is_const(v, 1)]
    terms = [v for v in node.args if not g.is_const(v, 1)]
    if len(ones) != 1 or len(terms) != 1 or g.nodes[terms[0]].op != "exp":
        return None
    z = g.nodes[terms[0]].args[0]
    znode = g.nodes[z]
    if znode.op == "mul" and len(znode.args) == 2 and g.is_const(znode.args[0], -1):
        a = znode.args[1]  # exp(-a): sigmoid(a)
    else:
        a = g.mul(g.const(-1), z)
    nid = g.call("sigmoid", a)
    g.notes[nid] = "stable: 1/(1 + exp(-a)) = sigmoid(a)"
    return nid


def _log_of_sigmoid(g, e: sp.log, arg: int) -> int | None:
    """``log(sigmoid(a))`` and ``log(1 - sigmoid(a))`` in their stable forms, ``-softplus(-a)``
    and ``-softplus(a)``, noted as such; None for another logarithm."""
    inner = _sigmoid_argument(e.args[0])
    # through a step symbol (y = sigmoid(a), then log(y)) the pattern shows only in the DAG
    found = (arg, inner[1]) if inner is not None else _sigmoid_node(g, arg)
    if found is None:
        return None
    arg, sign = found
    a = g.mul(g.const(-1), arg) if sign < 0 else arg
    softplus_node = g.call("softplus", a)
    nid = g.mul(g.const(-1), softplus_node)
    what = "log(sigmoid(a)) = -softplus(-a)" if sign < 0 else "log(1 - sigmoid(a)) = -softplus(a)"
    # on both nodes: the negation is often folded into a product and never printed
    g.notes[nid] = g.notes[softplus_node] = f"stable: {what}"
    return nid


def _balanced(g, op: str, args: list[int]) -> int:
    """A binary, associative NumPy function (``logical_and``) over several arguments as a
    balanced tree, so that n conditions nest log2(n) deep, not n."""
    level = list(args)
    while len(level) > 1:
        pairs = [g.call(op, *level[k : k + 2]) for k in range(0, len(level) - 1, 2)]
        level = pairs + level[2 * len(pairs) :]
    return level[0]


def _fold(g, op: str, args: list[int]) -> int:
    """A binary NumPy function folded over several arguments, left to right."""
    out = args[0]
    for a in args[1:]:
        out = g.call(op, out, a)
    return out


def _unsupported(e: sp.Basic) -> str:
    name = type(e).__name__
    if isinstance(e, sp.MatrixExpr) or getattr(e, "is_Matrix", False):
        return f"matrix expression '{name}' is not supported here"
    if isinstance(e, Relational):
        return f"comparison '{name}' is only supported inside a Piecewise condition"
    return (
        f"unsupported function '{name}' in the circuit; supported: {', '.join(ops.supported())} "
        "(add your own with circuitc.register)"
    )


__all__ = ["Lowerer", "check_name", "sigmoid", "softplus"]
