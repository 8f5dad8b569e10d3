"""The scalar fast path's printer: Python floats run ``math`` code with NumPy's results.

``plan(c, math=True)`` prints the same lines as the NumPy path through ``MathPrinter`` (bit for
bit NumPy's operations); ``shape.fast_plan`` then rewrites them (factoring may round
differently, within the bound of docs/design.md, Conventions). The fused numba loop
(``fused.py``) prints its body through a subclass of ``MathPrinter``.
"""

from __future__ import annotations

import sympy as sp

from ..core import ops
from ..core.ir import Graph
from ..core.program import Compiled
from .frame import MathFrame
from .printer import ATOM, Printer


class MathPrinter(MathFrame, Printer):
    """Prints the scalar fast path: ``_math`` calls for Python floats, where they are exact.

    Each printed operation must give exactly the NumPy path's result (docs/design.md,
    Conventions), so the printer covers only what is bit-identical on NumPy float64 scalars: ``+ - * /``, integer
    powers (both end in the C library's ``pow``), square roots (correctly rounded in IEEE
    754), ``abs``, and ``sin``/``cos`` (NumPy calls the C library for float64). NumPy's
    SIMD ``exp``, ``log``, ``tanh``, ``arctan``… (and ``power`` of a 0-d value) may differ
    from ``math``'s by an ulp, so a circuit that uses them keeps the NumPy path only.
    """

    SQRT = "_math.sqrt"

    #: elementwise ops printed as ``_math.<Op.math>``, exactly NumPy's float64 scalar result
    EXACT = frozenset({"sin", "cos", "abs"})

    def __init__(self, graph: Graph, names: dict[int, str]):
        super().__init__(graph, names)
        self.uses_math = True

    @classmethod
    def supports(cls, graph: Graph, nodes) -> bool:
        """True when every node of ``nodes`` is a scalar that this printer prints exactly."""
        for v in nodes:
            node = graph.nodes[v]
            if node.shape != ():
                return False
            if node.op in ("sym", "adj", "add", "mul") or node.op in cls.EXACT:
                continue
            if node.op == "const":
                if graph.values[v] is sp.nan:
                    return False
                continue
            if node.op == "pow" and graph.is_const(node.args[1]):
                e = graph.values[node.args[1]]
                if isinstance(e, sp.Integer) or e in (sp.Rational(1, 2), sp.Rational(-1, 2)):
                    continue
            return False
        return True

    def _print_call(self, nid: int, depth: int) -> tuple[str, int]:
        """``_math.sin(x)`` for the exact ops (``supports`` admitted no other call)."""
        node = self.graph.nodes[nid]
        args = ", ".join(self.expr_at(a, depth) for a in node.args)
        return f"_math.{ops.OPS[node.op].math}({args})", ATOM


#: circuits with more nodes than this get no ``math`` fast path: it would double a long module
#: for a per-call saving that matters only when the arithmetic is a few dozen operations
MATH_PATH_MAX_NODES = 1000


def has_math_path(c: Compiled) -> bool:
    """True when the module gets a ``math`` fast path for Python floats: every node is a
    scalar that ``MathPrinter`` prints exactly, J is computed (not a constant), and the
    circuit is small."""
    g = c.graph
    count = c.primal_nodes or len(g.nodes)  # the tangent sweeps' nodes have no fast path
    if g.nodes[c.output].op == "const" or count > MATH_PATH_MAX_NODES:
        return False
    return MathPrinter.supports(g, range(count))


class FastPrinter(MathPrinter):
    """The fast path of an emitted module: ``x**2`` of a named value as ``x * x``, exactly what
    NumPy computes for an array's square."""

    SQUARES = True
