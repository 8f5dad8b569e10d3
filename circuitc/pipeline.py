"""The driver: a ``Circuit`` is lowered (front end), swept backwards (calculus) and optimised
(passes) into the ``Compiled`` record that the emitter and the views read."""

from __future__ import annotations

import sympy as sp

from .calculus import forward
from .calculus.jacobian import JACOBIAN_MODES, check_mode, plan_jacobian
from .calculus.reverse import sweep
from .core.ir import LEAF_OPS, Graph
from .core.ops import COMPARISONS, LOGIC
from .core.program import Compiled, digest
from .errors import CircuitError
from .front.circuit import Circuit
from .front.lower import Lowerer
from .front.matrix import check_step_shape, dimension_symbols
from .passes.optimize import optimize

__all__ = ["JACOBIAN_MODES", "SECOND_ORDER_NODES", "build"]

#: ``second_order="auto"`` gives a circuit jvp, hvp and jacobian when its IR has at most this
#: many nodes (forward and backward, before the tangent sweeps). The examples have at most
#: 355; a 10,000-step chain has 30,000, and its second-order functions would be three
#: quarters of its module's source and of Python's memory compiling it
SECOND_ORDER_NODES = 5000


def build(
    circuit: Circuit, jacobian_mode: str = "auto", second_order: bool | str = "auto"
) -> Compiled:
    """Lower ``circuit`` into one DAG and derive its backward pass: lower the steps, the
    output and the prediction; check the parameters, dimensions and data inputs; name the
    output; sweep backwards; optimise; hash; then, when ``second_order`` says so (True, or
    "auto" and at most ``SECOND_ORDER_NODES`` nodes), the forward-mode sweeps and the
    jacobian's (``jacobian_mode``: "auto", "forward" or "reverse"; see
    ``calculus/jacobian.py``)."""
    check_mode(jacobian_mode)
    check_second_order(second_order)
    graph = Graph()
    exprs = [circuit.output, circuit.prediction, *circuit.wrt]
    for sym, expr in circuit.steps:
        exprs += [sym, expr]
    lowerer = Lowerer(graph, dims=dimension_symbols(exprs))
    names, steps = _lower_steps(circuit, lowerer)
    for what in ("output", "prediction"):
        _check_defined(circuit, what, getattr(circuit, what), {name for name, _ in steps})
    output = lowerer.lower(circuit.output)
    prediction = lowerer.lower(circuit.prediction) if circuit.prediction is not None else None
    for what, nid in (("output", output), ("prediction", prediction)):
        _check_is_a_number(circuit, graph, what, nid)
    _check_parameters(circuit, lowerer, {name for name, _ in steps})
    wrt = [(w.name, lowerer.env.get(w)) for w in circuit.wrt]
    for name, sym in lowerer.symbols.items():
        names.setdefault(lowerer.env[sym], name)
    wrt_names = {w.name for w in circuit.wrt}  # a set: O(1) membership for 10^4 parameters
    inputs = sorted(n for n in lowerer.symbols if n not in wrt_names)
    dims = _dimensions(circuit, lowerer, inputs)
    _check_data_inputs(circuit, inputs)
    shapes = {w.name: _shape_of(w) for w in circuit.wrt}
    for name in inputs:
        shapes[name] = _shape_of(lowerer.symbols[name])
    output_name = _name_output(graph, output, names)
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
    compiled.digest = digest(compiled)  # of the circuit and its backward pass, as before
    _second_order(compiled, jacobian_mode, second_order)
    return compiled


def check_second_order(second_order) -> None:
    """``second_order`` is "auto", True or False (a CircuitError naming the choices, else)."""
    if not (second_order is True or second_order is False or second_order == "auto"):
        raise CircuitError(
            f"second_order={second_order!r}: choose 'auto' (jvp, hvp and jacobian for circuits "
            f"of at most {SECOND_ORDER_NODES} IR nodes), True or False"
        )


def _second_order(c: Compiled, jacobian_mode: str, second_order: bool | str) -> None:
    """The forward-mode sweeps and the jacobian's when ``second_order`` asks for them (True, or
    "auto" and at most ``SECOND_ORDER_NODES`` nodes); else why not, for the module's error.
    They only add nodes: the digest and everything built before stay as they are."""
    c.primal_nodes = n = len(c.graph.nodes)
    if second_order is True or (second_order == "auto" and n <= SECOND_ORDER_NODES):
        _forward_mode(c)
        plan_jacobian(c, jacobian_mode)
        return
    c.second_order = False
    c.second_order_why = (
        "it was compiled with second_order=False"
        if second_order is False
        else f"its IR has {n} nodes, more than the {SECOND_ORDER_NODES} up to which "
        "second_order='auto' emits them"
    )


def _forward_mode(c: Compiled) -> None:
    """The tangent sweeps: forward mode over the forward nodes (jvp, jacobian) and forward over
    reverse over the backward updates (hvp). They only add nodes to the graph."""
    roots = [c.output] + ([c.prediction] if c.prediction is not None else [])
    seeds = forward.seed(c.graph, [nid for _, nid in c.wrt])
    c.tangents, c.tangent = forward.sweep(c.graph, roots, seeds)
    c.hvp_updates, c.tangent_adjoint = forward.hvp_sweep(
        c.graph, c.updates, c.adjoint, c.tangent, set(c.graph.cone(roots))
    )


def _lower_steps(circuit: Circuit, lowerer: Lowerer) -> tuple[dict[int, str], list]:
    """Lower the steps in order, each bound to its symbol: the nodes' names (a step's node is
    named after the step) and the ``(step name, node)`` list."""
    graph = lowerer.graph
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
        if sym.name in lowerer.dims:
            # the step would shadow the size bound from the arrays (a mean would divide by it)
            raise CircuitError(
                f"circuit {circuit.name!r}: step {sym.name!r} is named like the matrix dimension "
                f"{sym.name}; give the step another name"
            )
        nid = lowerer.lower(expr)
        if sym.name in lowerer.symbols:
            raise CircuitError(
                f"circuit {circuit.name!r}: step {sym.name!r} reads its own symbol; a step may "
                "use only the inputs and earlier steps"
            )
        if isinstance(sym, sp.MatrixSymbol):
            check_step_shape(graph, sym, nid)
        lowerer.env[sym] = nid
        step_names.add(sym.name)
        steps.append((sym.name, nid))
        if graph.nodes[nid].op not in LEAF_OPS:
            # a step that is just an input or a constant (t = x, t = 3) has no line of its own:
            # the code reads x or 3 where the circuit says t
            names.setdefault(nid, sym.name)
    return names, steps


def _check_defined(circuit: Circuit, what: str, expr, step_names: set[str]) -> None:
    """Refuse an output (or prediction) that is a bare symbol no step defines: it would become a
    data input, and the module would return its argument with a zero gradient."""
    if not isinstance(expr, (sp.Symbol, sp.MatrixSymbol)):
        return
    if expr.name in step_names or any(w.name == expr.name for w in circuit.wrt):
        return
    defined = ", ".join(sorted(step_names)) if step_names else "none"
    raise CircuitError(
        f"circuit {circuit.name!r}: the {what} {expr.name!r} is not defined by any step "
        f"(steps: {defined}) and is not a parameter; add a step ({expr.name}, ...) or give "
        f"the {what} as an expression"
    )


def _check_is_a_number(circuit: Circuit, graph: Graph, what: str, nid: int | None) -> None:
    """The output and the prediction are numbers, never a bare condition."""
    op = graph.nodes[nid].op if nid is not None else None
    if op in COMPARISONS or op in LOGIC or op == "bool":
        raise CircuitError(
            f"circuit {circuit.name!r}: the {what} is a condition, not a number "
            "(conditions belong in a Piecewise)"
        )


def _check_parameters(circuit: Circuit, lowerer: Lowerer, step_names: set[str]) -> None:
    """Each parameter is an input, not a step, and the only symbol of its name."""
    for w in circuit.wrt:
        if w.name in step_names:
            raise CircuitError(f"circuit {circuit.name!r}: {w.name!r} is a step, not a parameter")
        known = lowerer.symbols.get(w.name)
        if known is not None and known != w:
            raise CircuitError(
                f"two different symbols are named {w.name!r} (their assumptions differ)"
            )


def _dimensions(circuit: Circuit, lowerer: Lowerer, inputs: list[str]) -> list[str]:
    """The matrix dimensions bound at call time: none is also an argument's name, and each is
    the size of some argument (so a call can bind it)."""
    graph = lowerer.graph
    wrt_names = {w.name for w in circuit.wrt}  # a set: O(1) membership for 10^4 parameters
    dims = sorted({d for n in graph.nodes if n.op == "sym" for d in n.shape if isinstance(d, str)})
    clash = [d for d in dims if d in lowerer.symbols or d in wrt_names]
    if clash:
        raise CircuitError(f"{clash[0]!r} is a matrix dimension and cannot also be a circuit input")
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
    return dims


def _check_data_inputs(circuit: Circuit, inputs: list[str]) -> None:
    """The features and the target a data set binds are inputs the circuit uses."""
    target = [circuit.target] if circuit.target is not None else []
    for extra in (circuit.features or []) + target:
        if extra.name not in inputs:
            raise CircuitError(
                f"circuit {circuit.name!r}: data input {extra.name!r} is not used by the circuit"
            )


def _name_output(graph: Graph, output: int, names: dict[int, str]) -> str:
    """J's name in the code: the step's own name, ``J`` for a constant (printed as its value),
    else ``_J`` (recorded in ``names``)."""
    if output in names:
        return names[output]
    if graph.nodes[output].op in LEAF_OPS:
        return "J"
    names[output] = "_J"
    return "_J"


def _shape_of(sym: sp.Basic) -> tuple:
    if isinstance(sym, sp.MatrixSymbol):
        return tuple(int(d) if isinstance(d, (int, sp.Integer)) else str(d) for d in sym.shape)
    return ()
