"""The array-API backend (``backend="array_api"``): one module for NumPy, PyTorch, JAX, CuPy...

The module's lines are the NumPy module's (the same plan: names, order of operations, shared
temporaries), printed against the namespace of the arguments, ``_xp``, that
``array_api_compat.array_namespace`` gives at call time. So a module runs where its arguments
are (a GPU tensor stays on the GPU) and returns arrays of the caller's library: J as a 0-d
array, never a Python float, so that ``jax.jit`` and ``torch.compile`` can trace it. Nothing
in it branches on a value: the Python-level tests are on dtypes and static shapes only.

Only names of the Python array API standard are printed, so that ``array-api-strict`` (the
standard's reference namespace) runs every module. What NumPy has and the standard lacks is
written with standard functions in a helper of the module (``_heaviside``, ``_trace``,
``_unit``, a sigmoid that never overflows); a registered op whose NumPy function is not in
the standard is a ``CircuitError`` naming it.
"""

from __future__ import annotations

from ..core import ops
from ..core.ir import LEAF_OPS
from ..core.program import Compiled
from ..errors import CircuitError
from .layout import tuple_text, wrapped_lines
from .printer import ADD, ATOM, Printer
from .prologue import shape_lines
from .render import environment, render_context
from .single import single_number_lines

TEMPLATE = "array_api.py.j2"

#: the standard's element-wise functions of real numbers (2023.12), which ``register`` may name
_STANDARD_NAMES = """
    abs acos acosh add asin asinh atan atan2 atanh ceil clip copysign cos cosh divide exp expm1
    floor floor_divide hypot log log10 log1p log2 logaddexp maximum minimum multiply negative
    positive pow remainder round sign signbit sin sinh sqrt square subtract tan tanh trunc
"""
STANDARD = frozenset(_STANDARD_NAMES.split())

#: NumPy's name -> the standard's name (or a helper of the module, for what it lacks)
RENAMED = {
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arctan2": "atan2",
    "arcsinh": "asinh",
    "arccosh": "acosh",
    "arctanh": "atanh",
    "power": "pow",
    "absolute": "abs",
    "fabs": "abs",
    "true_divide": "divide",
    "heaviside": "_heaviside",
}

#: the module's own helpers that stand for a NumPy function (each written with standard ones)
HELPERS = frozenset({"_sigmoid", "_softplus", "_heaviside"})


def standard_name(op: ops.Op) -> str | None:
    """What an elementwise op prints as in the array-API module (``asin``, ``_sigmoid``), or
    None when the standard has no such function."""
    target = op.numpy
    if not isinstance(target, str):
        return None
    target = RENAMED.get(target, target)
    if target in HELPERS or target in STANDARD:
        return target
    return None


def unsupported(c: Compiled) -> str | None:
    """The first op of the circuit the standard cannot compute (by name), or None."""
    g = c.graph
    roots = [c.output] + [u.expr for u in c.updates]
    if c.prediction is not None:
        roots.append(c.prediction)
    for v in g.cone(roots):
        op = ops.OPS.get(g.nodes[v].op)
        if op is not None and standard_name(op) is None:
            return f"{op.name!r} (NumPy's {op.numpy!r})"
    return None


class ArrayApiPrinter(Printer):
    """Prints the NumPy module's lines against ``_xp``, the arguments' array namespace.

    Python numbers stay Python numbers where the standard takes them (``2 * x``, ``x**2``,
    ``_xp.where(c, g, 0)``); a function whose arguments are all numbers (``log(N)``, a
    dimension) gets its first one as an array of the call's dtype and device.
    """

    SQRT = "_xp.sqrt"
    PYTHON_FLOATS = False
    POWER = "_xp.pow"
    IN_PLACE = False  # JAX arrays are immutable: ``_d_x = _d_x + ...``, never ``+=``

    def __init__(self, graph, names):
        super().__init__(graph, names)
        # nodes whose value is a Python number at run time (constants, dimensions, and what is
        # computed from them alone): ascending ids are a topological order
        self.numbers: set[int] = set()
        for v, node in enumerate(graph.nodes):
            if node.op in ("const", "dim", "bool") or (
                node.op not in LEAF_OPS and node.args and all(a in self.numbers for a in node.args)
            ):
                self.numbers.add(v)

    # -- what the planner adds around the printed nodes -----------------------------------------
    def seed(self, output: str) -> str:
        return f"_xp.ones_like({output})"

    def typed(self, constant: str) -> str:
        return f"_xp.asarray({constant}, dtype=_dt, device=_dev)"

    def broadcast_to(self, value: str, shape: str) -> str:
        return f"_xp.broadcast_to({value}, {shape})"

    def helper(self, name: str, args: str) -> str:
        self.helpers.add(name)
        return f"{name}(_xp, {args})"

    def zeros_like(self, value: str) -> str:
        return f"_xp.zeros_like({value})"

    # -- arguments --------------------------------------------------------------------------------
    def array_at(self, nid: int, depth: int) -> str:
        """``nid`` printed as an array: a Python number is made one (the call's dtype)."""
        text = self.expr_at(nid, depth)
        if nid not in self.numbers:
            return text
        node = self.graph.nodes[nid]
        if node.op in ops.COMPARISONS or node.op in ops.LOGIC or node.op == "bool":
            return f"_xp.asarray({text}, device=_dev)"
        return f"_xp.asarray({text}, dtype=_dt, device=_dev)"

    def _args(self, nid: int, depth: int) -> list[str]:
        """The arguments of a call: the first as an array when all of them are numbers."""
        args = self.graph.nodes[nid].args
        out = [self.expr_at(a, depth) for a in args]
        if all(a in self.numbers for a in args):
            out[0] = self.array_at(args[0], depth)
        return out

    # -- calls -------------------------------------------------------------------------------------
    def _print_call(self, nid: int, depth: int) -> tuple[str, int]:
        node = self.graph.nodes[nid]
        op = node.op
        args = self._args(nid, depth)
        if op == "where":
            args[0] = self.array_at(node.args[0], depth)  # the condition is always an array
        if op in ops.OPS:
            target = standard_name(ops.OPS[op])
            if target is None:  # refused before printing (``unsupported``); a guard
                raise CircuitError(f"op {op!r} has no array-API equivalent")
            leading = [repr(c) for c in ops.OPS[op].leading]  # softplus: logaddexp(0.0, a)
            if target in HELPERS:
                self.helpers.add(target)
                return f"{target}(_xp, {', '.join(leading + args)})", ATOM
            return f"_xp.{target}({', '.join(leading + args)})", ATOM
        if op in ("where", "maximum", "minimum"):
            return f"_xp.{op}({', '.join(args)})", ATOM
        if op in ("and", "or", "not"):
            return f"_xp.logical_{op}({', '.join(args)})", ATOM
        raise NotImplementedError(f"no printer for op {op!r}")

    # -- matrices -----------------------------------------------------------------------------------
    def _print_sum(self, nid: int, depth: int) -> tuple[str, int]:
        """``_xp.sum`` over everything, or over one axis with the axis kept."""
        node = self.graph.nodes[nid]
        a = self.array_at(node.args[0], depth)
        axis = node.attrs[0]
        if axis is None:
            return f"_xp.sum({a})", ATOM
        return f"_xp.sum({a}, axis={axis}, keepdims=True)", ATOM

    def _print_rowmax(self, nid: int, depth: int) -> tuple[str, int]:
        a = self.expr_at(self.graph.nodes[nid].args[0], depth)
        return f"_xp.max({a}, axis=1, keepdims=True)", ATOM

    def _print_logsumexp(self, nid: int, depth: int) -> tuple[str, int]:
        """``m + log(sum(exp(a - m)))`` per row, m the row max: no overflow."""
        a, m = self.graph.nodes[nid].args
        at, mt = self._wrap(a, depth, ADD), self._wrap(m, depth, ADD + 1)
        inner = f"_xp.sum(_xp.exp({at} - {mt}), axis=1, keepdims=True)"
        return f"{self._wrap(m, depth, ADD)} + _xp.log({inner})", ADD

    def _print_broadcast(self, nid: int, depth: int) -> tuple[str, int]:
        node = self.graph.nodes[nid]
        value = self.array_at(node.args[0], depth)
        return self.broadcast_to(value, self.shape(node.shape)), ATOM

    def _print_unit(self, nid: int, depth: int) -> tuple[str, int]:
        """The adjoint of ``a[i, j]``: zeros holding g at (i, j), built without writing."""
        node = self.graph.nodes[nid]
        i, j = node.attrs
        self.helpers.add("_unit")
        g = self.array_at(node.args[0], depth)
        return f"_unit(_xp, {g}, {self.shape(node.shape)}, {i}, {j})", ATOM

    def _print_trace(self, nid: int, depth: int) -> tuple[str, int]:
        self.helpers.add("_trace")
        return f"_trace(_xp, {self.expr_at(self.graph.nodes[nid].args[0], depth)})", ATOM

    def _print_stack(self, nid: int, depth: int) -> tuple[str, int]:
        """An explicit matrix of scalars: its entries stacked, in the call's dtype and device."""
        node = self.graph.nodes[nid]
        rows, cols = node.attrs
        self.helpers.add("_stack")
        items = ", ".join(self.expr_at(a, depth) for a in node.args)
        return f"_stack(_xp, ({rows}, {cols}), _dt, _dev, {items})", ATOM

    def _print_ones(self, nid: int, depth: int) -> tuple[str, int]:
        shape = self.shape(self.graph.nodes[nid].shape)
        return f"_xp.ones({shape}, dtype=_dt, device=_dev)", ATOM

    def _print_zeros(self, nid: int, depth: int) -> tuple[str, int]:
        shape = self.shape(self.graph.nodes[nid].shape)
        return f"_xp.zeros({shape}, dtype=_dt, device=_dev)", ATOM

    def _print_eye(self, nid: int, depth: int) -> tuple[str, int]:
        n = self.graph.nodes[nid].attrs[0]
        return f"_xp.eye({n}, dtype=_dt, device=_dev)", ATOM


def prologue(c: Compiled, names: list[str], label: str) -> list[str]:
    """The lines that open a function: the namespace, dtype and device of the arguments
    (``label`` names the module's tuple of their names, for error messages), each argument as an
    array of that namespace, then the shape check (on static shapes only)."""
    lines = wrapped_lines("_xp, _dt, _dev = _namespace(", [label, *names], ")", indent=4)
    lines += [f'{a} = _arg(_xp, {a}, _dt, _dev, "{a}")' for a in names]
    roots = [c.output, *(u.expr for u in c.updates)]
    return lines + shape_lines(c, names) + single_number_lines(c.graph, names, roots, xp=True)


def _result(c: Compiled, nid: int | None, text: str, copy: bool) -> str:
    """What a function returns: its value as an array of the call's library. NumPy gives a
    NumPy scalar, not a 0-d array, for an operation on 0-d arrays, and a value computed from
    constants and dimensions alone is a Python number: ``_xp.asarray`` makes both arrays (and
    copies J when it is an argument)."""
    if nid is None:
        return ""
    if c.graph.nodes[nid].op == "const":
        return text  # the plan printed it as an array of the call's dtype already
    if copy:
        return f"_xp.asarray({text}, copy=True)"
    return (
        f"_xp.asarray({text}, dtype=_dt, device=_dev)"
        if _numbers(c, nid)
        else f"_xp.asarray({text})"
    )


def _numbers(c: Compiled, nid: int) -> bool:
    """True when node ``nid`` is a Python number at run time (constants and dimensions only)."""
    return nid in ArrayApiPrinter(c.graph, {}).numbers


def render_array_api(c: Compiled) -> str:
    """The array-API module's source text; ``CircuitError`` for an op the standard lacks."""
    bad = unsupported(c)
    if bad is not None:
        raise CircuitError(
            f"backend 'array_api': circuit {c.circuit.name!r} uses the op {bad}, which the "
            "Python array API standard does not have; compile it with backend='numpy'"
        )
    context = render_context(c, printer_class=ArrayApiPrinter)
    p = context["plan"]
    args = [name for name, _ in c.wrt] + c.inputs
    p.prologue = prologue(c, args, "_ARGS")
    if c.prediction is not None:
        p.predict_prologue = prologue(c, p.predict_args, "_PREDICT_ARGS")
    context.update(
        template=TEMPLATE,
        uses_math=p.uses_math,
        result=_result(c, c.output, p.output, context["output_is_input"]),
        prediction_result=_result(c, c.prediction, p.prediction, False),
        args_tuple=tuple_text(args, "_ARGS = "),
        predict_args_tuple=tuple_text(p.predict_args, "_PREDICT_ARGS = ") if p.predict_args else "",
    )
    return environment().get_template(TEMPLATE).render(**context)
