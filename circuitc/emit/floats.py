"""Which scalar arguments may stay Python floats on the NumPy path, beside float64 arrays.

The prologue's fast test skips ``_dtype``/``_arg`` when every argument is a float64 array. A
circuit with scalar parameters over arrays of data (``theta_j * x_j``) is called with Python
floats for the parameters; converting each to a NumPy scalar costs more than the arithmetic
of a small circuit, and buys nothing where the float only meets arrays: NumPy treats a Python
float beside a float64 array as a float64 (the same IEEE operation on the same value, NEP 50),
and ``+``, ``-``, ``*`` and comparisons of two Python floats are the same IEEE operations as
NumPy's, ``inf`` and ``nan`` included, never an exception.

What a Python float does differently is raise where NumPy gives ``inf``/``nan``: ``x / 0``
(``ZeroDivisionError``), ``x**k`` past the largest float (``OverflowError``), a negative base
to a fractional power (a complex number). So an argument may stay a Python float only if no
value computed from Python floats alone reaches such an operator: ``may_stay_floats`` follows
the values that can be Python numbers (the argument, constants, and sums and products of
such values only) through every node any emitted function computes, and refuses the
arguments that reach a power printed with Python's ``**`` or ``/`` (``x * x`` for a named
square, ``_np.sqrt`` and ``_np.power`` are NumPy's). Everything else the printer writes is a
NumPy call, which takes a Python float as a float64.
"""

from __future__ import annotations

import sympy as sp

from ..core.program import Compiled


def may_stay_floats(c: Compiled, names: list[str]) -> set[str]:
    """The arguments among ``names`` (scalars: shape ``()``) that the fast test may accept as
    Python floats: no division or Python power is ever evaluated on Python numbers alone
    that come from them."""
    g = c.graph
    wanted = {n for n in names if c.shapes.get(n, ()) == ()}
    if not wanted:
        return set()
    python = [False] * len(g.nodes)  # may this node's value be a Python number?
    origin: dict[int, str] = {}  # an argument's leaf -> its name
    for v, node in enumerate(g.nodes):  # ids are topological: arguments before their users
        if node.op == "sym" and node.attrs[0] in wanted:
            python[v] = True
            origin[v] = node.attrs[0]
        elif node.op == "const":
            python[v] = True
        elif node.op in ("add", "mul"):
            python[v] = all(python[a] for a in node.args)
    risky = [
        node.args[0]
        for v, node in enumerate(g.nodes)
        if node.op == "pow" and python[node.args[0]] and not _numpy_power(g, v)
    ]
    return wanted - _sources(g, risky, python, origin)


def _numpy_power(g, v: int) -> bool:
    """Whether the power ``v`` is printed as NumPy's (or as ``x * x`` of a named value),
    never as Python's ``**`` or ``1 / x**k``, when its base is a Python float."""
    base, exponent = g.nodes[v].args
    if not g.is_const(exponent):
        return True  # _np.power(base, exponent)
    e = g.values[exponent]
    if abs(e) == sp.Rational(1, 2) or not isinstance(e, sp.Integer):
        return True  # _np.sqrt(base), _np.power(base, e); 1 / _np.sqrt(base) divides NumPy's
    if e.is_negative:
        return False  # 1 / base**k, 1 / (base * base): Python's division
    return e == 2 and g.nodes[base].op == "sym"  # name * name (emit/squares.py)


def _sources(g, roots: list[int], python: list[bool], origin: dict[int, str]) -> set[str]:
    """The arguments the Python-number values ``roots`` are computed from (one walk with an
    explicit stack: a sum of many parameters is a wide, deep tree)."""
    out: set[str] = set()
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        u = stack.pop()
        if u in seen or not python[u]:
            continue
        seen.add(u)
        if u in origin:
            out.add(origin[u])
        stack.extend(g.nodes[u].args)
    return out
