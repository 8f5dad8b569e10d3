"""Is J a sum (or a mean) over rows? The analysis data-parallel gradients rest on.

Rows are instances (docs/design.md): a data input shaped ``(N, …)`` holds one instance a row, ``N``
the row dimension. When J is ``c·Σ_rows r(row) + P`` — a row term ``r`` that reads only its
own row, a coefficient ``c`` that is ``N⁰`` (a sum) or ``N⁻¹`` (a mean) times anything free of
rows, and a parameter-only term ``P`` (a penalty) — the gradient over all rows is a weighted sum
of the gradients over row chunks: weight 1 for a sum (with P counted once), ``n_k/N`` for a mean.

The analysis walks the output's cone once, in topological order (ascending ids: no recursion),
giving every node one class:

* ``FREE``: does not depend on the rows at all (parameters, constants, inputs without rows);
* ``NPOW(k)``: a monomial ``N**k`` times something free (``1/N``, ``1/(2N)``);
* ``ROW``: an ``(N, …)`` array whose row i depends only on row i of the inputs;
* ``ROWT``: the transpose of a ``ROW`` (an ``(…, N)`` array, rows in its columns);
* ``TOTAL(k, free)``: linear in sums over rows, with coefficient ``N**k`` (and a free part);

and any other node is refused, with the reason (``log of a sum over rows``) as the message.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..core.ops import MATRIX_OPS
from ..core.program import Compiled
from ..errors import CircuitError

#: the classes (see the module docstring)
FREE, NPOW, ROW, ROWT, TOTAL = "free", "npow", "row", "rowt", "total"


@dataclass(frozen=True)
class Kind:
    """One node's class; ``power`` is the exponent of N (NPOW, TOTAL), ``free`` whether a
    TOTAL carries a part free of rows (a penalty)."""

    cls: str
    power: int = 0
    free: bool = False


@dataclass(frozen=True)
class RowSplit:
    """How J splits over row chunks: ``reduction`` is "sum" or "mean" over the rows of the
    dimension ``dim``; ``row_inputs`` are the data inputs chunked by rows; ``penalty`` says
    whether J has a part free of rows (added once: a sum's chunks each carry it)."""

    dim: str
    reduction: str
    row_inputs: tuple[str, ...]
    penalty: bool


class _Refused(Exception):
    """A node that is not of any class (the message says why)."""


def row_split(c: Compiled) -> RowSplit:
    """The row split of the compiled circuit ``c``, or a ``CircuitError`` saying why there is none."""
    name = c.circuit.name
    dim = _row_dimension(c)
    g = c.graph
    kinds: dict[int, Kind] = {}
    try:
        for v in g.cone([c.output]):
            kinds[v] = _classify(c, dim, v, kinds)
    except _Refused as e:
        raise CircuitError(
            f"circuit {name!r}: J is not a sum or mean over the rows of {dim} plus a "
            f"parameter-only term, so it cannot be split into row chunks: {e}"
        ) from None
    out = kinds[c.output]
    why = None
    if out.cls == FREE:
        why = f"J does not depend on the rows of {dim}"
    elif out.cls in (ROW, ROWT):
        why = "J is one value per row; sum it over the rows (circuitc.nn.sum or nn.mean)"
    elif out.cls == NPOW:
        why = f"J is a function of {dim} alone"
    elif out.power not in (0, -1):
        why = f"J scales the sum over rows by {dim}**{out.power} (a sum or a mean is needed)"
    if why is not None:
        raise CircuitError(f"circuit {name!r}: cannot split J into row chunks: {why}")
    rows = tuple(n for n in c.inputs if c.shapes.get(n, ())[:1] == (dim,))
    return RowSplit(dim, "sum" if out.power == 0 else "mean", rows, out.free)


def _row_dimension(c: Compiled) -> str:
    """The one dimension that is the first axis of the data inputs (and of no parameter)."""
    name = c.circuit.name
    firsts = sorted(
        {c.shapes[n][0] for n in c.inputs if c.shapes.get(n) and isinstance(c.shapes[n][0], str)}
    )
    if len(firsts) != 1:
        found = ", ".join(firsts) or "none"
        raise CircuitError(
            f"circuit {name!r}: data-parallel gradients need one row dimension, the first axis "
            f"of the data inputs (found: {found})"
        )
    dim = firsts[0]
    for n, _ in c.wrt:
        if dim in c.shapes.get(n, ()):
            raise CircuitError(
                f"circuit {name!r}: parameter {n!r} has the row dimension {dim}, so it cannot "
                "be shared by row chunks"
            )
    for n in c.inputs:
        if dim in c.shapes.get(n, ())[1:]:
            raise CircuitError(
                f"circuit {name!r}: data input {n!r} has the row dimension {dim} in another "
                "axis than the first"
            )
    return dim


def _label(c: Compiled, v: int) -> str:
    """How a message names node v: its op, and its step's name when it has one."""
    op = c.graph.nodes[v].op
    name = "J" if v == c.output else c.names.get(v)
    return f"{op} (step {name})" if name and not name.startswith("_") else op


def _classify(c: Compiled, dim: str, v: int, kinds: dict[int, Kind]) -> Kind:
    g = c.graph
    node = g.nodes[v]
    op = node.op
    shape = node.shape
    if op == "sym":
        return Kind(ROW) if shape[:1] == (dim,) else Kind(FREE)
    if op == "dim":
        return Kind(NPOW, 1) if node.attrs[0] == dim else Kind(FREE)
    if op in ("const", "bool", "eye"):
        return Kind(FREE)
    if op in ("ones", "zeros"):
        if dim in shape[1:]:
            raise _Refused(f"a constant matrix of shape {shape} has the rows in its columns")
        return Kind(ROW) if shape[:1] == (dim,) else Kind(FREE)
    args = [kinds[a] for a in node.args]
    classes = {k.cls for k in args}
    if classes <= {FREE}:
        return Kind(FREE)
    if op in MATRIX_OPS:
        return _matrix(c, dim, v, args)
    return _elementwise(c, v, args)


def _elementwise(c: Compiled, v: int, args: list[Kind]) -> Kind:
    g = c.graph
    node = g.nodes[v]
    op = node.op
    classes = {k.cls for k in args}
    what = _label(c, v)
    if ROWT in classes:
        if classes <= {ROWT, FREE}:
            return Kind(ROWT)  # the rows are columns here, each still computed on its own
        raise _Refused(f"{what} of a transposed row term and another term")
    if TOTAL in classes:
        return _linear(c, v, args)
    if ROW in classes:
        if NPOW in classes:
            raise _Refused(
                f"{what}: a row term uses the number of rows (divide the sum over rows instead)"
            )
        return Kind(ROW)
    # FREE and NPOW only: a monomial in N stays one under products and integer powers
    if op == "mul":
        return Kind(NPOW, sum(k.power for k in args if k.cls == NPOW))
    if op == "pow" and args[1].cls == FREE and g.is_const(node.args[1]):
        e = g.values[node.args[1]]
        if isinstance(e, sp.Integer):
            return Kind(NPOW, args[0].power * int(e))
    raise _Refused(f"{what} of the number of rows (only products and powers of it are linear)")


def _linear(c: Compiled, v: int, args: list[Kind]) -> Kind:
    """An elementwise op with a sum over rows among its arguments: only sums and products by
    things free of rows keep J linear in the sums over rows."""
    g = c.graph
    node = g.nodes[v]
    op = node.op
    what = _label(c, v)
    totals = [k for k in args if k.cls == TOTAL]
    if ROW in {k.cls for k in args}:
        raise _Refused(f"{what}: a row term uses a sum over rows")
    if op == "add":
        powers = {k.power for k in totals}
        if len(powers) > 1:
            raise _Refused(
                f"{what}: J mixes a mean and a sum over rows (one reduction is needed)"
                if powers == {0, -1}
                else f"{what}: sums over rows scaled by different powers of the number of rows"
            )
        if any(k.cls == NPOW for k in args):
            raise _Refused(f"{what}: the number of rows is added to a sum over rows")
        free = any(k.cls == FREE for k in args) or any(k.free for k in totals)
        return Kind(TOTAL, powers.pop(), free)
    if op == "mul":
        if len(totals) > 1:
            raise _Refused(f"{what}: a product of sums over rows")
        total = totals[0]
        power = total.power + sum(k.power for k in args if k.cls == NPOW)
        if power != total.power and total.free:
            raise _Refused(f"{what}: the parameter-only term is scaled by the number of rows")
        return Kind(TOTAL, power, total.free)
    if op == "pow" and g.is_const(node.args[1]) and g.values[node.args[1]] == 1:
        return totals[0]
    name = "power" if op == "pow" else op
    raise _Refused(f"{name} of a sum over rows at {what}")


def _matrix(c: Compiled, dim: str, v: int, args: list[Kind]) -> Kind:
    g = c.graph
    node = g.nodes[v]
    op = node.op
    what = _label(c, v)
    classes = [k.cls for k in args]
    if NPOW in classes:
        raise _Refused(f"{what} of the number of rows")
    if op == "transpose":
        return Kind({ROW: ROWT, ROWT: ROW}.get(classes[0], classes[0]), args[0].power, args[0].free)
    if op == "matmul":
        a, b = classes
        if a == ROW and b == FREE:
            return Kind(ROW)
        if a == ROWT and b == ROW:
            return Kind(TOTAL, 0, False)  # a contraction over the rows: a sum over rows
        if a == FREE and b == ROWT:
            return Kind(ROWT)
        if TOTAL in (a, b) and {a, b} <= {TOTAL, FREE} and (a, b) != (TOTAL, TOTAL):
            return args[0] if a == TOTAL else args[1]
        raise _Refused(f"a matrix product of {a} and {b} terms ({what}) mixes rows")
    if op == "sum":
        axis = node.attrs[0]
        cls = classes[0]
        if cls == TOTAL:
            return args[0]
        if axis is None:
            return Kind(TOTAL, 0, False)
        if (cls == ROW and axis == 1) or (cls == ROWT and axis == 0):
            return args[0]
        return Kind(TOTAL, 0, False)
    if op in ("rowmax", "logsumexp"):
        if set(classes) <= {ROW, FREE} and classes[0] == ROW:
            return Kind(ROW)
        raise _Refused(f"{what} across rows")
    if op in ("element", "trace"):
        if classes[0] == TOTAL:
            return args[0]
        raise _Refused(f"{what} picks single rows")
    raise _Refused(f"{what} of a row term")
