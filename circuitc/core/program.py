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
    J's tangent lines (what ``jvp`` runs beyond ``forward``), and those of the forward
    tangents and the backward pass's tangent updates (what ``hvp`` runs beyond
    ``value_and_grad``), one addition per tangent update that accumulates included."""
    g = c.graph
    leaves = LEAF_OPS | {"bool"}
    roots = [c.output] + ([c.prediction] if c.prediction is not None else [])
    fwd_set = set(g.cone(roots))
    backward = _reachable(g, [u.expr for u in c.updates], fwd_set)
    of_j = set(g.cone([c.output]))
    jvp_nodes = _reachable(g, [t.expr for t in c.tangents if t.target in of_j], fwd_set)
    jvp = sum(_op_weight(g.nodes[v]) for v in jvp_nodes if g.nodes[v].op not in leaves)
    exprs = [t.expr for t in c.tangents] + [h.expr for h in c.hvp_updates if h is not None]
    hvp_nodes = _reachable(g, exprs, fwd_set | backward)
    hvp = sum(_op_weight(g.nodes[v]) for v in hvp_nodes if g.nodes[v].op not in leaves)
    hvp += sum(1 for h in c.hvp_updates if h is not None and not h.first)
    return jvp, hvp


def _reachable(g: Graph, roots: list[int], stop: set[int]) -> set[int]:
    """The nodes under ``roots`` (roots included), not walking into ``stop``."""
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        v = stack.pop()
        if v in seen or v in stop:
            continue
        seen.add(v)
        stack.extend(g.nodes[v].args)
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
