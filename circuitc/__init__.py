"""circuitc: compile SymPy computational circuits into readable forward/backward NumPy code.

>>> import circuitc, sympy as sp
>>> x = sp.Symbol("x")
>>> m = circuitc.compile(sp.cos(sp.sin(x**2) + 3*x**2), wrt=[x], name="small_example")
>>> J, g = m.value_and_grad(x=0.5)

The package is laid out by the compiler's stages (``docs/design.md``, "Layers"): ``core``
(the IR and its vocabulary), ``front`` (SymPy in), ``calculus`` (the rule table and the
sweeps), ``passes``, ``emit``, ``views``, ``training`` and ``cli``. ``circuitc.dask``
(data-parallel gradients over Dask arrays) is imported on first use: Dask is an optional extra.
"""

from . import nn as nn  # circuitc.nn: the building blocks of the notes' networks
from ._version import __version__
from .api import compile, fit, load, source
from .calculus.custom import register  # imports the rule table, which fills the op registries
from .errors import CircuitError
from .front.circuit import Circuit
from .functions import sigmoid, softplus
from .views.cost import CostReport, cost
from .views.gradcheck import CheckReport, check
from .views.graph import GraphView, graph
from .views.table import TableReport, table

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
    "fit",
    "load",
    "cost",
    "graph",
    "register",
    "sigmoid",
    "softplus",
    "source",
    "table",
]


def __getattr__(name: str):
    """``circuitc.dask`` on first use (importing circuitc never imports Dask)."""
    if name == "dask":
        import importlib

        return importlib.import_module(".dask", __name__)
    raise AttributeError(f"module 'circuitc' has no attribute {name!r}")
