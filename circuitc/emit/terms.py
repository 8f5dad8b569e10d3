"""Printed products as data, for the ``math`` fast path's passes (``factor.py``, ``strength.py``).

A right-hand side such as ``-_d_u * _math.cos(t) / 2`` is a ``Term``: a sign and its operands
in order, each with the operator that applies it (``*`` or ``/``), its text as printed and how
tightly it binds. Printing a ``Term`` back gives the same operations in the same order (a
unary minus moved onto the whole product, which IEEE 754 rounds symmetrically), with
parentheses exactly where Python's precedence needs them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

#: Python's precedence numbers: a sum, a product (``*``, ``/``), a unary minus, a power, an atom
ADD, MUL, UNARY, POW, ATOM = 10, 11, 12, 13, 100


@dataclass(frozen=True)
class Operand:
    """One operand of a product: its text, how tightly it binds, and ``*`` or ``/``."""

    text: str
    strength: int
    op: str = "*"


@dataclass
class Term:
    """``sign · o1 · o2 / o3 ⋯``: a product's operands in the order they are applied."""

    sign: int
    operands: list[Operand] = field(default_factory=list)

    @property
    def factors(self) -> list[Operand]:
        return [o for o in self.operands if o.op == "*"]


def as_term(text: str) -> Term:
    """``text`` as a signed product (a text that is no product is one operand)."""
    node = ast.parse(text, mode="eval").body
    sign = 1
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, node = -sign, node.operand  # -(a * b): the product a * b, negated
    spine = []  # a * b / c * d is ((a * b) / c) * d: its operands, right to left
    while isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        spine.append((node.right, "/" if isinstance(node.op, ast.Div) else "*"))
        node = node.left
    spine.append((node, "*"))
    term = Term(sign)
    for operand, op in reversed(spine):
        while isinstance(operand, ast.UnaryOp) and isinstance(operand.op, ast.USub):
            term.sign, operand = -term.sign, operand.operand  # exact: -a * b == -(a * b)
        term.operands.append(Operand(*_segment(text, operand), op))
    return term


def _segment(text: str, node: ast.AST) -> tuple[str, int]:
    """A node's text in ``text`` and how tightly it binds."""
    segment = ast.get_source_segment(text, node) or ""
    if isinstance(node, ast.BinOp):
        return segment, {ast.Add: ADD, ast.Sub: ADD, ast.Pow: POW}.get(type(node.op), MUL)
    if isinstance(node, ast.UnaryOp):
        return segment, UNARY
    if isinstance(node, (ast.Name, ast.Call, ast.Constant, ast.Attribute, ast.Subscript)):
        return segment, ATOM
    return segment, 0


def product_text(term: Term) -> tuple[str, int]:
    """The product without its sign, and how tightly it binds: the operands in order, each in
    parentheses unless it binds more tightly than ``*`` (the first one: as tightly); ``1 / d``
    when the first operand divides."""
    ops = term.operands
    if len(ops) == 1 and ops[0].op == "*":
        return ops[0].text, ops[0].strength
    parts = [] if ops and ops[0].op == "*" else ["1"]
    for i, o in enumerate(ops):
        bare = o.strength > MUL or (i == 0 and o.strength == MUL)
        text = o.text if bare else f"({o.text})"
        parts.append(text if not parts else f"{o.op} {text}")
    return " ".join(parts), MUL


def signed_text(term: Term) -> str:
    """The product with its sign: ``-a * b`` when the first operand is an atom (the same
    value as ``-(a * b)``), else the first operand in parentheses after the sign
    (``-(x**2) * y``, as ruff writes it); the whole product in parentheses when it is one
    operand looser than a product."""
    text, strength = product_text(term)
    if term.sign > 0:
        return text
    first = term.operands[0] if term.operands else None
    if strength < MUL:
        return f"-({text})"
    if first is None or first.op == "/" or first.strength >= ATOM or first.strength < MUL:
        return "-" + text  # -a * b, -(a + b) * c, -1 / d
    return f"-({first.text})" + text[len(first.text) :]  # the first operand is bare in text


def sum_text(terms: list[Term]) -> str:
    """``t1 + t2 - t3 …``: each term after the first parenthesised when it is a sum."""
    out = ""
    for t in terms:
        if not out:
            out = signed_text(t)
            continue
        text, strength = product_text(t)
        out += (" - " if t.sign < 0 else " + ") + (text if strength > ADD else f"({text})")
    return out
