"""The public entry points: ``compile`` a circuit into a live module (and optionally a file)."""

from __future__ import annotations

import importlib.util
import os
import types
from collections.abc import Sequence

from .emit.array_api import render_array_api
from .emit.fused import render_numba
from .emit.render import render
from .errors import CircuitError
from .front.circuit import as_circuit
from .loader import check_target, is_generated_module, load_source, write_atomic
from .pipeline import build
from .views.notebook import attach_views


def source(
    expr_or_circuit,
    wrt: Sequence | None = None,
    name: str = "circuit",
    backend: str = "numpy",
    *,
    jacobian_mode: str = "auto",
    second_order: bool | str = "auto",
) -> str:
    """The generated module's source text, without importing it (arguments as ``compile``)."""
    circuit = as_circuit(expr_or_circuit, wrt, name)
    return _render(build(circuit, jacobian_mode, second_order), backend)


#: the backends ``compile``/``source`` know, each the renderer of a compiled circuit:
#: "numpy" (the default), the fused "numba" and "array_api" (any array-API library)
BACKENDS = {"numpy": render, "numba": render_numba, "array_api": render_array_api}

#: other spellings of a backend's name (the command line's ``--backend array-api``)
ALIASES = {"array-api": "array_api"}


def _render(compiled, backend: str) -> str:
    renderer = BACKENDS.get(ALIASES.get(backend, backend))
    if renderer is None:
        raise CircuitError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return renderer(compiled)


def _check_importable(backend: str) -> None:
    """A backend whose module imports an extra that is not installed: a CircuitError saying
    which extra (``source`` still writes the module, for a machine that has it)."""
    if (
        ALIASES.get(backend, backend) == "array_api"
        and importlib.util.find_spec("array_api_compat") is None
    ):
        raise CircuitError(
            "backend 'array_api' needs array-api-compat: pip install 'circuitc[backends]'"
        )


def compile(  # noqa: A001 - the natural name; circuitc.compile shadows nothing users rely on
    expr_or_circuit,
    wrt: Sequence | None = None,
    name: str = "circuit",
    out: str | os.PathLike | None = None,
    backend: str = "numpy",
    *,
    force: bool = False,
    jacobian_mode: str = "auto",
    second_order: bool | str = "auto",
) -> types.ModuleType:
    """Compile a circuit into a module with ``forward``, ``value_and_grad`` and ``grad``.

    Args:
        expr_or_circuit: a SymPy expression (the output J) or a ``Circuit``.
        wrt: the parameters, for a bare expression (a ``Circuit`` carries its own).
        name: the module's name, for a bare expression.
        out: a file path; when given, the module is also written there (atomically). A
            file that circuitc did not generate is never overwritten unless ``force``.
        backend: "numpy" (plain NumPy, the default); "numba": forward and backward of an
            elementwise circuit fused into one ``@numba.njit`` loop (the ``numba`` extra); or
            "array_api" (also "array-api"): the same lines written against the array API
            namespace of the arguments, so that one module runs on NumPy, PyTorch, JAX or CuPy
            arrays, on their device, and traces under ``jax.jit`` (the ``backends`` extra).
        jacobian_mode: how ``jacobian()`` of a matrix output is emitted: "auto" (reverse mode
            when the output has fewer entries than the parameters and every size is static,
            else forward mode), "forward" (one tangent pass per parameter entry) or "reverse"
            (one backward pass per output entry). The module's ``JACOBIAN_MODE`` says which.
        second_order: whether the module gets ``jvp``, ``hvp`` and ``jacobian``: "auto" (the
            default) for circuits of at most ``pipeline.SECOND_ORDER_NODES`` IR nodes, True
            always, False never. Without them those functions raise ``NotImplementedError``
            naming this option; a long circuit's module is then about a quarter of the size,
            and Python compiles it in less than half the memory.

    Returns:
        The imported module. It does not import circuitc.

    Raises:
        CircuitError: an unsupported function, a bad symbol name, shapes that disagree;
            ``out`` is a folder, or a file circuitc did not generate (without ``force``).
    """
    circuit = as_circuit(expr_or_circuit, wrt, name)
    # the IR is dropped before Python compiles the text (a long circuit's peak is there)
    text = _render(build(circuit, jacobian_mode, second_order), backend)
    _check_importable(backend)
    if out is not None:
        check_target(out, is_generated_module, force=force, force_hint="force=True")
        path = write_atomic(out, text)
        module = load_source(text, circuit.name, str(path))
    else:
        module = load_source(text, circuit.name)
    module.__circuit__ = circuit
    attach_views(module)  # notebook views: the table and the code
    return module


def _as_module(circuit_or_module, second_order: bool | str = "auto"):
    """A compiled module: as given (it has ``value_and_grad`` and ``WRT``), else compiled."""
    if hasattr(circuit_or_module, "value_and_grad") and hasattr(circuit_or_module, "WRT"):
        return circuit_or_module
    return compile(circuit_or_module, second_order=second_order)


#: the optimizers that run on the module's hvp (a circuit is compiled with it for them)
NEWTON = ("newton-cg", "trust-ncg")


def fit(circuit_or_module, X, y, **options):
    """Train a circuit on raw rows and labels; returns a ``circuitc.Model``.

    The scikit-learn/Keras way: ``model = circuitc.fit(circuit, X, y, epochs=30, lr=0.1)``,
    then ``model.predict(X_new)`` on raw rows, ``model.save("m.npz")`` and
    ``circuitc.load("m.npz", circuit)``.

    Args:
        circuit_or_module: a ``Circuit`` with ``features=`` and ``target=`` (compiled here), or
            its compiled module.
        X: rows × features: an array (columns by position), a mapping ``{name: column}`` or a
            pandas DataFrame (columns by name: ``predict`` then matches the names).
        y: one label per row: numbers, or text class labels (encoded in sorted order).
        epochs (20), lr (0.1), batch_size (1), optimizer ("sgd" or "adam"), momentum (0),
            schedule (None, "1/t", "step", "cosine" or ``f(t)``), seed (0): as ``circuitc
            train``'s flags. ``optimizer="lbfgs"``, ``"newton-cg"`` or ``"trust-ncg"`` runs
            SciPy's full-batch optimizer on the module's gradient and HVP instead (the
            ``scipy`` extra), with ``l2_C`` (None) scikit-learn's L2 strength C.
        callbacks: callables given a ``Progress`` after every step and every epoch
            (``progress.kind`` is ``"step"`` or ``"epoch"``); a true return value stops training.
        validation: ``None``; a fraction of the rows held out (``train_test_split``, stratified
            by class), e.g. ``0.2``; or separate raw rows ``(X_val, y_val)``.
        early_stopping: stop when the validation loss has not improved for this many epochs,
            keeping the best epoch's parameters (needs ``validation``).
        standardize (True): scale each column that is not constant on the training rows to
            mean 0 and standard deviation 1; constant columns (a bias input) pass through.
        feature_names: names for the columns of an array ``X``.
        params: starting parameters (default: seeded, ``circuitc.training.sgd.init``).

    Raises:
        DataError (a ``ValueError``): data that does not fit the circuit, with the cell or column
        named. TrainingDiverged: the loss became NaN or infinite.
    """
    from .training import model

    newton = options.get("optimizer") in NEWTON
    module = _as_module(circuit_or_module, second_order=True if newton else "auto")
    return model.fit(module, X, y, **options)


def load(path: str | os.PathLike, circuit_or_module):
    """The ``circuitc.Model`` saved at ``path`` by ``Model.save`` or ``circuitc train``.

    ``circuit_or_module`` is the circuit the parameters belong to (a ``Circuit`` or its
    compiled module): the file holds data only — parameters, preprocessing, history — never
    code, so the circuit comes from you. A file of another circuit, or of another version of
    this one, is a ``CheckpointError`` (a ``ValueError``).
    """
    from .training import model

    return model.load(path, _as_module(circuit_or_module))
