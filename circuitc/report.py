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

import html
import math
import re
import types
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .compiler import Compiled, build
from .emit import Line, Plan, plan, render
from .errors import CircuitError
from .ir import LEAF_OPS
from .loader import load_source
from .printer import Printer

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
    """The first value or adjoint that is not finite, and where it came from."""

    kind: str  # "input", "value" or "adjoint"
    node: str  # the node whose value (or adjoint) is not finite
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

    def __str__(self) -> str:
        ops = ", ".join(
            n if n == fmt_value(v) else f"{n} = {fmt_value(v)}" for n, v in self.operands
        )
        if self.kind == "input":
            return f"first non-finite: the input {self.node} = {fmt_value(self.value)}"
        if self.kind == "value":
            return (
                f"first non-finite: {self.node} = {fmt_value(self.value)} at `{self.line}` "
                f"(op {self.op}; operands: {ops or 'none'})"
            )
        return (
            f"first non-finite: the adjoint d{self.output}/d{self.node} = {fmt_value(self.value)} "
            f"at `{self.line}` (from {self.source}, op {self.op}; operands: {ops or 'none'}; "
            f"incoming {fmt_value(self.incoming)}, local partial {fmt_value(self.partial)})"
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
            return _text(self, header, body, marks)
        if fmt == "markdown":
            return _markdown(self, header, body, marks)
        if fmt == "html":
            return _html(self, header, body, marks)
        return _latex(self, header, body, marks)

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


# -- formatting -------------------------------------------------------------------------------------
def fmt_value(v: Any) -> str:
    """A number as the table shows it: 6 significant digits; a small array in full, else a summary."""
    if v is None:
        return "-"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    a = np.asarray(v)
    if a.ndim == 0:
        return _num(float(a))
    if a.size <= 4:
        return "[" + ", ".join(_num(float(x)) for x in a.ravel()) + "]"
    shape = "x".join(str(n) for n in a.shape)
    finite = np.isfinite(a)
    text = f"{shape} array"
    if finite.any():
        text += f", max abs {_num(float(np.max(np.abs(a[finite]))))}"
    if not finite.all():
        text += f", {int(a.size - finite.sum())} non-finite"
    return text


def _num(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:.6g}"
    return "0" if text == "-0" else text


MARK = "<- first non-finite"


def _text(r: TableReport, header, body, marks) -> str:
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)
    ]

    def line(cells) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    where = ""
    if r.at is not None:
        where = " at " + ", ".join(f"{k} = {fmt_value(v)}" for k, v in r.at.items())
    out = [f"{r.circuit}: forward | backward{where}", line(header)]
    out.append("-+-".join("-" * w for w in widths))
    for cells, mark in zip(body, marks, strict=True):
        out.append(line(cells) + (f"  {MARK} {r.first_nonfinite.kind}" if mark else ""))
    foot = r.footer()
    if foot:
        out.append("")
        out.extend(foot)
    return "\n".join(out) + "\n"


def _md_cell(text: str, code: bool) -> str:
    if not text:
        return ""
    text = text.replace("|", "\\|")
    return f"`{text}`" if code else text


def _markdown(r: TableReport, header, body, marks) -> str:
    code_cols = {header.index("forward"), header.index("backward")}
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for cells, mark in zip(body, marks, strict=True):
        row = [_md_cell(c, i in code_cols) for i, c in enumerate(cells)]
        if mark:
            row[0] = (row[0] + " " if row[0] else "") + "**first non-finite**"
        out.append("| " + " | ".join(row) + " |")
    foot = r.footer()
    if foot:
        out.append("")
        out.extend(f"- {_md_cell(f, False)}" for f in foot)
    return "\n".join(out) + "\n"


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_ESCAPES))


def latex_escape(text: str) -> str:
    """Text safe inside a LaTeX document: the ten special characters replaced."""
    return _LATEX_RE.sub(lambda m: _LATEX_ESCAPES[m.group(0)], text)


def _latex(r: TableReport, header, body, marks) -> str:
    code_cols = {header.index("forward"), header.index("backward")}

    def cell(i: int, c: str) -> str:
        if not c:
            return ""
        return f"\\texttt{{{latex_escape(c)}}}" if i in code_cols else latex_escape(c)

    spec = " ".join("l" for _ in header)
    out = [
        f"% circuitc table of the circuit {latex_escape(r.circuit)}",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\hline",
        " & ".join(latex_escape(h.capitalize()) for h in header) + " \\\\",
        "\\hline",
    ]
    for cells, mark in zip(body, marks, strict=True):
        row = [cell(i, c) for i, c in enumerate(cells)]
        if mark:
            row[0] = (row[0] + " " if row[0] else "") + "$\\leftarrow$ first non-finite"
        out.append(" & ".join(row) + " \\\\")
    out += ["\\hline", "\\end{tabular}"]
    foot = r.footer()
    if foot:
        out.append("")
        out.extend(f"% {line}" for line in foot)
    return "\n".join(out) + "\n"


def _html(r: TableReport, header, body, marks) -> str:
    code_cols = {header.index("forward"), header.index("backward")}

    def cell(i: int, c: str) -> str:
        c = html.escape(c)
        return f"<code>{c}</code>" if c and i in code_cols else c

    out = [
        "<table>",
        "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead>",
        "<tbody>",
    ]
    for cells, mark in zip(body, marks, strict=True):
        style = ' style="background:#fdd"' if mark else ""
        out.append(
            f"<tr{style}>"
            + "".join(f"<td>{cell(i, c)}</td>" for i, c in enumerate(cells))
            + "</tr>"
        )
    out += ["</tbody>", "</table>"]
    foot = r.footer()
    if foot:
        out.append("<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in foot) + "</ul>")
    return "\n".join(out) + "\n"


# -- notebook views ---------------------------------------------------------------------------------
#: a notebook shows at most this many table rows (a deep circuit has thousands)
NOTEBOOK_ROWS = 60


def _short(report: TableReport) -> tuple[TableReport, int]:
    hidden = max(0, len(report.rows) - NOTEBOOK_ROWS)
    if hidden:
        report.rows = report.rows[:NOTEBOOK_ROWS]
    return report, hidden


def circuit_markdown(circuit) -> str:
    """A ``Circuit`` in a notebook: its Forward | Backward table and the emitted code."""
    return _notebook_markdown(circuit, None)


def _notebook_markdown(circuit, source: str | None) -> str:
    from .api import source as emitted

    try:
        code = source if source is not None else emitted(circuit)
        report, hidden = _short(table(circuit))
    except CircuitError as e:  # a notebook view never raises: it says why
        return f"**circuit `{circuit.name}`** does not compile: {e}\n"
    text = f"**circuit `{report.circuit}`**: forward | backward\n\n" + report.format("markdown")
    if hidden:
        text += f"\n({hidden} more rows: `circuitc.table(...)` has them all)\n"
    return (
        text
        + "\n<details><summary>emitted code</summary>\n\n```python\n"
        + code
        + "```\n\n</details>\n"
    )


def _notebook_html(circuit, source: str) -> str:
    report, hidden = _short(table(circuit))
    text = f"<p><b>circuit <code>{html.escape(report.circuit)}</code></b>: forward | backward</p>\n"
    text += report.format("html")
    if hidden:
        text += f"<p>({hidden} more rows: <code>circuitc.table(...)</code> has them all)</p>\n"
    return (
        text
        + f"<details><summary>emitted code</summary><pre><code>{html.escape(source)}</code></pre></details>\n"
    )


def attach_views(module: types.ModuleType) -> None:
    """Give a module compiled by ``circuitc.compile`` its notebook views (table and code).

    Jupyter looks up ``_repr_markdown_``/``_repr_html_`` on the module object; they are set
    on the live module only and never appear in the emitted source.
    """
    circuit = module.__circuit__
    source = module.__source__
    module._repr_markdown_ = lambda: _notebook_markdown(circuit, source)
    module._repr_html_ = lambda: _notebook_html(circuit, source)


# -- building the table ---------------------------------------------------------------------------
_PRETTY = re.compile(r"\b_(?:np|math)\.")


def pretty(code: str, helpers=()) -> str:
    """Emitted code as the notes write it: ``_np.sin(t)`` → ``sin(t)``, ``_sigmoid(a)`` → ``sigmoid(a)``."""
    text = _PRETTY.sub("", code)
    for h in helpers:
        text = re.sub(rf"\b{re.escape(h)}\(", h.lstrip("_") + "(", text)
    return text


@dataclass
class Inspected:
    """A circuit compiled for inspection: the IR, the emitted plan and the live module."""

    compiled: Compiled
    plan: Plan
    module: types.ModuleType
    names: dict[int, str]
    display: dict[int, str]
    fwd_lines: list[tuple[int, Line]]  # (node, its forward line)
    bwd_lines: list[tuple[int | None, Line]]  # (update index or None, line), as emitted
    fwd_cone: list[int]
    seeded: bool = True  # the backward pass starts with the seed line dJ/dJ = 1

    @property
    def output_display(self) -> str:
        return self.display[self.compiled.output]


def as_circuit(obj, wrt=None, name: str = "circuit"):
    """A ``Circuit`` from a Circuit, a module compiled by ``circuitc.compile``, or an expression."""
    from .api import as_circuit as _as_circuit

    if isinstance(obj, types.ModuleType):
        circuit = getattr(obj, "__circuit__", None)
        if circuit is None:
            raise CircuitError(
                f"module {obj.__name__!r} was not compiled by circuitc.compile in this process; "
                "pass its Circuit instead"
            )
        return circuit
    return _as_circuit(obj, wrt, name)


def inspect(obj, wrt=None, name: str = "circuit") -> Inspected:
    """Compile ``obj`` and pair the emitted lines with the IR nodes and backward updates."""
    circuit = as_circuit(obj, wrt, name)
    c = build(circuit)
    p = plan(c)
    module = load_source(render(c), circuit.name)
    names = p.names
    by_name = {n: v for v, n in names.items()}
    printer = Printer(c.graph, names)
    fwd_lines = [(by_name[line.lhs], line) for line in p.forward_full]
    fwd_cone = c.graph.cone([c.output] + [v for v, _ in fwd_lines])
    display: dict[int, str] = {}
    for v in fwd_cone:
        if v in names:
            display[v] = names[v]
        else:
            display[v] = pretty(printer.expr(v), p.helpers)
    if names.get(c.output) == "_J" or c.graph.nodes[c.output].op == "const":
        display[c.output] = "J"
    # the seed line dJ/dJ = 1 comes first, unless the optimizer folded it into its users
    seeded = c.output in c.adjoint and not getattr(c, "seed_folded", False)
    bwd_lines: list[tuple[int | None, Line]] = []
    k = 0
    for i, line in enumerate(p.backward):
        if line.comment and not (i == 0 and seeded):
            u = c.updates[k]
            if line.lhs != names[c.adjoint[u.target]]:
                raise AssertionError(f"backward line {line.lhs} does not match update {k}")
            bwd_lines.append((k, line))
            k += 1
        else:
            bwd_lines.append((None, line))
    if k != len(c.updates):
        raise AssertionError("the emitted backward lines do not match the updates")
    return Inspected(c, p, module, names, display, fwd_lines, bwd_lines, fwd_cone, seeded)


def _check_at(ins: Inspected, at: Mapping[str, Any]) -> dict[str, Any]:
    c = ins.compiled
    args = [n for n, _ in c.wrt] + list(c.inputs)
    unknown = sorted(set(at) - set(args))
    if unknown:
        raise CircuitError(
            f"circuit {c.circuit.name!r} has no argument {unknown[0]!r} (arguments: {', '.join(args)})"
        )
    missing = [a for a in args if a not in at]
    batched = [a for a in missing if not all(isinstance(d, int) for d in c.shapes.get(a, ()))]
    if batched:  # a number cannot fill a matrix of a symbolic size (--at gives only numbers)
        dims = "x".join(str(d) for d in c.shapes[batched[0]])
        raise CircuitError(
            f"no value given for {batched[0]!r}, a {dims} matrix: give it as an array "
            f"(Python API: at={{{batched[0]!r}: array}})"
        )
    if missing:
        raise CircuitError(
            f"no value given for {missing[0]!r} (give every argument: {', '.join(args)})"
        )
    out = {}
    for a in args:
        v = at[a]
        if isinstance(v, (list, tuple)):
            v = np.asarray(v, dtype=np.float64)
        shape = c.shapes.get(a, ())
        if shape and np.ndim(v) == 0:
            # a number for a matrix argument fills it, as circuitc check does
            if not all(isinstance(d, int) for d in shape):
                dims = "x".join(str(d) for d in shape)
                raise CircuitError(
                    f"{a!r} is a {dims} matrix: give it as an array (Python API: at={{{a!r}: array}})"
                )
            v = np.full(shape, float(v))
        out[a] = v
    # the module checks shapes and names; its errors are bad input here
    try:
        with np.errstate(all="ignore"):
            ins.module.value_and_grad(**out)
    except (ValueError, TypeError) as e:
        raise CircuitError(f"circuit {c.circuit.name!r} at this point: {e}") from e
    return out


def _snapshot(v):
    return v.copy() if isinstance(v, np.ndarray) else v


def _finite(v) -> bool:
    try:
        return bool(np.all(np.isfinite(v)))
    except TypeError:
        return True


@dataclass
class Trace:
    """The numbers of one evaluation: node values, final adjoints and per-update numbers."""

    values: dict[int, Any]  # forward node -> value
    adjoints: dict[int, Any]  # node -> final dJ/dnode
    updates: dict[int, tuple[Any, Any, Any]]  # update index -> (partial, incoming, accumulated)
    events: list[tuple[str, int]]  # ("value", node) / ("adjoint", update index), execution order


def trace(ins: Inspected, at: Mapping[str, Any]) -> Trace:
    """Execute the module's own lines at ``at`` and record every value and adjoint."""
    c, g = ins.compiled, ins.compiled.graph
    mod = ins.module
    ns: dict[str, Any] = dict(vars(mod))
    values: dict[int, Any] = {}
    sym_nodes = {ins.names[v]: v for v in ins.fwd_cone if g.nodes[v].op == "sym" and v in ins.names}
    for name, v in at.items():
        ns[name] = mod._arg(v)
        if name in sym_nodes:
            values[sym_nodes[name]] = ns[name]
    events: list[tuple[str, int]] = []
    adjoints: dict[int, Any] = {}
    updates: dict[int, tuple[Any, Any, Any]] = {}
    adj_node = {ins.names[leaf]: target for target, leaf in c.adjoint.items() if leaf in ins.names}
    with np.errstate(all="ignore"):
        for v, line in ins.fwd_lines:
            _run(line, ns)
            values[v] = _snapshot(ns[line.lhs])
            events.append(("value", v))
        # nodes printed inline (no line of their own) get their values node by node
        interp = _NodeEval(ins, ns, values)
        for v in ins.fwd_cone:
            if v not in values and g.nodes[v].op not in ("const", "bool"):
                values[v] = interp.value(v)
        if c.output in c.adjoint and not ins.seeded:  # a folded seed: dJ/dJ = 1 all the same
            adjoints[c.output] = np.ones_like(values[c.output])[()]
        for k, line in ins.bwd_lines:
            _run(line, ns)
            if line.lhs in adj_node:
                adjoints[adj_node[line.lhs]] = _snapshot(ns[line.lhs])
            if k is None:
                continue
            u = c.updates[k]
            incoming = adjoints.get(u.source)
            partial = interp.partial(u) if _scalar_update(c, u) else None
            updates[k] = (partial, incoming, adjoints[u.target])
            events.append(("adjoint", k))
    return Trace(values, adjoints, updates, events)


def _run(line: Line, ns: dict) -> None:
    """Execute one of circuitc's own emitted lines (never user text) in ``ns``."""
    exec(f"{line.lhs} {line.op} {line.rhs}", ns)  # noqa: S102 - generated by circuitc


def _scalar_update(c: Compiled, u) -> bool:
    g = c.graph
    node = g.nodes[u.source]
    return node.shape == () and all(g.nodes[a].shape == () for a in node.args)


class _NodeEval:
    """Evaluates single IR nodes, each printed by the module's printer with its arguments by name."""

    def __init__(self, ins: Inspected, ns: dict, values: dict[int, Any]):
        self.ins = ins
        self.graph = ins.compiled.graph
        self.ns = dict(ns)
        self.values = values
        names = {
            v: f"_v{v}"
            for v, node in enumerate(self.graph.nodes)
            if node.op not in ("const", "bool")
        }
        self.printer = Printer(self.graph, names)
        self.shared: dict[int, Any] = {}  # backward-only values that do not depend on g
        self.with_g: dict[int, dict[int, Any]] = {}  # source node -> values computed with g = 1

    def _eval(self, v: int, env: dict[int, Any]) -> Any:
        name = self.printer.names.pop(v)
        try:
            text = self.printer.expr(v)
        finally:
            self.printer.names[v] = name
        local = {f"_v{a}": env[a] for a in self.graph.nodes[v].args if a in env}
        return eval(text, self.ns, local)  # noqa: S307 - circuitc's own printed node

    def value(self, v: int) -> Any:
        return self._eval(v, self.values)

    def partial(self, u) -> Any:
        """d(source)/d(target): the update's expression evaluated with dJ/d(source) = 1.

        Each backward-only node is evaluated once: those that depend on the adjoint once per
        source node (the prefix products of a long product serve all its updates), the others
        once for all.
        """
        g = self.graph
        # values that depend on the adjoint, per source node (all its updates share g = 1)
        adjoint = self.ins.compiled.adjoint[u.source]
        local = self.with_g.setdefault(u.source, {adjoint: 1.0})
        known = ChainMap(local, self.shared, self.values)
        order, seen, stack = [], set(), [u.expr]
        while stack:
            v = stack.pop()
            if v in seen or v in known or g.nodes[v].op in ("const", "bool"):
                continue
            if g.nodes[v].op in LEAF_OPS:  # another adjoint: not part of a local partial
                return None
            seen.add(v)
            order.append(v)
            stack.extend(g.nodes[v].args)
        for v in sorted(order):  # ascending ids: arguments first
            value = self._eval(v, known)
            if any(a in local for a in g.nodes[v].args):
                local[v] = value
            else:
                self.shared[v] = value
        return known[u.expr]


def table(
    circuit, at: Mapping[str, Any] | None = None, *, wrt=None, name: str = "circuit"
) -> TableReport:
    """The notes' Forward | Backward table of ``circuit``, with numbers when ``at`` is given.

    Args:
        circuit: a ``Circuit``, a module from ``circuitc.compile``, or a SymPy expression
            (then ``wrt`` is required).
        at: a value for every argument (``{"x": 0.5}``); floats or arrays.

    Returns:
        A ``TableReport``; ``str()`` of it is the CLI's text.
    """
    ins = inspect(circuit, wrt, name)
    c = ins.compiled
    g = c.graph
    p = ins.plan
    rows_by_node: dict[int, Row] = {}
    order: list[int] = []
    for v, line in ins.fwd_lines:
        node = g.nodes[v]
        shown = ins.display[v]
        rows_by_node[v] = Row(
            node=shown,
            op=node.op,
            forward=f"{shown} = {pretty(line.rhs, p.helpers)}",
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
    report = TableReport(
        c.circuit.name, ins.output_display, [rows_by_node[v] for v in reversed(order)]
    )
    if at is None:
        return report
    point = _check_at(ins, at)
    tr = trace(ins, point)
    for v in order:
        row = rows_by_node[v]
        row.value = tr.values.get(v)
        row.operands = _operands(ins, tr, v)
    per_source: dict[int, int] = {}
    for k, _line in ins.bwd_lines:
        if k is None:
            continue
        u = c.updates[k]
        i = per_source.get(u.source, 0)
        per_source[u.source] = i + 1
        contrib = rows_by_node[u.source].backward[i]
        contrib.partial, contrib.incoming, contrib.accumulated = tr.updates[k]
    report.at = point
    with np.errstate(all="ignore"):
        report.value, report.gradient = ins.module.value_and_grad(**point)
    report.first_nonfinite = _first_nonfinite(ins, tr, point, rows_by_node, report.rows)
    return report


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
    c = ins.compiled
    J = ins.output_display
    for name, v in point.items():
        if not _finite(v):
            return NonFinite("input", name, "input", v, [], name, output=J)
    for kind, ref in tr.events:
        if kind == "value":
            if not _finite(tr.values[ref]):
                row = rows_by_node[ref]
                return NonFinite(
                    "value",
                    row.node,
                    row.op,
                    tr.values[ref],
                    row.operands,
                    row.forward,
                    output=J,
                    row=_index(rows, row),
                )
        else:
            partial, incoming, acc = tr.updates[ref]
            if not _finite(acc):
                u = c.updates[ref]
                row = rows_by_node[u.source]
                entry = sum(1 for k in range(ref) if c.updates[k].source == u.source)
                return NonFinite(
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
    return None


def _index(rows: list[Row], row: Row) -> int:
    return next(i for i, r in enumerate(rows) if r is row)


def first_nonfinite(module_or_circuit, at: Mapping[str, Any], *, wrt=None) -> NonFinite | None:
    """The first node whose value or adjoint is not finite at ``at`` (``None`` when all are).

    For ``circuitc check``: when a gradient is not finite, ``str()`` of the result says where
    it starts, with the op and its operand values.
    """
    return table(module_or_circuit, at, wrt=wrt).first_nonfinite
