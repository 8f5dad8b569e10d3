"""Where a matrix becomes one number: the adjoint that arrives there summed to one number.

A scalar symbol that is a circuit argument may be given a NumPy array (docs/design.md, "One
rule for outputs"): the arguments broadcast and every gradient is of ``sum(J)``. A node that
turns a matrix into one number (``trace``, a sum over everything, an entry ``A[i, j]``, which
is also how a 1×1 product is read as a scalar) has a value that is one number, but its adjoint
dJ/d(node) is then a broadcast array, one entry per element of J. Its matrix rule needs
d sum(J)/d(node), the sum of that array: ``total`` builds that sum before the rule runs.

Only such arguments make an adjoint an array (a dimension symbol is always a number), so a
circuit without them gets no extra node and emits exactly what it emitted before.
"""

from __future__ import annotations

from ..core.ir import Graph


def may_broadcast(graph: Graph) -> bool:
    """Whether an adjoint of shape ``()`` may be an array at call time: a scalar argument (a
    ``sym`` leaf of shape ``()``; dimensions are ``dim`` leaves) is in the graph."""
    return any(n.op == "sym" and n.shape == () for n in graph.nodes)


def collapses(graph: Graph, nid: int) -> bool:
    """Whether node ``nid`` turns a matrix into one number (trace, sum over all, an entry)."""
    node = graph.nodes[nid]
    if node.shape != () or not node.args or graph.nodes[node.args[0]].shape == ():
        return False
    return node.op in ("trace", "element") or (node.op == "sum" and node.attrs[0] is None)


def total(graph: Graph, g: int) -> int:
    """The adjoint ``g`` (shape ``()``, possibly a broadcast array) summed to one number: a
    ``sum`` node over everything, printed ``_np.add.reduce(g, axis=None)``, which is the value
    itself for a Python float or a 0-d array. A constant needs no sum."""
    if graph.is_const(g):
        return g
    return graph.add_node("sum", (g,), (None,), ())
