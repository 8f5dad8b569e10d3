"""What the lowering of a ``Piecewise`` needs to know about its parts: the sub-expressions two
parts share (computed once, under the enclosing mask) and, per branch, a point inside the
bounds its condition puts on each input (the value a masked input takes)."""

from __future__ import annotations

import sympy as sp


def shared_between_branches(e: sp.Piecewise) -> list[sp.Basic]:
    """The sub-expressions that more than one part of ``e`` reads (its branch values and its
    conditions count as parts): numbers, not symbols (a branch masks its inputs by name) and
    not conditions. The walk does not enter a nested Piecewise (the nested one finds its own),
    so each level costs the size of its own parts, and the whole nesting stays linear."""
    reached: dict[int, int] = {}  # id -> the first part that reached it, or -1 for two parts
    found: list[sp.Basic] = []
    for part, (value, cond) in enumerate(e.args):
        for root in (value, cond):
            stack = [root]
            while stack:
                sub = stack.pop()
                if sub.is_Atom or isinstance(sub, (sp.Symbol, sp.MatrixSymbol)):
                    continue
                key = id(sub)
                first = reached.get(key)
                if first is None:
                    reached[key] = part
                    if not isinstance(sub, sp.Piecewise):
                        stack.extend(sub.args)
                elif first not in (part, -1):
                    reached[key] = -1
                    if not isinstance(sub, sp.logic.boolalg.Boolean):
                        found.append(sub)
    return found


_BOUNDS = (sp.StrictGreaterThan, sp.GreaterThan, sp.StrictLessThan, sp.LessThan)


def satisfying(cond) -> dict:
    """Per symbol name, a number inside the bounds that ``cond`` (a comparison of a symbol
    with a number, or an ``And`` of them) puts on it: c + 1 above c, c - 1 below, the middle
    between two bounds. Symbols without such a bound are left out."""
    rels = cond.args if isinstance(cond, sp.And) else (cond,)
    lo: dict[str, sp.Expr] = {}
    hi: dict[str, sp.Expr] = {}
    for r in rels:
        if not isinstance(r, _BOUNDS):
            continue
        sym, num, above = r.lhs, r.rhs, isinstance(r, (sp.StrictGreaterThan, sp.GreaterThan))
        if isinstance(num, sp.Symbol) and isinstance(sym, sp.Number):
            sym, num, above = num, sym, not above
        if not (isinstance(sym, sp.Symbol) and isinstance(num, sp.Number) and num.is_finite):
            continue
        (lo if above else hi)[sym.name] = num
    out = {}
    for name in sorted(set(lo) | set(hi)):
        if name in lo and name in hi:
            if lo[name] < hi[name]:
                out[name] = (lo[name] + hi[name]) / 2
        else:
            out[name] = lo[name] + 1 if name in lo else hi[name] - 1
    return out
