"""The public entry points: ``compile`` a circuit into a live module (and optionally a file)."""

from __future__ import annotations

import os
import types
from collections.abc import Sequence

from .emit.fused import render_numba
from .emit.render import render
from .errors import CircuitError
from .front.circuit import as_circuit
from .loader import check_target, is_generated_module, load_source, write_atomic
from .pipeline import build
from .views.notebook import attach_views


def source(
    expr_or_circuit, wrt: Sequence | None = None, name: str = "circuit", backend: str = "numpy"
) -> str:
    """The generated module's source text, without importing it."""
    return _render(build(as_circuit(expr_or_circuit, wrt, name)), backend)


#: the backends ``compile``/``source`` know, each the renderer of a compiled circuit:
#: "numpy" (the default) and the fused "numba"
BACKENDS = {"numpy": render, "numba": render_numba}


def _render(compiled, backend: str) -> str:
    renderer = BACKENDS.get(backend)
    if renderer is None:
        raise CircuitError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return renderer(compiled)


def compile(  # noqa: A001 - the natural name; circuitc.compile shadows nothing users rely on
    expr_or_circuit,
    wrt: Sequence | None = None,
    name: str = "circuit",
    out: str | os.PathLike | None = None,
    backend: str = "numpy",
    *,
    force: bool = False,
) -> types.ModuleType:
    """Compile a circuit into a module with ``forward``, ``value_and_grad`` and ``grad``.

    Args:
        expr_or_circuit: a SymPy expression (the output J) or a ``Circuit``.
        wrt: the parameters, for a bare expression (a ``Circuit`` carries its own).
        name: the module's name, for a bare expression.
        out: a file path; when given, the module is also written there (atomically). A
            file that circuitc did not generate is never overwritten unless ``force``.
        backend: "numpy" (plain NumPy, the default) or "numba": forward and backward of an
            elementwise circuit fused into one ``@numba.njit`` loop (the ``numba`` extra).

    Returns:
        The imported module. It does not import circuitc.

    Raises:
        CircuitError: an unsupported function, a bad symbol name, shapes that disagree;
            ``out`` is a folder, or a file circuitc did not generate (without ``force``).
    """
    circuit = as_circuit(expr_or_circuit, wrt, name)
    compiled = build(circuit)
    text = _render(compiled, backend)
    if out is not None:
        check_target(out, is_generated_module, force=force, force_hint="force=True")
        path = write_atomic(out, text)
        module = load_source(text, circuit.name, str(path))
    else:
        module = load_source(text, circuit.name)
    module.__circuit__ = circuit
    attach_views(module)  # notebook views: the table and the code
    return module
