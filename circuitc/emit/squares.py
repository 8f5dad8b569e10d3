"""Strength reduction in the emitted module: ``x**2`` of a named value printed ``x * x``.

Exact: one correctly rounded product, which is what NumPy computes for an array's ``**2``; a
float's or a NumPy scalar's ``**2`` calls the C library's ``pow``, an ulp off at some points, so
the reduction also makes the ``math`` fast path agree with NumPy's arrays. The views (``circuitc
table``, ``graph``) print ``x**2`` as the notes write it: only printers with ``SQUARES`` reduce.
"""

from __future__ import annotations


def square_text(printer, base: int, exponent) -> str | None:
    """``x * x`` when the printer's class sets ``SQUARES``, the exponent is 2 and the base has a
    name; else None (a base printed inline would be computed twice)."""
    if not getattr(printer, "SQUARES", False) or exponent != 2 or base not in printer.names:
        return None
    name = printer.names[base]
    return f"{name} * {name}"
