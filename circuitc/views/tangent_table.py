"""The forward-mode table: each value of the circuit beside its tangent along one direction.

Forward mode carries ṫ = Σ dt/da · ȧ beside every value t, from the parameters' tangents (the
direction) to J̇, the directional derivative of J: the table the notes' section 1.3 would have
for forward mode. With ``at`` the numbers are filled in by executing the emitted ``jvp``'s own
lines (circuitc's generated code, never user text) on those values.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..emit.tangent import dotted, forward_names, tangent_plan
from ..errors import CircuitError
from .formats import fmt_value, pretty
from .trace import check_at, inspect_circuit


@dataclass
class TangentRow:
    """One value: its forward line and its tangent line, with numbers when ``at`` is given."""

    node: str
    forward: str
    tangent: str  # the tangent line in the notes' notation (blank: no tangent, it is constant)
    value: Any = None
    dot: Any = None


@dataclass
class ForwardModeReport:
    """The forward-mode table of a circuit along ``direction`` (parameter name -> tangent)."""

    circuit: str
    output: str
    direction: dict[str, Any]
    rows: list[TangentRow] = field(default_factory=list)
    at: dict[str, Any] | None = None
    value: Any = None
    dot: Any = None

    def __str__(self) -> str:
        return self.format("text")

    def format(self, fmt: str = "text") -> str:
        """``text`` (the CLI's) or ``markdown``."""
        if fmt not in ("text", "markdown"):
            raise CircuitError(f"unknown table format {fmt!r}; forward mode has text or markdown")
        numbers = self.at is not None
        header = ["node", "forward"] + (["value"] if numbers else []) + ["tangent"]
        header += ["tangent value"] if numbers else []
        body = []
        for r in self.rows:
            cells = [r.node, r.forward] + ([fmt_value(r.value)] if numbers else []) + [r.tangent]
            cells += [fmt_value(r.dot) if r.tangent else ""] if numbers else []
            body.append(cells)
        direction = ", ".join(
            f"{dotted(k)} = {v if isinstance(v, str) else fmt_value(v)}"
            for k, v in self.direction.items()
        )
        title = f"forward mode of {self.circuit}: tangents along {direction or 'nothing'}"
        foot = []
        if numbers:
            point = ", ".join(f"{k} = {fmt_value(v)}" for k, v in self.at.items())
            foot = [
                f"at {point}: {self.output} = {fmt_value(self.value)}, "
                f"{dotted(self.output)} = {fmt_value(self.dot)}"
            ]
        if fmt == "markdown":
            lines = [f"**{title}**", "", "| " + " | ".join(header) + " |"]
            lines.append("|" + "|".join("---" for _ in header) + "|")
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
            return "\n".join(lines + [""] + foot) + "\n"
        widths = [max(_width(row[i]) for row in [header, *body]) for i in range(len(header))]
        lines = [title, ""]
        for row in [header, *body]:
            cells = (c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True))
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines + foot) + "\n"


def _width(text: str) -> int:
    """Columns a text takes: the combining dot of ẋ takes none."""
    return sum(1 for ch in text if not unicodedata.combining(ch))


def forward_table(
    circuit,
    at: Mapping[str, Any] | None = None,
    direction: Mapping[str, Any] | None = None,
    *,
    wrt=None,
    name: str = "circuit",
) -> ForwardModeReport:
    """The forward-mode table of ``circuit`` along ``direction`` (default: the first
    parameter's first coordinate), with numbers when ``at`` gives every argument.

    Raises:
        CircuitError: ``direction`` names something that is not a parameter.
    """
    ins = inspect_circuit(circuit, wrt, name, second_order=True)  # its tangent rows
    c, p = ins.compiled, ins.plan
    params = [n for n, _ in c.wrt]
    unknown = sorted(set(direction or {}) - set(params))
    if unknown:
        raise CircuitError(
            f"--direction {unknown[0]!r} is not a parameter of {c.circuit.name!r} "
            f"(parameters: {', '.join(params)})"
        )
    t = tangent_plan(c, p)
    by_name = {n: v for v, n in forward_names(c, p).items()}
    tangents = {v: (name_, comment) for v, name_, comment in t.jvp_pairs}
    rows = []
    for line in t.jvp_forward:
        v = by_name.get(line.lhs)
        shown = ins.display.get(v, line.lhs)
        dot_name, comment = tangents.get(v, ("", ""))
        rows.append(TangentRow(shown, f"{shown} = {pretty(line.rhs, p.helpers)}", comment))
    report = ForwardModeReport(c.circuit.name, ins.output_display, {}, rows[::-1])
    if at is None:
        report.direction = dict(
            direction or ({params[0]: "its first coordinate"} if params else {})
        )
        return report
    point = check_at(ins, at)
    report.direction = _direction(point, params, direction)
    ns = dict(vars(ins.module))
    ns.update({k: np.float64(v) if isinstance(v, float) else v for k, v in point.items()})
    ns["_dt"] = np.dtype(np.float64)
    for name_, shape in c.shapes.items():  # the dimensions, bound from the arrays
        for k, d in enumerate(shape):
            if isinstance(d, str):
                ns.setdefault(d, np.shape(point[name_])[k])
    for dot, n in zip(t.tangent_args, params, strict=True):
        ns[dot] = report.direction.get(n, np.zeros_like(np.asarray(point[n], dtype=float)))
    with np.errstate(all="ignore"):
        for line in t.jvp_forward + t.jvp:
            exec(f"{line.lhs} {line.op} {line.rhs}", ns)  # circuitc's own emitted lines
        report.value, report.dot = ins.module.jvp(report.direction, **point)
    dot_of = {v: name_ for v, name_, _ in t.jvp_pairs}
    for row, line in zip(rows, t.jvp_forward, strict=True):
        v = by_name.get(line.lhs)
        row.value = ns.get(line.lhs)
        row.dot = ns.get(dot_of[v]) if v in dot_of else None
    report.at = point
    return report


def _direction(point, params, direction) -> dict[str, Any]:
    """The tangents as arrays shaped like the parameters: given values (a number fills a
    matrix), else the first parameter's first coordinate."""
    if not direction:
        first = np.zeros(np.shape(point[params[0]]))
        first.flat[0] = 1.0
        return {params[0]: float(first) if first.ndim == 0 else first}
    out = {}
    for n, value in direction.items():
        shape = np.shape(point[n])
        arr = np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()
        out[n] = float(arr) if arr.ndim == 0 else arr
    return out
