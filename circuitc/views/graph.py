"""The circuit as a picture: DOT text of the DAG, and SVG/PNG through Graphviz's ``dot``.

One DOT node per distinct sub-expression of the forward pass (the IR is hash-consed, so a
shared value such as the small example's ``t`` appears once, with an edge to each
consumer). Constants are written inside their consumer's expression rather than drawn.
Each node shows its name and expression (``u1 = sin(t)``), its op, and for a matrix its
shape; with ``at`` its value and its adjoint dJ/dnode; with ``backward=True`` every
backward line is drawn as a dashed red edge from the node that contributes it to the node
whose adjoint it updates, labelled with the local partial.

DOT text never needs anything installed. SVG and PNG run the ``dot`` program when it is on
the PATH (Debian/Ubuntu ``apt-get install graphviz``, macOS ``brew install graphviz``,
conda ``conda install graphviz``); otherwise they raise ``CircuitError`` with that hint.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.program import fill_partial
from ..errors import CircuitError
from ..loader import write_atomic
from .formats import fmt_value, pretty
from .trace import check_at, inspect_circuit, trace

FORMATS = ("dot", "svg", "png")
INSTALL_HINT = (
    "the Graphviz 'dot' program is not installed (apt-get install graphviz, "
    "brew install graphviz or conda install graphviz); --format dot works without it"
)
BACKWARD_COLOUR = "#c0392b"


def dot_available() -> bool:
    """True when Graphviz's ``dot`` program is on the PATH."""
    return shutil.which("dot") is not None


def run_dot(dot: str, fmt: str, timeout: float = 120.0) -> bytes:
    """Render DOT text to ``svg`` or ``png`` bytes with the ``dot`` program."""
    exe = shutil.which("dot")
    if exe is None:
        raise CircuitError(INSTALL_HINT)
    done = subprocess.run(
        [exe, f"-T{fmt}"], input=dot.encode("utf-8"), capture_output=True, timeout=timeout
    )
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CircuitError(f"dot failed: {err[0] if err else f'exit code {done.returncode}'}")
    return done.stdout


@dataclass
class GraphView:
    """A circuit's graph. ``str()`` (and ``.dot``) is the DOT text; in Jupyter it shows as SVG."""

    name: str
    dot: str

    def __str__(self) -> str:
        return self.dot

    def svg(self) -> str:
        return run_dot(self.dot, "svg").decode("utf-8")

    def png(self) -> bytes:
        return run_dot(self.dot, "png")

    def render(self, fmt: str = "dot") -> bytes:
        """The graph as ``dot`` text, or ``svg``/``png`` from Graphviz, as bytes."""
        if fmt not in FORMATS:
            raise CircuitError(f"unknown graph format {fmt!r}; use one of {', '.join(FORMATS)}")
        return self.dot.encode("utf-8") if fmt == "dot" else run_dot(self.dot, fmt)

    def save(self, path, fmt: str | None = None) -> Path:
        """Write the graph to ``path`` (format from ``fmt`` or the file's suffix), atomically."""
        fmt = fmt or (Path(path).suffix.lstrip(".").lower() or "dot")
        if fmt == "gv":
            fmt = "dot"
        data = self.render(fmt)
        if fmt == "png":
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
            return path
        return write_atomic(path, data.decode("utf-8"))

    def _repr_svg_(self) -> str | None:
        return self.svg() if dot_available() else None

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        bundle = {"text/plain": self.dot}
        if dot_available():
            bundle["image/svg+xml"] = self.svg()
        return bundle


def _node_lines(ins, drawn: list[int], tr) -> list[str]:
    """One DOT node a drawn IR node: its name, its line (or kind), shape and, with a trace,
    its value and adjoint."""
    c = ins.compiled
    g = c.graph
    line_of = {v: line for v, line in ins.fwd_lines}
    wrt_nodes = {nid for _, nid in c.wrt if nid is not None}
    J = ins.output_display
    out = []
    for v in drawn:
        node = g.nodes[v]
        shown = ins.display[v]
        if node.op == "sym":
            lines = [shown, "parameter" if v in wrt_nodes else "input"]
        elif v in line_of:
            lines = [f"{shown} = {pretty(line_of[v].rhs, ins.plan.helpers)}", f"op {node.op}"]
        else:
            lines = [shown, f"op {node.op}"]
        if node.shape:
            lines.append(f"shape {_shape_text(node.shape)}")
        if tr is not None:
            lines.append(f"value {fmt_value(tr.values.get(v))}")
            if v in tr.adjoints:
                lines.append(f"d{J}/d{shown} = {fmt_value(tr.adjoints[v])}")
        attrs = [f"label={_quote(chr(10).join(lines))}"]
        if node.op == "sym":
            attrs.append("shape=ellipse")
        elif node.shape:
            attrs.append("shape=box3d")
        if v == c.output:
            attrs.append("peripheries=2")
        out.append(f"  n{v} [{', '.join(attrs)}];")
    return out


def _backward_edges(ins) -> list[str]:
    """The backward pass's adjoint edges, dashed and red, labelled with the local partial."""
    g = ins.compiled.graph
    out = []
    for u in ins.compiled.updates:
        args = [ins.display.get(a, "?") for a in g.nodes[u.source].args]
        partial = fill_partial(u.partial, ins.display[u.source], args)
        out.append(
            f"  n{u.source} -> n{u.target} [color={_quote(BACKWARD_COLOUR)}, "
            f"fontcolor={_quote(BACKWARD_COLOUR)}, style=dashed, constraint=false, "
            f"label={_quote(partial)}];"
        )
    return out


def _quote(text: str) -> str:
    """A DOT double-quoted string; newlines become DOT's centred line breaks."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\n", "\\n") + '"'


def _shape_text(shape: tuple) -> str:
    return "x".join(str(d) for d in shape)


def graph(
    circuit,
    at: Mapping[str, Any] | None = None,
    backward: bool = False,
    *,
    wrt=None,
    name: str = "circuit",
) -> GraphView:
    """The DAG of ``circuit`` as a ``GraphView`` (DOT text; SVG in a notebook).

    Args:
        circuit: a ``Circuit``, a module from ``circuitc.compile``, or a SymPy expression
            (then ``wrt`` is required).
        at: a value for every argument: each node then shows its value and dJ/dnode.
        backward: also draw the backward pass's adjoint edges (dashed, red).
    """
    ins = inspect_circuit(circuit, wrt, name)
    c = ins.compiled
    g = c.graph
    tr = trace(ins, check_at(ins, at)) if at is not None else None
    drawn = [v for v in ins.fwd_cone if g.nodes[v].op not in ("const", "bool")]
    out = [
        f"digraph {_quote(c.circuit.name)} {{",
        "  rankdir=BT;",
        '  node [shape=box, style="rounded", fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    out += _node_lines(ins, drawn, tr)
    for v in drawn:
        for a in g.nodes[v].args:
            if g.nodes[a].op not in ("const", "bool"):
                out.append(f"  n{a} -> n{v};")
    if backward:
        out += _backward_edges(ins)
    out.append("}")
    return GraphView(c.circuit.name, "\n".join(out) + "\n")
