"""circuitc: compile SymPy computational circuits into readable forward/backward NumPy code.

>>> import circuitc, sympy as sp
>>> x = sp.Symbol("x")
>>> m = circuitc.compile(sp.cos(sp.sin(x**2) + 3*x**2), wrt=[x], name="small_example")
>>> J, g = m.value_and_grad(x=0.5)
"""

__version__ = "0.1.0"

from .api import compile, source  # noqa: E402
from .circuit import Circuit  # noqa: E402
from .cost import CostReport, cost  # noqa: E402
from .errors import CircuitError  # noqa: E402
from .functions import sigmoid, softplus  # noqa: E402
from .gradcheck import CheckReport, check  # noqa: E402
from .graph import GraphView, graph  # noqa: E402
from .report import TableReport, table  # noqa: E402
from .rules import register  # noqa: E402

__all__ = [
    "Circuit",
    "CheckReport",
    "CircuitError",
    "CostReport",
    "GraphView",
    "TableReport",
    "__version__",
    "check",
    "compile",
    "cost",
    "graph",
    "register",
    "sigmoid",
    "softplus",
    "source",
    "table",
]
