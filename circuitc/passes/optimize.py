"""Optimisation passes over a swept circuit, each one value-preserving and linear in its size.

Most clean-up happens as the DAG is built: the builders of ``ir.Graph`` fold constants and
drop ``·1``, ``+0`` and ``−(−a)``; hash-consing makes every repeated sub-expression one node,
so the backward pass reuses forward values (sigmoid's ``s·(1−s)`` reads ``s``, tanh's
``1−t²`` reads ``t``, the ``sin(x)`` that ``cos``'s rule asks for is the forward ``sin(x)``
when there is one); the sweep visits only nodes on a path from a parameter to J and the
emitter prints only the cones it needs (dead code never reaches the page); an n-ary product
takes its partials from prefix and suffix products. What is left for a pass:

* ``fold_seed``: the seed dJ/dJ = 1 is an array of ones that the first backward line
  multiplies by. When J is an elementwise function of one value (``J = cos(u)``), its
  contribution ``dJ/du = -sin(u)`` already has J's shape, so the ones and the product are
  dropped (two passes over memory fewer for a vector J); when J is one number (a mean loss),
  the seed line and the scalar product cost a call's fixed overhead for nothing.

Every pass leaves the ``Compiled`` as the emitter expects it; ``optimize`` runs them all.
"""

from __future__ import annotations

from dataclasses import replace

from ..core import ops
from ..core.ir import Graph
from ..core.program import Compiled, number_at_run_time


def optimize(c: Compiled) -> Compiled:
    """Run every pass on ``c`` (in place) and return it."""
    fold_seed(c)
    return c


def fold_seed(c: Compiled) -> bool:
    """Drop the seed dJ/dJ = 1 when J is an elementwise function of one argument, or one
    number whatever the arguments' shapes (a mean loss: ``number_at_run_time``).

    The contribution of such a J to its argument has the argument's shape, which is J's, so
    the seed's only job (giving the adjoints J's shape) is already done; a J that is one
    number gives every contribution of its own one number's shape. Not folded: a J of
    several arguments that may be an array (``x + y`` with a scalar y broadcast against an
    array x: its adjoint must stay J-shaped), a J that is an input, and any case where a
    contribution would become a bare constant.
    Returns True when the seed was folded.
    """
    g = c.graph
    seed = c.adjoint.get(c.output)
    if seed is None or c.seed_folded:
        return False
    if not (_unary(g, c.output) or number_at_run_time(c)):
        return False
    mine = [i for i, u in enumerate(c.updates) if u.source == c.output]
    if not mine:
        return False
    one = g.const(1)
    new = {}
    for i in mine:
        expr = _rebuild(g, c.updates[i].expr, seed, one)
        if (
            expr is None
            or g.nodes[expr].op == "const"
            or g.nodes[expr].shape != g.nodes[seed].shape
        ):
            return False
        new[i] = expr
    for i, expr in new.items():
        c.updates[i] = replace(c.updates[i], expr=expr)
    c.seed_folded = True  # the emitter prints no seed line; c.adjoint keeps J's leaf for reports
    return True


def _unary(g: Graph, v: int) -> bool:
    """An elementwise op of one non-constant argument: a call, or a power with a constant exponent."""
    node = g.nodes[v]
    if node.op == "pow":
        return g.is_const(node.args[1]) and not g.is_const(node.args[0])
    return node.op in ops.OPS and len(node.args) == 1 and node.shape == g.nodes[node.args[0]].shape


def _rebuild(g: Graph, root: int, old: int, new: int) -> int | None:
    """``root`` with the node ``old`` replaced by ``new``, rebuilt by the folding builders
    (iteratively, in topological order); None when a node on the way is not arithmetic or an
    elementwise call."""
    built: dict[int, int] = {old: new}
    for v in g.cone([root]):  # ascending ids: arguments first
        if v in built:
            continue
        node = g.nodes[v]
        if not any(a in built and built[a] != a for a in node.args):
            built[v] = v
            continue
        args = [built.get(a, a) for a in node.args]
        if node.op == "add":
            built[v] = g.add(*args)
        elif node.op == "mul":
            built[v] = g.mul(*args)
        elif node.op == "pow":
            built[v] = g.pow(*args)
        elif node.op in ops.OPS:
            built[v] = g.call(node.op, *args, attrs=node.attrs)
        else:
            return None
    return built[root]
