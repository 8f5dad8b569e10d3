"""The backward values ``hvp``'s tangent lines read, computed once on a line of their own.

A tangent line may read a value the backward pass computes: in the notes' small example,
u̇1 = cos(t)·ṫ reads du1/dt = cos(t), which dJ/dt += dJ/du1 · cos(t) reads too. Printed inline
in both, ``hvp`` computed it twice (more than ``core.program.hvp_op_counts`` counts). Each
such value that reads no adjoint (so it is known once the forward lines have run) gets a line
before the tangent lines, and the backward lines are printed again to read it by name: the
same operations on the same operands, so the same values.
"""

from __future__ import annotations

from ..core.ir import LEAF_OPS
from ..core.program import Compiled, hvp_live_updates
from .owned import first_exprs
from .plan import Line, Plan, _rhs, _update_line

#: views: no arithmetic, and ``X.T @ G`` reads better (and calls BLAS transposed) inline
_VIEWS = frozenset({"transpose", "broadcast"})


def shared_lines(c: Compiled, p: Plan, w, roots: list[int], fwd_set: set[int], temps):
    """Name (in ``w``) and print the backward values the tangent expressions under ``roots``
    read: returns them (node → name) and their lines, in id order."""
    g = c.graph
    free = _adjoint_free(c, fwd_set)
    picked: set[int | None] = {_divisor(g, v, free) for v in roots if v in free}
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        v = stack.pop()
        if v in seen or not w.inner(v):
            continue
        seen.add(v)
        for a in g.nodes[v].args:
            # read by a tangent-only node (not inside another backward value), or a backward
            # temporary (the backward lines read it by name: never inline it a second time)
            if a in free and (v not in free or a in temps):
                picked.add(_divisor(g, a, free))
            stack.append(a)
    picked.discard(None)
    out: dict[int, str] = {}
    lines = []
    printer = p.printer_class(g, w.names)  # as the backward lines print them (x * x for x**2)
    for v in sorted(picked):  # ascending ids: arguments first, so each reads the last by name
        rhs = printer.expr(v)
        name = temps.get(v) or w.fresh()
        w.names[v] = out[v] = name
        w.emitted.add(v)
        lines.append(Line(name, rhs))
    w.printer.helpers |= printer.helpers
    return out, lines


def _divisor(g, v: int, free: set[int]) -> int | None:
    """``v``, or the base of a reciprocal ``b**-k``: the backward lines divide by ``b``
    (``a / b``, which a named ``1 / b`` would turn into ``a * (1 / b)``, rounded twice)."""
    node = g.nodes[v]
    if node.op != "pow" or not g.is_const(node.args[1]) or not g.values[node.args[1]].is_negative:
        return v
    return node.args[0] if node.args[0] in free else None


def _adjoint_free(c: Compiled, fwd_set: set[int]) -> set[int]:
    """The backward-only nodes under the updates hvp runs (not forward values) that read no
    adjoint, views left out (a transpose printed twice computes nothing twice)."""
    g = c.graph
    nodes, stack = set(), [c.updates[k].expr for k in sorted(hvp_live_updates(c))]
    while stack:
        v = stack.pop()
        if v in nodes or v in fwd_set or g.nodes[v].op in LEAF_OPS:
            continue
        nodes.add(v)
        stack.extend(g.nodes[v].args)
    adj = set(c.adjoint.values())
    free: set[int] = set()
    for v in sorted(nodes):  # ascending ids: arguments first
        args = g.nodes[v].args
        if all(a in free or (a not in nodes and a not in adj) for a in args):
            free.add(v)
    return {v for v in free if g.nodes[v].op not in _VIEWS}


def backward_reading(c: Compiled, p: Plan, shared: dict[int, str], helpers: set[str]):
    """``plan``'s backward lines, printed again to read the ``shared`` values by name (a
    temporary among them loses its line: the shared lines compute it)."""
    if not shared:
        return p.backward
    fwd_set = set(c.graph.cone([c.output] + ([c.prediction] if c.prediction is not None else [])))
    printer = p.printer_class(c.graph, {**p.names, **shared})
    node_of = {name: v for v, name in p.names.items() if v not in fwd_set}
    first = first_exprs(c)
    seeded = c.output in c.adjoint and not c.seed_folded
    updates = iter(c.updates)
    lines = []
    for i, line in enumerate(p.backward):
        if i == 0 and seeded:
            lines.append(line)
        elif line.comment:  # an update's line
            new = _update_line(c, printer, next(updates), first, fwd_set)
            lines.append(Line(new.lhs, new.rhs, new.op, line.comment))
        elif node_of[line.lhs] not in shared:  # a backward temporary
            lines.append(Line(line.lhs, _rhs(printer, node_of[line.lhs]), line.op))
    helpers |= printer.helpers
    return lines
