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
from .layout import condition, one_line, shape_tuple, wrapped_lines
from .owned import first_exprs, fresh_adjoint, owned
from .printer import Printer


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
    checks: list[str] = field(default_factory=list)  # call-time shape checks (matrix arguments)
    predict_args: list[str] = field(default_factory=list)  # what predict() reads (params first)
    predict_checks: list[str] = field(default_factory=list)  # the checks of those arguments
    prologue: list[str] = field(default_factory=list)  # argument conversion and shape check
    predict_prologue: list[str] = field(default_factory=list)  # the same for predict()


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
    (``MathPrinter``: the same lines, the same order of operations, ``_math`` calls)."""
    g = c.graph
    roots = [c.output] + ([c.prediction] if c.prediction is not None else [])
    fwd = g.cone(roots)
    fwd_set = set(fwd)
    # use counts over everything any function computes
    uses: dict[int, int] = {}
    bwd_nodes = set()
    bwd_reads = set()  # forward values the backward reads (some only predict() needs)
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

    # a step the output does not use has no forward line: its node, if the backward pass
    # builds it again (atan's 1 + x**2 where a dead step t = x**2), is a backward value
    names = {v: n for v, n in c.names.items() if v in fwd_set or g.nodes[v].op in LEAF_OPS}
    counter = 0

    def fresh() -> str:
        nonlocal counter
        while True:
            name = f"_t{counter}"
            counter += 1
            if name not in taken:
                taken.add(name)
                return name

    taken = set(names.values())
    for v in fwd:
        node = g.nodes[v]
        if node.op in LEAF_OPS or node.op == "bool" or v in names:
            continue
        if v not in c.adjoint and uses.get(v, 0) <= 1 and _cosmetic(c, v):
            continue
        names[v] = fresh()
    # adjoint names: _d_<name>, the notes' dJ/d<name>
    for target, leaf in sorted(c.adjoint.items()):
        base = names[target]
        name = "_d_" + base.lstrip("_")
        if name in taken:
            name = "_d_" + base
        while name in taken:
            name += "_"
        taken.add(name)
        names[leaf] = name

    printer = (printer_class or (MathPrinter if math else Printer))(g, names)
    out = Plan(names)

    def display(v: int) -> str:
        if v == c.output and names.get(v) == "_J":
            return "J"
        return names[v] if v in names else printer.expr(v)

    def forward_lines(cone_nodes) -> list[Line]:
        lines = []
        for v in cone_nodes:
            if v in names and g.nodes[v].op not in LEAF_OPS and g.nodes[v].op != "bool":
                lines.append(Line(names[v], _rhs(printer, v), note=_note(c, printer, v)))
        return lines

    out.forward = forward_lines(g.cone([c.output]))
    out.forward_full = forward_lines(g.cone([c.output, *sorted(bwd_reads)]))
    if c.prediction is not None:
        out.predict = forward_lines(g.cone([c.prediction]))
        out.prediction = (
            names[c.prediction] if c.prediction in names else printer.expr(c.prediction)
        )
    out.output = names[c.output] if c.output in names else printer.expr(c.output)
    # a constant J is a float, never an int, in the arguments' dtype (float32 in, float32 out);
    # the math fast path runs before the prologue defines _dt
    const_type = "_np.float64" if math else "_dt.type"
    if g.nodes[c.output].op == "const":
        out.output_constant = out.output
        out.output = f"{const_type}({out.output})"
    if c.prediction is not None and g.nodes[c.prediction].op == "const":
        out.prediction = f"{const_type}({out.prediction})"
    out.forward_ops, out.backward_ops = op_counts(c)

    # backward: the seed, then the updates, each preceded by the shared temporaries it needs
    J = display(c.output)
    emitted: set[int] = set()
    if c.output in c.adjoint and not c.seed_folded:
        seed = names[c.adjoint[c.output]]
        one = "1.0" if math else f"_ones_like({out.output})"
        out.backward.append(Line(seed, one, comment=f"d{J}/d{J} = 1"))
    first_expr = first_exprs(c)
    for u in c.updates:
        for v in _pending(c, u.expr, names, fwd_set, emitted):
            names[v] = fresh()
            out.backward.append(Line(names[v], _rhs(printer, v)))
            emitted.add(v)
        target = names[c.adjoint[u.target]]
        src, tgt = display(u.source), display(u.target)
        args = [display(a) for a in g.nodes[u.source].args]
        partial = fill_partial(u.partial, src, args)
        if u.source == c.output:  # a contribution from J itself: its local partial alone
            comment = f"d{J}/d{tgt} = {partial}"
        else:
            comment = f"d{J}/d{tgt} += d{J}/d{src} * d{src}/d{tgt},  d{src}/d{tgt} = {partial}"
        rhs = printer.expr(u.expr)
        # a negated contribution is subtracted: `_d_y -= _d_t * x`, not `_d_y += -_d_t * x`
        neg = None if u.first else printer._negated(u.expr)
        sign, term = ("-", printer._wrap_term(neg, 0)) if neg is not None else ("+", _paren(rhs))
        if u.first:
            out.backward.append(Line(target, rhs, "=", comment))
        elif not owned(c, first_expr[u.target], u.target, fwd_set):
            # the first contribution was another adjoint, a view or a smaller (broadcast)
            # value: never add into it in place
            out.backward.append(Line(target, f"{target} {sign} {term}", "=", comment))
        else:
            out.backward.append(Line(target, rhs if neg is None else term, f"{sign}=", comment))
    for name, leaf in c.wrt:
        if leaf is not None and leaf in c.adjoint:
            adj = c.adjoint[leaf]
            if g.nodes[adj].shape != g.nodes[leaf].shape and g.nodes[leaf].shape != ():
                # the adjoint stands for its broadcast (a scalar seed): materialise it
                out.grads.append(
                    (name, f"_reduce(_np.broadcast_to({names[adj]}, {name}.shape), {name})")
                )
            elif g.nodes[leaf].shape != () and fresh_adjoint(c, leaf, first_expr, fwd_set):
                # a matrix whose adjoint is a fresh array of its shape (X.T @ G): no copy
                printer.helpers.add("_own")
                out.grads.append((name, f"_own({names[adj]}, {name})"))
            elif fresh_adjoint(c, leaf, first_expr, fwd_set):
                # an array the backward pass made for this parameter alone: no copy
                out.grads.append((name, f"_reduce({names[adj]}, {name}, True)"))
            else:
                out.grads.append((name, f"_reduce({names[adj]}, {name})"))
        else:
            out.grads.append((name, f"_zeros_like({name})"))
    if g.nodes[c.output].shape == (1, 1):
        out.output = f"{_paren(out.output)}[0, 0]"  # a 1×1 matrix J is returned as a float
    out.checks = _shape_checks(c)
    if c.prediction is not None:
        # predict() needs the parameters and the data inputs the prediction reads, not the target
        read = {g.nodes[v].attrs[0] for v in g.cone([c.prediction]) if g.nodes[v].op == "sym"}
        wrt_names = [n for n, _ in c.wrt]
        out.predict_args = wrt_names + [n for n in c.inputs if n in read]
        out.predict_checks = _shape_checks(c, out.predict_args)
        out.predict_prologue = _prologue(c, out.predict_args)
    out.prologue = _prologue(c, [n for n, _ in c.wrt] + c.inputs)
    if out.checks:
        printer.helpers.add("_bind")
    if math:  # Python floats: the adjoints are the gradients, nothing to reduce or copy
        out.grads = [
            (name, names[c.adjoint[leaf]] if leaf is not None and leaf in c.adjoint else "0.0")
            for name, leaf in c.wrt
        ]
    out.uses_math, out.modules = printer.uses_math, sorted(printer.modules.items())
    out.helpers = sorted(printer.helpers)
    return out


def _shape_checks(c: Compiled, names: list[str] | None = None) -> list[str]:
    """The call-time check of the matrix arguments' shapes (of ``names``, default all), which
    also binds the dimensions."""
    specs = []
    names = [n for n, _ in c.wrt] + c.inputs if names is None else names
    for name in names:
        shape = c.shapes.get(name, ())
        if shape:
            want = ", ".join(str(d) if isinstance(d, int) else f'"{d}"' for d in shape)
            want += "," if len(shape) == 1 else ""  # a one-entry shape is still a tuple
            specs.append(f'("{name}", {name}, ({want}))')
    if not specs:
        return []
    dims = sorted({d for n in names for d in c.shapes.get(n, ()) if isinstance(d, str)})
    names = "".join(f'"{d}", ' for d in dims).rstrip(" ")
    target = "" if not dims else (f"({dims[0]},) = " if len(dims) == 1 else f"{', '.join(dims)} = ")
    return wrapped_lines(f"{target}_bind(", [f"({names})", *specs], ")", indent=8)


#: up to this many arguments, a call whose arguments are all float64 arrays skips ``_dtype`` and
#: ``_arg`` (one ``type``/``dtype`` test per argument instead of a pass over all of them)
FAST_ARGS_MAX = 16


def _prologue(c: Compiled, names: list[str]) -> list[str]:
    """The lines that open a function: the arguments as NumPy floats, then their shape check.

    Float64 arrays (the usual call) need no conversion: a cheap test skips ``_dtype``/``_arg``.
    The shapes are compared as tuples, the dimensions read off the first argument that has
    them; ``_bind`` (which words the error) runs only when that comparison fails.
    """
    fast = 0 < len(names) <= FAST_ARGS_MAX
    dtype_call = wrapped_lines("_dt = _dtype(", names, ")", indent=8 if fast else 4)
    convert = dtype_call + [f'{a} = _arg({a}, _dt, "{a}")' for a in names]
    if fast:
        # one test a line when they do not fit on one: ruff's layout of a long `and` chain
        tests = [t for a in names for t in (f"_type({a}) is _ndarray", f"{a}.dtype is _float64")]
        lines = condition(tests, "and")
        lines += ["    _dt = _float64  # float64 arrays: nothing to convert", "else:"]
        lines += ["    " + line for line in convert]
    else:
        lines = convert
    bind = _shape_checks(c, names)
    if not bind:
        return lines
    specs = [(n, c.shapes[n]) for n in names if c.shapes.get(n, ())]
    dims = sorted({d for _, shape in specs for d in shape if isinstance(d, str)})
    for d in dims:
        name, shape = next((n, s) for n, s in specs if d in s)
        lines.append(f"{d} = {name}.shape[{shape.index(d)}] if {name}.ndim == {len(shape)} else -1")
    lines += condition([f"{n}.shape != {shape_tuple(s)}" for n, s in specs], "or")
    lines += ["    " + line for line in bind]
    return lines


def output_display(p: Plan) -> str:
    """What forward()'s docstring says J is, beside its name."""
    if p.output_constant:
        return f"the constant {p.output_constant}, a float of the arguments' dtype"
    return "J" if p.output == "_J" else p.output


#: circuits with more nodes than this get no ``math`` fast path: it would double a long module
#: for a per-call saving that matters only when the arithmetic is a few dozen operations
MATH_PATH_MAX_NODES = 1000


def has_math_path(c: Compiled) -> bool:
    """True when the module gets a ``math`` fast path for Python floats: every node is a
    scalar that ``MathPrinter`` prints exactly, J is computed (not a constant), and the
    circuit is small."""
    g = c.graph
    if g.nodes[c.output].op == "const" or len(g.nodes) > MATH_PATH_MAX_NODES:
        return False
    return MathPrinter.supports(g, range(len(g.nodes)))


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


def _pending(c: Compiled, expr: int, names, fwd_set, emitted) -> list[int]:
    """Backward-only nodes under ``expr`` that need a line before it (shared ones), in id order."""
    g = c.graph
    found, stack, seen = [], [expr], set()
    while stack:
        v = stack.pop()
        if v in seen or v in fwd_set or v in emitted or g.nodes[v].op in LEAF_OPS:
            continue
        seen.add(v)
        if v != expr and _shared(c, v):
            found.append(v)
        stack.extend(g.nodes[v].args)
    if _shared(c, expr) and expr not in emitted:
        found.append(expr)
    return sorted(found)


def _shared(c: Compiled, v: int) -> bool:
    return c.graph.nodes[v].op not in LEAF_OPS and _backward_uses(c).get(v, 0) > 1


def _backward_uses(c: Compiled) -> dict[int, int]:
    cached = getattr(c, "_bwd_uses", None)
    if cached is not None:
        return cached
    g = c.graph
    fwd_set = set(g.cone([c.output] + ([c.prediction] if c.prediction is not None else [])))
    uses: dict[int, int] = {}
    seen = set()
    stack = []
    for u in c.updates:
        uses[u.expr] = uses.get(u.expr, 0) + 1
        stack.append(u.expr)
    while stack:
        v = stack.pop()
        if v in seen or v in fwd_set:
            continue
        seen.add(v)
        for a in g.nodes[v].args:
            uses[a] = uses.get(a, 0) + 1
            stack.append(a)
    c._bwd_uses = uses
    return uses
