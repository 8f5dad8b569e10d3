"""The scalar arguments that must be single numbers: those that meet a 1×1 matrix.

A scalar argument may be given an array (the arguments broadcast; docs/design.md, "One rule
for outputs"), but a 1×1 matrix times such an array is no longer 1×1 in NumPy (``(1, 1) * (k,)``
is ``(1, k)``), and reading it as a scalar (``[0, 0]``) or multiplying it by a matrix would
silently drop entries or fail inside the module. So where a value of shape ``()`` that depends
on scalar arguments enters an elementwise op of shape 1×1, the module checks at call time that
those arguments hold one number and raises a ValueError naming them otherwise.
"""

from __future__ import annotations

from ..core.ir import LEAF_OPS, Graph
from ..core.ops import MATRIX_OPS


def single_numbers(graph: Graph, roots) -> list[str]:
    """The scalar arguments, in name order, that reach an elementwise 1×1 node under ``roots``
    through values of shape ``()`` (a dimension symbol is a ``dim`` leaf: never one of them)."""
    reach: dict[int, frozenset] = {}
    found: set[str] = set()
    for v in graph.cone(roots):  # ascending ids: arguments before their users
        node = graph.nodes[v]
        if node.op == "sym" and node.shape == ():
            reach[v] = frozenset(node.attrs[:1])
            continue
        if node.op in LEAF_OPS or node.op in MATRIX_OPS:
            continue
        inner = frozenset().union(*(reach.get(a, frozenset()) for a in node.args))
        if node.shape == ():
            reach[v] = inner
        elif node.shape == (1, 1):
            found |= inner
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
                f"{name} must be a single number in this circuit (it meets a 1x1 matrix),"
                " got shape "
            )
            lines += [
                f"if {test}:",
                f'    raise ValueError(f"{message}{{{name}.shape}}")',
            ]
    return lines
