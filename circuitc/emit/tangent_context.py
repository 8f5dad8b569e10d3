"""What the template's jvp, hvp and jacobian are given (render.py's context, continued)."""

from __future__ import annotations

from ..core.program import Compiled
from .hvp import hvp_lines
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
    helpers = set(p.helpers) | tangents.helpers | _always(tangents)
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
        **_jacobian_context(c, p, args, tangents),
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


def _always(tangents) -> set[str]:
    """The helpers jvp/hvp (and jacobian, for a matrix output) use in every module."""
    return {"_tangents", "_jacobian"} if tangents.jacobian else {"_tangents"}


def _jacobian_context(c: Compiled, p, args: list[str], tangents) -> dict:
    """jacobian() and the private function it runs: the prediction's arguments (the target
    optional) when it differentiates the prediction, else all of them."""
    if not tangents.jacobian:
        return {}
    if tangents.jacobian == "prediction":
        required, prologue = p.predict_args, p.predict_prologue
    else:
        required, prologue = args, p.prologue
    optional = [a for a in args if a not in required]
    wrt = [n for n, _ in c.wrt]
    given = "{" + ", ".join(f'"{a}": {a}' for a in required) + "}"
    return dict(
        jac_prologue=prologue,
        jac_tangent_def=wrapped(
            "def _tangent_of_output(",
            ["_tangents", "/", *signature(required, optional)],
            ") -> tuple[_Arg, _Arg]:",
        ),
        jacobian_def=wrapped(
            "def jacobian(", signature(required, optional), ") -> dict[str, _Arg]:"
        ),
        jacobian_call=wrapped(
            "return _jacobian(",
            [
                "_tangent_of_output",
                "(" + ", ".join(f'"{n}"' for n in wrt) + ("," if len(wrt) == 1 else "") + ")",
                given,
            ],
            ")",
            indent=4,
        ),
    )
