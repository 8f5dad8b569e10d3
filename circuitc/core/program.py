"""The hand-off records: what the calculus gives the passes, and the pipeline gives the emitter.

``Update`` is one backward line (``adjoint(target) += expr``); ``Compiled`` is a circuit after
lowering, the reverse sweep and the passes: the DAG, its names and its updates. Every later
stage (passes, emit, views, training) reads these records and none of them imports the stage
that made them. ``fill_partial`` puts display names into a rule's partial, for the emitted
comments and the views' tables alike.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from .ir import LEAF_OPS, Graph


@dataclass(frozen=True)
class Update:
    """One backward line: ``adjoint(target) += expr``, contributed by the node ``source``.

    ``partial`` is the local derivative d(source)/d(target) as text, written in the
    placeholders ``_ans`` (the source's value) and ``_a0``, ``_a1``… (its arguments); the
    emitter fills in the names.
    """

    target: int
    source: int
    expr: int
    first: bool
    partial: str


@dataclass(frozen=True)
class Tangent:
    """One forward-mode line: ``tangent(target) = expr``.

    ``expr`` is written in the tangent leaves of ``target``'s arguments and in forward values.
    ``terms`` holds, per argument that contributed, the argument and the local partial
    d(target)/d(argument) as text in the placeholders ``_ans``/``_a0``… (for the comment).
    """

    target: int
    expr: int
    terms: tuple[tuple[int, str], ...]


@dataclass
class Compiled:
    """Everything the emitter needs: the DAG, its names, and the backward updates."""

    circuit: Any  # the front end's Circuit (core imports nothing of the front end)
    graph: Graph
    output: int
    output_name: str
    names: dict[int, str]  # node -> the circuit's own name (inputs and steps)
    steps: list[tuple[str, int]]  # step name -> node, in the circuit's order
    wrt: list[tuple[str, int | None]]  # parameter name -> its leaf (None: J does not use it)
    inputs: list[str]  # data inputs, sorted by name
    shapes: dict[str, tuple]  # argument name -> shape (() for a scalar)
    dims: list[str]  # dimension symbols, bound from the arrays at call time
    updates: list[Update] = field(default_factory=list)
    adjoint: dict[int, int] = field(default_factory=dict)
    prediction: int | None = None
    digest: str = ""
    seed_folded: bool = False  # optimize.fold_seed: no dJ/dJ line, J's op contributes directly
    # forward mode (calculus/forward.py): the tangent lines of the forward nodes, each node's
    # tangent leaf; forward over reverse: per update its tangent update (None: zero) and each
    # node's tangent leaf of its adjoint
    tangents: list[Tangent] = field(default_factory=list)
    tangent: dict[int, int] = field(default_factory=dict)
    hvp_updates: list[Update | None] = field(default_factory=list)
    tangent_adjoint: dict[int, int] = field(default_factory=dict)
    primal_nodes: int = 0  # the graph's nodes before the tangent sweeps (forward and backward)
    # jacobian() of a matrix output (calculus/jacobian.py): the output it differentiates (the
    # prediction, else J; None for a scalar circuit), the mode emitted and why, and the
    # backward sweep of that output (the VJP reverse mode seeds with one-hots)
    jac_output: int | None = None
    jacobian_mode: str = ""  # "forward" or "reverse" ("" without a jacobian)
    jacobian_reason: str = ""
    jac_updates: list[Update] = field(default_factory=list)
    jac_adjoint: dict[int, int] = field(default_factory=dict)
    # False: built without the tangent sweeps (``build(second_order=...)``); the module's
    # jvp, hvp and jacobian then raise an error naming the option
    second_order: bool = True
    second_order_why: str = ""  # why not (the module's error says it)


def _op_weight(node) -> int:
    """Arithmetic ops of one IR node: an n-ary sum or product is n - 1 binary operations."""
    if node.op in ("add", "mul"):
        return max(1, len(node.args) - 1)
    return 1


def op_counts(c: Compiled) -> tuple[int, int]:
    """The arithmetic ops of the forward pass and of the backward pass: the one op count of
    circuitc (the emitted ``# forward (ops: N)``/``# backward (ops: N)`` and ``circuitc cost``).

    Every non-leaf IR node counts once, except an n-ary sum or product of n terms, which
    counts its n - 1 binary operations; the backward pass also counts one addition per
    contribution that accumulates into an adjoint (every update but an adjoint's first).
    Read off the IR alone, so the count does not move when the emitter inlines a node or
    gives it a line, and it is counted as ``circuitc cost`` counts the naive ``sympy.diff``
    route (a k-term ``Add``/``Mul`` is k - 1 ops); docs/design.md says why this one won.
    """
    g = c.graph
    leaves = LEAF_OPS | {"bool"}
    forward = sum(_op_weight(g.nodes[v]) for v in g.cone([c.output]) if g.nodes[v].op not in leaves)
    roots = [c.output] + ([c.prediction] if c.prediction is not None else [])
    fwd_set = set(g.cone(roots))  # the backward pass reads these, it does not compute them
    seen: set[int] = set()
    stack = [u.expr for u in c.updates]
    backward = 0
    while stack:
        v = stack.pop()
        if v in seen or v in fwd_set:
            continue
        seen.add(v)
        node = g.nodes[v]
        if node.op not in leaves:
            backward += _op_weight(node)
        stack.extend(node.args)
    backward += sum(1 for u in c.updates if not u.first)
    return forward, backward


def tangent_op_counts(c: Compiled) -> tuple[int, int]:
    """The arithmetic ops that forward mode adds, counted as ``op_counts`` counts: those of
    J's tangent lines (what ``jvp`` runs beyond ``forward``), and those of the tangent lines
    ``hvp`` runs (the last count of ``hvp_op_counts``)."""
    g = c.graph
    leaves = LEAF_OPS | {"bool"}
    roots = [c.output] + ([c.prediction] if c.prediction is not None else [])
    fwd_set = set(g.cone(roots))
    of_j = set(g.cone([c.output]))
    jvp_nodes = _reachable(g, [t.expr for t in c.tangents if t.target in of_j], fwd_set)
    jvp = sum(_op_weight(g.nodes[v]) for v in jvp_nodes if g.nodes[v].op not in leaves)
    return jvp, hvp_op_counts(c)[2]


def hvp_op_counts(c: Compiled) -> tuple[int, int, int]:
    """What ``hvp`` runs, as ``op_counts`` counts: its forward lines (the values the backward
    pass and the tangents read, and J unless only the seed reads it: ``number_at_run_time``),
    the backward updates it computes (``hvp_live_updates``: not a parameter's own adjoint,
    which no tangent reads) and its tangent lines (the forward tangents the tangent updates
    read, and the tangent updates), one addition per update that accumulates."""
    g = c.graph
    leaves = LEAF_OPS | {"bool"}
    roots = [c.output] + ([c.prediction] if c.prediction is not None else [])
    fwd_set = set(g.cone(roots))

    def ops(nodes) -> int:
        return sum(_op_weight(g.nodes[v]) for v in nodes if g.nodes[v].op not in leaves)

    live = [c.updates[k] for k in sorted(hvp_live_updates(c))]
    backward_nodes = _reachable(g, [u.expr for u in live], fwd_set)
    backward = ops(backward_nodes) + sum(1 for u in live if not u.first)
    updates = [h for h in c.hvp_updates if h is not None]
    by_leaf = {c.tangent[t.target]: t for t in c.tangents}
    stop = fwd_set | backward_nodes
    tangent_nodes = _reachable(g, [h.expr for h in updates], stop, by_leaf)
    tangent = ops(v for v in tangent_nodes if v not in by_leaf)
    tangent += sum(1 for h in updates if not h.first)
    # the forward values read: by the backward pass (all of it: plan's lines read them) and
    # by the tangents, and J itself unless only the seed reads it
    walked = _reachable(g, [u.expr for u in c.updates], fwd_set) | tangent_nodes
    reads = {a for v in walked for a in g.nodes[v].args if a in fwd_set}
    seeded = c.output in c.adjoint and not c.seed_folded
    if seeded and not number_at_run_time(c) or c.output not in c.adjoint:
        reads.add(c.output)  # the seed is J-shaped: J's whole forward runs
    return ops(g.cone(sorted(reads))), backward, tangent


def jacobian_op_counts(c: Compiled) -> tuple[int, int, int, int]:
    """The ops of ``jacobian()`` of a matrix output in each mode, counted as ``op_counts``
    counts: forward mode's forward lines (run once) and tangent pass (one per parameter entry),
    and reverse mode's forward lines (run once) and backward pass (one per output entry)."""
    g = c.graph
    leaves = LEAF_OPS | {"bool"}
    roots = [c.output] + ([c.prediction] if c.prediction is not None else [])
    fwd_set = set(g.cone(roots))
    cone = set(g.cone([c.jac_output]))

    def ops(nodes) -> int:
        return sum(_op_weight(g.nodes[v]) for v in nodes if g.nodes[v].op not in leaves)

    tangent_nodes = _reachable(g, [t.expr for t in c.tangents if t.target in cone], fwd_set)
    reads = {a for v in tangent_nodes for a in g.nodes[v].args if a in fwd_set}
    backward = ops(_reachable(g, [u.expr for u in c.jac_updates], cone))
    backward += sum(1 for u in c.jac_updates if not u.first)
    return ops(g.cone([c.jac_output, *reads])), ops(tangent_nodes), ops(cone), backward


def number_at_run_time(c: Compiled) -> bool:
    """J is one number of the call's dtype whatever the arguments' shapes: everything of J's
    that is not a constant or a dimension passes through a reduction to one number (``sum``
    over all axes, ``trace``, an element). A scalar argument on the way may be an array (the
    arguments broadcast), and so may J: then the seed needs J itself."""
    g = c.graph
    stack, seen = [c.output], set()
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        node = g.nodes[v]
        if node.shape != ():
            return False
        if node.op in ("const", "dim", "trace", "element"):
            continue
        if node.op == "sum" and node.attrs[0] is None:
            continue
        if node.op in LEAF_OPS:
            return False
        stack.extend(node.args)
    return True


def hvp_live_updates(c: Compiled) -> set[int]:
    """The indices of the backward updates hvp needs: those into an adjoint that a tangent
    update reads, or that a needed update reads (walked back from the last update)."""
    g = c.graph
    roots = [c.output] + ([c.prediction] if c.prediction is not None else [])
    fwd_set = set(g.cone(roots))
    adjoints = set(c.adjoint.values())

    def read(expr: int) -> set[int]:
        found = {v for v in _reachable(g, [expr], fwd_set) if v in adjoints}
        return found

    needed: set[int] = set()
    for h in c.hvp_updates:
        if h is not None:
            needed |= read(h.expr)
    live = set()
    for k in range(len(c.updates) - 1, -1, -1):
        u = c.updates[k]
        if c.adjoint[u.target] in needed:
            live.add(k)
            needed |= read(u.expr)
    return live


def _reachable(g: Graph, roots: list[int], stop: set[int], through: dict | None = None) -> set[int]:
    """The nodes under ``roots`` (roots included), not walking into ``stop``; ``through`` maps
    a tangent leaf to the forward tangent line that computes it (walked into as well)."""
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        v = stack.pop()
        if v in seen or v in stop:
            continue
        seen.add(v)
        stack.extend(g.nodes[v].args)
        if through and v in through:
            stack.append(through[v].expr)
    return seen


def digest(c: Compiled) -> str:
    """A hash of the circuit computed over the DAG (never the expanded tree)."""
    h = hashlib.sha256()
    h.update(f"{c.circuit.name}|{c.output}|{c.output_name}|{c.prediction}\n".encode())
    for name, nid in c.wrt:
        h.update(f"wrt {name} {nid}\n".encode())
    for name in c.inputs:
        h.update(f"in {name} {c.shapes[name]}\n".encode())
    for name, nid in c.steps:
        h.update(f"step {name} {nid}\n".encode())
    for node in c.graph.nodes:
        h.update(f"{node.op} {node.args} {node.attrs} {node.shape}\n".encode())
    return h.hexdigest()[:16]


_PLACEHOLDER = re.compile(r"\b_(ans|a\d+)\b")


def fill_partial(text: str, ans: str, args: list[str]) -> str:
    """Put the display names of the node (``ans``) and its arguments into a partial's text."""

    def name(m: re.Match) -> str:
        word = m.group(1)
        return ans if word == "ans" else args[int(word[1:])]

    return _PLACEHOLDER.sub(name, text)
