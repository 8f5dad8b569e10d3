"""The backward sweep (reverse-mode AD) over the IR, exactly as the notes' tables do it.

Nodes are visited in reverse topological order, starting from the output J with
dJ/dJ = 1. Each node's rule gives one contribution per argument; a value that fans out
(the ``t`` of the small example feeds ``u1`` and ``u2``) receives one ``+=`` per consumer.
Only nodes on a path from a ``wrt`` parameter to J get an adjoint.
"""

from __future__ import annotations

from dataclasses import replace

import sympy as sp

from ..core.ir import LEAF_OPS, Graph, broadcast_shapes
from ..core.program import Update
from ..front.lower import Lowerer
from . import boundary, rules


def needs_adjoint(graph: Graph, output: int, wrt: list[int]) -> set[int]:
    """The nodes on a path from a wrt leaf to the output."""
    cone = graph.cone([output])
    depends = set(w for w in wrt if w is not None)
    for v in cone:  # ascending ids: arguments before their users
        if any(a in depends for a in graph.nodes[v].args):
            depends.add(v)
    return {v for v in cone if v in depends}


def sweep(
    graph: Graph, output: int, wrt: list[int], tag: tuple = ()
) -> tuple[list[Update], dict[int, int]]:
    """Build the backward pass. Returns the updates in order and each node's adjoint leaf.

    ``tag`` tells this sweep's adjoint leaves from another sweep's (the jacobian's VJP of the
    prediction must not share J's leaves: a leaf's shape grows with what is added into it)."""
    needed = needs_adjoint(graph, output, wrt)
    adjoint: dict[int, int] = {}
    updates: list[Update] = []
    if output not in needed:
        return updates, adjoint
    adjoint[output] = graph.add_node("adj", (), (output, *tag), graph.nodes[output].shape)
    varying = boundary.may_broadcast(graph)
    for v in sorted(needed, reverse=True):
        node = graph.nodes[v]
        if node.op in LEAF_OPS or v not in adjoint:
            continue
        g = adjoint[v]
        if varying and boundary.collapses(graph, v):
            g = boundary.total(graph, g)  # d sum(J)/d(node): one number for the matrix rule
        contributions, partials = _contributions(graph, v, g)
        for i, (arg, contrib) in enumerate(zip(node.args, contributions, strict=True)):
            if contrib is None or arg not in needed:
                continue
            contrib = rules.fit(graph, v, i, contrib)
            if graph.is_const(contrib, 0):
                continue
            first = arg not in adjoint
            have = graph.nodes[contrib].shape
            if first:
                # an adjoint has the shape of what is added into it: a scalar or a row may
                # stand for its broadcast (the seed of a sum), expanded only where needed
                adjoint[arg] = graph.add_node("adj", (), (arg, *tag), have)
            else:
                leaf = adjoint[arg]
                grown = broadcast_shapes(graph.nodes[leaf].shape, have, "an adjoint")
                graph.nodes[leaf] = replace(graph.nodes[leaf], shape=grown)
            updates.append(Update(arg, v, contrib, first, partials[i]))
    return updates, adjoint


def _contributions(graph: Graph, v: int, g: int) -> tuple[list, list[str]]:
    node = graph.nodes[v]
    built = rules.structural_vjp(graph, v, g)
    if built is not None:
        return built, [
            rules.structural_partial_template(graph, v, i) for i in range(len(node.args))
        ]
    consts = tuple(graph.values[a] if graph.is_const(a) else None for a in node.args)
    exprs = rules.sympy_vjp(node.op, consts)
    if (
        node.shape == ()
        and graph.nodes[g].shape == ()
        and all(graph.nodes[a].shape == () for a in node.args)
    ):
        program = _program(node.op, consts, exprs)
        if program is not None:  # the rule's builder calls, replayed: no SymPy walk per node
            out = _replay(graph, program, [g, v, *node.args])
            return out, [_partial_text(node.op, consts, i, e) for i, e in enumerate(exprs)]
    env = {rules.G: g, rules.ANS: v}
    for i, a in enumerate(node.args):
        env[rules.arg(i)] = a
    lowerer = Lowerer(graph, env)
    out = [None if e is None else lowerer.lower(sp.sympify(e)) for e in exprs]
    return out, [_partial_text(node.op, consts, i, e) for i, e in enumerate(exprs)]


def rule_term(graph: Graph, v: int, i: int, g: int):
    """Contribution ``i`` of node v's SymPy rule for the incoming adjoint ``g``, with the local
    partial's text; ``(None, "0")`` when the rule gives that argument nothing. Only that one
    expression is built (the forward sweep asks for one argument at a time, g := ȧ_i)."""
    node = graph.nodes[v]
    consts = tuple(graph.values[a] if graph.is_const(a) else None for a in node.args)
    expr = rules.sympy_vjp(node.op, consts)[i]
    if expr is None:
        return None, "0"
    text = _partial_text(node.op, consts, i, expr)
    if (
        node.shape == ()
        and graph.nodes[g].shape == ()
        and all(graph.nodes[a].shape == () for a in node.args)
    ):
        program = _program(node.op, consts, (expr,))
        if program is not None:
            return _replay(graph, program, [g, v, *node.args])[0], text
    env = {rules.G: g, rules.ANS: v}
    for k, a in enumerate(node.args):
        env[rules.arg(k)] = a
    return Lowerer(graph, env).lower(sp.sympify(expr)), text


#: (op, constant arguments) -> the rule lowered once into a scratch graph, or None
_programs: dict[tuple, tuple[Graph, list] | None] = {}

#: the scratch ops a replay rebuilds with the folding builders (anything else: lower as usual)
_REPLAYABLE = frozenset({"sym", "const", "add", "mul", "pow"})


def _program(op: str, consts: tuple, exprs: tuple) -> tuple[Graph, list] | None:
    """A scalar rule lowered once into a scratch graph whose first nodes are the placeholders
    g, ans, a0, a1, ... (so the sweep of a 10,000-node chain walks SymPy once per rule, not once
    per node). None when lowering does more than arithmetic and elementwise calls."""
    key = (op, consts, exprs)  # the rule's own expressions too: register() may replace it
    if key in _programs:
        return _programs[key]
    scratch = Graph()
    env = {
        rules.G: scratch.add_node("sym", (), ("_g",)),
        rules.ANS: scratch.add_node("sym", (), ("_ans",)),
    }
    for i in range(len(consts)):
        env[rules.arg(i)] = scratch.add_node("sym", (), (f"_a{i}",))
    lowerer = Lowerer(scratch, env)
    outs = [None if e is None else lowerer.lower(sp.sympify(e)) for e in exprs]
    plain = not scratch.notes and all(
        n.op in _REPLAYABLE or (n.op in rules.OPS and n.shape == ()) for n in scratch.nodes
    )
    found = (scratch, outs) if plain and not lowerer.symbols else None
    _programs[key] = found
    return found


def _replay(graph: Graph, program: tuple[Graph, list], leaves: list[int]) -> list:
    """The contributions of one node: the program's builder calls on the real graph's nodes
    (the builders fold and hash-cons exactly as lowering the rule would)."""
    scratch, outs = program
    mapped = dict(enumerate(leaves))
    for sid in range(len(leaves), len(scratch.nodes)):
        node = scratch.nodes[sid]
        args = [mapped[a] for a in node.args]
        if node.op == "const":
            mapped[sid] = graph.const(scratch.values[sid])
        elif node.op == "add":
            mapped[sid] = graph.add(*args)
        elif node.op == "mul":
            mapped[sid] = graph.mul(*args)
        elif node.op == "pow":
            mapped[sid] = graph.pow(*args)
        else:
            mapped[sid] = graph.call(node.op, *args, attrs=node.attrs)
    return [None if o is None else mapped[o] for o in outs]


_partial_cache: dict[tuple, str] = {}


def _partial_text(op: str, consts: tuple, i: int, contribution) -> str:
    """d(node)/d(arg i) as text in the placeholders: the contribution with g = 1."""
    key = (op, consts, i, contribution)  # the rule's expression too: register() may replace it
    text = _partial_cache.get(key)
    if text is None:
        text = "0" if contribution is None else str(sp.sympify(contribution).xreplace({rules.G: 1}))
        _partial_cache[key] = text
    return text
