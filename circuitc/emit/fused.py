"""The fused backend (``backend="numba"``): forward and backward of an elementwise circuit in
one ``@numba.njit`` loop, so a 10⁶-element call makes one pass over memory instead of one
NumPy pass (and one temporary array) per operation.

The loop body is the scalar fast path's lines (``MathPrinter``: the same names and the same
order of operations as the NumPy path), run per element on the broadcast, flattened
arguments. Only circuits whose nodes are all scalars, and whose ops all have a ``math``
equivalent, are fused; anything else is a ``CircuitError`` naming the op.
"""

from __future__ import annotations

from ..core import ops
from ..core.ir import LEAF_OPS
from ..core.program import Compiled
from ..errors import CircuitError
from .fastpath import MathPrinter
from .layout import wrapped
from .plan import plan
from .printer import ATOM
from .render import environment, render_context

TEMPLATE = "numba.py.j2"


class LoopPrinter(MathPrinter):
    """Prints a loop body for numba: every op with a ``math`` name, any power."""

    @classmethod
    def supports(cls, graph, nodes) -> bool:
        return cls.unsupported(graph, nodes) is None

    @classmethod
    def unsupported(cls, graph, nodes) -> str | None:
        """The first op the loop cannot run (a matrix, or no ``math`` equivalent), or None."""
        for v in nodes:
            node = graph.nodes[v]
            if node.shape != ():
                return f"a matrix ({node.op})"
            if node.op in LEAF_OPS or node.op in ("add", "mul", "pow", "where"):
                continue
            if node.op in ops.COMPARISONS:
                continue
            op = ops.OPS.get(node.op)
            if op is None or op.math is None:
                return node.op
        return None

    def _print_call(self, nid: int, depth: int) -> tuple[str, int]:
        node = self.graph.nodes[nid]
        args = ", ".join(self.expr_at(a, depth) for a in node.args)
        return f"_math.{ops.OPS[node.op].math}({args})", 100

    def _print_where(self, nid: int, depth: int) -> tuple[str, int]:
        """``where(c, a, b)`` on one element: ``(a if c else b)``."""
        c, a, b = (self.expr_at(v, depth) for v in self.graph.nodes[nid].args)
        return f"({a} if {c} else {b})", ATOM

    def _print_pow(self, nid: int, depth: int) -> tuple[str, int]:
        """Non-integer exponents as ``a ** b`` (numba's scalar power), the rest as usual."""
        text, prec = super()._print_pow(nid, depth)
        if text.startswith("_np.power("):
            base, exp = self.graph.nodes[nid].args
            return f"{self._wrap(base, depth, 101)} ** {self._wrap(exp, depth, 101)}", 60
        return text, prec


def render_numba(c: Compiled) -> str:
    """The fused module's source text; ``CircuitError`` when the circuit cannot be fused."""
    g = c.graph
    bad = LoopPrinter.unsupported(g, range(c.primal_nodes or len(g.nodes)))  # no tangents
    if bad is not None:
        raise CircuitError(
            f"backend 'numba' fuses elementwise circuits whose ops have a math equivalent; "
            f"circuit {c.circuit.name!r} uses {bad}"
        )
    if g.nodes[c.output].op == "const":
        raise CircuitError(f"backend 'numba': circuit {c.circuit.name!r} has a constant output")
    loop = plan(c, math=True, printer_class=LoopPrinter)
    context = render_context(c)
    args, wrt = context["args"], context["wrt"]
    outs = ["_out_J"] + [f"_out_d_{w}" for w in wrt]
    context.update(
        template=TEMPLATE,
        loop=loop,
        forward_loop_def=wrapped("def _forward_loop(", [f"_in_{a}" for a in args] + outs[:1], "):"),
        value_and_grad_loop_def=wrapped(
            "def _value_and_grad_loop(", [f"_in_{a}" for a in args] + outs, "):"
        ),
        dtype_call=wrapped("_dt = _dtype(", args, ")", indent=4),
        flat_call=wrapped("_shape, _in = _flat(", args, ")", indent=4),
    )
    return environment().get_template(TEMPLATE).render(**context)
