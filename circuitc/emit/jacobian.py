"""``jacobian()`` in either mode. Reverse mode: the forward lines once, then one backward pass
per entry of the output, its adjoint seeded with that entry's one-hot; each pass gives one row
of the Jacobian (d out[k] / dp for every parameter p).

The backward pass is the output's own sweep (``Compiled.jac_updates``, built beside J's),
planned by ``plan.plan`` exactly as ``value_and_grad``'s is: the same names, chain-rule
comments and in-place rules. It is printed as a private function of the seed and of the
forward values it reads, ``_backward_of_output(_seed, /, *, ...)``, whose seed line
``_d_y = _seed`` replaces ``_d_y = _ones_like(y)``. ``jacobian()`` runs the forward lines and
hands the values to the ``_jacobian_rows`` helper, which loops over the output's entries: the
emitted functions stay straight-line (no loop over elements, no recursion) and nothing is
computed twice.

Forward mode has the same shape: ``jacobian()`` runs the forward lines once and the
``_jacobian`` helper runs the tangent pass ``_tangent_of_output(_tangents, /, *, ...)`` once per
parameter entry, along its one-hot (``forward_jacobian``; the tangent lines are
``tangent.py``'s).
"""

from __future__ import annotations

import io
import textwrap
import tokenize
from dataclasses import dataclass, field, replace

from ..core.program import Compiled
from .layout import WIDTH, comment_lines, signature, wrapped
from .plan import Line, Plan, plan
from .printer import Printer


@dataclass
class ReverseJacobian:
    """The lines of a reverse-mode ``jacobian()`` and of the backward pass it runs."""

    prologue: list[str] = field(default_factory=list)
    forward: list[Line] = field(default_factory=list)
    backward: list[Line] = field(default_factory=list)
    rows: list[tuple[str, str]] = field(default_factory=list)  # (parameter, its row)
    output: str = ""  # the output's name in jacobian()
    backward_def: str = ""
    call: str = ""  # jacobian()'s return statement
    forward_ops: int = 0
    backward_ops: int = 0
    helpers: set[str] = field(default_factory=set)
    modules: list[tuple[str, str]] = field(default_factory=list)
    uses_math: bool = False


def output_compiled(c: Compiled, inputs: list[str]) -> Compiled:
    """``c`` seen as a circuit whose output is the jacobian's (the prediction, else J) and whose
    backward pass is that output's sweep; ``inputs``: the data inputs the output reads."""
    return replace(
        c,
        output=c.jac_output,
        updates=c.jac_updates,
        adjoint=c.jac_adjoint,
        prediction=None,
        seed_folded=False,
        inputs=inputs,
    )


def reverse_jacobian(c: Compiled, inputs: list[str]) -> ReverseJacobian:
    """The lines of the reverse-mode ``jacobian()``; ``inputs``: the data inputs it reads."""
    c2 = output_compiled(c, inputs)
    p = plan(c2, printer_class=Printer)
    out = ReverseJacobian(prologue=p.prologue, forward=p.forward_full)
    out.forward_ops, out.backward_ops = p.forward_ops, p.backward_ops
    out.output = p.names[c2.output]
    seed = p.backward[0]  # the seed line d(out)/d(out) = 1: the given seed instead
    y = "J" if out.output == "_J" else out.output
    out.backward = [
        Line(seed.lhs, "_seed", comment=f"d{y}/d{y} is the seed, not 1"),
        *p.backward[1:],
    ]
    params = [name for name, _ in c.wrt]
    for name, leaf in c.wrt:
        row = _row(c2, p, name, leaf)
        if row is not None:
            out.rows.append((name, row))
    reads = _free_names(
        out.backward,
        {line.lhs for line in out.forward} | set(params) | set(inputs) | set(c.dims) | {"_dt"},
    )
    out.backward_def = wrapped(
        "def _backward_of_output(",
        ["_seed", "/", *(signature(reads, []) if reads else [])],
        ") -> dict[str, _Arg]:",
    )
    out.call = _call("_jacobian_rows", ["_backward_of_output", out.output], params, reads)
    out.helpers = set(p.helpers) | {"_jacobian_rows"}
    out.modules, out.uses_math = p.modules, p.uses_math
    return out


@dataclass
class ForwardJacobian:
    """The lines of a forward-mode ``jacobian()`` beyond ``TangentPlan``'s: the tangent pass
    as a function of the tangents and of the forward values it reads, and the call."""

    unpack: list[Line] = field(default_factory=list)  # each parameter's tangent
    tangent_def: str = ""
    call: str = ""  # jacobian()'s return statement
    forward_ops: int = 0
    tangent_ops: int = 0


def forward_jacobian(c: Compiled, tangents, inputs: list[str]) -> ForwardJacobian:
    """``jacobian()`` in forward mode: its forward lines (``tangents.jac_forward``) run once,
    then ``_jacobian`` runs ``_tangent_of_output`` (``tangents.jac``) once per parameter entry,
    along that entry's one-hot; ``inputs``: the data inputs jacobian() reads."""
    out = ForwardJacobian()
    params = [name for name, _ in c.wrt]
    for (name, _), dot in zip(c.wrt, tangents.tangent_args, strict=True):
        out.unpack.append(Line(dot, f'_tangent(_tangents, "{name}", {name}, _dt)'))
    result = Line("", f"_tangent_out({tangents.jac_out}, {tangents.jac_like}, _dt)")
    known = {line.lhs for line in tangents.jac_forward} | set(params) | set(inputs)
    reads = _free_names([*out.unpack, *tangents.jac, result], known | set(c.dims) | {"_dt"})
    out.tangent_def = wrapped(
        "def _tangent_of_output(", ["_tangents", "/", *signature(reads, [])], ") -> _Arg:"
    )
    out.call = _call("_jacobian", ["_tangent_of_output", tangents.jac_like], params, reads)
    return out


def _call(helper: str, first: list[str], params: list[str], values: list[str]) -> str:
    """``return helper(*first, {params}, {values})`` laid out as ruff does at column 4: one line,
    else one argument a line, a dict too long for its line one entry a line."""
    dicts = [_dict_text(params, 8), _dict_text(values, 8)]
    return wrapped(f"return {helper}(", [*first, *dicts], ")", indent=4)


def _dict_text(names: list[str], indent: int) -> str:
    """``{"a": a, "b": b}``, or one entry a line when that passes ``WIDTH`` at ``indent``."""
    one = "{" + ", ".join(f'"{n}": {n}' for n in names) + "}"
    if indent + len(one) + 1 <= WIDTH:
        return one
    pad = " " * (indent + 4)
    return "{\n" + "".join(f'{pad}"{n}": {n},\n' for n in names) + " " * indent + "}"


def _free_names(lines: list[Line], known: set[str]) -> list[str]:
    """The names of ``known`` that ``lines`` read before (or without) assigning them, in the
    order they are first read: what the backward function takes as arguments."""
    assigned: set[str] = set()
    found: list[str] = []
    for line in lines:
        for name in _names_read(line.rhs):
            if name in known and name not in assigned and name not in found:
                found.append(name)
        assigned.add(line.lhs)
    return found


def _names_read(text: str) -> list[str]:
    """The variable names an expression reads (not attributes: ``T`` of ``W.T`` is none)."""
    out, prev = [], None
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NAME and not (prev is not None and prev.string == "."):
            out.append(tok.string)
        prev = tok
    return out


def _row(c2: Compiled, p: Plan, name: str, leaf: int | None) -> str | None:
    """Row k of d(out)/d(name): the parameter's adjoint (``_jacobian_rows`` broadcasts one
    that stands for its broadcast as it stores it), reduced to a scalar parameter's shape;
    None when the output does not read the parameter (its rows stay zero)."""
    if leaf is None or leaf not in c2.adjoint:
        return None
    adjoint = p.names[c2.adjoint[leaf]]
    if c2.graph.nodes[leaf].shape == ():
        return f"_reduce({adjoint}, {name})"
    return adjoint


def _claim(taken: set[str], name: str) -> str:
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def mode_comment(c: Compiled) -> list[str]:
    """The comment above ``JACOBIAN_MODE``: the mode and why (wrapped to the module's width)."""
    return comment_lines(
        [f"jacobian() is emitted in {c.jacobian_mode} mode: {c.jacobian_reason}"], 0
    )


def docstring(text: str, indent: int = 4, quotes: bool = False) -> str:
    """A docstring paragraph for a function body at column ``indent``; ``quotes``: the
    paragraph is the whole docstring, its triple quotes on its first and last lines."""
    pad = " " * indent
    width = WIDTH - indent - (3 if quotes else 0)
    return textwrap.fill(
        text, width, subsequent_indent=pad, break_on_hyphens=False, break_long_words=False
    )
