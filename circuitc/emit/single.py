"""The scalar arguments that must be single numbers: those that meet a matrix.

A scalar argument may be given an array (the arguments broadcast over J; docs/design.md, "One
rule for outputs"), but inside a matrix that array broadcasts against the matrix's own axes: a
1×1 matrix times a (k,) array is (1, k) in NumPy, read as a scalar (``[0, 0]``) it silently
drops entries, and ``c * A`` with c of shape (2,) weights A's columns instead of giving one J
per entry of c. So where a value of shape ``()`` that depends on scalar arguments enters an
elementwise op of a matrix shape, the module checks at call time that those arguments hold one
number and raises a ValueError naming them otherwise (a circuit without such a meeting gets no
check and emits what it emitted before).
"""

from __future__ import annotations

from ..core.ir import LEAF_OPS, Graph
from ..core.ops import MATRIX_OPS


def single_numbers(graph: Graph, roots) -> list[str]:
    """The scalar arguments, in name order, that reach an elementwise matrix node under ``roots``
    through values of shape ``()`` (a dimension symbol is a ``dim`` leaf: never one of them).

    One backward walk from the scalar arguments of those matrix nodes, through values of shape
    ``()`` only, each node visited once: linear in the graph (a wide circuit has thousands of
    scalar arguments; a set of them per node would be quadratic)."""
    stack = []
    for v in graph.cone(roots):
        node = graph.nodes[v]
        if node.shape == () or node.op in LEAF_OPS or node.op in MATRIX_OPS:
            continue
        stack.extend(a for a in node.args if graph.nodes[a].shape == ())
    found, seen = set(), set()
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        node = graph.nodes[v]
        if node.op == "sym":
            found.add(node.attrs[0])
        elif node.op not in LEAF_OPS and node.op not in MATRIX_OPS:
            stack.extend(a for a in node.args if graph.nodes[a].shape == ())
    return sorted(found)


def single_number_lines(graph: Graph, names: list[str], roots, xp: bool = False) -> list[str]:
    """The call-time check, after the arguments are converted: ``_np.size`` takes a Python
    float too; the array-API module's arguments (``xp``) are arrays of the call's library, whose
    ``size`` may not be an int (a method in PyTorch), so their shape is read instead."""
    lines = []
    for name in single_numbers(graph, roots):
        if name in names:
            test = f"any(_n != 1 for _n in {name}.shape)" if xp else f"_np.size({name}) != 1"
            message = (
                f"{name} must be a single number in this circuit (it meets a matrix), got shape "
            )
            lines += [
                f"if {test}:",
                f'    raise ValueError(f"{message}{{{name}.shape}}")',
            ]
    return lines
