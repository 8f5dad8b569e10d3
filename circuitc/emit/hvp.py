"""The lines of ``hvp``: forward over reverse, printed beside ``value_and_grad``'s own lines.

The forward lines come first, then the forward values' tangents, then every backward line of
``value_and_grad`` followed by its tangent update (``_dot_d_t``, the tangent of dJ/dt along v):
each adjoint is read while it holds its final value, and each backward temporary once the line
that defines it has run. A backward value the tangent lines read is computed once, before them
(``hvp_shared.py``), and the backward lines read it by name.
"""

from __future__ import annotations

from ..core.ir import LEAF_OPS
from ..core.program import Compiled, Update, fill_partial, hvp_live_updates, number_at_run_time
from .hvp_shared import backward_reading, shared_lines
from .plan import Line, Plan, _paren
from .tangent import (
    TangentPlan,
    Writer,
    _forward_lines,
    _name_tangents,
    _needed,
    _tangent_leaves,
    _tangent_lines,
    forward_names,
)

#: ops that may share their value with another name: never added into in place
_VIEW_OPS = frozenset({"transpose", "broadcast"}) | LEAF_OPS


def hvp_lines(c: Compiled, p: Plan, out: TangentPlan) -> None:
    """Fill ``out``'s hvp lines and results (``out`` from ``tangent.tangent_plan``)."""
    g = c.graph
    fwd_set = set(g.cone([c.output] + ([c.prediction] if c.prediction is not None else [])))
    exprs = [h.expr for h in c.hvp_updates if h is not None]
    lines = _needed(c, _tangent_leaves(c, exprs, fwd_set))
    names = forward_names(c, p)
    temps = {v: n for v, n in p.names.items() if v not in names}  # the backward temporaries
    names.update(out.seed_names)
    w = Writer(c, names, set(out.taken), fwd_set | set(c.adjoint.values()), out.printer_class)
    _name_tangents(c, w, lines)
    for target, leaf in sorted(c.tangent_adjoint.items()):
        w.names[leaf] = w.claim("_dot" + names[c.adjoint[target]])
    shared, shared_text = shared_lines(c, p, w, [t.expr for t in lines] + exprs, fwd_set, temps)
    backward = backward_reading(c, p, shared, out.helpers)
    w.count([t.expr for t in lines] + exprs)
    # printed first: they come first in the code
    out.hvp_tangents = shared_text + _tangent_lines(w, lines)
    fresh, reads = _interleave(c, backward, w, out, temps, fwd_set)
    reads |= w.reads([t.expr for t in lines])
    reads |= _backward_reads(c, fwd_set)
    roots = sorted(reads)
    if c.output in c.adjoint and not c.seed_folded and number_at_run_time(c):
        # hvp does not return J: a seed that reads only J's dtype costs J's whole forward
        seed = out.hvp_backward[0]
        out.hvp_backward[0] = Line(seed.lhs, w.printer.typed("1"), seed.op, seed.comment)
    elif not (c.seed_folded and c.output in c.adjoint):  # a folded seed never reads J
        roots.append(c.output)
    out.hvp_forward = _forward_lines(c, p, g.cone(roots), w.printer)
    out.hvp_out = [_result(c, w, name, leaf, fresh) for name, leaf in c.wrt]
    out.helpers |= w.printer.helpers  # after the results: they may call _reduce


def _interleave(c: Compiled, backward: list[Line], w, out: TangentPlan, temps, fwd_set):
    """Each backward line (``plan``'s, reading the shared values by name), then its tangent
    update. Returns the tangent leaves that hold fresh arrays (computed for that parameter
    alone) and the forward values read."""
    defined = _defined_at(c, temps, fwd_set)
    marks = backward_marks(c, backward)
    first: dict[int, int] = {}
    fresh: set[int] = set()
    reads: set[int] = set()
    body: list[Line] = []
    start = 0
    live = hvp_live_updates(c)
    for k, (u, h) in enumerate(zip(c.updates, c.hvp_updates, strict=True)):
        # an adjoint that no tangent reads (a parameter's: X.T @ G) is not computed at all
        body += backward[start : marks[k] if k in live else marks[k] - 1]
        start = marks[k]
        for v in defined.get(k, ()):
            w.names[v] = temps[v]
            w.known.add(v)
        if h is None:
            continue
        reads |= {v for v in w.reads([h.expr]) if v in fwd_set}
        body += w.before(h.expr)
        leaf = c.tangent_adjoint[h.target]
        body.append(_update_line(c, w, u, h, leaf, first))
        if h.first:
            first[leaf] = h.expr
            if _owned(c, w, h.expr, leaf):
                fresh.add(leaf)
        else:
            fresh.add(leaf)  # rebuilt (or added into an array it owns)
    out.hvp_backward = body + backward[start:]
    return fresh, reads


def _update_line(c: Compiled, w, u: Update, h: Update, leaf: int, first: dict) -> Line:
    """``_dot_d_t = …`` or ``+= …``: the tangent of one backward update, with its comment."""
    J = w.display(c.output)
    target = w.names[leaf]
    rhs = w.printer.expr(h.expr)
    src, tgt = w.display(u.source), w.display(u.target)
    if u.source == c.output:  # J's own contribution: its local partial alone
        args = [w.display(a) for a in c.graph.nodes[u.source].args]
        comment = f"(d{J}/d{tgt})˙ = ({fill_partial(u.partial, src, args)})˙"
    else:
        comment = f"(d{J}/d{tgt})˙ += (d{J}/d{src} · d{src}/d{tgt})˙"
    if h.first:
        return Line(target, rhs, "=", comment)
    if w.printer.IN_PLACE and _owned(c, w, first[leaf], leaf):
        return Line(target, rhs, "+=", comment)
    return Line(target, f"{target} + {_paren(rhs)}", "=", comment)


def _result(c: Compiled, w, name: str, leaf: int | None, fresh: set[int]) -> tuple[str, str]:
    """One entry of hvp's dict: the tangent of the parameter's adjoint, shaped like it."""
    g = c.graph
    dot = c.tangent_adjoint.get(leaf) if leaf is not None else None
    pr = w.printer
    if dot is None:
        return name, pr.zeros_like(name)
    if g.nodes[dot].shape != g.nodes[leaf].shape and g.nodes[leaf].shape != ():
        return name, pr.helper(
            "_reduce", f"{pr.broadcast_to(w.names[dot], f'{name}.shape')}, {name}"
        )
    if dot in fresh:  # an array made for this parameter alone (X.T @ ...): returned uncopied
        return name, pr.helper("_reduce", f"{w.names[dot]}, {name}, True")
    return name, pr.helper("_reduce", f"{w.names[dot]}, {name}")


def backward_marks(c: Compiled, backward: list[Line]) -> list[int]:
    """For each update, the number of backward lines up to and including its own (an
    update's line is the one with a chain-rule comment; the seed line comes first)."""
    seeded = c.output in c.adjoint and not c.seed_folded
    marks = []
    for i, line in enumerate(backward):
        if line.comment and not (i == 0 and seeded):
            marks.append(i + 1)
    return marks


def _owned(c: Compiled, w, first: int, leaf: int) -> bool:
    """A first tangent contribution that is a fresh array of the final shape, printed inline:
    later ones may be added into it in place."""
    node = c.graph.nodes[first]
    return node.op not in _VIEW_OPS and w.inner(first) and node.shape == c.graph.nodes[leaf].shape


def _defined_at(c: Compiled, temps: dict[int, str], fwd_set: set[int]) -> dict[int, list[int]]:
    """For each update index, the backward temporaries first computed for it."""
    g = c.graph
    seen: set[int] = set()
    out: dict[int, list[int]] = {}
    for k, u in enumerate(c.updates):
        stack = [u.expr]
        while stack:
            v = stack.pop()
            if v in seen or v in fwd_set or g.nodes[v].op in LEAF_OPS:
                continue
            seen.add(v)
            if v in temps:
                out.setdefault(k, []).append(v)
            stack.extend(g.nodes[v].args)
    return out


def _backward_reads(c: Compiled, fwd_set: set[int]) -> set[int]:
    """The forward values the backward pass reads."""
    g = c.graph
    reads, seen, stack = set(), set(), [u.expr for u in c.updates]
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        if v in fwd_set:
            reads.add(v)
            continue
        stack.extend(g.nodes[v].args)
    return reads
