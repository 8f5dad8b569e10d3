"""Which mode ``jacobian()`` is emitted in, decided at compile time from the static sizes.

The Jacobian of an output of m entries with respect to parameters of n entries in all takes
n tangent passes in forward mode (a column each) or m backward passes in reverse mode (a row
each: the output's adjoint seeded with the one-hot of one entry). Reverse mode is chosen when
both sizes are known at compile time and m < n. A symbolic dimension (the N rows of a batch)
leaves a size unknown until call time, and forward mode is kept. ``jacobian_mode`` forces one.

The backward sweep of the output is built for every matrix output, whichever mode is emitted:
``circuitc cost`` counts both modes from it.
"""

from __future__ import annotations

import math

from ..core.program import Compiled
from ..errors import CircuitError
from .reverse import sweep

#: what ``circuitc.compile(..., jacobian_mode=...)`` and ``--jacobian-mode`` take
JACOBIAN_MODES = ("auto", "forward", "reverse")

#: the tag of the jacobian sweep's adjoint leaves (never J's: see ``reverse.sweep``)
TAG = ("jacobian",)


def check_mode(asked: str) -> str:
    """``asked`` when it is a mode, else a CircuitError listing the modes."""
    if asked not in JACOBIAN_MODES:
        raise CircuitError(
            f"unknown jacobian mode {asked!r}; choose one of {', '.join(JACOBIAN_MODES)}"
        )
    return asked


def plan_jacobian(c: Compiled, asked: str = "auto") -> None:
    """Fill ``c``'s jacobian fields: the output differentiated (the prediction, else J), its
    backward sweep, and the mode with the reason. A scalar circuit has no jacobian."""
    check_mode(asked)
    node = c.prediction if c.prediction is not None else c.output
    if c.graph.nodes[node].shape == ():
        return
    c.jac_output = node
    c.jac_updates, c.jac_adjoint = sweep(c.graph, node, [nid for _, nid in c.wrt], TAG)
    c.jacobian_mode, c.jacobian_reason = choose_mode(c, asked)


def sizes(c: Compiled) -> tuple[int | None, int | None]:
    """The entries of the jacobian's output and of all parameters (None: a symbolic size)."""
    out_shape = c.graph.nodes[c.jac_output].shape
    out = None if any(isinstance(d, str) for d in out_shape) else math.prod(out_shape)
    params = 0
    for name, _ in c.wrt:
        shape = c.shapes[name]
        if any(isinstance(d, str) for d in shape):
            return out, None
        params += math.prod(shape)
    return out, params


def choose_mode(c: Compiled, asked: str) -> tuple[str, str]:
    """(mode, why): the mode ``jacobian()`` is emitted in and the sentence the module says."""
    what = "the prediction" if c.jac_output == c.prediction else "J"
    if c.jac_output not in c.jac_adjoint:
        return "forward", f"{what} does not depend on the parameters (its Jacobian is zero)"
    if asked != "auto":
        return asked, f"jacobian_mode={asked!r} asked for it"
    m, n = sizes(c)
    if m is None or n is None:
        return "forward", _symbolic(c, what)
    if m < n:
        return "reverse", (
            f"{what} has {m} entries, fewer than the parameters' {n}: one backward pass per "
            "output entry instead of one tangent pass per parameter entry"
        )
    return "forward", (
        f"the parameters have {n} entries, no more than the {m} of {what}: one tangent pass "
        "per parameter entry instead of one backward pass per output entry"
    )


def _symbolic(c: Compiled, what: str) -> str:
    """Why a size is unknown at compile time: the first symbolic dimension, and whose it is."""
    shapes = [(f"{what}'s shape", c.graph.nodes[c.jac_output].shape)]
    shapes += [(f"{name}'s shape", c.shapes[name]) for name, _ in c.wrt]
    for whose, shape in shapes:
        dims = [d for d in shape if isinstance(d, str)]
        if dims:
            text = "(" + ", ".join(str(d) for d in shape) + ")"
            return f"{whose} {text} has the symbolic dimension {dims[0]}, unknown until call time"
    return "a size is unknown until call time"
