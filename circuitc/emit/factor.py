"""Factoring adjoint sums that share a factor, for the ``math`` fast path: ``g·a + g·b`` is
computed ``g·(a + b)``, one multiplication fewer per shared term.

The backward sweep writes an adjoint that several nodes feed as one line per contribution
(``_d_t = _d_u * 3``, then ``_d_t += _d_u * _math.cos(t)``); after copy propagation the
contributions often share the adjoint they were passed (``_d_u``). This pass gathers the lines
that build one adjoint and, when two or more contributions share a factor, writes them as one
line where the shared factors multiply the sum of what is left of each contribution.

Not exact: ``g·a + g·b`` and ``g·(a + b)`` round differently. Every contribution is a product
(of factors, and divisors), so the rewrite only reassociates products and keeps the terms of
the sum in their order; its first-order rounding-error bound is never above the original's
(``|a + b| ≤ |a| + |b|``). docs/design.md (Conventions) states the fast path's bound; the
NumPy path is never factored.
"""

from __future__ import annotations

import ast

from .memory import MAX_RHS, reads
from .plan import Line
from .terms import ATOM, Operand, Term, as_term, sum_text


def factor_sums(lines: list[Line]) -> list[Line]:
    """``lines`` with each adjoint built by two or more contributions that share a factor
    written as one line, at the place of its last contribution (the operands of the earlier
    ones are never bound again in between, else the adjoint is left as it is)."""
    merged: dict[int, Line] = {}
    dropped: set[int] = set()
    for name, members in _accumulations(lines):
        terms = [_contribution(lines[i], name) for i in members]
        if not _movable(lines, members):
            continue
        text = _combine(terms)
        if text is None or len(text) > MAX_RHS:
            continue
        dropped.update(members[:-1])
        merged[members[-1]] = Line(name, text)
    return [merged.get(i, line) for i, line in enumerate(lines) if i not in dropped]


def _accumulations(lines: list[Line]) -> list[tuple[str, list[int]]]:
    """Each run of lines that builds one name: ``x = e`` then ``x += e``, ``x -= e`` or
    ``x = x ± e``, with no other line reading or binding ``x`` in between."""
    open_runs: dict[str, list[int]] = {}
    runs: list[tuple[str, list[int]]] = []
    for i, line in enumerate(lines):
        if line.op == "del":
            continue
        for name in reads(line.rhs):
            if name in open_runs and name != line.lhs:
                runs.append((name, open_runs.pop(name)))  # read: the sum is complete
        if line.lhs in open_runs and _adds_to(line):
            open_runs[line.lhs].append(i)
            continue
        if line.lhs in open_runs:
            runs.append((line.lhs, open_runs.pop(line.lhs)))
        if line.op == "=" and line.lhs not in reads(line.rhs):
            open_runs[line.lhs] = [i]
    runs.extend(open_runs.items())
    return [(name, members) for name, members in runs if len(members) > 1]


def _adds_to(line: Line) -> bool:
    """``x += e``, ``x -= e``, or ``x = x + e`` / ``x = x - e`` where ``e`` does not read x."""
    if line.op in ("+=", "-="):
        return line.lhs not in reads(line.rhs)
    body = ast.parse(line.rhs, mode="eval").body
    return (
        line.op == "="
        and isinstance(body, ast.BinOp)
        and isinstance(body.op, (ast.Add, ast.Sub))
        and isinstance(body.left, ast.Name)
        and body.left.id == line.lhs
        and line.lhs not in reads(ast.get_source_segment(line.rhs, body.right) or "")
    )


def _movable(lines: list[Line], members: list[int]) -> bool:
    """True when no name an earlier contribution reads is bound again before the last one."""
    last = members[-1]
    for i in members[:-1]:
        names = set(reads(lines[i].rhs)) - {lines[i].lhs}
        if any(lines[j].lhs in names for j in range(i + 1, last + 1) if lines[j].op != "del"):
            return False
    return True


def _contribution(line: Line, name: str) -> Term:
    """What a line adds to ``name``, as a signed product."""
    text, sign = line.rhs, -1 if line.op == "-=" else 1
    if line.op == "=":
        node = ast.parse(text, mode="eval").body
        if isinstance(node, ast.BinOp) and isinstance(node.left, ast.Name) and node.left.id == name:
            sign = -1 if isinstance(node.op, ast.Sub) else 1  # x = x ± e
            text = ast.get_source_segment(text, node.right) or ""
    term = as_term(text)
    term.sign *= sign
    return term


def _combine(terms: list[Term]) -> str | None:
    """The sum of ``terms`` with those that share factors grouped: the factor most terms
    share first, each group's common factors times the sum of the rest (a group stands where
    its first term stood, the others keep their order). None when no two terms share a
    factor that leaves each of them something to add."""
    place = {id(t): i for i, t in enumerate(terms)}
    out: list[tuple[int, Term]] = []
    rest = list(terms)
    while True:
        common, members = _best_group(rest)
        if not members:
            break
        inner = Operand(f"({sum_text([_without(t, common) for t in members])})", ATOM)
        out.append((place[id(members[0])], Term(1, common + [inner])))
        rest = [t for t in rest if all(t is not m for m in members)]
    if not out:
        return None
    out += [(place[id(t)], t) for t in rest]
    return sum_text([t for _, t in sorted(out, key=lambda pair: pair[0])])


def _best_group(terms: list[Term]) -> tuple[list[Operand], list[Term]]:
    """The factors shared by every term that has the most widely shared factor, and those
    terms; ([], []) when no factor is in two terms or factoring would leave a term empty."""
    count: dict[str, int] = {}
    for t in terms:
        for text in dict.fromkeys(f.text for f in t.factors):
            count[text] = count.get(text, 0) + 1
    for text, n in sorted(count.items(), key=lambda kv: -kv[1]):  # stable: first seen first
        if n < 2:
            break
        members = [t for t in terms if any(f.text == text for f in t.factors)]
        common = members[0].factors
        for t in members[1:]:
            common = _shared(common, t.factors)
        if all(len(t.operands) > len(common) for t in members):
            return common, members
    return [], []


def _shared(a: list[Operand], b: list[Operand]) -> list[Operand]:
    """The factors of ``a`` that are also in ``b``, as a multiset, in ``a``'s order."""
    left = list(b)
    out = []
    for f in a:
        if f in left:
            left.remove(f)
            out.append(f)
    return out


def _without(term: Term, common: list[Operand]) -> Term:
    """``term`` with the factors of ``common`` taken out (one occurrence each), what is left
    multiplied before it divides."""
    left = list(term.operands)
    for f in common:
        left.remove(f)
    return Term(term.sign, [o for o in left if o.op == "*"] + [o for o in left if o.op == "/"])
