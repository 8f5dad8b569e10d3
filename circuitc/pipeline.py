"""The driver: a ``Circuit`` is lowered (front end), swept backwards (calculus) and optimised
(passes) into the ``Compiled`` record that the emitter and the views read."""

from __future__ import annotations

import sympy as sp

from .calculus.reverse import sweep
from .core.ir import LEAF_OPS, Graph
from .core.ops import COMPARISONS, LOGIC
from .core.program import Compiled, digest
from .errors import CircuitError
from .front.circuit import Circuit
from .front.lower import Lowerer
from .front.matrix import check_step_shape, dimension_symbols
from .passes.optimize import optimize


def build(circuit: Circuit) -> Compiled:
    """Lower ``circuit`` into one DAG and derive its backward pass."""
    graph = Graph()
    exprs = [circuit.output, circuit.prediction, *circuit.wrt]
    for sym, expr in circuit.steps:
        exprs += [sym, expr]
    lowerer = Lowerer(graph, dims=dimension_symbols(exprs))
    names: dict[int, str] = {}
    steps: list[tuple[str, int]] = []
    step_names: set[str] = set()
    for sym, expr in circuit.steps:
        if sym.name in step_names:
            raise CircuitError(f"circuit {circuit.name!r}: step {sym.name!r} is defined twice")
        if sym.name in lowerer.symbols:
            raise CircuitError(
                f"circuit {circuit.name!r}: step {sym.name!r} is used before it is defined"
            )
        nid = lowerer.lower(expr)
        if isinstance(sym, sp.MatrixSymbol):
            check_step_shape(graph, sym, nid)
        lowerer.env[sym] = nid
        step_names.add(sym.name)
        steps.append((sym.name, nid))
        if graph.nodes[nid].op not in LEAF_OPS:
            # a step that is just an input or a constant (t = x, t = 3) has no line of its own:
            # the code reads x or 3 where the circuit says t
            names.setdefault(nid, sym.name)
    output = lowerer.lower(circuit.output)
    prediction = lowerer.lower(circuit.prediction) if circuit.prediction is not None else None
    for what, nid in (("output", output), ("prediction", prediction)):
        op = graph.nodes[nid].op if nid is not None else None
        if op in COMPARISONS or op in LOGIC or op == "bool":
            raise CircuitError(
                f"circuit {circuit.name!r}: the {what} is a condition, not a number "
                "(conditions belong in a Piecewise)"
            )

    wrt_names = [w.name for w in circuit.wrt]
    for w in circuit.wrt:
        if w.name in step_names:
            raise CircuitError(f"circuit {circuit.name!r}: {w.name!r} is a step, not a parameter")
        known = lowerer.symbols.get(w.name)
        if known is not None and known != w:
            raise CircuitError(
                f"two different symbols are named {w.name!r} (their assumptions differ)"
            )
    wrt = [(w.name, lowerer.env.get(w)) for w in circuit.wrt]
    for name, sym in lowerer.symbols.items():
        names.setdefault(lowerer.env[sym], name)
    dims = sorted({d for n in graph.nodes if n.op == "sym" for d in n.shape if isinstance(d, str)})
    clash = [d for d in dims if d in lowerer.symbols or d in wrt_names]
    if clash:
        raise CircuitError(f"{clash[0]!r} is a matrix dimension and cannot also be a circuit input")
    inputs = sorted(n for n in lowerer.symbols if n not in wrt_names)
    bound = {
        d
        for w in list(circuit.wrt) + [lowerer.symbols[n] for n in inputs]
        for d in _shape_of(w)
        if isinstance(d, str)
    }
    unbound = sorted(set(lowerer.dims) - bound)
    if unbound:
        raise CircuitError(
            f"circuit {circuit.name!r}: matrix dimension {unbound[0]!r} is not the size of any argument"
        )
    for extra in (circuit.features or []) + (
        [circuit.target] if circuit.target is not None else []
    ):
        if extra.name not in inputs:
            raise CircuitError(
                f"circuit {circuit.name!r}: data input {extra.name!r} is not used by the circuit"
            )
    shapes = {}
    for w in circuit.wrt:
        shapes[w.name] = _shape_of(w)
    for name in inputs:
        shapes[name] = _shape_of(lowerer.symbols[name])

    if output in names:
        output_name = names[output]
    elif graph.nodes[output].op in LEAF_OPS:
        output_name = "J"  # a constant J: printed as its value, no line of its own
    else:
        output_name = "_J"
        names[output] = output_name
    updates, adjoint = sweep(graph, output, [nid for _, nid in wrt])
    compiled = Compiled(
        circuit,
        graph,
        output,
        output_name,
        names,
        steps,
        wrt,
        inputs,
        shapes,
        dims,
        updates,
        adjoint,
        prediction,
    )
    optimize(compiled)
    compiled.digest = digest(compiled)
    return compiled


def _shape_of(sym: sp.Basic) -> tuple:
    if isinstance(sym, sp.MatrixSymbol):
        return tuple(int(d) if isinstance(d, (int, sp.Integer)) else str(d) for d in sym.shape)
    return ()
