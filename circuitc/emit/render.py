"""The module's source text: the plan's pre-printed lines laid out by the Jinja templates.

``render_context`` gathers everything a template may print (names, signatures, the plans of
the NumPy and ``math`` paths, metadata); the templates do no arithmetic.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import jinja2

from .._version import __version__
from ..core.program import Compiled
from . import lincomb
from .fastpath import FastPrinter, has_math_path
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
    wrapped_lines,
)
from .memory import TEMPORARY, keep_names, schedule
from .plan import Plan, output_display, plan
from .printer import Printer
from .shape import fast_plan
from .tangent_context import tangent_context
from .tiny import tiny_context

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
        if line.op == "del":  # memory planning drops names: `del a, b`, laid out as ruff does
            one = f"del {line.rhs}"
            fits = indent + len(one) <= WIDTH
            out += [one] if fits else wrapped_lines("del (", line.rhs.split(", "), ")", indent)
            continue
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
    p, fast = module_plans(c, printer_class)
    tiny = tiny_context(c, printer_class)
    p, plain = stacked_plans(c, p, printer_class)
    circuit = c.circuit
    args = [name for name, _ in c.wrt] + c.inputs
    source, steps_text = _header_text(circuit)
    context = dict(
        bodies=memory_plan(c, p, args),
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
        grad_call=grad_call(args),
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
        uses_math=p.uses_math or fast is not None or bool(tiny["tiny"] and tiny["tiny"].uses_math),
        fast=fast,
        float_guard=condition([f"_type({a}) is _float" for a in args], "and"),
        helpers=[name.lstrip("_") for name in p.helpers],
        output_display=output_display(p),
        # J is an argument or a view of one (A.T): returned as a copy, never the caller's array
        output_is_input=c.graph.nodes[c.output].op in ("sym", "transpose", "slice"),
    )
    context |= tiny
    if not c.second_order:  # jvp, hvp and jacobian only raise an error that says why
        return context | dict(second_order=False, second_order_why=c.second_order_why)
    context |= tangent_context(c, plain, args, printer_class or Printer)
    if printer_class is None:  # the NumPy module: jvp and hvp planned as value_and_grad is
        context["bodies"] |= tangent_memory_plan(c, plain, context)
    return context | {"second_order": True}


#: CPython compiles a call in time quadratic in its keyword arguments (it compares every pair
#: for a duplicate: 20,000 take 6 s), so ``grad`` passes more than this many as one dict
KEYWORD_CALL_MAX = 255


def grad_call(args: list[str]) -> str:
    """``grad``'s call of ``value_and_grad``: ``x=x`` keywords, or ``**{"x": x, ...}`` for
    more than ``KEYWORD_CALL_MAX`` arguments (as ruff lays it out)."""
    if len(args) <= KEYWORD_CALL_MAX:
        return wrapped("return _value_and_grad(", [f"{a}={a}" for a in args], ")[1]", indent=4)
    items = "".join(f'            "{a}": {a},\n' for a in args)
    return f"return _value_and_grad(\n        **{{\n{items}        }}\n    )[1]"


class ModulePrinter(Printer):
    """The NumPy path of an emitted module: ``x**2`` of a named value as ``x * x``."""

    SQUARES = True


def stacked_plans(c: Compiled, p: Plan, printer_class) -> tuple[Plan, Plan]:
    """The NumPy path's plan with its wide sums of theta * x as one product (``lincomb.py``),
    and the plan itself, which jvp, hvp and jacobian print (``tangent.py``, ``hvp.py``), with
    the helpers of both; another backend's plan stays as it is."""
    if printer_class is not None:
        return p, p
    stacked = lincomb.rewrite(c, p, ModulePrinter(c.graph, p.names))
    return stacked, replace(p, helpers=stacked.helpers)


def module_plans(c: Compiled, printer_class: type | None = None) -> tuple[Plan, Plan | None]:
    """The NumPy path's plan and the fast path's (None without one), printed for the module
    (``x**2`` as ``x * x``; the fast path rewritten by ``shape.py``); ``printer_class``: another
    backend's printer, which gets no fast path."""
    if printer_class is not None:
        return plan(c, printer_class=printer_class), None
    p = plan(c, printer_class=ModulePrinter)
    if not has_math_path(c):
        return p, None
    return p, fast_plan(plan(c, math=True, printer_class=FastPrinter))


def memory_plan(c: Compiled, p: Plan, args: list[str]) -> dict[str, list]:
    """The NumPy path's function bodies after memory planning (``memory.py``): single-use
    temporaries folded into the line that reads them, every local dropped at its last use.

    Keys: ``forward`` (one part), ``value_and_grad`` (the forward part, the backward part),
    ``predict`` (one part). The plan's own lines are untouched: ``table`` and ``trace`` read them.
    """
    grads = " ".join(expr for _, expr in p.grads)
    arg_set = set(args)
    quiet = constant_names(c, p)
    return dict(
        forward=schedule([p.forward], keep_names(p.output), arg_set, quiet)[0],
        value_and_grad=schedule(
            [p.forward_full, p.backward], keep_names(p.output, grads), arg_set, quiet
        ),
        predict=schedule([p.predict], keep_names(p.prediction), arg_set, quiet)[0],
    )


def tangent_memory_plan(c: Compiled, p: Plan, context: dict) -> dict[str, list]:
    """jvp's and hvp's bodies after memory planning, as ``memory_plan`` plans value_and_grad's:
    the forward part, then the tangent part (hvp's: the backward lines and their tangents), so
    a forward value is dropped after the last tangent line that reads it. The tangents of the
    parameters (``_dot_W``, possibly the caller's arrays) are never dropped.

    Keys: ``jvp`` and ``hvp``, each [forward part, tangent part]."""
    t = context["tangents"]
    arg_set = set(context["args"]) | set(t.tangent_args)
    quiet = constant_names(c, p)
    jvp_keep = keep_names(p.output, t.jvp_out, context["jvp_like"])
    hvp_keep = keep_names(*(expr for _, expr in t.hvp_out))
    hvp = [t.hvp_forward, t.hvp_tangents + t.hvp_backward]
    movable = tangent_temporaries(p)
    return dict(
        jvp=schedule([t.jvp_forward, t.jvp], jvp_keep, arg_set, quiet, movable),
        hvp=schedule(hvp, hvp_keep, arg_set, quiet, movable),
    )


def tangent_temporaries(p: Plan):
    """Which names a fold may move in jvp and hvp: the emitter's temporaries (``_t7``) and
    their tangents (``_dot_t7``, the tangent of ``_t7``), never the tangent of a name of the
    circuit's (a step ``t7``'s tangent is ``_dot_t7`` too: then neither moves)."""
    own = {name for name in p.names.values() if not name.startswith("_")}

    def movable(name: str) -> bool:
        if TEMPORARY.fullmatch(name):
            return True
        return (
            TEMPORARY.fullmatch(name[4:]) is not None
            and name.startswith("_dot_t")
            and name[5:] not in own
        )

    return movable


def constant_names(c: Compiled, p: Plan) -> set[str]:
    """Names of values that read no argument (``1 / N``): numbers, never arrays to drop."""
    g = c.graph
    reads_arg = [False] * len(g.nodes)
    for v, node in enumerate(g.nodes):  # ids are topological: arguments before their users
        reads_arg[v] = node.op in ("sym", "adj") or any(reads_arg[a] for a in node.args)
    return {name for v, name in p.names.items() if not reads_arg[v]}
