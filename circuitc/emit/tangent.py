"""The forward-mode functions of the emitted module: ``jvp`` and ``hvp``.

``jvp`` runs the forward lines, then the tangent lines (``_dot_t`` is ṫ, the notes' dt/dε along
the given direction), each with its chain-rule comment in the notes' notation. ``hvp`` is
forward over reverse: the forward lines, their tangents, then every backward line of
``value_and_grad`` followed by its own tangent (``_dot_d_t`` is the tangent of dJ/dt), so each
adjoint is read while it holds its final value. Tangent-only temporaries used by more than one
line get a line of their own, as the backward pass's do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.ir import LEAF_OPS
from ..core.program import Compiled, fill_partial, hvp_op_counts, tangent_op_counts
from .plan import Line, Plan, _note, _rhs
from .printer import Printer

#: the combining dot above (U+0307): ``x`` + DOT is the notes' ẋ
DOT = "\u0307"


@dataclass
class TangentPlan:
    """The lines of ``jvp`` and ``hvp`` and what they return."""

    tangent_args: list[str] = field(default_factory=list)  # _dot_<param>, in WRT order
    jvp: list[Line] = field(default_factory=list)  # the tangent lines jvp runs
    jvp_forward: list[Line] = field(default_factory=list)  # the forward lines jvp runs
    jvp_out: str = "None"  # J̇ (None: J does not depend on the parameters)
    jvp_ops: int = 0
    hvp_forward: list[Line] = field(default_factory=list)
    hvp_tangents: list[Line] = field(default_factory=list)  # the forward nodes' tangents
    hvp_backward: list[Line] = field(default_factory=list)  # backward lines and their tangents
    hvp_out: list[tuple[str, str]] = field(default_factory=list)
    hvp_ops: int = 0  # hvp's tangent lines
    hvp_backward_ops: int = 0  # the backward lines hvp runs (not a parameter's own adjoint)
    hvp_forward_ops: int = 0  # the forward lines hvp runs (what its backward and tangents read)
    jvp_pairs: list[tuple[int, str, str]] = field(default_factory=list)  # node, ṫ's name, comment
    jacobian: str = ""  # "prediction" or "J": the matrix output jacobian() differentiates
    jac_forward: list[Line] = field(default_factory=list)
    jac: list[Line] = field(default_factory=list)
    jac_out: str = "None"
    jac_like: str = ""
    helpers: set[str] = field(default_factory=set)
    taken: set[str] = field(default_factory=set)  # the names in use (forward, adjoints, ẋ)
    seed_names: dict[int, str] = field(default_factory=dict)  # a parameter's tangent leaf: ẋ
    printer_class: type = Printer  # the backend's printer (array_api.py's for that module)


def dotted(name: str) -> str:
    """The notes' dot over a name, for comments: ``x`` → ẋ (over the last character)."""
    return name + DOT


class Writer:
    """Names and prints tangent lines over one function's known names."""

    def __init__(
        self, c: Compiled, names: dict[int, str], taken: set[str], known: set[int], printer_class
    ):
        self.c = c
        self.g = c.graph
        self.names = names
        self.taken = taken
        self.known = known  # nodes the function computes on lines of their own (or leaves)
        self.printer = printer_class(c.graph, names)
        self.counter = 0
        self.emitted: set[int] = set()
        self.uses: dict[int, int] = {}
        self.pairs: list[tuple[int, str, str]] = []  # the tangent lines printed: node, name, note

    def fresh(self, stem: str = "_t") -> str:
        while True:
            name = f"{stem}{self.counter}"
            self.counter += 1
            if name not in self.taken:
                self.taken.add(name)
                return name

    def claim(self, name: str) -> str:
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        return name

    def inner(self, v: int) -> bool:
        """A node printed by the tangent lines themselves (not a known value or a leaf)."""
        return v not in self.known and v not in self.names and self.g.nodes[v].op not in LEAF_OPS

    def count(self, roots: list[int]) -> None:
        """Use counts of the tangent-only nodes under ``roots`` (to find the shared ones)."""
        seen: set[int] = set()
        stack = list(roots)
        for r in roots:
            self.uses[r] = self.uses.get(r, 0) + 1
        while stack:
            v = stack.pop()
            if v in seen or not self.inner(v):
                continue
            seen.add(v)
            for a in self.g.nodes[v].args:
                self.uses[a] = self.uses.get(a, 0) + 1
                stack.append(a)

    def reads(self, roots: list[int]) -> set[int]:
        """The known (non-leaf) nodes the tangent expressions under ``roots`` read."""
        out: set[int] = set()
        seen: set[int] = set()
        stack = list(roots)
        while stack:
            v = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            if not self.inner(v):
                if self.g.nodes[v].op not in LEAF_OPS:
                    out.add(v)
                continue
            stack.extend(self.g.nodes[v].args)
        return out

    def before(self, expr: int) -> list[Line]:
        """Lines for the shared tangent-only nodes under ``expr`` not printed yet (id order)."""
        found, stack, seen = [], [expr], set()
        while stack:
            v = stack.pop()
            if v in seen or v in self.emitted or not self.inner(v):
                continue
            seen.add(v)
            if v != expr and self.uses.get(v, 0) > 1:
                found.append(v)
            stack.extend(self.g.nodes[v].args)
        lines = []
        for v in sorted(found):
            rhs = self.printer.expr(v)
            self.names[v] = self.fresh()
            self.emitted.add(v)
            lines.append(Line(self.names[v], rhs))
        return lines

    def display(self, v: int) -> str:
        if v == self.c.output and self.names.get(v) == "_J":
            return "J"
        return self.names[v] if v in self.names else self.printer.expr(v)


def tangent_plan(c: Compiled, p: Plan, printer_class: type = Printer) -> TangentPlan:
    """The lines of jvp and hvp, printed with the names ``plan`` gave the forward and backward
    by ``printer_class`` (another backend's printer plans no jacobian: NumPy's alone has one)."""
    g = c.graph
    out = TangentPlan(printer_class=printer_class)
    roots = [c.output] + ([c.prediction] if c.prediction is not None else [])
    fwd_set = set(g.cone(roots))
    taken = set(p.names.values())
    seed_names: dict[int, str] = {}
    for name, leaf in c.wrt:
        dot = _claim(taken, f"_dot_{name}")
        out.tangent_args.append(dot)
        if leaf is not None and leaf in c.tangent:
            seed_names[c.tangent[leaf]] = dot
    _jvp(c, p, out, fwd_set, set(taken), seed_names)
    out.taken, out.seed_names = taken, seed_names  # for hvp.py's half of the job
    out.jvp_ops, out.hvp_ops = tangent_op_counts(c)  # the one op count (core.program)
    out.hvp_forward_ops, out.hvp_backward_ops, _ = hvp_op_counts(c)
    return out


def forward_names(c: Compiled, p: Plan) -> dict[int, str]:
    """The names of the forward values, the inputs and the adjoints (``plan``'s names without
    the backward pass's own temporaries)."""
    g = c.graph
    roots = [c.output] + ([c.prediction] if c.prediction is not None else [])
    fwd = set(g.cone(roots))
    return {v: n for v, n in p.names.items() if v in fwd or g.nodes[v].op in LEAF_OPS}


def _claim(taken: set[str], name: str) -> str:
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def _needed(c: Compiled, leaves: set[int]) -> list:
    """The forward tangent lines the tangent leaves ``leaves`` depend on, in order."""
    g = c.graph
    by_leaf = {c.tangent[t.target]: t for t in c.tangents}
    need = set(leaves)
    keep = []
    # one visited set for the whole walk: a node seen from a later tangent line has already
    # put every tangent leaf below it into ``need`` (a walk per line was quadratic in a chain)
    seen: set[int] = set()
    for t in reversed(c.tangents):
        leaf = c.tangent[t.target]
        if leaf not in need:
            continue
        keep.append(t)
        stack = [t.expr]
        while stack:
            v = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            node = g.nodes[v]
            if node.op == "dot":
                if v in by_leaf:
                    need.add(v)
                continue
            if node.op in LEAF_OPS:
                continue
            stack.extend(node.args)
    return keep[::-1]


def _tangent_leaves(c: Compiled, exprs: list[int], fwd_set: set[int]) -> set[int]:
    """The tangent leaves read by expressions (walking tangent-only nodes, not forward ones)."""
    g = c.graph
    found, stack, seen = set(), list(exprs), set()
    while stack:
        v = stack.pop()
        if v in seen or v in fwd_set:
            continue
        seen.add(v)
        node = g.nodes[v]
        if node.op == "dot":
            found.add(v)
        elif node.op not in LEAF_OPS:
            stack.extend(node.args)
    return found


def _forward_lines(c: Compiled, p: Plan, nodes: list[int], printer: Printer) -> list[Line]:
    """The forward lines of ``nodes`` (the named ones), as ``plan`` printed them."""
    g = c.graph
    names = forward_names(c, p)
    printer = type(printer)(g, dict(names))  # forward names only (the backward renames a few)
    return [
        Line(names[v], _rhs(printer, v), note=_note(c, printer, v))
        for v in nodes
        if v in names and g.nodes[v].op not in LEAF_OPS and g.nodes[v].op != "bool"
    ]


def _tangent_lines(w: Writer, lines: list) -> list[Line]:
    """``_dot_t = …  # ṫ = dt/dx · ẋ`` for each forward tangent line."""
    c = w.c
    printed = []
    for t in lines:
        printed += w.before(t.expr)
        rhs = w.printer.expr(t.expr)
        tgt = w.display(t.target)
        args = [w.display(a) for a in c.graph.nodes[t.target].args]
        terms = " + ".join(f"d{tgt}/d{w.display(a)} · {dotted(w.display(a))}" for a, _ in t.terms)
        partials = ", ".join(
            f"d{tgt}/d{w.display(a)} = {fill_partial(text, tgt, args)}" for a, text in t.terms
        )
        comment = f"{dotted(tgt)} = {terms},  {partials}"
        printed.append(Line(w.names[c.tangent[t.target]], rhs, comment=comment))
        w.pairs.append((t.target, w.names[c.tangent[t.target]], comment))
    return printed


def _name_tangents(c: Compiled, w: Writer, lines: list) -> None:
    for t in lines:
        base = w.names.get(t.target)
        leaf = c.tangent[t.target]
        w.names[leaf] = w.claim("_dot_" + base.lstrip("_")) if base else w.fresh("_dot")


def _jvp(c, p, out, fwd_set, taken, seed_names) -> None:
    """J and its tangent: the forward lines J needs, then the tangent lines."""
    lines, tangent, out_name, helpers, pairs = _output_tangent(
        c, p, c.output, taken, seed_names, out
    )
    out.jvp_forward, out.jvp, out.jvp_out = lines, tangent, out_name
    out.jvp_pairs = pairs
    out.helpers |= helpers
    node = c.jac_output
    if node is None or out.printer_class is not Printer:
        return  # a scalar output: no jacobian (its Jacobian over broadcast inputs is diagonal)
    out.jacobian = "prediction" if node == c.prediction else "J"
    if c.jacobian_mode != "forward":
        return  # reverse mode: emit/jacobian.py prints it
    lines, tangent, out_name, helpers, _ = _output_tangent(c, p, node, taken, seed_names, out)
    out.jac_forward, out.jac, out.jac_out = lines, tangent, out_name
    out.jac_like = forward_names(c, p).get(node) or Printer(
        c.graph, dict(forward_names(c, p))
    ).expr(node)
    out.helpers |= helpers


def _output_tangent(c: Compiled, p: Plan, node: int, taken: set[str], seed_names: dict, out):
    """The forward lines and tangent lines that compute ``node`` and its tangent."""
    g = c.graph
    fwd_set = set(g.cone([c.output] + ([c.prediction] if c.prediction is not None else [])))
    names = {v: n for v, n in forward_names(c, p).items() if v in fwd_set}
    names.update(seed_names)
    w = Writer(c, names, set(taken), fwd_set, out.printer_class)
    leaf = c.tangent.get(node)
    if leaf is None:
        return _forward_lines(c, p, g.cone([node]), w.printer), [], "None", set(), []
    lines = _needed(c, {leaf})
    _name_tangents(c, w, lines)
    w.count([t.expr for t in lines])
    reads = w.reads([t.expr for t in lines])
    forward = _forward_lines(c, p, g.cone([node, *sorted(reads)]), w.printer)
    printed = _tangent_lines(w, lines)
    return forward, printed, w.names[leaf], w.printer.helpers, w.pairs
