"""``Circuit``: what is computed (SymPy), what it is differentiated with respect to, and names."""

from __future__ import annotations

import keyword
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sympy as sp

from ..errors import CircuitError
from .names import check_name

#: how a notebook shows a ``Circuit``: set by ``circuitc/views/notebook.py`` when it is imported
#: (the front end never imports the views)
MARKDOWN_VIEW: Callable[[Circuit], str] | None = None


@dataclass
class Circuit:
    """A computational circuit: an output (the loss J) and the parameters to differentiate.

    Args:
        name: the circuit's name; also the generated module's file name, so an identifier.
        output: the value J, as a SymPy expression or one of the step symbols.
        wrt: the parameters (SymPy symbols) whose gradient the backward pass computes,
            in the order the module lists them.
        steps: ordered ``(symbol, expr)`` pairs naming intermediate values (``t = x**2``);
            each expr may use the inputs and earlier step symbols. The emitted code and the
            table use these names, and a deep circuit is written as many shallow steps.
        features, target: the data inputs a data set binds during training (optional).
        prediction: the prediction ŷ (an expression or step symbol); adds ``predict(**kw)``.
    """

    name: str
    output: sp.Basic
    wrt: Sequence[sp.Basic]
    steps: Sequence[tuple[sp.Basic, sp.Basic]] = ()
    features: sp.Basic | Sequence[sp.Basic] | None = None
    target: sp.Basic | None = None
    prediction: sp.Basic | None = None
    source: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if (
            not isinstance(self.name, str)
            or not self.name.isidentifier()
            or keyword.iskeyword(self.name)
            or self.name.startswith("_")
        ):
            # the name becomes a module (and file) name: it must be importable
            raise CircuitError(
                f"circuit name {self.name!r} must be a Python identifier, not a keyword, "
                "not starting with '_'"
            )
        if isinstance(self.wrt, (sp.Basic, str)):
            self.wrt = [self.wrt]
        self.wrt = list(self.wrt)
        if not self.wrt:
            raise CircuitError(f"circuit {self.name!r}: wrt names no parameter")
        for w in self.wrt:
            if not isinstance(w, (sp.Symbol, sp.MatrixSymbol)):
                raise CircuitError(f"circuit {self.name!r}: wrt entry {w!r} is not a SymPy symbol")
            check_name(w.name)
        names = [w.name for w in self.wrt]
        dup = sorted(n for n, k in Counter(names).items() if k > 1)  # one pass, not n²
        if dup:
            raise CircuitError(f"circuit {self.name!r}: wrt lists {dup[0]!r} twice")
        steps = []
        for item in self.steps:
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise CircuitError(
                    f"circuit {self.name!r}: a step must be a (symbol, expression) pair"
                )
            sym, expr = item
            if not isinstance(sym, (sp.Symbol, sp.MatrixSymbol)):
                raise CircuitError(
                    f"circuit {self.name!r}: step target {sym!r} is not a SymPy symbol"
                )
            check_name(sym.name)
            steps.append((sym, sp.sympify(expr)))
        self.steps = steps
        self.output = sp.sympify(self.output)
        if isinstance(self.features, sp.Basic):
            self.features = [self.features]
        self.features = list(self.features) if self.features is not None else None

    def _repr_markdown_(self) -> str | None:
        # the Forward | Backward table and the emitted code (set by circuitc/views/notebook.py)
        return MARKDOWN_VIEW(self) if MARKDOWN_VIEW is not None else None


def as_circuit(expr_or_circuit, wrt: Sequence | None = None, name: str = "circuit") -> Circuit:
    """A ``Circuit`` as given, or one made of a bare expression and ``wrt``."""
    if isinstance(expr_or_circuit, Circuit):
        if wrt is not None:
            raise CircuitError("a Circuit carries its own wrt; do not pass wrt= as well")
        return expr_or_circuit
    if not isinstance(expr_or_circuit, (sp.Basic, int, float)):
        raise CircuitError(
            f"compile() takes a SymPy expression or a Circuit, got {type(expr_or_circuit).__name__}"
        )
    if wrt is None:
        raise CircuitError(
            "compile(expr) needs wrt=[...]: the parameters to differentiate with respect to"
        )
    return Circuit(name, expr_or_circuit, wrt)
