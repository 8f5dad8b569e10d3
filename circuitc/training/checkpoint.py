"""Trained parameters on disk: an ``.npz`` that says which circuit it belongs to.

Besides one array per parameter (parameter names never start with ``_``), the file holds,
under names that start with ``_`` (``docs/design.md``, "Parameter files", lists them): the
circuit's name and ``CIRCUIT_HASH`` (so parameters are never loaded into another circuit), the
preprocessing fitted on the training data (column names, ``_mean``/``_scale``, the bias
column, label classes: ``preprocess.Preprocessing``, plain arrays that NumPy alone can apply),
which rows were held out as the test part, the training settings, and the resumable state
(next epoch and step, the optimizer's buffers, the history, the best epoch so far). Files are
written atomically (temporary file + rename) and read with ``allow_pickle=False``.

Every file ``save`` writes has the marker key ``_circuitc_format`` (``FORMAT``), by which
``circuitc train`` knows a file it may replace; files written before the marker existed are
known by their ``_circuit_hash`` and load as before. A file whose members fail their
checksums is refused whole.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._version import __version__
from ..loader import write_atomic_with
from .data import DataError, Dataset
from .preprocess import Preprocessing, identity_scaler
from .sgd import History, Optimizer, State, bind_shapes

#: the marker key's value in every parameter file this version writes
FORMAT = "circuitc parameters 1"


class CheckpointError(ValueError):
    """A parameter file that cannot be read or belongs to another circuit."""


@dataclass
class Checkpoint:
    """What ``load`` reads back.

    ``bias`` and ``task`` are ``None`` in files written before they were saved (they follow
    from the circuit: ``preprocessing(module)``); ``named`` says whether ``feature_names``
    came from the data (bind by name) or were made up (bind by position).
    """

    params: dict[str, np.ndarray]
    state: State | None = None
    config: dict = field(default_factory=dict)
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    feature_names: list[str] = field(default_factory=list)
    target_name: str = "target"
    n_features: int | None = None
    named: bool = True
    bias: bool | None = None
    classes: np.ndarray | None = None
    task: str | None = None
    test_rows: np.ndarray | None = None
    data_digest: str | None = None

    def preprocessing(self, module) -> Preprocessing:
        """The saved preprocessing (the bias column and task of older files from ``module``)."""
        d = self.n_features if self.n_features is not None else len(self.feature_names)
        mean, scale = self.mean, self.scale
        if mean is None:
            mean, scale = identity_scaler(d)
        bias, task, classes = self.bias, self.task, self.classes
        if bias is None or (task is None and hasattr(module, "predict")):
            k = None if classes is None else len(classes)
            binding = bind_shapes(module, d, k)
            bias, task = binding.bias, binding.task
            if classes is None and task in ("binary", "multiclass"):
                classes = np.arange(binding.n_classes)
        names = list(self.feature_names) if self.named and self.feature_names else None
        return Preprocessing(names, mean, scale, bias, classes, self.target_name, task)


def _preprocessing_arrays(pre: Preprocessing) -> dict[str, np.ndarray]:
    out = {
        "_n_features": np.array(pre.n_features),
        "_named": np.array(pre.feature_names is not None),
        "_feature_names": np.array(pre.feature_names or [], dtype=str),
        "_mean": np.asarray(pre.mean, dtype=np.float64),
        "_scale": np.asarray(pre.scale, dtype=np.float64),
        "_bias": np.array(bool(pre.bias)),
        "_target_name": np.array(pre.target_name),
        "_task": np.array(pre.task or ""),
    }
    if pre.classes is not None:
        out["_classes"] = np.asarray(pre.classes)
    return out


def save(
    path,
    module,
    params: dict,
    *,
    state: State | None = None,
    preprocessing: Preprocessing | None = None,
    data: Dataset | None = None,
    config: dict | None = None,
) -> Path:
    """Write ``params`` (and the preprocessing, split, state and settings) atomically.

    ``data`` adds which rows were the test part (``_test_rows``, ``_data_digest``: so that
    ``predict`` on the same data can report the held-out rows apart), and, without
    ``preprocessing``, its own names and scaling.
    """
    arrays: dict[str, np.ndarray] = {w: np.asarray(params[w]) for w in module.WRT}
    arrays["_circuitc_format"] = np.array(FORMAT)
    arrays["_circuit_name"] = np.array(module.NAME)
    arrays["_circuit_hash"] = np.array(module.CIRCUIT_HASH)
    arrays["_circuitc_version"] = np.array(__version__)
    arrays["_config"] = np.array(json.dumps(config or {}, sort_keys=True))
    if preprocessing is None and data is not None:
        preprocessing = data.preprocessing()
    if preprocessing is not None:
        arrays.update(_preprocessing_arrays(preprocessing))
    if data is not None:
        arrays["_test_rows"] = np.asarray(data.test_rows, dtype=np.int64)
        arrays["_data_digest"] = np.array(data.digest)
    if state is not None:
        arrays.update(_state_arrays(state))
    return write_atomic_with(path, lambda f: np.savez(f, **arrays))


def is_parameter_file(path) -> bool:
    """True for an ``.npz`` that circuitc wrote: it has the marker key (or, written before the
    marker existed, ``_circuit_hash``). Read from the zip's directory, nothing loaded."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    return "_circuitc_format.npy" in names or "_circuit_hash.npy" in names


def _damaged_member(path) -> str | None:
    """The first member of the zip at ``path`` whose bytes fail their checksum, else None."""
    try:
        with zipfile.ZipFile(path) as z:
            return z.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        return str(e) or type(e).__name__


def _state_arrays(state: State) -> dict[str, np.ndarray]:
    arrays = {"_epoch": np.array(state.epoch), "_step": np.array(state.step)}
    opt = state.optimizer
    if opt is not None:
        arrays["_opt_kind"] = np.array(opt.kind)
        arrays["_opt_momentum"] = np.array(opt.momentum)
        arrays["_opt_t"] = np.array(opt.t)
        for k, v in opt.buffers.items():
            arrays[f"_opt_{k}"] = v
    h = state.history
    for k in History.FIELDS:
        values = [np.nan if v is None else v for v in getattr(h, k)]
        arrays[f"_history_{k}"] = np.array(values, dtype=np.float64)
    arrays["_stopped"] = np.array(h.stopped or "")
    if state.best is not None:
        arrays["_best_epoch"] = np.array(h.best_epoch)
        arrays["_best_loss"] = np.array(state.best_loss)
        for w, v in state.best.items():
            arrays[f"_best_{w}"] = v
    return arrays


def _text(f, key: str, default: str | None = None) -> str | None:
    return str(f[key][()]) if key in f.files else default


def load(path, module) -> Checkpoint:
    """Read a file written by ``save`` for ``module``'s circuit, or raise ``CheckpointError``."""
    path = Path(path)
    try:
        f = np.load(path, allow_pickle=False)
    except OSError as e:
        raise CheckpointError(f"cannot read parameters from {path}: {e.strerror or e}") from None
    except (ValueError, EOFError, zipfile.BadZipFile):  # not .npy/.npz, empty or truncated
        raise CheckpointError(f"{path} is not a circuitc parameter file (.npz)") from None
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise CheckpointError(f"{path} is not a circuitc parameter file (.npz)")
    damaged = _damaged_member(path)
    if damaged is not None:
        f.close()
        raise CheckpointError(
            f"{path} is damaged ({damaged} fails its checksum); retrain or restore it"
        )
    try:
        with f:
            return _read(f, path, module)
    except (ValueError, KeyError, EOFError, zipfile.BadZipFile, OSError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"{path}: a damaged parameter file ({e})") from None


def _read(f, path: Path, module) -> Checkpoint:
    if "_circuit_hash" not in f.files:
        raise CheckpointError(f"{path} is not a circuitc parameter file")
    name, digest = _text(f, "_circuit_name"), _text(f, "_circuit_hash")
    if name != module.NAME:
        raise CheckpointError(
            f"{path} holds parameters of the circuit {name!r}, not of {module.NAME!r}"
        )
    if digest != module.CIRCUIT_HASH:
        raise CheckpointError(
            f"{path} holds parameters of another version of the circuit {name!r} "
            f"(hash {digest[:12]}, this one is {module.CIRCUIT_HASH[:12]})"
        )
    missing = [w for w in module.WRT if w not in f.files]
    if missing:
        raise CheckpointError(f"{path} has no parameter {missing[0]!r}")
    params = {w: np.array(f[w], dtype=np.float64) for w in module.WRT}
    try:
        config = json.loads(_text(f, "_config", "{}"))
    except ValueError:
        raise CheckpointError(f"{path}: unreadable training settings") from None
    ck = Checkpoint(params, config=config if isinstance(config, dict) else {})
    _read_preprocessing(f, ck)
    if "_test_rows" in f.files:
        ck.test_rows = np.array(f["_test_rows"], dtype=np.intp)
        ck.data_digest = _text(f, "_data_digest")
    if "_epoch" in f.files:
        ck.state = _read_state(f, path, params)
    return ck


def _read_preprocessing(f, ck: Checkpoint) -> None:
    if "_mean" in f.files:
        ck.mean = np.array(f["_mean"], dtype=np.float64)
        ck.scale = np.array(f["_scale"], dtype=np.float64)
    if "_feature_names" in f.files:
        ck.feature_names = [str(n) for n in f["_feature_names"]]
    if "_named" in f.files:
        ck.named = bool(f["_named"])
    else:  # older files: names made up for data without names were x1, x2, ...
        made_up = [f"x{j + 1}" for j in range(len(ck.feature_names))]
        ck.named = bool(ck.feature_names) and ck.feature_names != made_up
    ck.target_name = _text(f, "_target_name", "target")
    if "_n_features" in f.files:
        ck.n_features = int(f["_n_features"])
    if "_bias" in f.files:
        ck.bias = bool(f["_bias"])
        ck.task = _text(f, "_task") or None
    if "_classes" in f.files:
        ck.classes = np.array(f["_classes"])


def _read_state(f, path: Path, params: dict) -> State:
    state = State(epoch=int(f["_epoch"]), step=int(f["_step"]))
    if "_opt_kind" in f.files:
        opt = Optimizer(_text(f, "_opt_kind"), params, float(f["_opt_momentum"]))
        opt.t = int(f["_opt_t"])
        for k in opt.buffers:
            if f"_opt_{k}" not in f.files:
                raise CheckpointError(f"{path}: optimizer state {k!r} is missing")
            opt.buffers[k] = np.array(f[f"_opt_{k}"], dtype=np.float64)
        state.optimizer = opt
    h = History()
    n = len(f["_history_epoch"]) if "_history_epoch" in f.files else 0
    for k in History.FIELDS:
        if f"_history_{k}" in f.files:
            values = f[f"_history_{k}"].tolist()
            if k == "epoch":
                values = [int(v) for v in values]
            else:
                values = [None if v != v else v for v in values]
        else:  # a field added after the file was written
            values = [None] * n
        setattr(h, k, values)
    h.stopped = _text(f, "_stopped") or None
    if "_best_epoch" in f.files:
        h.best_epoch = int(f["_best_epoch"])
        state.best_loss = float(f["_best_loss"])
        state.best = {w: np.array(f[f"_best_{w}"], dtype=np.float64) for w in params}
    state.history = h
    return state


def check_data(ck: Checkpoint, data: Dataset, path) -> None:
    """Refuse data whose feature count differs from what the parameters were trained on."""
    if ck.n_features is not None and data.n_features != ck.n_features:
        raise DataError(
            f"the data has {data.n_features} feature columns; {path} was trained on {ck.n_features}"
        )
