"""``circuitc cost``'s forward-vs-reverse rows (issue 13): the full gradient by forward mode
(one ``jvp`` pass per parameter entry) beside reverse mode's one pass, the notes' argument for
backpropagation in numbers, and what ``hvp`` costs beside the gradient."""

from __future__ import annotations

import math

from ..core.program import tangent_op_counts


def add_modes(report, c) -> None:
    """Fill a ``CostReport``'s forward-mode fields from the compiled circuit ``c``."""
    report.tangent_ops, report.hvp_ops = tangent_op_counts(c)
    report.entries = parameter_entries(c)
    if report.entries is not None:
        report.forward_mode_ops = report.entries * (report.forward_ops + report.tangent_ops)
    grad = report.forward_ops + report.backward_ops
    report.hvp_ratio = (grad + report.hvp_ops) / grad if grad else float("inf")


def parameter_entries(c) -> int | None:
    """How many numbers the parameters hold (None when a shape is a dimension symbol)."""
    total = 0
    for name, _ in c.wrt:
        shape = c.shapes[name]
        if any(isinstance(d, str) for d in shape):
            return None
        total += math.prod(shape)
    return total


def mode_rows(r) -> list[tuple[str, str]]:
    """(label, value) rows: reverse mode, forward mode, their ratio, and hvp."""
    grad = r.forward_ops + r.backward_ops
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
        ("hvp (forward over reverse)", f"{grad + r.hvp_ops} ops, {r.hvp_ratio:.2f} x the gradient"),
    ]
