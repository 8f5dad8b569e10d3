"""Names and dimensions as the front end accepts them: the checks every symbol goes through.

A symbol's name becomes code in the emitted module, so it must be a plain, public Python
identifier; a matrix dimension is an integer or such a name.
"""

from __future__ import annotations

import keyword
import unicodedata

import sympy as sp

from ..errors import CircuitError


def check_name(name: str) -> None:
    """Refuse a symbol name that is not a plain, public Python identifier (it becomes code)."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise CircuitError(f"symbol name {name!r} is not a Python identifier")
    if unicodedata.normalize("NFKC", name) != name:
        # Python reads the identifier as its NFKC form ('ﬁ' is 'fi'): two names could become one
        raise CircuitError(
            f"symbol name {name!r} is not in NFKC normal form; Python would read it as "
            f"{unicodedata.normalize('NFKC', name)!r}"
        )
    if name.startswith("_"):
        raise CircuitError(f"symbol name {name!r} starts with '_', which circuitc keeps for itself")


def dim(d) -> int | str:
    """A matrix dimension as the IR keeps it: an ``int``, or the name of a dimension symbol."""
    if isinstance(d, (int, sp.Integer)):
        return int(d)
    if isinstance(d, sp.Symbol):
        check_name(d.name)
        return d.name
    raise CircuitError(f"matrix dimension {d} must be an integer or a symbol")
