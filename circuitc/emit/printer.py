"""IR node → Python/NumPy expression text.

The printer works on circuitc's DAG, not on SymPy trees: it is iterative-safe (a node
prints its arguments by name unless they are inlined, and only single-use, shallow nodes
are), it never re-canonicalises, and it prints exactly the NumPy calls the emitted module
uses (``_np.sin``, ``_np.where``…), with the fewest parentheses Python needs.
"""

from __future__ import annotations

import re

import sympy as sp

from ..core import ops
from ..core.ir import Graph
from .frame import NumpyFrame
from .imports import module_alias
from .squares import square_text

ATOM, POW, NEG, MUL, ADD, CMP = 100, 60, 50, 40, 30, 20


def negative(text: str, prec: int) -> str:
    """``-text`` for a printed product or factor of precedence ``prec``, as ``ruff format``
    writes it: a power the minus sign applies to in parentheses (``-(x**2) * y``, which is
    what ``-x**2 * y`` means), anything looser than a product in parentheses."""
    if prec < MUL:
        return f"-({text})"
    head = text[: _first_factor_end(text)]
    if _top_level_power(head):
        return f"-({head}){text[len(head) :]}"
    return "-" + text


def _first_factor_end(text: str) -> int:
    """Where the first factor of a printed product ends: its first top-level `` * ``, `` / ``
    or `` @ `` (the printer spaces those), or the end of the text."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and ch == " " and text[i + 1 : i + 3] in ("* ", "/ ", "@ "):
            return i
    return len(text)


def _top_level_power(text: str) -> bool:
    """True when ``text`` has a ``**`` outside every bracket."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and text.startswith("**", i):
            return True
    return False


#: an inlined expression is at most this deep (keeps printing bounded on any input)
MAX_INLINE_DEPTH = 6


#: an operand ruff writes ``**`` beside without spaces: a name, a dotted name or a number
_SIMPLE_OPERAND = re.compile(r"-?([A-Za-z_][A-Za-z0-9_.]*|[0-9][0-9.eE+-]*)")


def _power(base: str, exponent: str) -> str:
    """``b**e`` as ruff writes it: tight around simple operands, else spaced (``(a + b) ** 2``)."""
    simple = _SIMPLE_OPERAND.fullmatch(base) and _SIMPLE_OPERAND.fullmatch(exponent)
    return f"{base}**{exponent}" if simple else f"{base} ** {exponent}"


class Printer(NumpyFrame):
    """Prints nodes; ``names`` are materialised nodes, every other node is printed inline."""

    #: the square root a power ``b**(1/2)`` prints as (``MathPrinter`` uses ``math``'s)
    SQRT = "_np.sqrt"
    #: the function a power with an exponent that is not an integer prints as
    POWER = "_np.power"

    def __init__(self, graph: Graph, names: dict[int, str]):
        self.graph = graph
        self.names = names
        self.uses_math = False
        self.helpers: set[str] = set()
        #: modules of import-path ops (``"scipy.special"``) -> the alias the module imports them as
        self.modules: dict[str, str] = {}

    def expr(self, nid: int) -> str:
        return self._print(nid, 0)[0]

    def _print(self, nid: int, depth: int) -> tuple[str, int]:
        name = self.names.get(nid)
        if name is not None:
            return name, ATOM
        if depth > MAX_INLINE_DEPTH + 8:
            raise RecursionError(
                "inline expression too deep"
            )  # a bug in the planner, not user input
        node = self.graph.nodes[nid]
        method = getattr(self, f"_print_{node.op}", None)
        if method is not None:
            return method(nid, depth + 1)
        if node.op in ops.COMPARISONS:
            a, b = (self._wrap(x, depth + 1, CMP + 1) for x in node.args)
            return f"{a} {ops.COMPARISONS[node.op]} {b}", CMP
        return self._print_call(nid, depth + 1)

    def _wrap(self, nid: int, depth: int, need: int) -> str:
        text, prec = self._print(nid, depth)
        return text if prec >= need else f"({text})"

    # -- leaves --------------------------------------------------------------------------------
    def _print_const(self, nid: int, depth: int) -> tuple[str, int]:
        text = self.number(self.graph.values[nid])
        return text, (NEG if text.startswith("-") else ATOM)

    def number(self, value: sp.Expr) -> str:
        """A SymPy number as a Python literal (integers stay integers: NumPy keeps the dtype)."""
        if value is sp.pi:
            self.uses_math = True
            return "_math.pi"
        if value is sp.E:
            self.uses_math = True
            return "_math.e"
        small = isinstance(value, sp.Rational) and max(abs(value.p), value.q) <= 2**53
        if isinstance(value, sp.Integer) and small:
            return str(int(value))
        if isinstance(value, sp.Rational) and small:
            f = float(value)
            text = repr(f)
            return text if float(text) == f and len(text) <= 8 else f"({value.p} / {value.q})"
        # a huge integer or fraction is printed as its float (10**400 is inf, not an int that
        # NumPy cannot convert)
        f = float(sp.Float(value, 30)) if isinstance(value, sp.Rational) else float(value)
        if f != f:
            self.uses_math = True
            return "_math.nan"
        if f in (float("inf"), float("-inf")):
            self.uses_math = True
            return "_math.inf" if f > 0 else "-_math.inf"
        return repr(f)

    def _print_bool(self, nid: int, depth: int) -> tuple[str, int]:
        return ("True" if self.graph.nodes[nid].attrs[0] else "False"), ATOM

    # -- arithmetic ----------------------------------------------------------------------------
    def _print_add(self, nid: int, depth: int) -> tuple[str, int]:
        g = self.graph
        plus, minus = [], []
        for a in g.nodes[nid].args:
            neg = self._negated(a)
            if neg is None:
                plus.append(a)
            else:
                minus.append(neg)
        if not plus:  # all terms negative: -a - b
            coeff, factors = minus.pop(0)
            first, prec = self._product(coeff, factors, depth)
            text = negative(first, prec)
        else:
            text = " + ".join(self._wrap(a, depth, ADD) for a in plus)
        for m in minus:
            text += " - " + self._wrap_term(m, depth)
        return text, ADD

    def _wrap_term(self, neg: tuple, depth: int) -> str:
        """A negated term (coefficient, factors) printed after a minus sign."""
        text, prec = self._product(neg[0], neg[1], depth)
        return text if prec > ADD else f"({text})"

    def _negated(self, nid: int):
        """For a product with a negative coefficient, return (|coefficient|, factors); else None."""
        g = self.graph
        if nid in self.names:
            return None
        node = g.nodes[nid]
        if node.op == "const" and g.values[nid].is_negative:
            return (-g.values[nid], ())
        if node.op == "mul" and g.is_const(node.args[0]) and g.values[node.args[0]].is_negative:
            return (-g.values[node.args[0]], node.args[1:])
        return None

    def _print_mul(self, nid: int, depth: int) -> tuple[str, int]:
        g = self.graph
        args = g.nodes[nid].args
        coeff = sp.Integer(1)
        factors = args
        if g.is_const(args[0]):
            coeff, factors = g.values[args[0]], args[1:]
        if coeff.is_negative:
            text, prec = self._product(-coeff, factors, depth)
            return negative(text, prec), NEG
        return self._product(coeff, factors, depth)

    def _product(self, coeff, factors, depth: int) -> tuple[str, int]:
        """coeff · factors, with adjoints first and reciprocals as divisions."""
        g = self.graph
        num, den = [], []
        # adjoints first, as the notes write dJ/du * du/dt
        adjoints = [a for a in factors if g.nodes[a].op == "adj"]
        num.extend(self._wrap(a, depth, MUL + 1) for a in adjoints)
        if (
            isinstance(coeff, sp.Rational)
            and not isinstance(coeff, sp.Integer)
            and abs(coeff.p) == 1
        ):
            den.append(str(int(coeff.q)))
        elif coeff != 1:
            num.append(self.number(coeff))
        for a in factors:
            if a in adjoints:
                continue
            node = g.nodes[a]
            if (
                node.op == "pow"
                and a not in self.names
                and g.is_const(node.args[1])
                and g.values[node.args[1]].is_negative
            ):
                exponent = -g.values[node.args[1]]
                den.append(self._power_text(node.args[0], exponent, depth, MUL + 1))
            else:
                num.append(self._wrap(a, depth, MUL + 1 if node.op != "mul" else ATOM))
        if not num:
            num.append("1")
        text = " * ".join(num)
        if den:
            text += "".join(f" / {d}" for d in den)
        if len(num) == 1 and not den:
            return text, ATOM if num[0].isidentifier() else MUL
        return text, MUL

    def _power_text(self, base: int, exponent, depth: int, need: int) -> str:
        """base**exponent for a constant, positive exponent, parenthesised as ``need`` asks."""
        if exponent == 1:
            return self._wrap(base, depth, need)
        if exponent == sp.Rational(1, 2):
            return f"{self.SQRT}({self.expr_at(base, depth)})"
        if (square := square_text(self, base, exponent)) is not None:
            return square if need <= MUL else f"({square})"
        text = _power(self._wrap(base, depth, ATOM), self.number(exponent))
        if not isinstance(exponent, sp.Integer):
            text = f"{self.POWER}({self.expr_at(base, depth)}, {self.number(exponent)})"
            return text
        return text if need <= POW else f"({text})"

    def expr_at(self, nid: int, depth: int) -> str:
        return self._print(nid, depth)[0]

    def _print_pow(self, nid: int, depth: int) -> tuple[str, int]:
        g = self.graph
        base, exp = g.nodes[nid].args
        if g.is_const(exp):
            e = g.values[exp]
            if e.is_negative:
                return f"1 / {self._power_text(base, -e, depth, MUL + 1)}", MUL
            if e == sp.Rational(1, 2):
                return f"{self.SQRT}({self.expr_at(base, depth)})", ATOM
            if (square := square_text(self, base, e)) is not None:
                return square, MUL
            if isinstance(e, sp.Integer):
                return _power(self._wrap(base, depth, ATOM), str(int(e))), POW
        return f"{self.POWER}({self.expr_at(base, depth)}, {self.expr_at(exp, depth)})", ATOM

    # -- calls ---------------------------------------------------------------------------------
    def _print_call(self, nid: int, depth: int) -> tuple[str, int]:
        node = self.graph.nodes[nid]
        args = ", ".join(self.expr_at(a, depth) for a in node.args)
        op = node.op
        if op in ops.OPS:
            found = ops.OPS[op]
            target = found.attr
            if found.leading:  # constants first: softplus is logaddexp(0.0, a)
                consts = ", ".join(repr(c) for c in found.leading)
                args = f"{consts}, {args}"
            if found.module is not None:  # an import path: scipy.special:erf
                return f"{module_alias(self.modules, found)}.{target}({args})", ATOM
            if target.startswith("_"):
                self.helpers.add(target)
                return f"{target}({args})", ATOM
            return f"_np.{target}({args})", ATOM
        if op in ("where", "maximum", "minimum"):
            return f"_np.{op}({args})", ATOM
        if op in ("and", "or", "not"):
            return f"_np.logical_{op}({args})", ATOM
        raise NotImplementedError(f"no printer for op {op!r}")

    # -- matrices (no loops: ``@``, ``.T`` and reductions with an axis) ---------------------------
    def _print_matmul(self, nid: int, depth: int) -> tuple[str, int]:
        """``a @ b``: the same precedence as ``*``, left-associative."""
        a, b = self.graph.nodes[nid].args
        return f"{self._wrap(a, depth, MUL)} @ {self._wrap(b, depth, MUL + 1)}", MUL

    def _print_transpose(self, nid: int, depth: int) -> tuple[str, int]:
        """``a.T`` (a view)."""
        return f"{self._wrap(self.graph.nodes[nid].args[0], depth, ATOM)}.T", ATOM

    def _print_sum(self, nid: int, depth: int) -> tuple[str, int]:
        """The sum over everything, or over one axis with the axis kept: ``_np.add.reduce``,
        which is what ``_np.sum`` calls (the same pairwise sum) without its Python-level
        dispatch, a few µs a call that small batches notice."""
        node = self.graph.nodes[nid]
        a = self.expr_at(node.args[0], depth)
        axis = node.attrs[0]
        if axis is None:
            return f"_np.add.reduce({a}, axis=None)", ATOM
        return f"_np.add.reduce({a}, axis={axis}, keepdims=True)", ATOM

    def _print_rowmax(self, nid: int, depth: int) -> tuple[str, int]:
        """The row max that the log-sum-exp subtracts."""
        return (
            f"_np.max({self.expr_at(self.graph.nodes[nid].args[0], depth)}, axis=1, keepdims=True)",
            ATOM,
        )

    def _print_logsumexp(self, nid: int, depth: int) -> tuple[str, int]:
        """``m + log(sum(exp(a - m)))`` per row, m the row max: no overflow."""
        a, m = self.graph.nodes[nid].args
        at, mt = self._wrap(a, depth, ADD), self._wrap(m, depth, ADD + 1)
        inner = f"_np.sum(_np.exp({at} - {mt}), axis=1, keepdims=True)"
        return f"{self._wrap(m, depth, ADD)} + _np.log({inner})", ADD

    def _print_broadcast(self, nid: int, depth: int) -> tuple[str, int]:
        """A value broadcast to a node's full shape (a read-only view)."""
        node = self.graph.nodes[nid]
        return (
            f"_np.broadcast_to({self.expr_at(node.args[0], depth)}, {self.shape(node.shape)})",
            ATOM,
        )

    def _print_element(self, nid: int, depth: int) -> tuple[str, int]:
        """``a[i, j]`` for constant indices."""
        node = self.graph.nodes[nid]
        i, j = node.attrs
        return f"{self._wrap(node.args[0], depth, ATOM)}[{i}, {j}]", ATOM

    def _print_unit(self, nid: int, depth: int) -> tuple[str, int]:
        """The adjoint of ``a[i, j]``: a zero matrix holding g at (i, j)."""
        node = self.graph.nodes[nid]
        i, j = node.attrs
        self.helpers.add("_unit")
        g = self.expr_at(node.args[0], depth)
        return f"_unit({g}, {self.shape(node.shape)}, {i}, {j})", ATOM

    def _print_slice(self, nid: int, depth: int) -> tuple[str, int]:
        """``a[0:2, 1:3]``, ``a[1:2, :]``: a view (never written into)."""
        node = self.graph.nodes[nid]
        a = node.args[0]
        index = self.index(node.attrs, self.graph.nodes[a].shape)
        return f"{self._wrap(a, depth, ATOM)}[{index}]", ATOM

    def _print_unslice(self, nid: int, depth: int) -> tuple[str, int]:
        """The adjoint of a slice: a zero matrix of the parent's shape holding g there."""
        node = self.graph.nodes[nid]
        self.helpers.add("_unslice")
        g = self.expr_at(node.args[0], depth)
        index = self.index(node.attrs, node.shape)
        return f"_unslice({g}, {self.shape(node.shape)}, _np.s_[{index}])", ATOM

    @staticmethod
    def index(axes: tuple, shape: tuple) -> str:
        """Slice attrs as Python's index text: ``0:2, :`` (defaults left out)."""
        parts = []
        for (start, stop, step), size in zip(axes, shape, strict=True):
            text = f"{start or ''}:{'' if stop == size else stop}"
            parts.append(text if step == 1 else f"{text}:{step}")
        return ", ".join(parts)

    def _print_trace(self, nid: int, depth: int) -> tuple[str, int]:
        return f"_np.trace({self.expr_at(self.graph.nodes[nid].args[0], depth)})", ATOM

    def _print_stack(self, nid: int, depth: int) -> tuple[str, int]:
        """An explicit matrix of scalars, row by row."""
        node = self.graph.nodes[nid]
        rows, cols = node.attrs
        items = [self.expr_at(a, depth) for a in node.args]
        body = ", ".join(
            "[" + ", ".join(items[r * cols : (r + 1) * cols]) + "]" for r in range(rows)
        )
        return f"_np.array([{body}], dtype=_dt)", ATOM

    def _print_dim(self, nid: int, depth: int) -> tuple[str, int]:
        """A matrix dimension: a local variable bound from the arguments' shapes."""
        return self.graph.nodes[nid].attrs[0], ATOM

    # constant matrices take the call's float dtype (``_dt``), so float32 stays float32
    def _print_ones(self, nid: int, depth: int) -> tuple[str, int]:
        return f"_np.ones({self.shape(self.graph.nodes[nid].shape)}, dtype=_dt)", ATOM

    def _print_zeros(self, nid: int, depth: int) -> tuple[str, int]:
        return f"_np.zeros({self.shape(self.graph.nodes[nid].shape)}, dtype=_dt)", ATOM

    def _print_eye(self, nid: int, depth: int) -> tuple[str, int]:
        return f"_np.eye({self.graph.nodes[nid].attrs[0]}, dtype=_dt)", ATOM

    @staticmethod
    def shape(shape: tuple) -> str:
        """A shape as a tuple literal of ints and dimension names: ``(N, 31)``."""
        return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
