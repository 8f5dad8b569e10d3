"""Memory planning: a pass over the emitted schedule of one function body.

The planner (``plan.py``) gives every value of the notes' tables a line and a name; kept as
they are, every temporary stays alive until the function returns, so a network's activations,
pre-activations and adjoints are all held at once, large arrays are mapped and unmapped by
the allocator on every call, and NumPy can never reuse a dead temporary's buffer. This pass
rewrites the NumPy path's lines, and only those (``circuitc table``, ``trace`` and ``cost``
read the plan itself), in two ways that keep every value bit for bit:

* **fold**: an emitter temporary (``_t7``) that is read exactly once, by the very next line,
  is written into that line in parentheses (``_t5 = 1 / (1 + _t3)``). Nothing else refers
  to the intermediate array, so NumPy's operators may reuse it in place (NumPy elides an
  operator temporary of at least 256 KiB when no name holds it; a ufunc call such as
  ``_np.exp`` never does, but the folded value is still freed as soon as the call returns).
  The operation and its order are unchanged: the same IEEE operations on the same operands.
  The notes' own names (steps, adjoints ``_d_x``) are never folded; a chain folds at most
  ``MAX_FOLD`` lines into one, and the result stays within ``MAX_RHS`` characters.
* **drop**: after the line that reads a local for the last time, ``del`` drops it, so its
  buffer is freed (or reused by the next allocation of its size) at once. Names the function
  returns (J, the gradients, the prediction) and the arguments are never dropped, and
  nothing is dropped after the last line (returning frees it all).

Nothing here writes into an array: arguments are never modified and returned arrays stay the
fresh arrays the lines made. Liveness is read off the printed lines with Python's tokenizer
(the names each right-hand side reads), so the pass needs no knowledge of the ops.
"""

from __future__ import annotations

import ast
import functools
import io
import keyword
import re
import tokenize
from dataclasses import replace

from .plan import Line

#: an emitter temporary: the only names the fold may remove (users cannot start a name with _)
TEMPORARY = re.compile(r"_t\d+")

#: at most this many lines fold into one consumer (a readable line, a shallow expression)
MAX_FOLD = 4

#: a folded right-hand side stays within this many characters
MAX_RHS = 88


#: a name in printed code: an identifier not after a dot or a digit (``_np.exp``'s ``exp``, the
#: ``e5`` of ``1e5``), not a keyword argument (``axis=``, but ``a == b`` reads ``a``)
_NAME = re.compile(r"(?<![\w.])([^\W\d]\w*)\b(?!\s*=(?!=))")


def reads(text: str) -> list[str]:
    """The local names an expression reads, in order, with repeats (not attributes such as
    ``_np.exp``'s ``exp``, not keyword arguments such as ``axis=``, not Python keywords)."""
    return list(_reads(text))


@functools.lru_cache(maxsize=1 << 16)
def _reads(text: str) -> tuple[str, ...]:
    if "'" in text or '"' in text:  # a string literal: let Python's tokenizer read it
        return tuple(_token_reads(text))
    return tuple(n for n in _NAME.findall(text) if not keyword.iskeyword(n))


def _token_reads(text: str) -> list[str]:
    out = []
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.NAME or keyword.iskeyword(tok.string):
            continue
        before = tokens[i - 1].string if i else ""
        after = tokens[i + 1].string if i + 1 < len(tokens) else ""
        if before == "." or after == "=":
            continue
        out.append(tok.string)
    return out


def _line_reads(line: Line) -> list[str]:
    """What a line reads: its right-hand side, and its target for ``+=``/``-=``."""
    names = reads(line.rhs)
    return names + [line.lhs] if line.op != "=" else names


def count_uses(lines: list[Line]) -> dict[str, int]:
    """How many times each name is read by ``lines``."""
    uses: dict[str, int] = {}
    for line in lines:
        for name in _line_reads(line):
            uses[name] = uses.get(name, 0) + 1
    return uses


def fold(
    lines: list[Line],
    keep: set[str],
    uses: dict[str, int] | None = None,
    movable=None,
    anywhere: bool = False,
) -> list[Line]:
    """Write each single-use emitter temporary into the line that reads it.

    A temporary moves only when no line between its definition and its reader modifies in
    place (``+=``) or binds again a name it reads, so it computes the same value from the same
    operands. A moved line's comment (a tangent's chain rule) goes with it, into the comment
    lines above its reader. ``uses``: the read counts over the whole function body (default:
    over ``lines``); ``movable(name)``: which names may move (default: the emitter's
    temporaries ``_t7``); ``anywhere``: also into a call's argument (the fast path: no buffers
    to reuse, only names).
    """
    uses = count_uses(lines) if uses is None else uses
    movable = movable or (lambda name: TEMPORARY.fullmatch(name) is not None)
    out: list[Line | None] = []
    where: dict[str, int] = {}  # a temporary still on its own line -> its index in ``out``
    readers: dict[
        str, list[tuple[str, int]]
    ] = {}  # name -> the temporaries in ``where`` reading it
    absorbed: dict[int, list[str]] = {}  # index in ``out`` -> temporaries written into it
    carried: dict[int, list[tuple[int, str]]] = {}  # index -> comments of the lines taken in
    for line in lines:
        for name, i in readers.pop(line.lhs, ()):  # a temporary reading what this line writes
            if where.get(name) == i:  # stays where it is
                del where[name]
        for name in dict.fromkeys(reads(line.rhs)):
            i = where.get(name)
            if i is None or not _foldable(out[i], line, uses, keep):
                continue
            taken = absorbed.get(i, []) + [name] + absorbed.get(len(out), [])
            rhs = _substitute(line.rhs, name, out[i].rhs, anywhere)
            if rhs is None or len(rhs) > MAX_RHS or len(taken) > MAX_FOLD:
                continue
            line = replace(line, rhs=rhs)
            absorbed[len(out)] = taken
            notes = carried.pop(i, []) + [(i, out[i].comment)] + carried.get(len(out), [])
            carried[len(out)] = notes
            out[i] = None
            del where[name]
        if line.op == "=" and movable(line.lhs):
            where[line.lhs] = len(out)
            for name in set(reads(line.rhs)):
                readers.setdefault(name, []).append((line.lhs, len(out)))
        out.append(line)
    for i, names in absorbed.items():  # say which temporaries a line took in
        line = out[i]
        if line is not None and not line.comment:
            names = sorted(names, key=_name_order)
            out[i] = replace(line, comment=f"{', '.join(names)} inline")
    for i, notes in carried.items():
        texts = [text for _, text in sorted(notes) if text] + [out[i].note]
        out[i] = replace(out[i], note="; ".join(t for t in texts if t))
    return [line for line in out if line is not None]


def _foldable(head: Line, line: Line, uses: dict[str, int], keep: set[str]) -> bool:
    """``head`` (a temporary read only by ``line``) may be written into it."""
    return (
        head.op == "="
        and not head.note  # a note (the stable rewrite) stays on the line it explains
        and head.lhs not in keep
        and uses.get(head.lhs, 0) == 1
        and line.lhs != head.lhs
        and _fresh_value(head.rhs)
    )


def _fresh_value(text: str) -> bool:
    """An expression whose value is a new array (an operator or a call), not a name or a view
    of one (``a``, ``a.T``, ``a[0, 0]``): only a fresh temporary can be reused in place."""
    body = ast.parse(text, mode="eval").body
    return isinstance(body, (ast.BinOp, ast.UnaryOp, ast.Call))


#: Python's binding strength of the operators the printer writes (higher binds tighter)
_PRECEDENCE = {
    ast.Add: 10,
    ast.Sub: 10,
    ast.Mult: 11,
    ast.Div: 11,
    ast.MatMult: 11,
    ast.FloorDiv: 11,
    ast.Mod: 11,
    ast.Pow: 13,
}
_UNARY = 12
_ATOM = 100


def _strength(node: ast.AST) -> int:
    """How tightly an expression binds (``_ATOM`` for names, calls, attributes, indexing)."""
    if isinstance(node, ast.BinOp):
        return _PRECEDENCE.get(type(node.op), 0)
    if isinstance(node, ast.UnaryOp):
        return 0 if isinstance(node.op, ast.Not) else _UNARY
    if isinstance(node, (ast.Name, ast.Call, ast.Attribute, ast.Subscript)):
        return _ATOM
    return 0


def _operands(parent: ast.AST) -> list[tuple[ast.AST, str]]:
    """The operands of an arithmetic operator, each with its side; [] for anything else."""
    if isinstance(parent, ast.BinOp):
        return [(parent.left, "left"), (parent.right, "right")]
    if isinstance(parent, ast.UnaryOp) and not isinstance(parent.op, ast.Not):
        return [(parent.operand, "right")]
    return []


def _substitute(text: str, name: str, value: str, anywhere: bool = False) -> str | None:
    """``text`` with the operand ``name`` of an operator replaced by the expression ``value``,
    parenthesised only where Python's precedence needs it; None when ``name`` is not read
    there as an operand of an arithmetic operator (a call's argument gains no buffer reuse),
    unless ``anywhere`` (then a whole positional argument of a call is replaced too)."""
    inner = _strength(ast.parse(value, mode="eval").body)
    tree = ast.parse(text, mode="eval")
    if anywhere:
        for call in ast.walk(tree):
            for arg in call.args if isinstance(call, ast.Call) else ():
                if isinstance(arg, ast.Name) and arg.id == name:
                    start, end = _span(text, arg)
                    return text[:start] + value + text[end:]
    for parent in ast.walk(tree):
        if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Pow):
            continue  # ruff spaces `**` around anything but a name: the printer never does
        for child, side in _operands(parent):
            if not (isinstance(child, ast.Name) and child.id == name):
                continue
            outer = _strength(parent)
            if isinstance(parent, ast.UnaryOp):  # -(x**2), as the printer and ruff write it
                bare = inner > outer and inner != _PRECEDENCE[ast.Pow]
            else:  # left-associative, except ** (right-associative)
                power = isinstance(parent.op, ast.Pow)
                bare = inner > outer or (inner == outer and (side == "left") != power)
            start, end = _span(text, child)
            minus = _added_negation(text, parent, side, value)
            if minus is not None:  # a + -b is a - b (IEEE 754 defines subtraction so)
                start, wrapped = text.rindex("+", 0, start), f"- {minus}"
                return text[:start] + wrapped + text[end:]
            wrapped = value if bare else f"({value})"
            return text[:start] + wrapped + text[end:]
    return None


def _span(text: str, node: ast.AST) -> tuple[int, int]:
    """Where ``node`` is in the one-line ``text``, in characters (``ast`` counts UTF-8 bytes,
    and a name may be ``θ``)."""
    raw = text.encode("utf-8")
    start = len(raw[: node.col_offset].decode("utf-8"))
    return start, len(raw[: node.end_col_offset].decode("utf-8"))


def _added_negation(text: str, parent: ast.AST, side: str, value: str) -> str | None:
    """For ``a + _t`` with ``_t = -b``: ``b`` as the right operand of a subtraction (in
    parentheses where it needs them); None otherwise."""
    if not (isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Add) and side == "right"):
        return None
    body = ast.parse(value, mode="eval").body
    if not (isinstance(body, ast.UnaryOp) and isinstance(body.op, ast.USub)):
        return None
    between = text[_span(text, parent.left)[1] : _span(text, parent.right)[0]]
    if between.strip() != "+":
        return None  # a parenthesised left operand: leave the text as it is
    operand = ast.get_source_segment(value, body.operand)
    return operand if _strength(body.operand) > _PRECEDENCE[ast.Sub] else f"({operand})"


def drop(lines: list[Line], keep: set[str], args: set[str], quiet=frozenset()) -> list[Line]:
    """``lines`` with ``del`` after the last line that reads each local it defines.

    ``keep``: the names read after the body (returned); ``args``: the function's arguments
    (never dropped: the caller holds them anyway); ``quiet``: locals that hold no array (a
    constant such as ``1 / N``), never dropped. Names bound to one value by a copy line
    (``_d_u1 = _d_u``) are dropped together, after the last line that reads any of them:
    dropping one alone frees nothing. A name bound again (``_d_A = _d_A + ...``) is a new
    value from that line on. A ``del`` line is a ``Line`` whose ``op`` is ``"del"`` and whose
    ``rhs`` lists the names.
    """
    version: dict[str, int] = {}  # name -> how many times it has been bound so far
    group: dict[tuple, tuple] = {}  # (name, version) -> the first value of its copy group
    last: dict[tuple, int] = {}  # group root -> the last line that reads or binds a member
    members: dict[tuple, list[tuple]] = {}
    held: set[tuple] = set()  # groups that hold an argument or a returned value

    def root(value: tuple) -> tuple:
        while group.get(value, value) != value:
            value = group[value]
        return value

    def current(name: str) -> tuple:
        return (name, version.get(name, 0))

    for i, line in enumerate(lines):
        for name in _line_reads(line):
            last[root(current(name))] = i
            if name in args or name not in version:  # an argument or a module-level name
                held.add(root(current(name)))
        if line.op != "=":
            continue
        version[line.lhs] = version.get(line.lhs, 0) + 1
        value = current(line.lhs)
        if reads(line.rhs) == [line.rhs]:  # a copy: a = b
            group[value] = root(current(line.rhs))
        r = root(value)
        last[r] = max(last.get(r, i), i)
        members.setdefault(r, []).append(value)
    for name in keep:
        held.add(root(current(name)))
    after: dict[int, list[tuple]] = {}
    for r, values in members.items():
        i = last[r]
        if r in held or i >= len(lines) - 1 or all(n in quiet for n, _ in values):
            continue
        after.setdefault(i, []).extend(values)
    return _with_dels(lines, after)


def _with_dels(lines: list[Line], after: dict[int, list[tuple]]) -> list[Line]:
    """``lines`` with ``del`` after line i of the names in ``after[i]`` still bound to the
    value named there (a name bound again since then holds another value: it stays)."""
    version: dict[str, int] = {}
    out: list[Line] = []
    for i, line in enumerate(lines):
        out.append(line)
        if line.op == "=":
            version[line.lhs] = version.get(line.lhs, 0) + 1
        names = [n for n, v in after.get(i, []) if version.get(n) == v]
        if names:
            names = sorted(set(names), key=_name_order)
            out.append(Line("", ", ".join(names), "del"))
    return out


def _name_order(name: str) -> tuple:
    """Temporaries in numeric order (``_t2`` before ``_t10``), then the other names."""
    m = re.fullmatch(r"(_d)?_t(\d+)", name)
    return (0, int(m.group(2)), name) if m else (1, 0, name)


def schedule(
    parts: list[list[Line]], keep: set[str], args: set[str], quiet=frozenset(), movable=None
) -> list[list[Line]]:
    """The memory-planned body of one function, given as consecutive parts (forward lines,
    backward lines): each part folded on its own (a fold never crosses a banner; ``movable``
    as ``fold`` takes it), then ``del`` at each local's last use over the whole body. Returns
    the parts, planned."""
    uses = count_uses([line for part in parts for line in part])
    folded = [fold(part, keep, uses, movable) for part in parts]
    body = drop([line for part in folded for line in part], keep, args, quiet)
    out: list[list[Line]] = []
    i = 0
    for part in folded:
        n = len(part)
        taken = []
        while n:  # the part's own lines and the del lines that follow each of them
            taken.append(body[i])
            n -= body[i].op != "del"
            i += 1
        while i < len(body) and body[i].op == "del" and len(out) + 1 < len(folded):
            taken.append(body[i])
            i += 1
        out.append(taken)
    return out


def keep_names(*texts: str) -> set[str]:
    """The names read by the expressions a function returns."""
    out: set[str] = set()
    for text in texts:
        if text:
            out.update(reads(text))
    return out


def rename(line: Line, names: dict[str, str]) -> Line:
    """``line`` with every name it reads that is a key of ``names`` read as its value."""
    tokens = list(tokenize.generate_tokens(io.StringIO(line.rhs).readline))
    text, shift = line.rhs, 0
    for i, tok in enumerate(tokens):
        new = names.get(tok.string) if tok.type == tokenize.NAME else None
        if new is None:
            continue
        before = tokens[i - 1].string if i else ""
        after = tokens[i + 1].string if i + 1 < len(tokens) else ""
        if before == "." or after == "=":
            continue
        start, end = tok.start[1] + shift, tok.end[1] + shift
        text = text[:start] + new + text[end:]
        shift += len(new) - (end - start)
    return replace(line, rhs=text) if text != line.rhs else line
