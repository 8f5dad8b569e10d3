"""The forward-mode rows of the rule table: the tangent of each structural op.

A row of ``rules`` maps the incoming adjoint g to ``g · dt/da_i``, elementwise and linear in g,
so the elementwise rows give forward mode for free (g := ȧ_i, see ``forward.py``). What needs a
line of its own is the linear matrix ops, whose reverse rule is the transpose of their forward
action: ``matmul`` (Ȧ @ B + A @ Ḃ), ``transpose``, sums, broadcasts, entries, traces, stacks and
the log-sum-exp (row sums of softmax · ȧ). They are here, one line each, beside ``rules``'s
VJPs (this module reads ``rules``; nothing else of the calculus is written twice).
"""

from __future__ import annotations

from ..core.ir import Graph
from ..core.ops import COMPARISONS, LOGIC, MATRIX_OPS
from . import boundary, rules
from .products import product_vjp


def structural_jvp(graph: Graph, nid: int, dots: list[int | None]):
    """The tangent of the ops written against the IR builder, from their arguments' tangents
    (``None``: zero): a list of terms to add (empty: zero), or ``NotImplemented`` for an op
    whose SymPy rule the forward sweep lowers with g := ȧ_i.

    The elementwise structural rows are the reverse rows with g := ȧ_i (their contributions
    are linear in g and elementwise); the linear matrix ops have one JVP line each in
    ``_matrix_jvp``. Only a product of many factors takes its partials once, g = 1, from the
    prefix and suffix products (calling the rule once per factor would be n² nodes).
    """
    node = graph.nodes[nid]
    op, args = node.op, node.args
    if op in MATRIX_OPS or op == "unit":
        full = [
            None if d is None else graph.expand(d, graph.nodes[a].shape)
            for a, d in zip(args, dots, strict=True)
        ]
        return [t for t in _matrix_jvp(graph, nid, full) if t is not None]
    if op == "mul" and len(args) > rules.SMALL_PRODUCT:
        partials = product_vjp(graph, args, graph.const(1))
        return [graph.mul(p, d) for p, d in zip(partials, dots, strict=True) if d is not None]
    if op in COMPARISONS or op in LOGIC:
        return []
    terms = []
    for i, d in enumerate(dots):
        if d is None:
            continue
        built = rules.structural_vjp(graph, nid, d)
        if built is None:
            return NotImplemented
        if built[i] is not None:
            terms.append(built[i])
    return terms


def _matrix_jvp(graph: Graph, nid: int, dots: list[int | None]) -> list[int | None]:
    """One JVP line per linear matrix op: the tangent is the op applied to the tangents
    (each given at its argument's full shape); matmul's product rule has two terms."""
    node = graph.nodes[nid]
    op, args = node.op, node.args
    d = dots[0]
    if op == "matmul":
        a, b = args
        # C = A @ B:  Ċ = Ȧ @ B + A @ Ḃ
        return [
            None if d is None else graph.matmul(d, b),
            None if dots[1] is None else graph.matmul(a, dots[1]),
        ]
    if op == "transpose":
        return [graph.transpose(d)]
    if op == "sum":
        if graph.nodes[args[0]].shape == ():  # a broadcast adjoint summed (boundary.total)
            return [boundary.total(graph, d)]
        return [graph.reduce_sum(d, node.attrs[0])]
    if op == "broadcast":
        return [graph.expand(d, node.shape)]
    if op == "element":
        return [graph.element(d, *node.attrs)]
    if op == "unit":
        return [graph.add_node("unit", (d,), node.attrs, node.shape)]
    if op in ("slice", "unslice"):  # X[rows, cols] and its adjoint: the same op on the tangent
        return [graph.add_node(op, (d,), node.attrs, node.shape)]
    if op == "trace":
        return [graph.add_node("trace", (d,), (), ())]
    if op == "rowmax":
        return [None]  # the log-sum-exp's shift: the result does not depend on it
    if op == "logsumexp":
        if d is None:
            return [None]
        # d logsumexp(a) = Σ_k softmax(a)_k · ȧ_k per row
        soft = graph.call("exp", graph.add(args[0], graph.mul(graph.const(-1), nid)))
        return [graph.reduce_sum(graph.mul(soft, d), 1)]
    if op == "stack":
        zero = graph.const(0)
        return [
            graph.add_node(
                "stack", tuple(zero if t is None else t for t in dots), node.attrs, node.shape
            )
        ]
    raise KeyError(op)


#: how the linear matrix ops act on a tangent (·), for forward mode's comments
_MATRIX_JVP_TEXT = {
    "matmul": ("(·) @ _a1", "_a0 @ (·)"),
    "transpose": ("(·).T",),
    "sum": ("the sum of (·)",),
    "broadcast": ("(·) broadcast",),
    "trace": ("trace(·)",),
    "logsumexp": ("row sums of softmax(_a0) * (·)", "0 (the shift cancels)"),
    "slice": ("(·)[the slice]",),
    "unslice": ("(·) put back into zeros",),
    "stack": None,
    "element": None,
}


def structural_jvp_template(graph: Graph, nid: int, i: int) -> str:
    """The local partial of a structural op as forward mode applies it to a tangent (·)."""
    node = graph.nodes[nid]
    text = _MATRIX_JVP_TEXT.get(node.op)
    if text is not None:
        return text[i]
    return rules.structural_partial_template(graph, nid, i)
