"""The notes' Forward | Backward table (section 1.3), built from the real compiled circuit.

Each row is one forward line of the emitted module (``u1 = sin(t)``) beside the backward
lines that node contributes (``dJ/dt += dJ/du1 * du1/dt,  du1/dt = cos(t)``); rows run in
the order the backward pass visits them, output first, as in the notes. With ``at`` the
numbers are filled in by executing the module's own lines on those values: each forward
value, and for each backward line the local partial, the incoming adjoint and the
accumulated adjoint. The first value or adjoint that is not finite is marked, with its op
and operand values (NaN hunting).

The lines executed are circuitc's own generated code (never user text): the emitted
module's lines, and for local partials single IR nodes printed by the module's printer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import CircuitError
from . import pointer
from .formats import fmt_value, html_table, latex_table, markdown_table, pretty, text_table
from .trace import Inspected, Trace, all_finite, check_at, inspect_circuit, trace

FORMATS = ("text", "markdown", "latex", "html")


# -- report objects --------------------------------------------------------------------------------
@dataclass
class Contribution:
    """One backward line: ``adjoint(target) += incoming * partial``, contributed by a row's node.

    ``partial`` is d(node)/d(target), ``incoming`` is dJ/d(node) and ``accumulated`` is
    dJ/d(target) right after this line (``None`` without ``at``; ``partial`` is also
    ``None`` for matrix-shaped nodes, whose local derivative is not one number).
    """

    target: str
    text: str  # the notes' notation, as in the emitted comment
    code: str  # the emitted line
    partial: Any = None
    incoming: Any = None
    accumulated: Any = None


@dataclass
class Row:
    """One forward node: its line, its value at ``at``, and the backward lines it contributes."""

    node: str
    op: str
    forward: str  # "u1 = sin(t)"
    code: str  # the emitted line, "u1 = _np.sin(t)"
    shape: tuple = ()
    backward: list[Contribution] = field(default_factory=list)
    value: Any = None
    operands: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class NonFinite:
    """The first value or adjoint that is not finite, and where it came from.

    ``str()`` says it in the user's terms first: the step it belongs to (``step``) with the
    step's SymPy expression (``step_expr``), the node as an expression over the circuit's own
    names (``expr``), then the op and its operands, and a ``hint`` toward a stable form where
    one exists (``views/pointer.py``).
    """

    kind: str  # "input", "value" or "adjoint"
    node: str  # the node whose value (or adjoint) is not finite, as the emitted code names it
    op: str  # the op that produced it (for an adjoint: the op of the contributing node)
    value: Any
    operands: list[tuple[str, Any]]
    line: str  # the forward expression or the backward line, in the notes' notation
    source: str = ""  # for an adjoint: the node whose backward line produced it
    partial: Any = None
    incoming: Any = None
    output: str = "J"  # J's display name
    row: int = -1  # where the table marks it: the row's index in ``TableReport.rows``…
    entry: int = 0  # …and, for an adjoint, the contribution's index in ``row.backward``
    step: str = ""  # the circuit's step (or J) the node belongs to
    step_expr: str = ""  # that step's SymPy expression, as written ("" when too large)
    expr: str = ""  # the node over the circuit's own names (log(1 - p) for _t8 = log(_t7))
    hint: str = ""  # toward a numerically stable form, where one exists

    def __str__(self) -> str:
        ops = ", ".join(
            n if n == fmt_value(v) else f"{n} = {fmt_value(v)}" for n, v in self.operands
        )
        if self.kind == "input":
            return f"first non-finite: the input {self.node} = {fmt_value(self.value)}"
        where = "first non-finite: "
        if self.step:
            shown = f"{self.step} = {self.step_expr}" if self.step_expr else self.step
            where += f"in step {shown}: "
        tail = f"; hint: {self.hint}" if self.hint else ""
        if self.kind == "value":
            emitted = f"; emitted as `{self.line}`" if self.expr else ""
            return (
                f"{where}{self.expr or self.node} = {fmt_value(self.value)} (op {self.op}; "
                f"operands: {ops or 'none'}{emitted}){tail}"
            )
        return (
            f"{where}the adjoint d{self.output}/d{self.node} = {fmt_value(self.value)} "
            f"at `{self.line}` (from {self.source}, op {self.op}; operands: {ops or 'none'}; "
            f"incoming {fmt_value(self.incoming)}, local partial {fmt_value(self.partial)})"
            f"{tail}"
        )


@dataclass
class TableReport:
    """The Forward | Backward table of a circuit, with numbers when ``at`` is given.

    Fields: ``circuit`` (name), ``output`` (J's display name), ``rows`` (output first),
    ``at`` (the point, or ``None``), ``value`` (J there), ``gradient`` (the module's own
    ``value_and_grad`` result), ``first_nonfinite`` (a ``NonFinite`` or ``None``).
    ``str(report)`` is the CLI's text; ``report.format("markdown" | "latex")`` the others.
    """

    circuit: str
    output: str
    rows: list[Row]
    at: dict[str, Any] | None = None
    value: Any = None
    gradient: dict[str, Any] | None = None
    first_nonfinite: NonFinite | None = None

    def __str__(self) -> str:
        return self.format("text")

    def _repr_markdown_(self) -> str:
        return self.format("markdown")

    def format(self, fmt: str = "text") -> str:
        """The table as ``text`` (the CLI's), ``markdown``, ``latex`` (a ready ``tabular``) or ``html``."""
        if fmt not in FORMATS:
            raise CircuitError(f"unknown table format {fmt!r}; use one of {', '.join(FORMATS)}")
        header, body, marks = self._cells()
        if fmt == "text":
            return text_table(self, header, body, marks)
        if fmt == "markdown":
            return markdown_table(self, header, body, marks)
        if fmt == "html":
            return html_table(self, header, body, marks)
        return latex_table(self, header, body, marks)

    # the table as cells: one list per printed line (a row's extra backward lines get blanks)
    def _cells(self) -> tuple[list[str], list[list[str]], list[bool]]:
        numbers = self.at is not None
        header = ["node", "forward"]
        header += ["value"] if numbers else []
        header += ["backward"]
        header += ["local partial", "incoming adjoint", "accumulated adjoint"] if numbers else []
        bad = self.first_nonfinite
        marked = (bad.row, bad.entry) if bad is not None and bad.kind != "input" else None
        body, marks = [], []
        for r, row in enumerate(self.rows):
            contribs = row.backward or [None]
            for i, c in enumerate(contribs):
                cells = [row.node, row.forward] if i == 0 else ["", ""]
                if numbers:
                    cells.append(fmt_value(row.value) if i == 0 else "")
                cells.append(c.text if c else "")
                if numbers:
                    if c is None:
                        cells += ["", "", ""]
                    else:
                        cells += [fmt_value(c.partial), fmt_value(c.incoming)]
                        cells.append(fmt_value(c.accumulated))
                body.append(cells)
                marks.append(marked == (r, i))
        return header, body, marks

    def footer(self) -> list[str]:
        """The lines under the table: J and the gradient at ``at``, and the first non-finite."""
        if self.at is None:
            return []
        point = ", ".join(f"{k} = {fmt_value(v)}" for k, v in self.at.items())
        out = [f"at {point}: {self.output} = {fmt_value(self.value)}"]
        for name, g in (self.gradient or {}).items():
            out.append(f"d{self.output}/d{name} = {fmt_value(g)}")
        out.append(str(self.first_nonfinite) if self.first_nonfinite else "all values finite")
        return out


def table(
    circuit,
    at: Mapping[str, Any] | None = None,
    *,
    wrt=None,
    name: str = "circuit",
    seed: int = 0,
) -> TableReport:
    """The notes' Forward | Backward table of ``circuit``, with numbers when ``at`` is given.

    Args:
        circuit: a ``Circuit``, a module from ``circuitc.compile``, or a SymPy expression
            (then ``wrt`` is required).
        at: values for some or all arguments (``{"x": 0.5}``); floats or arrays. The
            others are drawn at random, seeded by ``seed``, as ``circuitc.check`` draws them.
        seed: the seed of those random values.

    Returns:
        A ``TableReport``; ``str()`` of it is the CLI's text.
    """
    ins = inspect_circuit(circuit, wrt, name)
    rows_by_node, order = _rows(ins)
    report = TableReport(
        ins.compiled.circuit.name,
        ins.output_display,
        [rows_by_node[v] for v in reversed(order)],
    )
    if at is None:
        return report
    point = check_at(ins, at, seed)
    tr = trace(ins, point)
    _fill_numbers(ins, tr, rows_by_node, order)
    report.at = point
    with np.errstate(all="ignore"):
        report.value, report.gradient = ins.module.value_and_grad(**point)
    report.first_nonfinite = _first_nonfinite(ins, tr, point, rows_by_node, report.rows)
    return report


def _rows(ins: Inspected) -> tuple[dict[int, Row], list[int]]:
    """One row a forward line, in the order of the lines, with the contributions its node
    sends backward (as emitted)."""
    c = ins.compiled
    g = c.graph
    rows_by_node: dict[int, Row] = {}
    order: list[int] = []
    for v, line in ins.fwd_lines:
        node = g.nodes[v]
        shown = ins.display[v]
        rows_by_node[v] = Row(
            node=shown,
            op=node.op,
            forward=f"{shown} = {pretty(line.rhs, ins.plan.helpers)}",
            code=f"{line.lhs} {line.op} {line.rhs}",
            shape=node.shape,
        )
        order.append(v)
    for k, line in ins.bwd_lines:
        if k is None:
            continue
        u = c.updates[k]
        rows_by_node[u.source].backward.append(
            Contribution(
                target=_adj_display(ins, u.target),
                text=line.comment,
                code=f"{line.lhs} {line.op} {line.rhs}",
            )
        )
    return rows_by_node, order


def _fill_numbers(ins: Inspected, tr: Trace, rows_by_node: dict[int, Row], order) -> None:
    """The traced values into the rows: each node's value and operands, each contribution's
    local partial, incoming and accumulated adjoint."""
    for v in order:
        row = rows_by_node[v]
        row.value = tr.values.get(v)
        row.operands = _operands(ins, tr, v)
    per_source: dict[int, int] = {}
    for k, _line in ins.bwd_lines:
        if k is None:
            continue
        u = ins.compiled.updates[k]
        i = per_source.get(u.source, 0)
        per_source[u.source] = i + 1
        contrib = rows_by_node[u.source].backward[i]
        contrib.partial, contrib.incoming, contrib.accumulated = tr.updates[k]


def _adj_display(ins: Inspected, target: int) -> str:
    return ins.display.get(target) or ins.names.get(target, f"node{target}")


def _operands(ins: Inspected, tr: Trace, v: int) -> list[tuple[str, Any]]:
    g = ins.compiled.graph
    out = []
    for a in g.nodes[v].args:
        node = g.nodes[a]
        if node.op == "const":
            out.append((fmt_value(float(g.values[a])), float(g.values[a])))
        elif node.op == "bool":
            continue
        else:
            out.append((ins.display.get(a, f"node{a}"), tr.values.get(a)))
    return out


def _first_nonfinite(ins: Inspected, tr: Trace, point, rows_by_node, rows) -> NonFinite | None:
    """Inputs first, then the forward lines, then the backward lines, in execution order."""
    found = _first_event(ins, tr, point, rows_by_node, rows)
    if found is None or found[0].kind == "input":
        return None if found is None else found[0]
    bad, v = found
    step = pointer.owners(ins).get(v, "")
    bad.step, bad.step_expr = step, pointer.step_text(ins, step) if step else ""
    if bad.kind == "value" and bad.node.startswith("_"):  # a temporary: say what it computes
        bad.expr = pointer.user_expr(ins, v)
    bad.operands = [
        (pointer.user_expr(ins, a) if _INTERNAL.search(name) else name, value)
        for a, (name, value) in zip(_operand_nodes(ins, v), bad.operands, strict=True)
    ]
    if bad.kind == "value":
        bad.hint = pointer.hint(ins, v)
    return bad


#: a name the emitted code invented (``_t7``): shown to the user as what it computes
_INTERNAL = re.compile(r"(?<![\w.])_\w")


def _operand_nodes(ins: Inspected, v: int) -> list[int]:
    """The arguments of ``v`` that ``_operands`` lists, in its order."""
    g = ins.compiled.graph
    return [a for a in g.nodes[v].args if g.nodes[a].op != "bool"]


def _first_event(ins: Inspected, tr: Trace, point, rows_by_node, rows):
    """``(NonFinite, node)`` of the first non-finite input, value or adjoint, else None."""
    c = ins.compiled
    J = ins.output_display
    for name, v in point.items():
        if not all_finite(v):
            return NonFinite("input", name, "input", v, [], name, output=J), -1
    for kind, ref in tr.events:
        if kind == "value":
            if not all_finite(tr.values[ref]):
                row = rows_by_node[ref]
                bad = NonFinite(
                    "value",
                    row.node,
                    row.op,
                    tr.values[ref],
                    row.operands,
                    row.forward,
                    output=J,
                    row=_index(rows, row),
                )
                return bad, ref
        else:
            partial, incoming, acc = tr.updates[ref]
            if not all_finite(acc):
                u = c.updates[ref]
                row = rows_by_node[u.source]
                entry = sum(1 for k in range(ref) if c.updates[k].source == u.source)
                bad = NonFinite(
                    "adjoint",
                    _adj_display(ins, u.target),
                    row.op,
                    acc,
                    row.operands,
                    row.backward[entry].text,
                    source=row.node,
                    partial=partial,
                    incoming=incoming,
                    output=J,
                    row=_index(rows, row),
                    entry=entry,
                )
                return bad, u.source
    return None


def _index(rows: list[Row], row: Row) -> int:
    return next(i for i, r in enumerate(rows) if r is row)


def first_nonfinite(module_or_circuit, at: Mapping[str, Any], *, wrt=None) -> NonFinite | None:
    """The first node whose value or adjoint is not finite at ``at`` (``None`` when all are).

    For ``circuitc check``: when a gradient is not finite, ``str()`` of the result says where
    it starts, with the op and its operand values.
    """
    return table(module_or_circuit, at, wrt=wrt).first_nonfinite
