"""A circuit compiled for inspection, and one evaluation of it traced value by value.

``inspect_circuit`` compiles a circuit and pairs every emitted line with its IR node or
backward update; ``trace`` executes the module's own lines at a point and records each
value, each adjoint and each update's local partial. The table, the graph and the cost
report are built on these.

The lines executed are circuitc's own generated code (never user text): the emitted
module's lines, and for local partials single IR nodes printed by the module's printer.
"""

from __future__ import annotations

import types
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.ir import LEAF_OPS
from ..core.program import Compiled
from ..emit.plan import Line, Plan, plan
from ..emit.printer import Printer
from ..emit.render import render
from ..errors import CircuitError
from ..front.circuit import as_circuit as _as_circuit
from ..loader import load_source
from ..pipeline import build
from . import points
from .formats import pretty


@dataclass
class Inspected:
    """A circuit compiled for inspection: the IR, the emitted plan and the live module."""

    compiled: Compiled
    plan: Plan
    module: types.ModuleType
    names: dict[int, str]
    display: dict[int, str]
    fwd_lines: list[tuple[int, Line]]  # (node, its forward line)
    bwd_lines: list[tuple[int | None, Line]]  # (update index or None, line), as emitted
    fwd_cone: list[int]
    seeded: bool = True  # the backward pass starts with the seed line dJ/dJ = 1

    @property
    def output_display(self) -> str:
        return self.display[self.compiled.output]


def as_circuit(obj, wrt=None, name: str = "circuit"):
    """A ``Circuit`` from a Circuit, a module compiled by ``circuitc.compile``, or an expression."""
    if isinstance(obj, types.ModuleType):
        circuit = getattr(obj, "__circuit__", None)
        if circuit is None:
            raise CircuitError(
                f"module {obj.__name__!r} was not compiled by circuitc.compile in this process; "
                "pass its Circuit instead"
            )
        return circuit
    return _as_circuit(obj, wrt, name)


def inspect_circuit(
    obj, wrt=None, name: str = "circuit", second_order: bool | str = "auto"
) -> Inspected:
    """Compile ``obj`` (``second_order`` as ``circuitc.compile``'s) and pair the emitted lines
    with the IR nodes and backward updates."""
    circuit = as_circuit(obj, wrt, name)
    c = build(circuit, second_order=second_order)
    p = plan(c)
    module = load_source(render(c), circuit.name)
    names = p.names
    by_name = {n: v for v, n in names.items()}
    printer = Printer(c.graph, names)
    fwd_lines = [(by_name[line.lhs], line) for line in p.forward_full]
    fwd_cone = c.graph.cone([c.output] + [v for v, _ in fwd_lines])
    display: dict[int, str] = {}
    for v in fwd_cone:
        if v in names:
            display[v] = names[v]
        else:
            display[v] = pretty(printer.expr(v), p.helpers)
    if names.get(c.output) == "_J" or c.graph.nodes[c.output].op == "const":
        display[c.output] = "J"
    # the seed line dJ/dJ = 1 comes first, unless the optimizer folded it into its users
    seeded = c.output in c.adjoint and not getattr(c, "seed_folded", False)
    bwd_lines: list[tuple[int | None, Line]] = []
    k = 0
    for i, line in enumerate(p.backward):
        if line.comment and not (i == 0 and seeded):
            u = c.updates[k]
            if line.lhs != names[c.adjoint[u.target]]:
                raise AssertionError(f"backward line {line.lhs} does not match update {k}")
            bwd_lines.append((k, line))
            k += 1
        else:
            bwd_lines.append((None, line))
    if k != len(c.updates):
        raise AssertionError("the emitted backward lines do not match the updates")
    return Inspected(c, p, module, names, display, fwd_lines, bwd_lines, fwd_cone, seeded)


def check_at(ins: Inspected, at: Mapping[str, Any], seed: int = 0) -> dict[str, Any]:
    """``at`` checked against the circuit's arguments and made ready to call the module with.

    An argument ``at`` does not give is drawn at random, seeded by ``seed``, as ``circuitc
    check`` draws it (``points.fill``): a table needs every value, a user types only some.
    """
    c = ins.compiled
    args = [n for n, _ in c.wrt] + list(c.inputs)
    unknown = sorted(set(at) - set(args))
    if unknown:
        raise CircuitError(
            f"circuit {c.circuit.name!r} has no argument {unknown[0]!r} (arguments: {', '.join(args)})"
        )
    at = points.fill({a: c.shapes.get(a, ()) for a in args}, at, seed)
    out = {}
    for a in args:
        v = at[a]
        if isinstance(v, (list, tuple)):
            v = np.asarray(v, dtype=np.float64)
        shape = c.shapes.get(a, ())
        if shape and np.ndim(v) == 0:
            # a number for a matrix argument fills it, as circuitc check does
            if not all(isinstance(d, int) for d in shape):
                dims = "x".join(str(d) for d in shape)
                raise CircuitError(
                    f"{a!r} is a {dims} matrix: give it as an array (Python API: at={{{a!r}: array}})"
                )
            v = np.full(shape, float(v))
        out[a] = v
    # the module checks shapes and names; its errors are bad input here
    try:
        with np.errstate(all="ignore"):
            ins.module.value_and_grad(**out)
    except (ValueError, TypeError) as e:
        raise CircuitError(f"circuit {c.circuit.name!r} at this point: {e}") from e
    return out


def _snapshot(v):
    return v.copy() if isinstance(v, np.ndarray) else v


def all_finite(v) -> bool:
    try:
        return bool(np.all(np.isfinite(v)))
    except TypeError:
        return True


@dataclass
class Trace:
    """The numbers of one evaluation: node values, final adjoints and per-update numbers."""

    values: dict[int, Any]  # forward node -> value
    adjoints: dict[int, Any]  # node -> final dJ/dnode
    updates: dict[int, tuple[Any, Any, Any]]  # update index -> (partial, incoming, accumulated)
    events: list[tuple[str, int]]  # ("value", node) / ("adjoint", update index), execution order


def trace(ins: Inspected, at: Mapping[str, Any]) -> Trace:
    """Execute the module's own lines at ``at`` and record every value and adjoint."""
    c, g = ins.compiled, ins.compiled.graph
    mod = ins.module
    ns: dict[str, Any] = dict(vars(mod))
    values: dict[int, Any] = {}
    sym_nodes = {ins.names[v]: v for v in ins.fwd_cone if g.nodes[v].op == "sym" and v in ins.names}
    ns.update(at)
    # the module's own prologue: converts the arguments, defines _dt and binds the dimensions
    # (N, ...) that printed nodes read
    exec("\n".join(ins.plan.prologue), ns)  # noqa: S102 - circuitc's own generated lines
    for name in at:
        if name in sym_nodes:
            values[sym_nodes[name]] = ns[name]
    events: list[tuple[str, int]] = []
    adjoints: dict[int, Any] = {}
    updates: dict[int, tuple[Any, Any, Any]] = {}
    adj_node = {ins.names[leaf]: target for target, leaf in c.adjoint.items() if leaf in ins.names}
    with np.errstate(all="ignore"):
        for v, line in ins.fwd_lines:
            _run(line, ns)
            values[v] = _snapshot(ns[line.lhs])
            events.append(("value", v))
        # nodes printed inline (no line of their own) get their values node by node
        interp = _NodeEval(ins, ns, values)
        for v in ins.fwd_cone:
            if v not in values and g.nodes[v].op not in ("const", "bool"):
                values[v] = interp.value(v)
        if c.output in c.adjoint and not ins.seeded:  # a folded seed: dJ/dJ = 1 all the same
            adjoints[c.output] = np.ones_like(values[c.output])[()]
        for k, line in ins.bwd_lines:
            _run(line, ns)
            if line.lhs in adj_node:
                adjoints[adj_node[line.lhs]] = _snapshot(ns[line.lhs])
            if k is None:
                continue
            u = c.updates[k]
            incoming = adjoints.get(u.source)
            partial = interp.partial(u) if _scalar_update(c, u) else None
            updates[k] = (partial, incoming, adjoints[u.target])
            events.append(("adjoint", k))
    return Trace(values, adjoints, updates, events)


def _run(line: Line, ns: dict) -> None:
    """Execute one of circuitc's own emitted lines (never user text) in ``ns``."""
    exec(f"{line.lhs} {line.op} {line.rhs}", ns)  # noqa: S102 - generated by circuitc


def _scalar_update(c: Compiled, u) -> bool:
    g = c.graph
    node = g.nodes[u.source]
    return node.shape == () and all(g.nodes[a].shape == () for a in node.args)


class _NodeEval:
    """Evaluates single IR nodes, each printed by the module's printer with its arguments by name."""

    def __init__(self, ins: Inspected, ns: dict, values: dict[int, Any]):
        self.ins = ins
        self.graph = ins.compiled.graph
        self.ns = dict(ns)
        self.values = values
        names = {
            v: f"_v{v}"
            for v, node in enumerate(self.graph.nodes)
            if node.op not in ("const", "bool")
        }
        self.printer = Printer(self.graph, names)
        self.shared: dict[int, Any] = {}  # backward-only values that do not depend on g
        self.with_g: dict[int, dict[int, Any]] = {}  # source node -> values computed with g = 1

    def _eval(self, v: int, env: dict[int, Any]) -> Any:
        name = self.printer.names.pop(v)
        try:
            text = self.printer.expr(v)
        finally:
            self.printer.names[v] = name
        local = {f"_v{a}": env[a] for a in self.graph.nodes[v].args if a in env}
        return eval(text, self.ns, local)  # noqa: S307 - circuitc's own printed node

    def value(self, v: int) -> Any:
        return self._eval(v, self.values)

    def partial(self, u) -> Any:
        """d(source)/d(target): the update's expression evaluated with dJ/d(source) = 1.

        Each backward-only node is evaluated once: those that depend on the adjoint once per
        source node (the prefix products of a long product serve all its updates), the others
        once for all.
        """
        g = self.graph
        # values that depend on the adjoint, per source node (all its updates share g = 1)
        adjoint = self.ins.compiled.adjoint[u.source]
        local = self.with_g.setdefault(u.source, {adjoint: 1.0})
        known = ChainMap(local, self.shared, self.values)
        order, seen, stack = [], set(), [u.expr]
        while stack:
            v = stack.pop()
            if v in seen or v in known or g.nodes[v].op in ("const", "bool"):
                continue
            if g.nodes[v].op in LEAF_OPS:  # another adjoint: not part of a local partial
                return None
            seen.add(v)
            order.append(v)
            stack.extend(g.nodes[v].args)
        for v in sorted(order):  # ascending ids: arguments first
            value = self._eval(v, known)
            if any(a in local for a in g.nodes[v].args):
                local[v] = value
            else:
                self.shared[v] = value
        return known[u.expr]
