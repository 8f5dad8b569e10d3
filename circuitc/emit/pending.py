"""Which backward-only values get a line of their own before the update that reads them: the
ones several backward expressions share, and those that would make an inlined expression
longer than ``INLINE_BUDGET`` nodes (so no line grows with the circuit)."""

from __future__ import annotations

from ..core.ir import LEAF_OPS
from ..core.program import Compiled

#: the most nodes one line prints inline: a longer chain of single-use nodes is cut into lines
#: (so the printer's depth stays bounded and no line grows with the circuit)
INLINE_BUDGET = 12


def pending(c: Compiled, expr: int, fwd_set, emitted, shared: set[int]) -> list[int]:
    """Backward-only nodes under ``expr`` that need a line before it, in id order: the shared
    ones, and those that would make an inlined expression longer than ``INLINE_BUDGET``."""
    g = c.graph
    found, stack, seen = set(), [expr], set()
    while stack:
        v = stack.pop()
        if v in seen or v in fwd_set or v in emitted or g.nodes[v].op in LEAF_OPS:
            continue
        seen.add(v)
        if v != expr and v in shared:
            found.add(v)
        stack.extend(g.nodes[v].args)
    if expr in shared and expr not in emitted and expr not in fwd_set:
        found.add(expr)
    size: dict[int, int] = {}
    for v in sorted(seen):  # ascending ids: arguments first
        if v in found:
            continue
        size[v] = 1 + sum(size.get(a, 0) for a in g.nodes[v].args)
        if size[v] > INLINE_BUDGET and v != expr:
            found.add(v)
            size[v] = 0
    return sorted(found)


def shared_backward(c: Compiled, fwd_set: set[int]) -> set[int]:
    """The backward-only nodes that more than one backward expression uses (each gets a line
    of its own), counted over the updates as they are now (after the passes)."""
    g = c.graph
    uses: dict[int, int] = {}
    seen = set()
    stack = []
    for u in c.updates:
        uses[u.expr] = uses.get(u.expr, 0) + 1
        stack.append(u.expr)
    while stack:
        v = stack.pop()
        if v in seen or v in fwd_set:
            continue
        seen.add(v)
        for a in g.nodes[v].args:
            uses[a] = uses.get(a, 0) + 1
            stack.append(a)
    return {v for v, n in uses.items() if n > 1 and g.nodes[v].op not in LEAF_OPS}
