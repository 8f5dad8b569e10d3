"""Where a non-finite value starts, said in the user's terms (issue 12, problem 12).

The table's NaN hunting finds the first non-finite node of the emitted code; its name there
(``_t8 = log(_t7)``) means nothing to the person who wrote the circuit. This module says, for
that node: the step of the circuit it belongs to and the step's SymPy expression as written,
the node itself as an expression over the circuit's own names (``log(1 - p)``), and, where a
numerically stable form exists, a hint toward it (``circuitc.sigmoid``, ``circuitc.softplus``,
``nn.binary_cross_entropy_with_logits``).

Nothing here recurses on user input: the step's SymPy text is printed only when the step is
small (counted iteratively), and node expressions use circuitc's own depth-bounded printer.
"""

from __future__ import annotations

import sympy as sp

from ..emit.printer import Printer
from .formats import pretty
from .trace import Inspected

#: a step's SymPy text is shown only for steps of at most this many SymPy nodes…
MAX_STEP_NODES = 200
#: …and cut to this many characters
MAX_TEXT = 120
#: how far back from a non-finite log the search for the exp of a hand-written sigmoid goes
HINT_SEARCH_NODES = 40

SIGMOID_HINT = (
    "a probability written as 1/(1 + exp(-a)) rounds to 0 or 1 and its log is -inf: write it "
    "circuitc.sigmoid(a) (circuitc rewrites log(sigmoid(a)) and log(1 - sigmoid(a)) stably), or "
    "use nn.binary_cross_entropy_with_logits(a, y) / nn.softmax_cross_entropy(a, y) on the logits"
)
EXP_HINT = (
    "exp overflows above about 709: log(1 + exp(a)) is circuitc.softplus(a), 1/(1 + exp(-a)) is "
    "circuitc.sigmoid(a), and nn.softmax / nn.log_softmax subtract the row max"
)


def owners(ins: Inspected) -> dict[int, str]:
    """Each forward node -> the step it was written in (the first step whose expression reaches
    it, in the circuit's order); nodes reached only from the output expression -> J's name."""
    c = ins.compiled
    g = c.graph
    owner: dict[int, str] = {}
    roots = list(c.steps) + [(ins.output_display, c.output)]
    for name, root in roots:
        stack = [root]
        while stack:
            v = stack.pop()
            if v in owner:
                continue
            owner[v] = name
            stack.extend(a for a in g.nodes[v].args if a not in owner)
    return owner


def step_text(ins: Inspected, step: str) -> str:
    """The SymPy expression of ``step`` as the user wrote it (``""`` when it is too large)."""
    circuit = ins.compiled.circuit
    expr = next((e for s, e in circuit.steps if s.name == step), None)
    if expr is None and step == ins.output_display:
        expr = circuit.output
    if expr is None or not _small(expr):
        return ""
    text = sp.sstr(expr)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _small(expr: sp.Basic) -> bool:
    """At most ``MAX_STEP_NODES`` SymPy nodes (counted with a stack, so never recursing)."""
    count, stack = 0, [expr]
    while stack:
        e = stack.pop()
        count += 1
        if count > MAX_STEP_NODES:
            return False
        stack.extend(getattr(e, "args", ()))
    return True


def user_expr(ins: Inspected, v: int) -> str:
    """Node ``v`` as an expression over the circuit's own names (inputs and steps)."""
    c = ins.compiled
    own = {n: name for n, name in c.names.items() if not name.startswith("_") and n != v}
    own.update({n: node.attrs[0] for n, node in enumerate(c.graph.nodes) if node.op == "sym"})
    try:
        text = pretty(Printer(c.graph, own).expr(v), ins.plan.helpers)
    except (RecursionError, NotImplementedError):  # too deep, or an op printed only by name
        return ins.display.get(v, f"node{v}")
    if len(text) > MAX_TEXT:
        return ins.display.get(v, f"node{v}")
    return text


def hint(ins: Inspected, v: int) -> str:
    """A pointer toward a stable form for the non-finite node ``v``, or ``""`` where none exists."""
    g = ins.compiled.graph
    op = g.nodes[v].op
    if op == "exp" and any(
        g.nodes[u].op in ("add", "sum") and v in g.nodes[u].args for u in range(len(g.nodes))
    ):
        return EXP_HINT  # 1 + exp(a), or a sum of exps (a softmax's denominator)
    if op in ("log", "pow") and _reaches_exp(g, v):
        return SIGMOID_HINT
    return ""


def _reaches_exp(g, v: int) -> bool:
    """True when an ``exp`` node is among the first ``HINT_SEARCH_NODES`` nodes ``v`` reads."""
    seen, stack = set(), list(g.nodes[v].args)
    while stack and len(seen) < HINT_SEARCH_NODES:
        a = stack.pop()
        if a in seen:
            continue
        seen.add(a)
        if g.nodes[a].op == "exp":
            return True
        stack.extend(g.nodes[a].args)
    return False
