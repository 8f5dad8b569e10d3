"""``circuitc cost``'s forward-vs-reverse rows (issue 13): the full gradient by forward mode
(one ``jvp`` pass per parameter entry) beside reverse mode's one pass, the notes' argument for
backpropagation in numbers; what ``hvp`` runs beside the gradient; and, for a matrix output,
``jacobian()`` in both modes (n tangent passes or m backward passes) and the one emitted."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..core.program import hvp_op_counts, jacobian_op_counts, tangent_op_counts


@dataclass
class JacobianCost:
    """The ops of ``jacobian()`` in each mode (``core.program.jacobian_op_counts``)."""

    what: str  # "the prediction" or "J"
    mode: str  # the mode emitted
    forward: int  # forward mode: the forward lines, run once
    tangent: int  # forward mode: the tangent lines, run once per parameter entry
    reverse_forward: int  # reverse mode: the forward lines, run once
    backward: int  # reverse mode: the backward pass, run once per output entry
    outputs: int | None  # the output's entries (None: a symbolic size without --dims)
    entries: int | None  # the parameters' entries (likewise)

    @property
    def forward_mode(self) -> int | None:
        return None if self.entries is None else self.forward + self.entries * self.tangent

    @property
    def reverse_mode(self) -> int | None:
        return None if self.outputs is None else self.reverse_forward + self.outputs * self.backward


def add_modes(report, c, dims: dict[str, int] | None = None) -> None:
    """Fill a ``CostReport``'s forward-mode fields from the compiled circuit ``c`` (``dims``:
    sizes of the symbolic dimensions, for the jacobian's pass counts)."""
    report.tangent_ops, report.hvp_ops = tangent_op_counts(c)
    report.hvp_forward_ops, report.hvp_backward_ops, _ = hvp_op_counts(c)
    report.entries = parameter_entries(c)
    if report.entries is not None:
        report.forward_mode_ops = report.entries * (report.forward_ops + report.tangent_ops)
    grad = report.forward_ops + report.backward_ops
    hvp = report.hvp_forward_ops + report.hvp_backward_ops + report.hvp_ops
    report.hvp_ratio = hvp / grad if grad else float("inf")
    if c.jac_output is not None:
        counts = jacobian_op_counts(c)
        what = "the prediction" if c.jac_output == c.prediction else "J"
        outputs = _size(c.graph.nodes[c.jac_output].shape, dims or {})
        entries = parameter_entries(c, dims or {})
        report.jacobian = JacobianCost(what, c.jacobian_mode, *counts, outputs, entries)


def parameter_entries(c, dims: dict[str, int] | None = None) -> int | None:
    """How many numbers the parameters hold (None when a shape has a dimension symbol that
    ``dims`` does not size)."""
    total = 0
    for name, _ in c.wrt:
        size = _size(c.shapes[name], dims or {})
        if size is None:
            return None
        total += size
    return total


def _size(shape: tuple, dims: dict[str, int]) -> int | None:
    """The entries of a shape, its dimension symbols sized by ``dims`` (None: one is not)."""
    if any(isinstance(d, str) and d not in dims for d in shape):
        return None
    return math.prod(dims[d] if isinstance(d, str) else d for d in shape)


def mode_rows(r) -> list[tuple[str, str]]:
    """(label, value) rows: reverse mode, forward mode, their ratio, and hvp."""
    grad = r.forward_ops + r.backward_ops
    hvp = r.hvp_forward_ops + r.hvp_backward_ops + r.hvp_ops
    modes = r.forward_mode_ops
    entries = "?" if r.entries is None else str(r.entries)
    forward = (
        "unknown (a parameter's shape is symbolic)"
        if modes is None
        else f"{modes} ops ({r.forward_ops} + {r.tangent_ops} per pass)"
    )
    return [
        ("reverse mode, full gradient (1 pass)", f"{grad} ops"),
        (f"forward mode, full gradient ({entries} x jvp)", forward),
        ("forward / reverse", "-" if modes is None or not grad else f"{modes / grad:.2f}"),
        (
            "hvp (forward over reverse)",
            f"{hvp} ops ({r.hvp_forward_ops} + {r.hvp_backward_ops} + {r.hvp_ops}), "
            f"{r.hvp_ratio:.2f} x the gradient",
        ),
    ] + jacobian_rows(r.jacobian)


def jacobian_rows(j: JacobianCost | None) -> list[tuple[str, str]]:
    """(label, value) rows: jacobian() in forward and in reverse mode, and the mode emitted."""
    if j is None:
        return []
    n = "n" if j.entries is None else str(j.entries)
    m = "m" if j.outputs is None else str(j.outputs)
    fwd, rev = j.forward_mode, j.reverse_mode
    forward = f"{j.forward} + {n} tangent passes x {j.tangent} ops"
    reverse = f"{j.reverse_forward} + {m} backward passes x {j.backward} ops"
    out = [
        (f"jacobian of {j.what}", f"{j.mode} mode emitted (JACOBIAN_MODE)"),
        ("jacobian, forward mode", forward + (" (--dims sizes n)" if fwd is None else f" = {fwd}")),
        ("jacobian, reverse mode", reverse + (" (--dims sizes m)" if rev is None else f" = {rev}")),
    ]
    if fwd is not None and rev is not None:
        out.append(("jacobian, reverse / forward", f"{rev / fwd:.2f}" if fwd else "-"))
    return out
