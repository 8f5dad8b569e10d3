"""The modules an emitted module imports for ops given by an import path (``"module:attr"``).

``erf`` (``scipy.special:erf``) and ops registered with ``numpy="module:attr"`` are printed as
``_mod_<module>.<attr>(...)``; the module imports ``<module>`` under that alias, only when one
of its lines calls it. Whether the module can be imported is checked when the line is printed,
so a missing package is a ``CircuitError`` at compile time, naming it.
"""

from __future__ import annotations

import importlib

from ..core.ops import Op
from ..errors import CircuitError


def module_alias(modules: dict[str, str], op: Op) -> str:
    """The alias ``op.module`` is imported as (``_mod_scipy_special``), recorded in ``modules``
    (module -> alias) the first time, after checking that the module can be imported."""
    module = op.module
    alias = modules.get(module)
    if alias is None:
        alias = "_mod_" + module.replace(".", "_")
        if alias in modules.values():
            raise CircuitError(
                f"two modules of one circuit would both be imported as {alias}: {module} and "
                "another; register one of them under an import path spelled differently"
            )
        importable(op)
        modules[module] = alias
    return alias


def importable(op: Op) -> None:
    """Refuse, with a CircuitError naming the package, an op whose module cannot be imported."""
    try:
        importlib.import_module(op.module)
    except ImportError as e:
        needs = op.needs or f"the module {op.module}"
        raise CircuitError(
            f"{op.head.__name__} is computed by {op.module}.{op.attr} on the NumPy path, which "
            f"needs {needs}; it cannot be imported here ({e})"
        ) from None
