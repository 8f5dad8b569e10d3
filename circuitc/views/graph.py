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

Graphviz's layout time grows steeply with crossing edges: a circuit of 40 steps that all read
``x`` (120 nodes, 197 edges) took 15 s, one of 60 steps ran past two minutes, and 3,000 steps
grew ``dot`` to 23 GB. So a graph of more than ``MAX_SIZE`` nodes + edges is refused before
``dot`` runs (``CircuitError`` naming its size; DOT text is always available, and
``max_size=`` / ``--max-size`` raise the limit on purpose), and ``dot`` itself runs under a
time bound (``DOT_TIMEOUT``) and, on POSIX, a memory bound (``DOT_MEMORY``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.program import fill_partial
from ..errors import CircuitError
from ..loader import write_atomic, write_atomic_with
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


#: the largest graph (nodes + edges) handed to Graphviz unless asked otherwise: the examples'
#: graphs have at most 167 (two_layer_nn with --backward), and 237 lays out in about 3 s
MAX_SIZE = 300
#: seconds the ``dot`` program may run
DOT_TIMEOUT = 60.0
#: bytes of address space the ``dot`` program may use (POSIX)
DOT_MEMORY = 2 * 1024**3


def run_dot(dot: str, fmt: str, timeout: float | None = None) -> bytes:
    """Render DOT text to ``svg`` or ``png`` bytes with the ``dot`` program, under a time
    bound (``DOT_TIMEOUT`` seconds unless ``timeout``) and a memory bound (``DOT_MEMORY``)."""
    exe = shutil.which("dot")
    if exe is None:
        raise CircuitError(INSTALL_HINT)
    timeout = DOT_TIMEOUT if timeout is None else timeout
    memory = DOT_MEMORY
    try:
        done = subprocess.run(
            [exe, f"-T{fmt}"],
            input=dot.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            preexec_fn=_memory_bound(memory),  # only setrlimit: no locks taken
        )
    except subprocess.TimeoutExpired:
        raise CircuitError(
            f"Graphviz's dot did not finish within {timeout:g} s and was stopped; write the "
            "graph with --format dot, or draw a smaller circuit (--circuit, fewer steps)"
        ) from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        what = err[-1] if err else f"exit code {done.returncode}"
        if done.returncode < 0 or "memory" in what.lower():
            what += f" (dot may use at most {memory / 1024**3:g} GB of memory)"
        raise CircuitError(f"Graphviz's dot failed: {what}")
    return done.stdout


def _memory_bound(limit: int):
    """A ``preexec_fn`` capping the child's address space at ``limit`` bytes (None off POSIX)."""
    if os.name != "posix":
        return None
    import resource

    def bound() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return bound


@dataclass
class GraphView:
    """A circuit's graph. ``str()`` (and ``.dot``) is the DOT text; in Jupyter it shows as SVG.

    ``nodes`` and ``edges`` count what is drawn; SVG and PNG are refused (``CircuitError``)
    when their sum exceeds ``max_size``, before Graphviz runs.
    """

    name: str
    dot: str
    nodes: int = 0
    edges: int = 0
    max_size: int = MAX_SIZE

    def __str__(self) -> str:
        return self.dot

    @property
    def too_large(self) -> bool:
        return self.nodes + self.edges > self.max_size

    def _check_size(self) -> None:
        if self.too_large:
            raise CircuitError(
                f"the graph of {self.name!r} has {self.nodes} nodes and {self.edges} edges, "
                f"more than Graphviz lays out in reasonable time (limit: {self.max_size} nodes + "
                "edges); write it with --format dot (DOT text), or raise the limit with "
                "--max-size N (max_size= in Python)"
            )

    def svg(self) -> str:
        self._check_size()
        return run_dot(self.dot, "svg").decode("utf-8")

    def png(self) -> bytes:
        self._check_size()
        return run_dot(self.dot, "png")

    def render(self, fmt: str = "dot") -> bytes:
        """The graph as ``dot`` text, or ``svg``/``png`` from Graphviz, as bytes."""
        if fmt not in FORMATS:
            raise CircuitError(f"unknown graph format {fmt!r}; use one of {', '.join(FORMATS)}")
        if fmt == "dot":
            return self.dot.encode("utf-8")
        self._check_size()
        return run_dot(self.dot, fmt)

    def save(self, path, fmt: str | None = None) -> Path:
        """Write the graph to ``path`` (format from ``fmt`` or the file's suffix), atomically."""
        fmt = fmt or (Path(path).suffix.lstrip(".").lower() or "dot")
        if fmt == "gv":
            fmt = "dot"
        data = self.render(fmt)
        if fmt == "png":
            return write_atomic_with(path, lambda f: f.write(data))
        return write_atomic(path, data.decode("utf-8"))

    def _repr_svg_(self) -> str | None:
        return self.svg() if dot_available() and not self.too_large else None

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        bundle = {"text/plain": self.dot}
        if dot_available() and not self.too_large:
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
    max_size: int = MAX_SIZE,
) -> GraphView:
    """The DAG of ``circuit`` as a ``GraphView`` (DOT text; SVG in a notebook).

    Args:
        circuit: a ``Circuit``, a module from ``circuitc.compile``, or a SymPy expression
            (then ``wrt`` is required).
        at: a value for every argument: each node then shows its value and dJ/dnode.
        backward: also draw the backward pass's adjoint edges (dashed, red).
        max_size: the most nodes + edges handed to Graphviz for SVG/PNG (DOT text has no limit).
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
    edges = [
        f"  n{a} -> n{v};"
        for v in drawn
        for a in g.nodes[v].args
        if g.nodes[a].op not in ("const", "bool")
    ]
    if backward:
        edges += _backward_edges(ins)
    out += edges
    out.append("}")
    text = "\n".join(out) + "\n"
    return GraphView(c.circuit.name, text, len(drawn), len(edges), max_size)
