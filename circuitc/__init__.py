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

from ._version import __version__

# The public names load on first use (PEP 562): `import circuitc` and `circuitc --version`
# import neither SymPy nor NumPy. The first access to any of them imports them all, the rule
# table included (it fills the op registries that sigmoid's and softplus's derivatives read).
_PUBLIC = frozenset(
    {
        "nn",
        "compile",
        "fit",
        "load",
        "Model",
        "source",
        "register",
        "CircuitError",
        "Circuit",
        "sigmoid",
        "softplus",
        "CostReport",
        "cost",
        "CheckReport",
        "check",
        "GraphView",
        "graph",
        "HessianReport",
        "hessian",
        "TableReport",
        "table",
    }
)


def _load_all() -> None:
    """Import every public name into the package (once)."""
    from . import nn
    from .api import compile, fit, load, source
    from .calculus.custom import register  # imports the rule table, which fills the registries
    from .errors import CircuitError
    from .front.circuit import Circuit
    from .functions import sigmoid, softplus
    from .training.model import Model
    from .views.cost import CostReport, cost
    from .views.gradcheck import CheckReport, check
    from .views.graph import GraphView, graph
    from .views.hessian import HessianReport, hessian
    from .views.table import TableReport, table

    globals().update(
        nn=nn,
        compile=compile,
        fit=fit,
        load=load,
        Model=Model,
        source=source,
        register=register,
        CircuitError=CircuitError,
        Circuit=Circuit,
        sigmoid=sigmoid,
        softplus=softplus,
        CostReport=CostReport,
        cost=cost,
        CheckReport=CheckReport,
        check=check,
        GraphView=GraphView,
        graph=graph,
        HessianReport=HessianReport,
        hessian=hessian,
        TableReport=TableReport,
        table=table,
    )


#: non-empty while _load_all runs: its own `from . import nn` must find the submodule, not us
_loading: list[bool] = []


def __getattr__(name: str):
    """A public name on first use; ``circuitc.dask`` too (importing circuitc never imports Dask)."""
    if name == "dask":
        import importlib

        return importlib.import_module(".dask", __name__)
    if name in _PUBLIC and not _loading:
        _loading.append(True)
        try:
            _load_all()
        finally:
            _loading.pop()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))


__all__ = [
    "Circuit",
    "CheckReport",
    "CircuitError",
    "CostReport",
    "GraphView",
    "HessianReport",
    "Model",
    "TableReport",
    "__version__",
    "check",
    "compile",
    "fit",
    "load",
    "cost",
    "graph",
    "hessian",
    "register",
    "sigmoid",
    "softplus",
    "source",
    "table",
]
