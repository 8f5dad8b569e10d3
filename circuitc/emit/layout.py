"""Text layout of the emitted module: line widths, wrapping the way ruff formats, and user text
made safe for a comment.

Nothing here knows what a circuit computes; the planner and the renderer hand it strings.
"""

from __future__ import annotations

import textwrap

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
