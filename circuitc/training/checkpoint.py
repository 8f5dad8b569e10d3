"""Trained parameters on disk: an ``.npz`` that says which circuit it belongs to.

Besides one array per parameter (parameter names never start with ``_``), the file holds,
under names that start with ``_``: the circuit's name and ``CIRCUIT_HASH`` (so parameters are
never loaded into another circuit), the data's standardisation (so ``predict`` scales new data
as training did), the training settings, and the resumable state (next epoch and step, the
optimizer's buffers, the history). Files are written atomically (temporary file + rename) and
read with ``allow_pickle=False``.

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
from .sgd import History, Optimizer, State

#: the marker key's value in every parameter file this version writes
FORMAT = "circuitc parameters 1"


class CheckpointError(ValueError):
    """A parameter file that cannot be read or belongs to another circuit."""


@dataclass
class Checkpoint:
    """What ``load`` reads back."""

    params: dict[str, np.ndarray]
    state: State | None = None
    config: dict = field(default_factory=dict)
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    feature_names: list[str] = field(default_factory=list)
    target_name: str = "target"
    n_features: int | None = None


def save(
    path,
    module,
    params: dict,
    *,
    state: State | None = None,
    data: Dataset | None = None,
    config: dict | None = None,
) -> Path:
    """Write ``params`` (and the state, standardisation and settings) to ``path`` atomically."""
    arrays: dict[str, np.ndarray] = {w: np.asarray(params[w]) for w in module.WRT}
    arrays["_circuitc_format"] = np.array(FORMAT)
    arrays["_circuit_name"] = np.array(module.NAME)
    arrays["_circuit_hash"] = np.array(module.CIRCUIT_HASH)
    arrays["_circuitc_version"] = np.array(__version__)
    arrays["_config"] = np.array(json.dumps(config or {}, sort_keys=True))
    if data is not None:
        arrays["_n_features"] = np.array(data.n_features)
        arrays["_feature_names"] = np.array(data.feature_names or [], dtype=str)
        arrays["_target_name"] = np.array(data.target_name)
        if data.mean is not None:
            arrays["_mean"] = data.mean
            arrays["_scale"] = data.scale
    if state is not None:
        arrays["_epoch"] = np.array(state.epoch)
        arrays["_step"] = np.array(state.step)
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
    with f:
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
        if "_mean" in f.files:
            ck.mean, ck.scale = np.array(f["_mean"]), np.array(f["_scale"])
        if "_feature_names" in f.files:
            ck.feature_names = [str(n) for n in f["_feature_names"]]
        ck.target_name = _text(f, "_target_name", "target")
        if "_n_features" in f.files:
            ck.n_features = int(f["_n_features"])
        if "_epoch" in f.files:
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
            for k in History.FIELDS:
                if f"_history_{k}" in f.files:
                    values = f[f"_history_{k}"].tolist()
                    if k == "epoch":
                        values = [int(v) for v in values]
                    elif k in ("train_accuracy", "test_accuracy"):
                        values = [None if v != v else v for v in values]
                    setattr(h, k, values)
            state.history = h
            ck.state = state
    return ck


def check_data(ck: Checkpoint, data: Dataset, path) -> None:
    """Refuse data whose feature count differs from what the parameters were trained on."""
    if ck.n_features is not None and data.n_features != ck.n_features:
        raise DataError(
            f"the data has {data.n_features} feature columns; {path} was trained on {ck.n_features}"
        )
