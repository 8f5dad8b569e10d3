"""Exact strength reductions of the ``math`` fast path's lines (Python floats), after folding.

Each rewrite gives the same float bit for bit, so it needs no error bound of its own:

* **float literals**: an integer operand of ``+ - * /`` is written as a float (``3 * t`` →
  ``3.0 * t``). CPython converts the integer to the same double on every call; a float
  literal lets both operands be floats, the case the interpreter specialises. The printer
  writes integers only up to 2**53, each of which is a double exactly. Exponents stay
  integers (``x**3`` is the C library's ``pow`` either way).
* **numbers first**: the numbers that open a product computed once (``1.0 / 2 * 2 * t`` →
  ``1.0 * t``: the same operations, when the module is written), and factors of 1 dropped
  (``1.0 * a`` is ``a``; the seed dJ/dJ = 1 of a J with several terms);
* **a sign on a constant**: a product whose sign is negative and that has a number among its
  factors carries the sign on that number (``-_math.sin(u) * c * 2.0 * x`` →
  ``_math.sin(u) * c * -2.0 * x``): IEEE 754 rounds symmetrically, so ``-(a·b) = a·(-b)``
  exactly, and the negation is one operation fewer.

``x**2`` → ``x * x`` is the printer's own (``squares.py``), for every module path.
"""

from __future__ import annotations

import ast
import math
from dataclasses import replace

from .plan import Line
from .terms import ADD, ATOM, MUL, POW, UNARY, Operand, Term, as_term, product_text, signed_text

#: the largest integer written as a float literal: every integer up to it is a double exactly
_EXACT_INT = 2**53


def reduce_lines(lines: list[Line]) -> list[Line]:
    """``lines`` with both rewrites applied to every right-hand side."""
    out = []
    for line in lines:
        if line.op == "del":
            out.append(line)
            continue
        rhs = _float_literals(_everywhere(line.rhs))
        out.append(replace(line, rhs=rhs) if rhs != line.rhs else line)
    return out


def _float_literals(text: str) -> str:
    """``text`` with each integer operand of ``+ - * /`` (and of a unary minus) written as a
    float literal; exponents, call arguments and anything else left as they are."""
    tree = ast.parse(text, mode="eval")
    spots = []
    for node in ast.walk(tree):
        operands = []
        if isinstance(node, ast.BinOp) and isinstance(
            node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)
        ):
            operands = [node.left, node.right]
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operands = [node.operand]
        for op in operands:
            value = op.value if isinstance(op, ast.Constant) else None
            if type(value) is int and abs(value) <= _EXACT_INT:
                spots.append((op.col_offset, op.end_col_offset, f"{value}.0"))
    raw = text.encode("utf-8")  # ast offsets count UTF-8 bytes (a name may be θ)
    for start, end, new in sorted(spots, reverse=True):
        raw = raw[:start] + new.encode("utf-8") + raw[end:]
    return raw.decode("utf-8")


def _everywhere(text: str) -> str:
    """``text`` with every product rewritten by ``_products`` and every ``a + -b`` written
    ``a - b`` (``a - -b``: ``a + b``; IEEE 754 defines subtraction so), innermost first."""
    for _ in range(len(text)):  # every round rewrites one node and the text stays finite
        new = _rewrite_one(text)
        if new is None:
            break
        text = new
    return text


def _rewrite_one(text: str) -> str | None:
    """``text`` with its innermost rewritable node rewritten; None when there is none."""
    tree = ast.parse(text, mode="eval")
    parent = {c: n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.expr)]
    for node in reversed(nodes):  # breadth-first, reversed: deepest first
        start, end = _span(text, node)
        if _chain_root(node, parent.get(node)):
            new = _products(text[start:end])
            if new != text[start:end]:
                return _splice(text, node, parent.get(node), new)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            new = _subtraction(text, node)
            if new is not None:
                return text[:start] + new + text[end:]
    return None


def _subtraction(text: str, node: ast.BinOp) -> str | None:
    """``a + -b`` as ``a - b`` and ``a - -b`` as ``a + b`` (``b`` a product whose sign is
    negative: ``a + -x * y`` is ``a - x * y``); None for any other sum."""
    right = _span(text, node.right)
    start, end = _span(text, node)
    if not text[right[0] : right[1]].startswith("-"):
        return None
    term = as_term(text[right[0] : right[1]])
    if term.sign > 0:
        return None
    body, strength = product_text(term)
    head = text[start : right[0]].rstrip()[:-1].rstrip()  # a, without the operator
    if text[right[1] : end].strip():  # the right operand in parentheses: (-b)
        return None
    sign = "-" if isinstance(node.op, ast.Add) else "+"
    return f"{head} {sign} " + (body if strength > ADD else f"({body})")


def _chain_root(node: ast.AST, parent: ast.AST | None) -> bool:
    """The top of a chain of ``*`` and ``/`` (or a minus sign over one)."""
    product = (ast.Mult, ast.Div)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = node.operand  # -(a * b): its own chain, also as a chain's first operand
        return isinstance(inner, ast.BinOp) and isinstance(inner.op, product)
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, product)):
        return False
    return not (
        isinstance(parent, ast.BinOp) and isinstance(parent.op, product) and parent.left is node
    )


def _splice(text: str, node: ast.AST, parent: ast.AST | None, new: str) -> str:
    """``text`` with ``node`` replaced by ``new``: in parentheses when ``new`` binds less
    tightly than the node did; a grouping's parentheses dropped when ``new`` is an atom."""
    start, end = _span(text, node)
    strength = _strength(ast.parse(new, mode="eval").body)
    if strength < _strength(node):
        new = f"({new})"
    grouped = (
        strength >= ATOM
        and not isinstance(parent, ast.Call)
        and text[start - 1 : start] == "("
        and text[end : end + 1] == ")"
    )
    if grouped:
        start, end = start - 1, end + 1
    return text[:start] + new + text[end:]


def _span(text: str, node: ast.AST) -> tuple[int, int]:
    """Where ``node`` is in ``text``, in characters (``ast`` counts UTF-8 bytes)."""
    raw = text.encode("utf-8")
    start = len(raw[: node.col_offset].decode("utf-8"))
    return start, len(raw[: node.end_col_offset].decode("utf-8"))


def _strength(node: ast.AST) -> int:
    """How tightly an expression binds (Python's precedence numbers of ``terms.py``)."""
    if isinstance(node, ast.BinOp):
        return {ast.Add: ADD, ast.Sub: ADD, ast.Pow: POW}.get(type(node.op), MUL)
    if isinstance(node, ast.UnaryOp):
        return UNARY
    if isinstance(node, (ast.Name, ast.Call, ast.Constant, ast.Attribute, ast.Subscript)):
        return ATOM
    return 0


def _products(text: str) -> str:
    """A product without its factors of 1 (``1.0 * a`` is ``a`` bit for bit, ``inf`` and
    ``nan`` included) and, when its sign is negative and a number is among its operands, with
    the sign on the first number (``-a * 2 * x`` → ``a * -2 * x``); any other text unchanged."""
    term = as_term(text)
    if len(term.operands) < 2:
        return text
    folded = _leading_numbers(term.operands)
    ops = [o for o in folded if not (o.op == "*" and _number(o.text) == 1)]
    if not ops or ops[0].op == "/":
        ops = folded
    changed = len(ops) < len(term.operands)
    if term.sign < 0:
        for i, o in enumerate(ops):
            if _number(o.text) is not None:
                ops = ops[:i] + [Operand(f"-{o.text}", UNARY, o.op)] + ops[i + 1 :]
                term.sign, changed = 1, True
                break
    return signed_text(Term(term.sign, ops)) if changed else text


def _leading_numbers(ops: list[Operand]) -> list[Operand]:
    """The operands with the numbers that open the product computed into one (``1 / 2 * 2 *
    t`` → ``1.0 * t``): the same IEEE operations in the same order, done once when the module
    is written; left alone when one would not be a finite float."""
    value = _number(ops[0].text) if ops[0].op == "*" else None
    k = 1
    while value is not None and k < len(ops) and _number(ops[k].text) is not None:
        try:
            step = (
                value * _number(ops[k].text) if ops[k].op == "*" else value / _number(ops[k].text)
            )
        except ZeroDivisionError:
            break
        if not math.isfinite(step) or step < 0:
            break
        value, k = step, k + 1
    if k == 1:
        return ops
    return [Operand(repr(value), ATOM)] + ops[k:]


def _number(text: str) -> float | None:
    """The value of a non-negative numeric literal (``2``, ``0.5``), else None."""
    body = ast.parse(text, mode="eval").body
    if isinstance(body, ast.Constant) and type(body.value) in (int, float):
        return body.value
    return None
