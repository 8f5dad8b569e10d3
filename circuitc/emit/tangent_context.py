"""What the template's jvp, hvp and jacobian are given (render.py's context, continued)."""

from __future__ import annotations

from ..core.program import Compiled, jacobian_op_counts
from .hvp import hvp_lines
from .jacobian import docstring, forward_jacobian, mode_comment, reverse_jacobian
from .layout import long_statement, signature, wrapped
from .plan import Plan
from .printer import Printer
from .tangent import forward_names, tangent_plan


def tangent_context(c: Compiled, p: Plan, args: list[str], printer_class=Printer) -> dict:
    """The forward-mode functions' lines and signatures, and the helpers they use beside
    ``plan``'s (the result overrides the context's ``helpers``); ``printer_class``: another
    backend's printer (its helpers take the namespace first: ``_tangent(_xp, …)``)."""
    tangents = tangent_plan(c, p, printer_class)
    xp = "" if printer_class is Printer else "_xp, "
    hvp_lines(c, p, tangents)
    jacobian = _jacobian_context(c, p, args, tangents)
    if "rev" in jacobian:  # its backward pass may call what J's does not (an import, math)
        p.modules = sorted(set(p.modules) | set(jacobian["rev"].modules))
        jacobian |= {"uses_math": True} if jacobian["rev"].uses_math else {}
    helpers = set(p.helpers) | tangents.helpers | _always(c, tangents) | jacobian.pop("helpers")
    return dict(
        helpers=[n.lstrip("_") for n in sorted(helpers)],
        tangents=tangents,
        jvp_def=wrapped(
            "def jvp(", ["_tangents", "/", *signature(args, [])], ") -> tuple[_Arg, _Arg]:"
        ),
        hvp_def=wrapped(
            "def hvp(", ["_vectors", "/", *signature(args, [])], ") -> dict[str, _Arg]:"
        ),
        jvp_unpack=_unpack(c, tangents, "_tangents", xp),
        hvp_unpack=_unpack(c, tangents, "_vectors", xp),
        jvp_like=_raw_output(c, p, printer_class),
        **jacobian,
    )


def _unpack(c: Compiled, t, given: str, xp: str = "") -> list[str]:
    """The tangent of each parameter from the dict ``given``: its keys checked, then
    ``_dot_x = _tangent(_vectors, "x", x, _dt)``, one line a parameter (``xp``: the array-API
    module's ``_xp, `` first and ``_dev`` last)."""
    lines = [f"_check_tangents({given})"]
    dev = ", _dev" if xp else ""
    for (name, _), dot in zip(c.wrt, t.tangent_args, strict=True):
        call = f'_tangent({xp}{given}, "{name}", {name}, _dt{dev})'
        lines += long_statement(f"{dot} = ", call, 4)
    return lines


def _raw_output(c: Compiled, p, printer_class=Printer) -> str:
    """J as computed (a 1×1 matrix not yet indexed): what J's tangent takes its shape from."""
    names = forward_names(c, p)
    if c.output in names:
        return names[c.output]
    return printer_class(c.graph, names).expr(c.output)


def _always(c: Compiled, tangents) -> set[str]:
    """The helpers jvp/hvp (and a forward-mode jacobian) use in every module."""
    forward = tangents.jacobian and c.jacobian_mode == "forward"
    return {"_tangents", "_jacobian"} if forward else {"_tangents"}


def _jacobian_context(c: Compiled, p, args: list[str], tangents) -> dict:
    """jacobian() and, in forward mode, the private function it runs: the prediction's
    arguments (the target optional) when it differentiates the prediction, else all of them.
    The ``helpers`` entry is what the reverse-mode lines call (popped by the caller)."""
    if not tangents.jacobian:
        return {"helpers": set()}
    if tangents.jacobian == "prediction":
        required, prologue = p.predict_args, p.predict_prologue
    else:
        required, prologue = args, p.prologue
    optional = [a for a in args if a not in required]
    what = tangents.jacobian
    whose = "the prediction" if what == "prediction" else "J"
    common = dict(
        jacobian_mode=c.jacobian_mode,
        jacobian_comment=mode_comment(c),
        jacobian_def=wrapped(
            "def jacobian(", signature(required, optional), ") -> dict[str, _Arg]:"
        ),
        jacobian_ops=jacobian_op_counts(c),
        jacobian_summary=docstring(
            f"Return d({what})/dp of each parameter p, shaped {what}.shape + p.shape."
        ),
    )
    if c.jacobian_mode == "reverse":
        return common | _reverse_context(c, required, whose)
    return common | _forward_context(c, required, prologue, tangents)


def _reverse_context(c: Compiled, required: list[str], whose: str) -> dict:
    """The reverse-mode jacobian(): its lines (``emit/jacobian.py``) and docstring."""
    rev = reverse_jacobian(c, [a for a in c.inputs if a in required])
    return dict(
        helpers=rev.helpers,
        rev=rev,
        rev_doc=docstring(
            f"One backward pass of {whose} (reverse mode), its adjoint seeded with _seed: the "
            f"gradient of sum(_seed * {whose.split()[-1]}), a row of the Jacobian when the seed "
            "is the one-hot of an entry.",
            quotes=True,
        ),
        jacobian_doc=docstring(
            f"Reverse mode ({c.jacobian_reason}): the forward lines once, then one backward "
            f"pass per entry of {whose}, its adjoint seeded with that entry's one-hot "
            "(a row of the Jacobian each)."
        ),
    )


def _forward_context(c: Compiled, required: list[str], prologue: list[str], tangents) -> dict:
    """The forward-mode jacobian(): its forward lines, then ``_jacobian`` running the tangent
    pass ``_tangent_of_output`` once per parameter entry."""
    fwd = forward_jacobian(c, tangents, [a for a in c.inputs if a in required])
    return dict(
        helpers=set(),
        fwd=fwd,
        jac_prologue=prologue,
        jac_tangent_doc=docstring(
            "One tangent pass of the output (forward mode) along _tangents: its derivative in "
            "that direction, a column of the Jacobian when the tangent is the one-hot of a "
            "parameter's entry.",
            quotes=True,
        ),
        jacobian_doc=docstring(
            f"Forward mode ({c.jacobian_reason}): the forward lines once, then one tangent "
            "pass per entry of the parameters, along that entry's one-hot (a column of the "
            "Jacobian each)."
        ),
    )
