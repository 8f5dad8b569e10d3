"""The tiny-shape path's printer: the values that are 1×1 at call time as Python floats.

When every dimension of a matrix circuit is bound to 1 (one instance: ``X`` is 1×D, ``y``,
``a = Xθ`` and the loss 1×1), most of the NumPy path's arrays hold one number, and each NumPy
call on them costs a microsecond of dispatch for one floating-point operation. This printer
prints the same lines with those values as Python floats, and gives exactly the NumPy path's
numbers, bit for bit:

* ``+ - * /`` are the same IEEE operations on the same operands;
* ``sin``, ``cos``, ``abs`` and square roots call ``math`` (the ops ``MathPrinter.EXACT`` and
  ``tests/test_fastpath.py`` show agree with NumPy bit for bit on this machine);
* the softplus calls ``_tiny_softplus``: the NumPy path's ``_softplus`` formula (max(a, 0) +
  log1p(exp(-|a|))) with NumPy's own ``exp`` and ``log1p`` on the float (``tests/test_tiny.py``
  checks the bits against ``_softplus`` of 1×1 arrays);
* every other function (``exp``, ``tanh``, ``power``, ``where``…) is NumPy's own ufunc called
  on the Python float and turned back into one (``_float(_np.exp(a))``): the same inner loop
  as on a 1×1 array, so the same bits, at a fifth of an array call's cost; the sigmoid calls
  ``_tiny_sigmoid``, NumPy path's formula with NumPy's ``exp``;
* a matrix product whose result is 1×1 (a row times a column) is ``A.dot(B).item()``: NumPy's
  ``matmul`` computes that product with the same ``dot`` loop (the same BLAS call, on the same
  strides), and the method skips both a ufunc's and ``np.dot``'s dispatch; one with a 1×1 factor (``Xᵀ (σ(a) − y)``,
  inner dimension 1) is the elementwise product by the float, one multiplication per entry as
  in the matrix product;
* a transpose, a sum or a broadcast of a 1×1 value is the value itself.

Where Python raises and NumPy returns inf or nan (a division by zero, ``math.sqrt`` of a
negative, ``_tiny_sigmoid`` where ``exp`` would overflow), the module catches the error and
runs the NumPy path instead, which gives NumPy's inf/nan.
"""

from __future__ import annotations

import sympy as sp

from ..core import ops
from ..core.ir import Graph
from ..core.program import Compiled
from .fastpath import MathPrinter
from .printer import ATOM, MUL, Printer

#: ops the tiny path does not print (constant matrices need the call's dtype; the adjoints of
#: indexing and the row-wise reductions are not worth a second path): no tiny path
UNSUPPORTED = frozenset({"ones", "zeros", "eye", "stack", "unit", "unslice", "rowmax", "call"})
UNSUPPORTED |= frozenset({"logsumexp", "dot"})

#: ops that are the identity on a 1×1 value
_IDENTITY_OPS = frozenset({"transpose", "sum", "broadcast", "element", "slice", "trace"})

#: ops whose scalar value is a NumPy bool, used only as a condition: left as NumPy returns it
_CONDITIONS = frozenset({"and", "or", "not"})


def tiny_shape(shape: tuple) -> tuple:
    """A node's shape when every dimension is bound to 1: ``(N, 31)`` → ``(1, 31)``."""
    return tuple(1 if isinstance(d, str) else d for d in shape)


def scalar_nodes(c: Compiled, nodes) -> set[int]:
    """The nodes of ``nodes`` that hold one number when every dimension is 1."""
    g = c.graph
    return {v for v in nodes if tiny_shape(g.nodes[v].shape) in ((), (1, 1))}


def argument_name(name: str) -> str:
    """The local that holds a 1×1 matrix argument as a Python float: ``y`` → ``_f_y`` (an
    argument's name never starts with ``_``, and the emitter's own start ``_t``/``_d_``)."""
    return f"_f_{name}"


class TinyPrinter(Printer):
    """Prints the tiny path: ``scalar`` nodes as Python floats, the others as the NumPy path.

    ``unpacked`` collects the 1×1 matrix arguments the lines read as floats (the module
    binds each, ``_f_y = y.item()``, before the lines run), ``dims`` the dimensions the lines
    read as numbers (bound to 1: ``N = 1``)."""

    SQUARES = True  # x**2 of a named value as x * x: NumPy's own square of an array

    def __init__(self, graph: Graph, names: dict[int, str], scalar: frozenset[int]):
        super().__init__(graph, names)
        self.scalar = scalar
        self.unpacked: dict[str, str] = {}
        self.dims: set[str] = set()
        self.tiny_helpers: set[str] = set()  # the module's _tiny_sigmoid, _tiny_softplus

    def seed(self, output: str) -> str:
        """dJ/dJ = 1: J is a Python float here."""
        return "1.0"

    def _print(self, nid: int, depth: int) -> tuple[str, int]:
        node = self.graph.nodes[nid]
        if node.op == "dim":  # every dimension is 1 on this path: the tiny path binds it
            self.dims.add(node.attrs[0])
        if node.op == "sym" and nid in self.scalar and node.shape != ():
            name = node.attrs[0]
            self.unpacked[name] = argument_name(name)
            return argument_name(name), ATOM
        if nid in self.names or nid not in self.scalar or not node.args:
            return super()._print(nid, depth)
        if not all(a in self.scalar for a in node.args):  # 1×1 out of arrays: A @ B, a sum
            if node.op == "matmul":  # NumPy's matmul of a row by a column calls its dot
                a, b = node.args
                text = f"{self._wrap(a, depth + 1, ATOM)}.dot({self.expr_at(b, depth + 1)})"
                return f"{text}.item()", ATOM
            text, prec = super()._print(nid, depth)
            return f"{text if prec >= ATOM else f'({text})'}.item()", ATOM
        if node.op in _IDENTITY_OPS:
            return self._print(node.args[0], depth + 1)
        if node.op == "matmul":  # 1×1 @ 1×1: one product
            a, b = node.args
            return f"{self._wrap(a, depth + 1, MUL)} * {self._wrap(b, depth + 1, MUL + 1)}", MUL
        return super()._print(nid, depth)

    def _print_matmul(self, nid: int, depth: int) -> tuple[str, int]:
        """An array times a 1×1 factor (inner dimension 1): the elementwise product by it."""
        a, b = self.graph.nodes[nid].args
        if a in self.scalar or b in self.scalar:
            return f"{self._wrap(a, depth, MUL)} * {self._wrap(b, depth, MUL + 1)}", MUL
        return super()._print_matmul(nid, depth)

    def _print_call(self, nid: int, depth: int) -> tuple[str, int]:
        """A function of floats: ``math`` where exact, else NumPy's on the float, as a float."""
        node = self.graph.nodes[nid]
        if nid not in self.scalar or node.op in _CONDITIONS:
            return super()._print_call(nid, depth)
        args = ", ".join(self.expr_at(a, depth) for a in node.args)
        if node.op in MathPrinter.EXACT:
            self.uses_math = True
            return f"_math.{ops.OPS[node.op].math}({args})", ATOM
        if node.op in ("sigmoid", "softplus"):
            self.tiny_helpers.add(f"_tiny_{node.op}")
            return f"_tiny_{node.op}({args})", ATOM
        return f"_float({super()._print_call(nid, depth)[0]})", ATOM

    def _print_pow(self, nid: int, depth: int) -> tuple[str, int]:
        g = self.graph
        base, exp = g.nodes[nid].args
        if nid not in self.scalar:
            return super()._print_pow(nid, depth)
        if not g.is_const(exp):
            args = f"{self.expr_at(base, depth)}, {self.expr_at(exp, depth)}"
            return f"_float(_np.power({args}))", ATOM
        e = g.values[exp]
        if e.is_negative:
            return f"1 / {self._power_text(base, -e, depth, MUL + 1)}", MUL
        return self._scalar_power(base, e, depth, 0)

    def _power_text(self, base: int, exponent, depth: int, need: int) -> str:
        if base not in self.scalar:
            return super()._power_text(base, exponent, depth, need)
        return self._scalar_power(base, exponent, depth, need)[0]

    def _scalar_power(self, base: int, e, depth: int, need: int) -> tuple[str, int]:
        """A float to a positive constant power as the NumPy path computes it on a 1×1 array:
        ``x * x`` (a named base), ``math.sqrt`` (correctly rounded in both), else NumPy's
        ``power`` (a float's ``**`` calls the C library's ``pow``, an ulp off at points)."""
        if e == 1:
            text, prec = self._print(base, depth)
            return (text, prec) if prec >= need else (f"({text})", ATOM)
        if e == sp.Rational(1, 2):
            self.uses_math = True
            return f"_math.sqrt({self.expr_at(base, depth)})", ATOM
        if e == 2 and base in self.names:
            name = self.names[base]
            return (f"{name} * {name}", MUL) if need <= MUL else (f"({name} * {name})", ATOM)
        return f"_float(_np.power({self.expr_at(base, depth)}, {self.number(e)}))", ATOM

    def shape(self, shape: tuple) -> str:
        """Shapes with every dimension 1 (no dimension is bound on this path)."""
        return super().shape(tiny_shape(shape))
