"""Code-shape passes for the ``math`` fast path (Python floats), which is rewritten freely.

The NumPy path stays the notes' table line for line (it gains only the ``del`` lines and the
folded operator temporaries of ``memory.py``); the fast path is for speed, and a float costs
as much to name as to compute. Two passes, both exact (the same IEEE operations on the same
operands, so the fast path still gives the NumPy path's numbers bit for bit):

* **copy propagation**: ``_d_u1 = _d_u`` (an adjoint passed through a sum) is dropped and its
  readers read ``_d_u``; only when neither name is ever bound again or updated in place;
* **folding**: a local read exactly once is written into the line that reads it, as an
  operand or a call's argument (``u = _math.sin(t) + 3 * t``), in parentheses where Python's
  precedence needs them.

The backward pass's ``+=`` accumulations and every returned name are kept.
"""

from __future__ import annotations

from dataclasses import replace

from .memory import count_uses, fold, reads, rename
from .plan import Line, Plan


def propagate_copies(lines: list[Line], keep: set[str]) -> list[Line]:
    """``lines`` without the copies ``a = b`` that can go (``a`` bound once, never updated in
    place, not returned; ``b`` never bound again), their readers reading ``b`` instead."""
    bound: dict[str, int] = {}
    for line in lines:
        bound[line.lhs] = bound.get(line.lhs, 0) + 1
    alias: dict[str, str] = {}
    out = []
    for line in lines:
        line = rename(line, alias) if alias else line
        source = line.rhs
        copy = line.op == "=" and reads(source) == [source] and line.lhs not in keep
        if copy and bound[line.lhs] == 1 and bound.get(source, 0) <= 1:
            alias[line.lhs] = source  # already resolved: the line was renamed first
            continue
        out.append(line)
    return out


def fast_plan(p: Plan) -> Plan:
    """The fast path's plan with both passes applied to each function's lines (what the
    functions return keeps its names)."""
    keep = {w for _, expr in p.grads for w in reads(expr)} | set(reads(p.output))
    vjp = propagate_copies(p.forward_full + p.backward, keep)
    vjp = fold(vjp, keep, count_uses(vjp), movable=_local, anywhere=True)
    fwd = propagate_copies(p.forward, keep)
    fwd = fold(fwd, keep, count_uses(fwd), movable=_local, anywhere=True)
    return replace(p, forward=fwd, forward_full=vjp, backward=[])


def _local(name: str) -> bool:
    """Any local a line binds may be folded in the fast path."""
    return True
