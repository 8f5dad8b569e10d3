"""Data-parallel gradients over row-chunked Dask arrays (public as ``circuitc.dask``).

``value_and_grad(module, params, **data)`` runs the compiled module's own ``value_and_grad`` on
every row chunk of the data and adds the results in a tree (the gradient of a sum is the sum of
the gradients). Whether that is right is decided from the circuit's IR
(``circuitc/passes/rows.py``): J must be a sum or a mean over rows of a row term, plus a term
free of rows (a penalty). A mean's chunks are weighted by n_k/N (the weights add up to 1, so
the penalty each chunk carries adds up to one penalty); a sum's chunks by 1, and the penalty,
which each of the K chunks carries, is taken out K − 1 times (it is the module's value on no
rows at all). Empty chunks are skipped.

The module reaches the workers as its source text (a module object cannot be pickled): each
worker process loads it once, keyed by the source's digest.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Mapping

import numpy as np

from ..passes.rows import RowSplit, row_split
from ..pipeline import build

#: how many results one task of the tree reduction adds
FAN_IN = 8


def value_and_grad(module, params: Mapping, /, **data):
    """J and the gradient of sum(J) over all rows of row-chunked data, as the module gives them
    on the same rows held in memory.

    Args:
        module: a module from ``circuitc.compile`` (a backend that takes NumPy arrays).
        params: every parameter of the module (``module.WRT``), as arrays (kept in memory and
            shipped to every chunk's task once).
        **data: every data input: those whose first axis is the row dimension as
            ``dask.array`` arrays chunked by rows (NumPy arrays are chunked like them), the
            others (a hyper-parameter) as they are.

    Returns:
        ``(J, {name: gradient})``, computed with the current Dask scheduler (a
        ``distributed.Client`` when one is active).

    Raises:
        CircuitError: J is not a sum or mean over rows plus a parameter-only term (the message
            says which part is not).
        TypeError: a missing or unknown argument (named), or a module without its circuit.
        ValueError: data inputs with different numbers of rows, or a mean over no rows.
    """
    import dask
    import dask.array as da

    split = split_of(module)
    _check_names(module, params, data)
    rows = _aligned({n: data[n] for n in split.row_inputs}, da)
    extra = {n: _computed(v, da) for n, v in data.items() if n not in split.row_inputs}
    sizes = [int(n) for n in next(iter(rows.values())).chunks[0]]
    total = sum(sizes)
    if split.reduction == "mean" and total == 0:
        raise ValueError(f"the data have no rows: a mean over the rows of {split.dim} is undefined")
    runner = Runner.of(module)
    shared = dask.delayed(dict(params), pure=True)
    extra_d = dask.delayed(extra, pure=True)
    blocks = {n: a.to_delayed().reshape(-1) for n, a in rows.items()}
    parts = []
    for k, n_k in enumerate(sizes):
        if n_k == 0:
            continue  # an empty chunk adds nothing (and a mean over it is 0/0)
        weight = n_k / total if split.reduction == "mean" else 1.0
        chunk = {n: blocks[n][k] for n in rows}
        parts.append(dask.delayed(_chunk)(runner, shared, extra_d, weight, chunk))
    if not parts:  # a sum over no rows: J is its penalty alone
        return _penalty(module, params, extra, rows)
    ((J, grads),) = dask.compute(_tree(parts, dask))
    if split.reduction == "sum" and split.penalty and len(parts) > 1:
        J0, g0 = _penalty(module, params, extra, rows)
        extra_copies = len(parts) - 1
        J = J - extra_copies * J0
        grads = {n: grads[n] - extra_copies * g0[n] for n in grads}
    return J, grads


# -- the analysis, cached per circuit ------------------------------------------------------------
_SPLITS: dict[str, RowSplit] = {}


def split_of(module) -> RowSplit:
    """How the module's J splits over row chunks (``row_split`` of its circuit, cached by the
    circuit's hash)."""
    circuit = getattr(module, "__circuit__", None)
    if circuit is None:
        raise TypeError(
            "circuitc.dask needs a module compiled in this process (circuitc.compile): a module "
            "imported from a file does not carry its circuit"
        )
    key = module.CIRCUIT_HASH
    if key not in _SPLITS:
        _SPLITS[key] = row_split(build(circuit))
    return _SPLITS[key]


def _check_names(module, params: Mapping, data: Mapping) -> None:
    """Every parameter and data input given, nothing else (a TypeError naming the first)."""
    for name in module.WRT:
        if name not in params:
            raise TypeError(f"missing parameter {name!r}")
    for name in module.INPUTS:
        if name not in data:
            raise TypeError(f"missing data input {name!r}")
    for name in params:
        if name not in module.WRT:
            raise TypeError(f"{name!r} is not a parameter of the circuit ({', '.join(module.WRT)})")
    for name in data:
        if name not in module.INPUTS:
            known = ", ".join(module.INPUTS)
            raise TypeError(f"{name!r} is not a data input of the circuit ({known})")


# -- the chunks ----------------------------------------------------------------------------------
def _aligned(arrays: dict, da) -> dict:
    """The row-indexed inputs as dask arrays with the same row chunks (those of the first dask
    array; chunk sizes measured when unknown) and whole rows (one chunk across the columns)."""
    out = {}
    for name, a in arrays.items():
        if not isinstance(a, da.Array):
            out[name] = np.asarray(a)
        elif any(math.isnan(c) for c in a.chunks[0]):
            out[name] = a.compute_chunk_sizes()  # a filtered array: one pass to count its rows
        else:
            out[name] = a
    lead = next((a for a in out.values() if isinstance(a, da.Array)), None)
    if lead is None:
        names = ", ".join(out)
        raise TypeError(f"circuitc.dask.value_and_grad needs dask arrays for the rows ({names})")
    chunks = lead.chunks[0]
    n = sum(chunks)
    for name, a in out.items():
        if a.shape[0] != n:
            raise ValueError(f"data input {name!r} has {a.shape[0]} rows; the others have {n}")
        if isinstance(a, da.Array):
            out[name] = a.rechunk({0: chunks, **{axis: -1 for axis in range(1, a.ndim)}})
        else:
            out[name] = da.from_array(a, chunks=(chunks, *a.shape[1:]))
    return out


def _computed(value, da):
    """A data input without rows (a hyper-parameter), in memory."""
    return value.compute() if isinstance(value, da.Array) else value


def _chunk(runner, params, extra, weight, chunk):
    """One chunk's (weight·J, {name: weight·gradient})."""
    J, grads = runner.module().value_and_grad(**params, **extra, **chunk)
    return weight * J, {n: weight * g for n, g in grads.items()}


def _add(*parts):
    """The sum of several chunks' results (J, {name: gradient})."""
    J, grads = parts[0][0], dict(parts[0][1])
    for part_J, part_grads in parts[1:]:
        J = J + part_J
        for n in grads:
            grads[n] = grads[n] + part_grads[n]
    return J, grads


def _tree(parts: list, dask):
    """The parts added by a tree of ``FAN_IN``-way sums (a loop: depth log K, no recursion)."""
    while len(parts) > 1:
        parts = [dask.delayed(_add)(*parts[i : i + FAN_IN]) for i in range(0, len(parts), FAN_IN)]
    return parts[0]


def _penalty(module, params, extra, rows):
    """The module on no rows: J's part free of rows and its gradient (a sum over no rows is 0)."""
    empty = {n: np.zeros((0, *a.shape[1:]), dtype=a.dtype) for n, a in rows.items()}
    return module.value_and_grad(**params, **extra, **empty)


# -- the module on the workers -------------------------------------------------------------------
_LOADED: dict[str, object] = {}
_LOCK = threading.Lock()


class Runner:
    """A picklable handle on a compiled module: its source text, loaded once per process."""

    def __init__(self, source: str, name: str):
        self.source = source
        self.name = name
        self.key = hashlib.sha256(source.encode("utf-8")).hexdigest()

    @classmethod
    def of(cls, module) -> Runner:
        """The handle of ``module`` (this process has the module already: no second load)."""
        runner = cls(module.__source__, module.__name__)
        _LOADED.setdefault(runner.key, module)
        return runner

    def module(self):
        """The module, loaded from its source the first time a process asks for it."""
        found = _LOADED.get(self.key)
        if found is None:
            from ..loader import load_source

            with _LOCK:
                found = _LOADED.get(self.key)
                if found is None:
                    found = _LOADED[self.key] = load_source(self.source, self.name)
        return found

    def __getstate__(self):
        return {"source": self.source, "name": self.name, "key": self.key}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __dask_tokenize__(self):
        return self.key
