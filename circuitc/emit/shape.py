"""Code-shape passes for the ``math`` fast path (Python floats), which is rewritten freely.

The NumPy path stays the notes' table line for line (it gains only the ``del`` lines and the
folded operator temporaries of ``memory.py``); the fast path is for speed, and a float costs
as much to name as to compute. The passes, in order:

* **copy propagation**: ``_d_u1 = _d_u`` (an adjoint passed through a sum) is dropped and its
  readers read ``_d_u``; only when neither name is ever bound again or updated in place (a
  number, such as the seed ``_d_J = 1.0``, is propagated the same way);
* **factoring** (``factor.py``): an adjoint's contributions that share a factor,
  ``g·a + g·b`` → ``g·(a + b)``; the only pass that rounds differently;
* **folding**: a local read exactly once is written into the line that reads it, as an
  operand or a call's argument (``u = _math.sin(t) + 3 * t``), in parentheses where Python's
  precedence needs them;
* **strength reduction** (``strength.py``): float literals, factors of 1 dropped, a sign
  moved onto a constant factor; exact;
* **into the return**: a value only the ``return`` reads (J, a gradient) is written there;
  ``math`` functions are called through module-level names (``_math_sin``).

Every pass but factoring gives the same floats bit for bit; docs/design.md (Conventions)
states the fast path's bound against the NumPy path and the exact value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .factor import factor_sums
from .layout import WIDTH
from .memory import count_uses, fold, reads, rename
from .plan import Line, Plan
from .strength import reduce_lines

#: a non-negative number as printed (``1.0``, ``3``, ``2.5e-05``): propagated like a name
_LITERAL = re.compile(r"\d+(\.\d*)?(e[+-]?\d+)?")


def propagate_copies(lines: list[Line], keep: set[str]) -> list[Line]:
    """``lines`` without the copies ``a = b`` that can go (``a`` bound once, never updated in
    place, not returned; ``b`` never bound again, or a number), their readers reading ``b``
    instead."""
    bound: dict[str, int] = {}
    for line in lines:
        bound[line.lhs] = bound.get(line.lhs, 0) + 1
    alias: dict[str, str] = {}
    out = []
    for line in lines:
        line = rename(line, alias) if alias else line
        source = line.rhs
        literal = _LITERAL.fullmatch(source) is not None  # the seed dJ/dJ = 1.0
        copy = line.op == "=" and (reads(source) == [source] or literal) and line.lhs not in keep
        if copy and bound[line.lhs] == 1 and bound.get(source, 0) <= 1:
            alias[line.lhs] = source  # already resolved: the line was renamed first
            continue
        out.append(line)
    return out


@dataclass
class FastPlan:
    """The fast path of ``forward`` and ``value_and_grad``: each body's lines and what it
    returns (a name, or the expression of a value only the ``return`` reads), and the ``math``
    functions the lines call, bound once at module level (``_math_sin = _math.sin``)."""

    forward: list[Line]
    forward_output: str
    vjp: list[Line]
    vjp_output: str
    grads: list[tuple[str, str]]
    calls: list[str] = field(default_factory=list)


def fast_plan(p: Plan) -> FastPlan:
    """The fast path's plan with the passes applied to each function's lines, in order: copy
    propagation, factoring (``factor.py``), folding, the exact strength reductions
    (``strength.py``); then values only the ``return`` reads written into it, and ``math``
    calls through module-level names."""
    keep = {w for _, expr in p.grads for w in reads(expr)} | set(reads(p.output))
    forward, (forward_output,) = _into_return(_shaped(p.forward, keep), [p.output], [_J_WIDTH])
    vjp = _shaped(p.forward_full + p.backward, keep)
    widths = [_J_WIDTH] + [WIDTH - 16 - len(f'"{name}": ,') for name, _ in p.grads]
    vjp, outs = _into_return(vjp, [p.output] + [expr for _, expr in p.grads], widths)
    grads = [(name, expr) for (name, _), expr in zip(p.grads, outs[1:], strict=True)]
    calls: set[str] = set()
    forward, (forward_output,) = _bound_calls(forward, [forward_output], calls)
    vjp, outs = _bound_calls(vjp, outs, calls)
    grads = [(name, expr) for (name, _), expr in zip(grads, outs[1:], strict=True)]
    return FastPlan(forward, forward_output, vjp, outs[0], grads, sorted(calls))


def _shaped(lines: list[Line], keep: set[str]) -> list[Line]:
    """One function body through every pass of the fast path."""
    lines = factor_sums(propagate_copies(lines, keep))
    lines = fold(lines, keep, count_uses(lines), movable=_local, anywhere=True)
    return propagate_copies(reduce_lines(lines), keep)  # reductions may leave a copy


#: the longest J written into ``return <J>, {`` (one line at column 12); a gradient is written
#: into its ``"name": <expression>,`` entry (column 16) only when the entry fits one line
_J_WIDTH = WIDTH - 12 - len("return , {")


def _into_return(
    lines: list[Line], outs: list[str], widths: list[int]
) -> tuple[list[Line], list[str]]:
    """``lines`` without the lines whose value only the ``return`` reads, and ``outs`` (J's
    text, then each gradient's) with those values written in: a name bound once, read by no
    line, returned once, none of whose operands is bound again after its line, its
    expression at most ``widths[k]`` characters."""
    uses = count_uses(lines)
    returned = [n for out in outs for n in reads(out)]
    outs = list(outs)
    dropped = set()
    for i, line in enumerate(lines):
        name = line.lhs
        if line.op != "=" or uses.get(name, 0) or returned.count(name) != 1 or name not in outs:
            continue
        later = {x.lhs for x in lines[i + 1 :] if x.op != "del"}
        if name in later or later & set(reads(line.rhs)):
            continue
        k = outs.index(name)
        if len(line.rhs) > widths[k]:
            continue
        outs[k] = line.rhs
        dropped.add(i)
    return [line for i, line in enumerate(lines) if i not in dropped], outs


#: a call of a ``math`` function in printed code (``_math.sin(``); not ``_math.pi``
_MATH_CALL = re.compile(r"(?<![\w.])_math\.(\w+)\(")


def _bound_calls(
    lines: list[Line], outs: list[str], calls: set[str]
) -> tuple[list[Line], list[str]]:
    """``lines`` and ``outs`` calling ``_math_sin(`` for ``_math.sin(`` (a global name costs one
    lookup, an attribute two), the functions' names added to ``calls``."""
    for text in [line.rhs for line in lines] + outs:
        calls.update(m.group(1) for m in _MATH_CALL.finditer(text))
    lines = [replace(line, rhs=_MATH_CALL.sub(r"_math_\1(", line.rhs)) for line in lines]
    return lines, [_MATH_CALL.sub(r"_math_\1(", out) for out in outs]


def _local(name: str) -> bool:
    """Any local a line binds may be folded in the fast path."""
    return True
