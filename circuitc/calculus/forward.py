"""The tangent sweep (forward-mode AD) over the IR, driven by the same rule table.

Forward mode carries, beside each value t, its tangent ṫ = Σ_i (dt/da_i) · ȧ_i: the
derivative of t along the direction that the parameters' tangents give. Nodes are visited in
topological order (ascending ids) from the parameters' tangent leaves; only nodes that depend
on a parameter get a tangent, and one whose terms all fold to 0 counts as zero.

No calculus is written here. A rule maps the incoming adjoint g to ``g · dt/da_i``, which is
elementwise and linear in g, so the same rule with g := ȧ_i *is* the term ``dt/da_i · ȧ_i``
(an argument that broadcast in the op keeps its own shape: nothing is summed back, unlike in
the reverse sweep). The linear matrix ops have one JVP line each in ``jvp_rules.structural_jvp``,
beside their VJP.

``hvp_sweep`` is forward over reverse: the same tangent rules applied to the backward pass's
own nodes, one tangent update beside each adjoint update, so the tangent of dJ/dθ along v,
(∇² ΣJ)·v, costs a small constant times one gradient.
"""

from __future__ import annotations

from dataclasses import replace

from ..core.ir import LEAF_OPS, Graph, broadcast_shapes
from ..core.program import Tangent, Update
from . import jvp_rules
from .reverse import rule_term

#: the op of a tangent leaf ``("dot", (), (node,))``: the tangent of ``node`` (a parameter's is
#: an argument of jvp/hvp; any other is the target of a ``Tangent`` line or tangent update)
DOT = "dot"


def tangent_leaf(graph: Graph, node: int, shape: tuple) -> int:
    """The leaf holding the tangent of ``node``; like an adjoint, its shape is that of what is
    assigned to it (a scalar may stand for its broadcast) and grows with later terms."""
    leaf = graph.add_node(DOT, (), (node,), shape)
    have = graph.nodes[leaf].shape
    if have != shape:
        grown = broadcast_shapes(have, shape, "a tangent")
        graph.nodes[leaf] = replace(graph.nodes[leaf], shape=grown)
    return leaf


def seed(graph: Graph, wrt: list[int | None]) -> dict[int, int]:
    """The parameters' tangent leaves, each shaped like its parameter."""
    return {w: tangent_leaf(graph, w, graph.nodes[w].shape) for w in wrt if w is not None}


def sweep(
    graph: Graph, roots: list[int], seeds: dict[int, int]
) -> tuple[list[Tangent], dict[int, int]]:
    """The forward-mode lines of every node of ``roots``' cone that depends on a seed.

    Returns the lines in topological order and each node's tangent leaf (the seeds included).
    """
    tangent = dict(seeds)
    lines: list[Tangent] = []
    for v in graph.cone(roots):  # ascending ids: arguments before their users
        node = graph.nodes[v]
        if v in tangent or node.op in LEAF_OPS or not any(a in tangent for a in node.args):
            continue
        expr, terms = jvp_of(graph, v, [tangent.get(a) for a in node.args])
        if expr is None:
            continue
        tangent[v] = tangent_leaf(graph, v, graph.nodes[expr].shape)
        lines.append(Tangent(v, expr, terms))
    return lines, tangent


def jvp_of(graph: Graph, v: int, dots: list[int | None]) -> tuple[int | None, tuple]:
    """ṫ of node ``v`` from its arguments' tangents (``None``: zero); ``(None, ())`` for zero.

    The structural rows of the table first; any other op is a SymPy row, lowered once per
    argument with g := ȧ_i.
    """
    node = graph.nodes[v]
    built = jvp_rules.structural_jvp(graph, v, dots)
    if built is not NotImplemented:
        terms = tuple(
            (a, jvp_rules.structural_jvp_template(graph, v, i))
            for i, (a, d) in enumerate(zip(node.args, dots, strict=True))
            if d is not None
        )
        total = _total(graph, built)
        return total, terms if total is not None else ()
    parts, terms = [], []
    for i, d in enumerate(dots):
        if d is None:
            continue
        part, text = rule_term(graph, v, i, d)
        if part is not None and not graph.is_const(part, 0):
            parts.append(part)
            terms.append((node.args[i], text))
    return _total(graph, parts), tuple(terms)


def _total(graph: Graph, parts: list[int]) -> int | None:
    """The sum of the non-zero terms, or None."""
    parts = [p for p in parts if not graph.is_const(p, 0)]
    return graph.add(*parts) if parts else None


def hvp_sweep(
    graph: Graph,
    updates: list[Update],
    adjoint: dict[int, int],
    tangent: dict[int, int],
    forward: set[int],
) -> tuple[list[Update | None], dict[int, int]]:
    """Forward over reverse: the tangent of every backward update, in the updates' order.

    ``tangent`` holds the forward nodes' tangent leaves (``sweep``) and ``forward`` the forward
    nodes. Returns, per update, its tangent update (``None`` where it is zero): the same
    target, ``expr`` the tangent of the update's expression, written in forward values and
    tangents, adjoints and the tangent leaves of adjoints; and each target's tangent leaf of
    its adjoint. Every adjoint is complete before the update that reads it, so its tangent is.
    """
    dadj: dict[int, int] = {}  # adjoint leaf -> the tangent leaf of that adjoint
    memo: dict[int, int | None] = {}  # backward node -> its tangent expression (None: zero)
    out: list[Update | None] = []
    for u in updates:
        expr = _backward_tangent(graph, u.expr, tangent, forward, dadj, memo)
        if expr is None:
            out.append(None)
            continue
        leaf = adjoint[u.target]
        first = leaf not in dadj
        dadj[leaf] = tangent_leaf(graph, leaf, graph.nodes[expr].shape)
        out.append(Update(u.target, u.source, expr, first, u.partial))
    return out, {t: dadj[leaf] for t, leaf in adjoint.items() if leaf in dadj}


def _backward_tangent(graph, root, tangent, forward, dadj, memo) -> int | None:
    """The tangent of one backward expression: its backward-only nodes in ascending order,
    each from its arguments' tangents (forward values: their leaves; adjoints: the tangent
    leaves of adjoints; backward nodes: memoised expressions). Iterative, and it stops at
    forward values, so each backward node is visited once over the whole sweep."""

    def known(v):
        if v in forward:
            return tangent.get(v)
        if v in dadj:
            return dadj[v]
        return memo.get(v)

    pending, stack, seen = [], [root], set()
    while stack:
        v = stack.pop()
        if v in seen or v in forward or v in memo or graph.nodes[v].op in LEAF_OPS:
            continue
        seen.add(v)
        pending.append(v)
        stack.extend(graph.nodes[v].args)
    for v in sorted(pending):
        dots = [known(a) for a in graph.nodes[v].args]
        memo[v] = jvp_of(graph, v, dots)[0] if any(d is not None for d in dots) else None
    return known(root)
