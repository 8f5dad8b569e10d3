"""Which adjoint arrays the backward pass owns: those it may add into in place (``+=``) and
return without a copy, as opposed to views (a transpose, a broadcast, a slice) and values
shared with another name (an argument, a forward value, another adjoint)."""

from __future__ import annotations

from ..core.program import Compiled


def first_exprs(c: Compiled) -> dict[int, int]:
    """Each adjoint's first contribution (one pass over the updates, not one per update)."""
    first: dict[int, int] = {}
    for u in c.updates:
        first.setdefault(u.target, u.expr)
    return first


#: ops whose value may be shared with another name (views, adjoints passed through)
_VIEW_OPS = frozenset({"adj", "transpose", "broadcast", "sym", "slice"})


def owned(c: Compiled, first: int, target: int, fwd_set) -> bool:
    """True when the first contribution to an adjoint is a fresh array of its final shape,
    so the later ones can be added into it in place."""
    g = c.graph
    node = g.nodes[first]
    return (
        node.op not in _VIEW_OPS
        and first not in fwd_set
        and node.shape == g.nodes[c.adjoint[target]].shape
    )


def fresh_adjoint(c: Compiled, leaf: int, first_expr: dict[int, int], fwd_set) -> bool:
    """True when a parameter's final adjoint is an array of its own shape that nothing else
    refers to: a fresh first contribution, or one rebuilt by a later ``x = x + (...)``."""
    g = c.graph
    if leaf not in first_expr or g.nodes[c.adjoint[leaf]].shape != g.nodes[leaf].shape:
        return False  # (J is the parameter itself: its adjoint is the seed)
    later = _update_counts(c).get(leaf, 0) > 1
    return later or owned(c, first_expr[leaf], leaf, fwd_set)


def _update_counts(c: Compiled) -> dict[int, int]:
    """How many updates each adjoint receives, counted once per circuit (counting them again
    for each parameter made compiling quadratic in the number of parameters)."""
    key = (id(c.updates), len(c.updates))
    cached = c.__dict__.get("_update_counts")
    if cached is None or cached[0] != key:
        counts: dict[int, int] = {}
        for u in c.updates:
            counts[u.target] = counts.get(u.target, 0) + 1
        cached = c.__dict__["_update_counts"] = (key, counts)
    return cached[1]
