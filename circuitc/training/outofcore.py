"""Training on rows that need not fit in memory: Parquet, Zarr or many CSVs read by Dask, the
preprocessing fitted in one pass, gradient descent through ``circuitc.dask`` on all rows (full
batch) or on a few row chunks a step (minibatch), and L-BFGS
(``circuitc train FILE --data PATH --dask [local[:N]|ADDRESS] [--chunks-per-step K]``).

The rows are never gathered: each step reads them chunk by chunk, scales them and runs the
module's ``value_and_grad`` per chunk (``distributed.value_and_grad``); only one gradient per
chunk travels. The preprocessing is the in-memory path's (``Preprocessing``: standardised
features, a bias column when the circuit takes one, labels as classes), fitted with one
``dask.compute`` over the train rows (all rows: there is no held-out part).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .binding import Binding, bind_shapes, init
from .errors import DataError
from .history import History, Progress, State
from .preprocess import Preprocessing


@dataclass
class Rows:
    """Row-chunked features ``X`` (rows × d) and raw labels ``y`` (rows,), as dask arrays."""

    X: object
    y: object
    feature_names: list[str]
    target_name: str


def open_rows(path, target_column: str | None = None) -> Rows:
    """The rows of a Zarr group (arrays ``X`` and ``y``), a Parquet file or folder, or CSV files
    (a folder of them or a glob); in a table the target is ``target_column``, else the last
    column. Nothing is kept in memory: a table is read once to count its chunks' rows."""
    import dask.array as da

    text = str(path)
    p = Path(text)
    if p.suffix == ".zarr" or (p / "zarr.json").exists() or (p / ".zgroup").exists():
        X = da.from_zarr(text, component="X")
        y = da.from_zarr(text, component="y").reshape(-1)
        return Rows(X.astype(np.float64), y, [f"x{j}" for j in range(X.shape[1])], "y")
    files = sorted(p.glob("*.parquet")) or sorted(p.glob("*.csv")) if p.is_dir() else []
    files = files or sorted(Path(p.parent).glob(p.name))
    if not files or any(f.suffix not in (".parquet", ".csv") for f in files):
        raise DataError(f"{text}: no Zarr group, .parquet or .csv files there")
    columns = _columns(files[0])
    target = target_column or columns[-1]
    if target not in columns:
        raise DataError(f"{path}: no column {target!r} (columns: {', '.join(columns)})")
    features = [c for c in columns if c != target]
    counts = [_row_count(f) for f in files]  # Parquet: its metadata; CSV: one read
    X = da.concatenate(
        [_chunk(f, features, n, (n, len(features))) for f, n in zip(files, counts, strict=True)]
    )
    y = da.concatenate([_chunk(f, [target], n, (n,)) for f, n in zip(files, counts, strict=True)])
    return Rows(X, y, features, target)


def _table(path: Path, columns=None):
    """One file's rows as a pandas frame (only ``columns``, when given)."""
    import pandas as pd

    if path.suffix == ".parquet":
        return pd.read_parquet(path, columns=columns)
    return pd.read_csv(path, usecols=columns)


def _columns(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    import pandas as pd

    return list(pd.read_csv(path, nrows=0).columns)


def _row_count(path: Path) -> int:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    return len(_table(path, columns=[_columns(path)[0]]))


def _chunk(path: Path, columns: list[str], n: int, shape: tuple):
    """One file's ``columns`` as a lazy dask array chunk (read when a task needs it)."""
    import dask
    import dask.array as da

    def read(path=path, columns=columns):
        values = _table(path, columns).to_numpy()
        return values.reshape(shape).astype(np.float64) if len(shape) == 2 else values.reshape(n)

    return da.from_delayed(
        dask.delayed(read)(), shape=shape, dtype=np.float64 if len(shape) == 2 else object
    )


def fit(module, rows: Rows) -> tuple[Preprocessing, Binding]:
    """The preprocessing of ``rows`` for ``module``, in one pass over them: per-column mean and
    standard deviation (a constant column is kept as it is), and the classes of the labels."""
    import dask
    import dask.array as da

    lo, hi, mean, std, classes = dask.compute(
        rows.X.min(axis=0), rows.X.max(axis=0), rows.X.mean(axis=0), rows.X.std(axis=0),
        da.unique(rows.y),
    )  # fmt: skip
    constant = lo == hi
    mean, scale = np.where(constant, 0.0, mean), np.where(constant | (std == 0), 1.0, std)
    binding = bind_shapes(module, rows.X.shape[1], len(classes), str(rows.target_name))
    if binding.layout != "matrix":
        raise DataError("--dask trains circuits with a feature matrix (X, N×D) only")
    task = binding.task
    pre = Preprocessing(
        rows.feature_names, mean, scale, bias=binding.bias, target_name=str(rows.target_name),
        classes=classes if task in ("binary", "multiclass") else None, task=task,
    )  # fmt: skip
    return pre, binding


def encoded(rows: Rows, pre: Preprocessing, binding: Binding) -> dict:
    """The module's data arguments, chunk by chunk (lazy): scaled features with the bias
    column, targets as the module takes them (0/1, one-hot rows, or the values)."""
    X = rows.X.rechunk({1: -1})
    y = rows.y.rechunk((X.chunks[0],))
    classes = pre.classes
    if classes is not None:  # labels as class indices, the in-memory path's codes
        y = y.map_blocks(lambda b: np.searchsorted(classes, b).astype(np.float64), dtype=float)

    def features(block):
        return binding.encode((block - pre.mean) / pre.scale, None)[0]

    def targets(block):
        return binding.encode(np.zeros((block.shape[0], pre.n_features)), block)[1]

    width = X.shape[1] + (1 if pre.bias else 0)
    out_x = X.map_blocks(features, dtype=np.float64, chunks=(X.chunks[0], (width,)))
    t = binding.target_shape
    wide = binding.task == "multiclass" or len(t) == 2
    k = binding.n_classes if binding.task == "multiclass" else 1
    chunks = (X.chunks[0], (k,)) if wide else (X.chunks[0],)
    out_y = y.map_blocks(targets, dtype=np.float64, chunks=chunks, new_axis=1 if wide else None)
    return {binding.features[0]: out_x, binding.target: out_y}


def gradient_descent(
    module,
    rows: Rows,
    *,
    epochs: int = 20,
    lr: float = 0.1,
    seed: int = 0,
    chunks_per_step: int | None = None,
    params: dict | None = None,
    state: State | None = None,
    fitted: tuple[Preprocessing, Binding] | None = None,
    callback=None,
) -> tuple[dict, Preprocessing, State]:
    """Gradient descent over the rows through ``circuitc.dask``: θ ← θ − η ∇J.

    Full batch (``chunks_per_step`` None): one step an epoch, on all rows; the epoch's loss is
    J before the step. Minibatch (``chunks_per_step`` K): each epoch visits the non-empty row
    chunks (one a file) in the order ``epoch_order(chunks, seed, epoch)`` (a pure function of
    the seed and the epoch, so a resumed run draws as an uninterrupted one) and takes one step
    per K consecutive chunks of it, on their rows only; the epoch's loss is the row-weighted
    mean of its steps' losses. ``params``/``state`` continue a run (``state.epoch`` epochs
    done); ``fitted`` is ``fit(module, rows)`` when the caller has it; ``callback`` gets a ``Progress`` after every epoch and may return True to stop.
    Returns the parameters, the preprocessing and the run's state (history)."""
    pre, binding = fitted if fitted is not None else fit(module, rows)
    if chunks_per_step is not None and chunks_per_step < 1:
        raise DataError(f"chunks per step must be at least 1, got {chunks_per_step}")
    data = encoded(rows, pre, binding)
    params = dict(params) if params is not None else init(module, seed)
    state = state if state is not None else State(history=History())
    while state.epoch < epochs:
        if chunks_per_step is None:
            params, loss = _full_step(module, params, data, lr, state.epoch)
        else:
            params, loss = _minibatch_epoch(module, params, data, lr, seed, state.epoch,
                                            chunks_per_step)  # fmt: skip
        state.epoch += 1
        state.step = 0
        state.history.append(epoch=state.epoch, loss=loss, lr=lr)
        progress = Progress("epoch", state.epoch, 1, 1, loss, lr, params, state, state.history)
        if callback is not None and callback(progress):
            state.history.stopped = "callback"
            break
    return params, pre, state


def _full_step(module, params: dict, data: dict, lr: float, epoch: int) -> tuple[dict, float]:
    """One step on all rows: the new parameters and J before the step."""
    from .distributed import value_and_grad

    J, g = value_and_grad(module, params, **data)
    return _stepped(params, g, lr, float(np.mean(J)), epoch)


def _stepped(params: dict, g: dict, lr: float, loss: float, epoch: int) -> tuple[dict, float]:
    if not math.isfinite(loss):
        raise DataError(f"the loss became {loss} at epoch {epoch + 1}; try a smaller lr")
    return {w: p - lr * g[w] for w, p in params.items()}, loss


def chunk_steps(sizes, seed: int, epoch: int, chunks_per_step: int) -> list[list[int]]:
    """Epoch ``epoch``'s (0-based) steps: the indices of the row chunks each step reads, the
    non-empty chunks shuffled by ``epoch_order`` and cut into runs of ``chunks_per_step``."""
    from .optimizers import epoch_order

    full = [k for k, n in enumerate(sizes) if n > 0]
    order = [full[i] for i in epoch_order(len(full), seed, epoch)]
    return [order[i : i + chunks_per_step] for i in range(0, len(order), chunks_per_step)]


def _minibatch_epoch(
    module, params: dict, data: dict, lr: float, seed: int, epoch: int, chunks_per_step: int
) -> tuple[dict, float]:
    """One epoch of steps on a few row chunks each; the epoch's row-weighted mean loss."""
    import dask.array as da

    from .distributed import value_and_grad

    sizes = next(iter(data.values())).chunks[0]
    total = weighted = 0.0
    for step in chunk_steps(sizes, seed, epoch, chunks_per_step):
        part = {n: da.concatenate([a.blocks[k] for k in step]) for n, a in data.items()}
        J, g = value_and_grad(module, params, **part)
        n = sum(sizes[k] for k in step)
        params, loss = _stepped(params, g, lr, float(np.mean(J)), epoch)
        total, weighted = total + n, weighted + n * loss
    return params, weighted / total


def lbfgs(
    module,
    rows: Rows,
    *,
    fitted: tuple[Preprocessing, Binding] | None = None,
    params: dict | None = None,
    seed: int = 0,
    l2_C: float | None = None,
):
    """SciPy's L-BFGS (``scipy_opt.minimize``) on the mean loss over all rows (plus ``l2_C``'s
    penalty), every objective and gradient one ``circuitc.dask`` evaluation. Returns SciPy's
    ``Result`` and the preprocessing."""
    from . import scipy_opt
    from .distributed import value_and_grad

    pre, binding = fitted if fitted is not None else fit(module, rows)
    data = encoded(rows, pre, binding)
    start = dict(params) if params is not None else init(module, seed)

    def evaluate(**arguments):
        theta = {w: arguments.pop(w) for w in module.WRT}
        return value_and_grad(module, theta, **arguments)

    result = scipy_opt.minimize(
        module, start, data, "lbfgs", l2_C, binding, value_and_grad=evaluate
    )
    if not all(np.all(np.isfinite(v)) for v in result.params.values()):
        raise DataError("lbfgs diverged: the parameters are not finite")
    return result, pre
