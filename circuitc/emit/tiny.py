"""The tiny-shape path: a matrix circuit called with every dimension 1 (one instance).

A per-instance SGD step on logistic regression calls ``value_and_grad`` with a 1×31 row:
the activation, the loss and every adjoint but θ's are 1×1, so the NumPy path spends most of
its time dispatching NumPy calls on one number each. Under a guard (every argument a float64
array of exactly its shape with every dimension 1, or a Python float for a scalar), forward()
and value_and_grad() run the tiny path first: the same lines printed by ``TinyPrinter`` (the
1×1 values as Python floats, bit for bit the NumPy path's), then rewritten by the exact
passes of the ``math`` fast path (``shape.py``: copies dropped, single-use values inline; not
its factoring, which rounds differently). Anything else, and
a call where Python raises (a division by zero, an ``exp`` that would overflow), runs the
NumPy path, which stays the notes' table line for line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..core.program import Compiled
from .fastpath import MATH_PATH_MAX_NODES, has_math_path
from .layout import WIDTH, condition, long_statement, shape_tuple, statement_lines
from .memory import count_uses, fold, reads
from .owned import first_exprs, fresh_adjoint
from .plan import Line, Plan, plan
from .shape import propagate_copies
from .tiny_printer import UNSUPPORTED, TinyPrinter, scalar_nodes, tiny_shape


@dataclass
class TinyPath:
    """What the template prints for the tiny path of forward() and value_and_grad()."""

    guard: list[str]  # ``if (...):`` lines
    forward: list[str]  # forward()'s body, laid out: ``N = 1``, ``_f_y = y.item()``, the lines
    output_forward: str
    vjp: list[str]  # value_and_grad's body, laid out
    output: str
    grads: list[str] = field(default_factory=list)  # the gradient dict's lines, laid out
    helpers: list[str] = field(default_factory=list)  # ``tiny_sigmoid``: template macros used
    uses_math: bool = False


def _value_nodes(c: Compiled) -> list[int]:
    """Every node value_and_grad computes: the cone of J and of the adjoint updates."""
    return c.graph.cone([c.output] + [u.expr for u in c.updates])


def has_tiny_path(c: Compiled) -> bool:
    """True when the module gets a tiny path: a matrix circuit (no ``math`` fast path) whose J
    is one number, with some matrix value that is 1×1 once every dimension is 1 (else nothing
    is saved), every op one the tiny printer prints, and at most ``MATH_PATH_MAX_NODES`` nodes."""
    g = c.graph
    if has_math_path(c) or g.nodes[c.output].op == "const":
        return False
    if g.nodes[c.output].shape not in ((), (1, 1)):
        return False  # J per instance: the NumPy path returns it as an array
    nodes = _value_nodes(c)
    if len(nodes) > MATH_PATH_MAX_NODES or any(g.nodes[v].op in UNSUPPORTED for v in nodes):
        return False
    scalar = scalar_nodes(c, nodes)
    return any(g.nodes[v].shape not in ((), (1, 1)) and g.nodes[v].args for v in scalar)


def tiny_path(c: Compiled) -> TinyPath | None:
    """The tiny path's lines, or None when the circuit has none (``has_tiny_path``)."""
    if not has_tiny_path(c):
        return None
    scalar = frozenset(scalar_nodes(c, range(len(c.graph.nodes))))
    printers: list[TinyPrinter] = []

    def make(graph, names):
        printers.append(TinyPrinter(graph, names, scalar))
        return printers[-1]

    raw = plan(c, printer_class=make)
    printer = printers[-1]
    output = _float_output(c, raw.output)
    grads = _grads(c, raw, scalar)
    keep = {n for text in [output] + [e for _, e in grads] for n in reads(text)}
    forward = _exact_passes(raw.forward, keep)
    lines = _exact_passes(raw.forward_full + raw.backward, keep)
    grad_reads = " ".join(expr for _, expr in grads)
    return TinyPath(
        guard=guard(c),
        forward=body_lines(_unpack(printer, forward, output) + forward),
        output_forward=output,
        vjp=body_lines(_unpack(printer, lines, f"{output} {grad_reads}") + lines),
        output=output,
        grads=entry_lines(grads),
        helpers=sorted(h.lstrip("_") for h in printer.tiny_helpers),
        uses_math=printer.uses_math,
    )


def _exact_passes(lines: list[Line], keep: set[str]) -> list[Line]:
    """The exact passes of ``shape.py`` over one body: copies propagated (the seed ``1.0``
    too), single-use values folded into their readers. Not factoring, which rounds
    differently: the tiny path keeps the NumPy path's values bit for bit."""
    lines = propagate_copies(lines, keep)
    lines = fold(lines, keep, count_uses(lines), movable=_any, anywhere=True)
    return propagate_copies(lines, keep)


def _any(name: str) -> bool:
    """Any local the tiny path binds may be folded (the arguments are never bound)."""
    return True


def _unpack(printer: TinyPrinter, lines: list[Line], output: str) -> list[Line]:
    """``N = 1`` for each dimension ``lines`` read, ``_f_y = y.item()`` for each 1×1 matrix
    argument they read as a float."""
    used = {n for line in lines for n in reads(line.rhs)} | set(reads(output))
    out = [Line(d, "1") for d in sorted(printer.dims) if d in used]
    out += [Line(f, f"{n}.item()") for n, f in sorted(printer.unpacked.items()) if f in used]
    return out


def _float_output(c: Compiled, output: str) -> str:
    """J as the tiny path returns it: a 1×1 J is a float already (no ``[0, 0]``)."""
    if c.graph.nodes[c.output].shape == (1, 1) and output.endswith("[0, 0]"):
        output = output[: -len("[0, 0]")]
        if output.startswith("(") and output.endswith(")"):
            output = output[1:-1]
    return output


def guard(c: Compiled) -> list[str]:
    """The test that a call takes the tiny path: each matrix argument a float64 ndarray of its
    shape with every dimension 1, each scalar argument a Python float. The arguments with a
    dimension come first, each one's shape before its dtype: a batch fails at the second test,
    so the NumPy path's calls pay for two tests, not all of them."""
    names = [n for n, _ in c.wrt] + c.inputs
    batched = [n for n in names if any(isinstance(d, str) for d in c.shapes.get(n, ()))]
    tests = []
    for name in batched + [n for n in names if n not in batched]:
        shape = c.shapes.get(name, ())
        if shape == ():
            tests.append(f"_type({name}) is _float")
            continue
        tests.append(f"_type({name}) is _ndarray")
        tests.append(f"{name}.shape == {shape_tuple(tiny_shape(shape))}")
        tests.append(f"{name}.dtype is _float64")
    return condition(tests, "and")


def _grads(c: Compiled, raw: Plan, scalar) -> list[tuple[str, str]]:
    """The gradient dict's items: a scalar parameter's float, a 1×1 matrix parameter's float
    as a fresh 1×1 array, a matrix parameter's fresh adjoint as it is (the guard made every
    array float64), any other adjoint (a view, a broadcast seed) copied to its shape."""
    g, names = c.graph, raw.names
    roots = [c.output] + ([c.prediction] if c.prediction is not None else [])
    first, fwd = first_exprs(c), set(g.cone(roots))
    out = []
    for name, leaf in c.wrt:
        shape = g.nodes[leaf].shape if leaf is not None else c.shapes.get(name, ())
        if leaf is None or leaf not in c.adjoint:
            zeros = f"_np.zeros({shape_tuple(tiny_shape(shape))})"
            out.append((name, "0.0" if shape == () else zeros))
            continue
        adj = c.adjoint[leaf]
        text = names[adj]
        if shape == ():
            out.append((name, text))
        elif adj in scalar:  # a 1×1 parameter, or a broadcast seed: an array of its shape
            out.append((name, f"_np.full({shape_tuple(tiny_shape(shape))}, {text})"))
        elif fresh_adjoint(c, leaf, first, fwd):
            out.append((name, text))
        else:
            out.append((name, f"_np.array({text})"))
    return out


def tiny_context(c: Compiled, printer_class: type | None) -> dict:
    """The template's ``tiny`` (None: no tiny path; another backend never gets one)."""
    return {"tiny": None if printer_class is not None else tiny_path(c)}


# -- layout: the few forms of the tiny path that ``layout.long_statement`` does not break ------
#: the tiny path's statements sit at this column (inside ``if (...):`` and ``try:``)
INDENT = 12


def body_lines(lines: list[Line], indent: int = INDENT) -> list[str]:
    """The tiny path's statements as ``ruff format`` lays them out in ``WIDTH`` columns (the
    lines without the indent): ``x = y.item()`` and ``x = a.dot(b).item()`` that do not
    fit break as ruff breaks them, everything else as ``statement_lines`` does."""
    out = []
    for line in lines:
        text = f"{line.lhs} {line.op} {line.rhs}"
        if line.op == "del" or indent + len(text) <= WIDTH:
            out += [line.text] if line.op == "del" else [text]
        elif _DOT.fullmatch(line.rhs):
            a, b = _DOT.fullmatch(line.rhs).groups()
            out += [f"{line.lhs} {line.op} {a}.dot(", f"    {b}", ").item()"]
        elif _ITEM.fullmatch(line.rhs):
            out += [f"{line.lhs} {line.op} (", "    " + line.rhs, ")"]
        else:
            out += statement_lines((line.lhs, line.op, line.rhs), indent=indent)
    return out


def entry_lines(items: list[tuple[str, str]], indent: int = INDENT + 4) -> list[str]:
    """The gradient dict's ``"name": value,`` lines; a name too long for its line in
    parentheses of its own, as ruff keeps it."""
    out = []
    for name, expr in items:
        if indent + len(f'"{name}": {expr},') > WIDTH and expr.isidentifier():
            out += [f'"{name}": (', f"    {expr}", "),"]
            continue
        lines = long_statement(f'"{name}": ', expr, indent)
        out += lines[:-1] + [lines[-1] + ","]
    return out


#: ``a.dot(b).item()`` of two names, ``y.item()`` of one
_DOT = re.compile(r"([A-Za-z_]\w*(?:\.T)?)\.dot\(([A-Za-z_]\w*(?:\.T)?)\)\.item\(\)")
_ITEM = re.compile(r"[A-Za-z_]\w*\.item\(\)")
