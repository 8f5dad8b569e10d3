"""The module's source text: the plan's pre-printed lines laid out by the Jinja templates.

``render_context`` gathers everything a template may print (names, signatures, the plans of
the NumPy and ``math`` paths, metadata); the templates do no arithmetic.
"""

from __future__ import annotations

import functools

import jinja2

from .._version import __version__
from ..core.program import Compiled
from .fastpath import has_math_path
from .layout import (
    WIDTH,
    condition,
    long_statement,
    prose,
    shapes_text,
    short_text,
    signature,
    statement_lines,
    tuple_text,
    wrapped,
)
from .plan import output_display, plan
from .tangent_context import tangent_context

TEMPLATE = "module.py.j2"


def templates_dir():
    """The folder of the Jinja templates: the ``circuitc.templates`` package when installed
    (editable or wheel), else the repository's top-level ``templates/`` (a plain checkout)."""
    import importlib.resources
    from pathlib import Path

    try:
        return Path(str(importlib.resources.files("circuitc.templates")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "templates"


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The one Jinja environment: templates from the ``circuitc.templates`` package, with the
    filter ``lines | statements(indent, comments)`` that lays out a list of plan lines."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["statements"] = statements
    env.filters["entries"] = entries
    return env


def entries(items, indent: int = 8) -> list[str]:
    """The text lines of a dict's ``(name, expression)`` items, ``"name": expression,`` in a
    body at column ``indent`` (without it), a long one laid out as ruff does."""
    out = []
    for name, expr in items:
        lines = long_statement(f'"{name}": ', expr, indent)
        out += lines[:-1] + [lines[-1] + ","]
    return out


def statements(lines, indent: int = 4, comments: bool = True) -> list[str]:
    """The text lines of a list of plan ``Line`` objects in a body at column ``indent`` (without
    it), their comments and notes laid out, or left out when not ``comments``."""
    out = []
    for line in lines:
        code = (line.lhs, line.op, line.rhs)
        if comments:
            out += statement_lines(code, line.comment, line.note, indent)
        else:
            out += statement_lines(code, indent=indent)
    return out


def render(c: Compiled) -> str:
    """The module's source text."""
    return environment().get_template(TEMPLATE).render(**render_context(c))


def _header_text(circuit) -> tuple[str | None, list[str]]:
    """The circuit as the module's header comments show it: ``J = …`` and one ``name = …``
    a step, when they are short enough (at most 12 steps, each line within ``WIDTH``)."""
    source = short_text(circuit.output)
    if source is not None and len(f"# J = {source}") > WIDTH:
        source = None
    if source == "J":
        source = None  # the output is the step J, listed with the steps: no '# J = J'
    if circuit.steps and source is not None:
        source = None if len(circuit.steps) > 12 else source
    steps_text = []
    if circuit.steps and len(circuit.steps) <= 12:
        for sym, expr in circuit.steps:
            text = short_text(expr)
            if text is None or len(f"#   {sym.name} = {text}") > WIDTH:
                return source, []
            steps_text.append(f"{sym.name} = {text}")
    return source, steps_text


def render_context(c: Compiled, printer_class: type | None = None) -> dict:
    """What a module template is given; ``printer_class`` prints another backend (no fast path)."""
    p = plan(c, printer_class=printer_class)
    fast = plan(c, math=True) if printer_class is None and has_math_path(c) else None
    circuit = c.circuit
    args = [name for name, _ in c.wrt] + c.inputs
    source, steps_text = _header_text(circuit)
    context = dict(
        version=__version__,
        template=TEMPLATE,
        name=circuit.name,
        digest=c.digest,
        source=source,
        steps=steps_text,
        wrt=[name for name, _ in c.wrt],
        inputs=c.inputs,
        args=args,
        forward_def=wrapped("def forward(", signature(args, []), ") -> _Arg:"),
        value_and_grad_def=wrapped(
            "def value_and_grad(", signature(args, []), ") -> tuple[_Arg, dict[str, _Arg]]:"
        ),
        grad_def=wrapped("def grad(", signature(args, []), ") -> dict[str, _Arg]:"),
        grad_call=wrapped("return _value_and_grad(", [f"{a}={a}" for a in args], ")[1]", indent=4),
        predict_def=wrapped(
            "def predict(",
            signature(p.predict_args, [a for a in args if a not in p.predict_args]),
            ") -> _Arg:",
        ),
        wrt_text=prose(
            f"Parameters (the gradient is taken with respect to these): {', '.join(n for n, _ in c.wrt)}."
        ),
        inputs_text=prose(f"Data inputs: {', '.join(c.inputs)}."),
        features=[f.name for f in circuit.features] if circuit.features else [],
        target=circuit.target.name if circuit.target is not None else None,
        plan=p,
        wrt_tuple=tuple_text([name for name, _ in c.wrt], "WRT = "),
        inputs_tuple=tuple_text(c.inputs, "INPUTS = "),
        shapes_dict=shapes_text(args, c.shapes),
        features_tuple=tuple_text(
            [f.name for f in circuit.features] if circuit.features else [], "FEATURES = "
        ),
        uses_math=p.uses_math or fast is not None,
        fast=fast,
        float_guard=condition([f"_type({a}) is _float" for a in args], "and"),
        helpers=[name.lstrip("_") for name in p.helpers],
        output_display=output_display(p),
        # J is an argument or a view of one (A.T): returned as a copy, never the caller's array
        output_is_input=c.graph.nodes[c.output].op in ("sym", "transpose", "slice"),
    )
    return context | tangent_context(c, p, args)
