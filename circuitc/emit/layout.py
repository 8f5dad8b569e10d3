"""Text layout of the emitted module: line widths, wrapping the way ruff formats, and user text
made safe for a comment.

Nothing here knows what a circuit computes; the planner and the renderer hand it strings.
"""

from __future__ import annotations

import io
import textwrap
import tokenize

import sympy as sp


def one_line(text: str) -> str:
    """User text (a registered class's name in a printed expression) made safe for a comment
    of the emitted code: every character that is not printable written as its escape (``\r``
    as backslash-r). That covers every line break ``str.splitlines`` knows (Python's tokenizer
    ends a line at ``\r`` too), NUL (which no source may hold) and lone surrogates."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def short_text(expr: sp.Basic, limit: int = 40) -> str | None:
    """``str(expr)`` when the expression has at most ``limit`` nodes (counted without recursion)."""
    count, stack = 0, [expr]
    while stack:
        e = stack.pop()
        count += 1
        if count > limit:
            return None
        stack.extend(e.args)
    text = one_line(str(expr))
    return text if len(text) <= 100 else None


def signature(required: list[str], optional: list[str]) -> list[str]:
    """Keyword-only parameters: ``*``, ``w: _Arg``, ``x: _Arg``, ``y: _Arg = None``."""
    params = [f"{a}: _Arg" for a in required] + [f"{a}: _Arg = None" for a in optional]
    return ["*", *params]


#: the emitted code keeps to this many columns (ruff's line length for the project)
WIDTH = 100


def wrapped(head: str, items: list[str], tail: str, indent: int = 0) -> str:
    """``head item, item tail`` on one line, or one item a line (ruff's layout) when too long.

    The result's lines after the first are indented for a statement at column ``indent``.
    """
    one = f"{head}{', '.join(items)}{tail}"
    if indent + len(one) <= WIDTH:
        return one
    pad = " " * (indent + 4)
    body = "".join(f"{pad}{item},\n" for item in items)
    return f"{head}\n{body}{' ' * indent}{tail}"


def wrapped_lines(head: str, items: list[str], tail: str, indent: int) -> list[str]:
    """``wrapped`` for a statement at column ``indent`` whose lines the caller indents itself
    (a prologue line): the lines after the first are relative to the statement (the items at
    4 columns, the tail at 0), so the caller's indentation is added once, not twice."""
    lines = wrapped(head, items, tail, indent).split("\n")
    return lines[:1] + [line[indent:] for line in lines[1:]]


def statement_lines(
    code: tuple[str, str, str], comment: str = "", note: str = "", indent: int = 4
) -> list[str]:
    """One statement ``(lhs, op, rhs)`` as the module prints it in ``WIDTH`` columns, for a
    function body at column ``indent`` (the lines are returned without it): a note on comment
    lines of its own above the statement (each ``; ``-separated part of it, the comments of
    the lines folded into this one, on lines of its own); the chain-rule comment after the code when both fit
    on one line, else above it too; a statement too long for one line laid out as ruff does."""
    lhs, op, rhs = code
    text = f"{lhs} {op} {rhs}"
    above = note.split("; ") if note else []  # the comments of lines folded in: one each
    if comment and indent + len(text) + 4 + len(comment) <= WIDTH:
        return comment_lines(above, indent) + [f"{text}  # {comment}"]
    if comment:
        above.append(comment)
    return comment_lines(above, indent) + long_statement(f"{lhs} {op} ", rhs, indent)


def comment_lines(texts: list[str], indent: int) -> list[str]:
    """Comment lines of their own, each text wrapped to ``WIDTH`` columns (a word longer than
    a line is left whole: the one thing no layout can break)."""
    width = WIDTH - indent - 2
    lines = []
    for text in texts:
        parts = (
            [text]
            if len(text) <= width
            else textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)
        )
        lines += ["# " + part for part in parts]
    return lines


#: how loosely each binary operator binds, as ruff (and black) rank them for line breaks: a
#: long expression is broken before the operators of the loosest kind at its top level
_LOOSENESS = {
    "if": 16, "else": 16, "or": 14, "and": 14,
    "<": 10, ">": 10, "==": 10, "!=": 10, "<=": 10, ">=": 10, "in": 10, "is": 10,
    "|": 9, "^": 8, "&": 7, "<<": 6, ">>": 6, "+": 5, "-": 5, "*": 4, "/": 4, "//": 4, "%": 4, "@": 4,
}  # fmt: skip
_OPENING, _CLOSING = "([{", ")]}"
_WORDS_BEFORE_OPERAND = frozenset({"and", "or", "not", "if", "else", "in", "is"})


def long_statement(head: str, rhs: str, indent: int) -> list[str]:
    """``head + rhs`` (``x = ...``) in ``WIDTH`` columns, laid out as ``ruff format`` lays it
    out: the bracket that ends the expression (``f(`` of ``a * f(b)``) opened on the first line
    when at most one operator is outside it; else the expression inside parentheses, broken
    before its loosest top-level operators when it does not fit on one line. The lines after
    the first are relative to column ``indent``."""
    if indent + len(head) + len(rhs) <= WIDTH:
        return [head + rhs]
    ops, _, last_open = _top_level(rhs)
    if len(ops) <= 1 and last_open is not None and indent + len(head) + last_open < WIDTH:
        body = _bracket_body(rhs[last_open + 1 : -1], indent + 4)
        return [head + rhs[: last_open + 1], *body, rhs[-1]]
    if not ops:
        return [head + rhs]  # one name or call that no break can shorten
    if indent + 4 + len(rhs) <= WIDTH:
        return [head + "(", "    " + rhs, ")"]
    return [head + "(", *("    " + part for part in _split(rhs, ops, True)), ")"]


def _bracket_body(body: str, indent: int) -> list[str]:
    """What a bracket holds, on the lines between ``f(`` and ``)``: one line when it fits,
    else one argument a line (with ruff's trailing comma), or one operand a line."""
    if indent + len(body) <= WIDTH:
        return ["    " + body]
    ops, commas, _ = _top_level(body)
    if commas:
        return ["    " + part + "," for part in _split(body, commas, False) if part]
    if ops:
        return ["    " + part for part in _split(body, ops, True)]
    return ["    " + body]


def _top_level(expr: str) -> tuple[list[int], list[int], int | None]:
    """Where a printed expression may be broken: the offsets of its top-level operators of
    the loosest kind, of its top-level commas, and of the bracket that opens its final
    bracketed part (``f(`` of ``a * f(b)``), or None."""
    ops, commas, opened = [], [], []
    depth, prev, last_open = 0, None, None
    for tok in tokenize.generate_tokens(io.StringIO(expr).readline):
        if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
            continue
        text, col = tok.string, tok.start[1]
        if text in _OPENING:
            opened.append(col)
            depth += 1
        elif text in _CLOSING:
            depth -= 1
            start = opened.pop()
            last_open = start if depth == 0 and col == len(expr) - 1 else None
        elif depth == 0 and text == ",":
            commas.append(col)
        elif depth == 0 and text in _LOOSENESS and not _before_operand(prev):
            ops.append((_LOOSENESS[text], col))
        prev = tok
    loosest = max((rank for rank, _ in ops), default=0)
    return [col for rank, col in ops if rank == loosest], commas, last_open


def _before_operand(prev) -> bool:
    """True when an operator after token ``prev`` is unary: nothing, an operator, an opening
    bracket or a keyword comes before it (``-x``, ``(-x``, ``a * -x``)."""
    if prev is None:
        return True
    if prev.type == tokenize.OP:
        return prev.string not in _CLOSING
    return prev.type == tokenize.NAME and prev.string in _WORDS_BEFORE_OPERAND


def _split(expr: str, cuts: list[int], keep_cut: bool) -> list[str]:
    """``expr`` cut before each offset in ``cuts``; the cut text starts its part when
    ``keep_cut`` (an operator), else it is dropped (a comma). Parts are stripped."""
    bounds = [0, *cuts, len(expr)]
    parts = [expr[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    if not keep_cut:
        parts = parts[:1] + [part[1:] for part in parts[1:]]
    return [part.strip() for part in parts]


def prose(text: str) -> str:
    """A docstring paragraph wrapped to the emitted code's width."""
    return textwrap.fill(text, WIDTH, break_on_hyphens=False, break_long_words=False)


def tuple_text(names: list[str], label: str = "") -> str:
    """A tuple of strings as ruff would format it after ``label`` (``WRT = ``): ("a", "b"),
    ("a",), or one name a line when that is too long."""
    if len(names) == 1:
        return f'("{names[0]}",)'
    return wrapped(f"{label}(", [f'"{n}"' for n in names], ")")[len(label) :]


def shapes_text(args: list[str], shapes: dict[str, tuple]) -> str:
    """``{name: shape}`` for every argument, one entry a line (ruff's layout, trailing comma)."""
    if not args:
        return "{}"
    lines = ["{"]
    for a in args:
        items = [f'"{d}"' if isinstance(d, str) else str(int(d)) for d in shapes.get(a, ())]
        tail = "," if len(items) == 1 else ""
        lines.append(f'    "{a}": ({", ".join(items)}{tail}),')
    lines.append("}")
    return "\n".join(lines)


def condition(tests: list[str], joiner: str) -> list[str]:
    """``if a and b:`` on one line, or one test a line inside parentheses when that is long."""
    one = f"if {f' {joiner} '.join(tests)}:"
    if len(one) <= 96:
        return [one]
    return ["if (", f"    {tests[0]}"] + [f"    {joiner} {t}" for t in tests[1:]] + ["):"]


def shape_tuple(shape: tuple) -> str:
    """A shape as a tuple expression of ints and dimension names: (N, 31) or (N,)."""
    items = [str(d) for d in shape]
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
