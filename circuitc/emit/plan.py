"""Compiled circuit → module source text (the printer lays out lines; Jinja lays out the file).

The plan decides which nodes get a line of their own: every forward node does (the
notes' tables give each value a name), except single-use cosmetic ones such as ``-y`` or a
comparison, which read better inline; a backward node gets a line when more than one
update uses it. Templates receive only pre-printed ``(lhs, rhs, comment, note)`` lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.ir import LEAF_OPS
from ..core.program import Compiled, fill_partial, op_counts
from .fastpath import MathPrinter
from .layout import one_line
from .owned import first_exprs, fresh_adjoint, owned
from .pending import INLINE_BUDGET, pending, shared_backward
from .printer import Printer
from .prologue import prologue, shape_checks


@dataclass
class Line:
    """One statement of generated code, ``lhs op rhs``, and what the reader is told about it:
    ``comment``, the chain rule of a backward line, and ``note``, why a forward line is written
    the way it is (a stable form). ``layout.statement_lines`` lays them out in 100 columns."""

    lhs: str
    rhs: str
    op: str = "="
    comment: str = ""
    note: str = ""

    def __post_init__(self):
        self.comment = one_line(self.comment)
        self.note = one_line(self.note)

    @property
    def text(self) -> str:
        """The statement without its comment (``del a, b`` for a line that drops names)."""
        if self.op == "del":
            return f"del {self.rhs}"
        return f"{self.lhs} {self.op} {self.rhs}"


@dataclass
class Plan:
    """The emitted program: names of nodes, and the lines of each function."""

    names: dict[int, str]
    forward: list[Line] = field(default_factory=list)  # the lines forward() runs
    forward_full: list[Line] = field(default_factory=list)  # the forward lines value_and_grad runs
    backward: list[Line] = field(default_factory=list)
    predict: list[Line] = field(default_factory=list)
    grads: list[tuple[str, str]] = field(default_factory=list)  # (wrt name, expression)
    output: str = ""
    output_constant: str = ""  # a constant J: its value as printed (3, 0.5, _math.pi)
    prediction: str = ""
    forward_ops: int = 0
    backward_ops: int = 0
    uses_math: bool = False
    helpers: list[str] = field(default_factory=list)
    modules: list[tuple[str, str]] = field(default_factory=list)  # (module, alias) to import
    predict_args: list[str] = field(default_factory=list)  # what predict() reads (params first)
    prologue: list[str] = field(default_factory=list)  # argument conversion and shape check
    predict_prologue: list[str] = field(default_factory=list)  # the same for predict()
    printer_class: type | None = None  # what printed the lines (hvp prints backward ones again)


def _cosmetic(c: Compiled, v: int) -> bool:
    """Nodes that read better inline when used once: negation, reciprocal, conditions, masks."""
    g = c.graph
    node = g.nodes[v]
    if node.op == "mul":
        return len(node.args) == 2 and g.is_const(node.args[0], -1)
    if node.op == "pow":
        return g.is_const(node.args[1], -1)
    if node.op == "where":
        return g.is_const(node.args[2], 1)
    return node.op in ("lt", "le", "gt", "ge", "eq", "ne", "and", "or", "not", "transpose")


def plan(c: Compiled, math: bool = False, printer_class: type | None = None) -> Plan:
    """The lines of every function; ``math=True`` prints the Python-float fast path instead
    (``MathPrinter``: the same lines, the same order of operations, ``_math`` calls).

    The steps: count uses, name the nodes, print the forward lines, the backward lines and
    the gradients, then the prologues that convert and check the arguments."""
    g = c.graph
    fwd_set, bwd_reads, uses = _use_counts(c)
    namer = _Namer(c, fwd_set)
    namer.name_forward(uses)
    namer.name_adjoints()
    printer = (printer_class or (MathPrinter if math else Printer))(g, namer.names)
    out = Plan(namer.names, printer_class=type(printer))
    _forward_lines(out, c, printer, bwd_reads)
    out.forward_ops, out.backward_ops = op_counts(c)
    first_expr = first_exprs(c)
    out.backward = _backward_lines(c, printer, namer, out.output, first_expr)
    out.grads = _grads(c, printer, first_expr, fwd_set, math)
    if g.nodes[c.output].shape == (1, 1):
        out.output = f"{_paren(out.output)}[0, 0]"  # a 1×1 matrix J is returned as a float
    _prologues(out, c, printer)
    out.uses_math, out.modules = printer.uses_math, sorted(printer.modules.items())
    out.helpers = sorted(printer.helpers)
    return out


def _use_counts(c: Compiled) -> tuple[set[int], set[int], dict[int, int]]:
    """The forward nodes (the cone of J and the prediction), the forward values the backward
    pass reads (some only predict() needs), and each node's use count over everything any
    function computes."""
    g = c.graph
    roots = [c.output] + ([c.prediction] if c.prediction is not None else [])
    fwd_set = set(g.cone(roots))
    uses: dict[int, int] = {}
    bwd_nodes = set()
    bwd_reads = set()
    stack = [u.expr for u in c.updates]
    while stack:
        v = stack.pop()
        if v in fwd_set:
            bwd_reads.add(v)
            continue
        if v in bwd_nodes:
            continue
        bwd_nodes.add(v)
        stack.extend(g.nodes[v].args)
    for v in list(fwd_set) + list(bwd_nodes):
        for a in g.nodes[v].args:
            uses[a] = uses.get(a, 0) + 1
    for r in roots + [u.expr for u in c.updates]:
        uses[r] = uses.get(r, 0) + 1
    return fwd_set, bwd_reads, uses


class _Namer:
    """The names of the emitted code: the circuit's own, ``_t0, _t1…`` for temporaries (in
    the order they are asked for, skipping names taken) and ``_d_<name>`` for adjoints (the
    notes' dJ/d<name>)."""

    def __init__(self, c: Compiled, fwd_set: set[int]):
        self.c, self.fwd_set = c, fwd_set
        g = c.graph
        # a step the output does not use has no forward line: its node, if the backward pass
        # builds it again (atan's 1 + x**2 where a dead step t = x**2), is a backward value
        self.names = {v: n for v, n in c.names.items() if v in fwd_set or g.nodes[v].op in LEAF_OPS}
        self.taken = set(self.names.values())
        self.counter = 0

    def fresh(self) -> str:
        """The next free temporary name, taken."""
        while True:
            name = f"_t{self.counter}"
            self.counter += 1
            if name not in self.taken:
                self.taken.add(name)
                return name

    def name_forward(self, uses: dict[int, int]) -> None:
        """A temporary for every forward node without a name, except a cosmetic one (``-y``,
        a comparison) used once, which reads better inline, unless the chain it ends prints
        more than ``INLINE_BUDGET`` nodes."""
        c, g = self.c, self.c.graph
        size: dict[int, int] = {}  # how many nodes an inlined node prints (its own, its inlined)
        roots = [c.output] + ([c.prediction] if c.prediction is not None else [])
        for v in g.cone(roots):
            node = g.nodes[v]
            if node.op in LEAF_OPS or node.op == "bool" or v in self.names:
                continue
            if v not in c.adjoint and uses.get(v, 0) <= 1 and _cosmetic(c, v):
                size[v] = 1 + sum(size.get(a, 0) for a in node.args)
                if size[v] <= INLINE_BUDGET:
                    continue  # a long chain (an And of many comparisons) still gets lines
            self.names[v] = self.fresh()

    def name_adjoints(self) -> None:
        """``_d_<name>`` for each adjoint (``_d__name`` or trailing ``_`` when that is taken)."""
        for target, leaf in sorted(self.c.adjoint.items()):
            base = self.names[target]
            name = "_d_" + base.lstrip("_")
            if name in self.taken:
                name = "_d_" + base
            while name in self.taken:
                name += "_"
            self.taken.add(name)
            self.names[leaf] = name


def _display(c: Compiled, printer: Printer, v: int) -> str:
    """How a comment names node ``v``: its name (``J`` for an output named ``_J``), else its
    printed expression."""
    names = printer.names
    if v == c.output and names.get(v) == "_J":
        return "J"
    return names[v] if v in names else printer.expr(v)


def _forward_lines(out: Plan, c: Compiled, printer: Printer, bwd_reads: set[int]):
    """The forward lines of forward(), value_and_grad() and predict(), and how each returns
    J and the prediction."""
    g, names = c.graph, printer.names

    def lines_of(cone_nodes) -> list[Line]:
        lines = []
        for v in cone_nodes:
            if v in names and g.nodes[v].op not in LEAF_OPS and g.nodes[v].op != "bool":
                lines.append(Line(names[v], _rhs(printer, v), note=_note(c, printer, v)))
        return lines

    out.forward = lines_of(g.cone([c.output]))
    out.forward_full = lines_of(g.cone([c.output, *sorted(bwd_reads)]))
    if c.prediction is not None:
        out.predict = lines_of(g.cone([c.prediction]))
        out.prediction = (
            names[c.prediction] if c.prediction in names else printer.expr(c.prediction)
        )
    out.output = names[c.output] if c.output in names else printer.expr(c.output)
    # a constant J is a float, never an int, in the arguments' dtype (float32 in, float32 out);
    # (the printer's frame says how: the math fast path runs before the prologue defines _dt)
    if g.nodes[c.output].op == "const":
        out.output_constant = out.output
        out.output = printer.typed(out.output)
    if c.prediction is not None and g.nodes[c.prediction].op == "const":
        out.prediction = printer.typed(out.prediction)


def _backward_lines(c, printer, namer: _Namer, output: str, first_expr) -> list[Line]:
    """The seed (unless folded), then each update, preceded by the shared backward values it
    needs that have no line yet."""
    names = printer.names
    lines = []
    if c.output in c.adjoint and not c.seed_folded:
        J = _display(c, printer, c.output)
        seed = printer.seed(output)
        lines.append(Line(names[c.adjoint[c.output]], seed, comment=f"d{J}/d{J} = 1"))
    emitted: set[int] = set()
    shared = shared_backward(c, namer.fwd_set)
    for u in c.updates:
        for v in pending(c, u.expr, namer.fwd_set, emitted, shared):
            names[v] = namer.fresh()
            lines.append(Line(names[v], _rhs(printer, v)))
            emitted.add(v)
        lines.append(_update_line(c, printer, u, first_expr, namer.fwd_set))
    return lines


def _update_line(c: Compiled, printer: Printer, u, first_expr, fwd_set) -> Line:
    """One contribution to an adjoint: ``=`` for the first, else ``+=``/``-=`` in place when
    the adjoint owns its array, or ``x = x + (...)`` when it does not."""
    target = printer.names[c.adjoint[u.target]]
    comment = _chain_comment(c, printer, u)
    rhs = printer.expr(u.expr)
    if u.first:
        return Line(target, rhs, "=", comment)
    # a negated contribution is subtracted: `_d_y -= _d_t * x`, not `_d_y += -_d_t * x`
    neg = printer._negated(u.expr)
    sign, term = ("-", printer._wrap_term(neg, 0)) if neg is not None else ("+", _paren(rhs))
    if not printer.IN_PLACE or not owned(c, first_expr[u.target], u.target, fwd_set):
        # the first contribution was another adjoint, a view or a smaller (broadcast)
        # value (or the backend's arrays may be immutable): never add into it in place
        return Line(target, f"{target} {sign} {term}", "=", comment)
    return Line(target, rhs if neg is None else term, f"{sign}=", comment)


def _chain_comment(c: Compiled, printer: Printer, u) -> str:
    """The chain rule of one contribution, ``dJ/dt += dJ/du * du/dt,  du/dt = cos(t)``; a
    contribution from J itself is its local partial alone (``dJ/du = -sin(u)``)."""
    J = _display(c, printer, c.output)
    src, tgt = _display(c, printer, u.source), _display(c, printer, u.target)
    args = [_display(c, printer, a) for a in c.graph.nodes[u.source].args]
    partial = fill_partial(u.partial, src, args)
    if u.source == c.output:
        return f"d{J}/d{tgt} = {partial}"
    return f"d{J}/d{tgt} += d{J}/d{src} * d{src}/d{tgt},  d{src}/d{tgt} = {partial}"


def _grads(c: Compiled, printer: Printer, first_expr, fwd_set, math: bool):
    """The gradient dict's ``(name, expression)`` items: each adjoint reduced to its
    parameter's shape, copied only when the backward pass may share its array."""
    g, names = c.graph, printer.names
    if math:  # Python floats: the adjoints are the gradients, nothing to reduce or copy
        return [
            (name, names[c.adjoint[leaf]] if leaf is not None and leaf in c.adjoint else "0.0")
            for name, leaf in c.wrt
        ]
    grads = []
    for name, leaf in c.wrt:
        if leaf is None or leaf not in c.adjoint:
            grads.append((name, printer.zeros_like(name)))
            continue
        adj = c.adjoint[leaf]
        if g.nodes[adj].shape != g.nodes[leaf].shape and g.nodes[leaf].shape != ():
            # the adjoint stands for its broadcast (a scalar seed): materialise it
            full = printer.broadcast_to(names[adj], f"{name}.shape")
            grads.append((name, printer.helper("_reduce", f"{full}, {name}")))
        elif g.nodes[leaf].shape != () and fresh_adjoint(c, leaf, first_expr, fwd_set):
            # a matrix whose adjoint is a fresh array of its shape (X.T @ G): no copy
            grads.append((name, printer.helper("_own", f"{names[adj]}, {name}")))
        elif fresh_adjoint(c, leaf, first_expr, fwd_set):
            # an array the backward pass made for this parameter alone: no copy
            grads.append((name, printer.helper("_reduce", f"{names[adj]}, {name}, True")))
        else:
            grads.append((name, printer.helper("_reduce", f"{names[adj]}, {name}")))
    return grads


def _prologues(out: Plan, c: Compiled, printer: Printer) -> None:
    """The argument conversion and shape check opening each function; predict() takes the
    parameters and the data inputs its prediction reads (not the target)."""
    g = c.graph
    if c.prediction is not None:
        read = {g.nodes[v].attrs[0] for v in g.cone([c.prediction]) if g.nodes[v].op == "sym"}
        wrt_names = [n for n, _ in c.wrt]
        out.predict_args = wrt_names + [n for n in c.inputs if n in read]
        out.predict_prologue = prologue(c, out.predict_args, [c.prediction])
    everything = [c.output] + [u.expr for u in c.updates]  # what forward or the backward reads
    out.prologue = prologue(c, [n for n, _ in c.wrt] + c.inputs, everything)
    if shape_checks(c):
        printer.helpers.add("_bind")
    prologues = out.prologue + out.predict_prologue
    if printer.PYTHON_FLOATS and any("_f64(" in line for line in prologues):
        printer.helpers.add("_f64")  # the fast test of an argument that may be a Python float


def output_display(p: Plan) -> str:
    """What forward()'s docstring says J is, beside its name."""
    if p.output_constant:
        return f"the constant {p.output_constant}, a float of the arguments' dtype"
    return "J" if p.output == "_J" else p.output


def _paren(text: str) -> str:
    return text if text.replace("_", "a").isalnum() else f"({text})"


def _rhs(printer: Printer, v: int) -> str:
    """The right-hand side of v's own line: v printed as if it had no name."""
    name = printer.names.pop(v)
    try:
        return printer.expr(v)
    finally:
        printer.names[v] = name


def _note(c: Compiled, printer: Printer, v: int) -> str:
    notes = [c.graph.notes[a] for a in _inlined(c, v, printer.names) if a in c.graph.notes]
    return "; ".join(notes)


def _inlined(c: Compiled, v: int, names) -> list[int]:
    """v and the nodes printed inline inside v's line."""
    out, stack = [], [v]
    while stack:
        x = stack.pop()
        out.append(x)
        stack.extend(a for a in c.graph.nodes[x].args if a not in names)
    return out
