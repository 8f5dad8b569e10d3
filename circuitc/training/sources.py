"""Where rows come from: the built-in sets, CSV and ``.npz`` files, and arrays in Python.

Each source gives a ``RawData``: the rows as read (features as float64, the target as
numbers or text), with the column names when the source has them. ``data.split`` makes a
``Dataset`` of it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import csvfile
from .errors import DataError
from .preprocess import check_finite, select

#: the data sets scikit-learn ships (no download)
BUILTIN = ("breast_cancer", "digits", "iris")
DEFAULT = "breast_cancer"


@dataclass
class RawData:
    """Rows as read: ``X`` (float64, rows × features) and ``y`` (numbers, text or ``None``).

    ``feature_names`` is ``None`` when the source has no column names (bound by position);
    ``dropped`` lists the CSV lines left out for a missing value.
    """

    name: str
    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str] | None = None
    target_name: str = "target"
    dropped: list[int] = field(default_factory=list)

    @property
    def column_names(self) -> list[str]:
        """The names, or ``x1``, ``x2``, … for data without names."""
        if self.feature_names is not None:
            return list(self.feature_names)
        return [f"x{j + 1}" for j in range(self.X.shape[1])]

    def __iter__(self):
        """``X, y, feature_names, target_name = raw`` (the tuple ``read_csv`` used to return)."""
        return iter((self.X, self.y, self.feature_names, self.target_name))

    def reorder(self, order: list[int]) -> RawData:
        """The same rows with the feature columns in ``order``."""
        names = None if self.feature_names is None else [self.feature_names[j] for j in order]
        return RawData(self.name, self.X[:, order], self.y, names, self.target_name, self.dropped)

    def digest(self) -> str:
        """A SHA-256 of the rows (features and labels): recognises the data a model saw."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.X).tobytes())
        if self.y is not None:
            h.update(np.asarray(self.y).astype(str).tobytes())
        return h.hexdigest()


def check_features(X, what: str = "data") -> np.ndarray:
    """``X`` as a finite float64 matrix, or a ``DataError`` naming the first bad cell."""
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(f"{what}: features are not numbers ({e})") from None
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise DataError(f"{what}: features must be a matrix (rows × columns), got {X.ndim}-d")
    check_finite(X, what, "feature")
    return X


def builtin(name: str) -> RawData:
    """The raw rows of a scikit-learn data set."""
    if name not in BUILTIN:
        raise DataError(f"unknown data set {name!r}; built-in: {', '.join(BUILTIN)}")
    try:
        from sklearn import datasets
    except ImportError:
        raise DataError(
            f"the built-in data set {name!r} needs scikit-learn: pip install 'circuitc[data]'"
        ) from None
    bunch = getattr(datasets, f"load_{name}")()
    names = [str(n) for n in getattr(bunch, "feature_names", [])] or None
    return RawData(name, bunch.data, bunch.target, names, "target")


def read_csv(
    path,
    target_column: str | None = None,
    has_target: bool = True,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    decimal: str = ".",
    missing: str = "error",
) -> RawData:
    """The rows of a CSV file (``csvfile``); ``has_target=False``: every column a feature."""
    table = csvfile.read(path, encoding=encoding, delimiter=delimiter, decimal=decimal)
    cols = csvfile.columns(table, target_column, has_target=has_target, missing=missing)
    return RawData(
        Path(path).name, cols.X, cols.y, cols.feature_names, cols.target_name or "target",
        cols.dropped,
    )  # fmt: skip


def read_npz(path) -> RawData:
    """The rows of an ``.npz`` with arrays ``X`` and ``y`` (and optionally ``feature_names``)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            if not {"X", "y"} <= keys:
                raise DataError(f"{path}: needs arrays 'X' and 'y', has {sorted(keys)}")
            X, y = f["X"], f["y"]
            names = [str(n) for n in f["feature_names"]] if "feature_names" in keys else None
    except DataError:
        raise
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read {path} as .npz: {e}") from None
    if X.dtype.kind not in "fiub" or y.dtype.kind not in "fiubUS":
        raise DataError(f"{path}: 'X' must hold numbers and 'y' numbers or text")
    return RawData(path.name, X, y, names, "target")


def from_arrays(X, y=None, feature_names=None, name: str = "data") -> RawData:
    """Rows given in Python: an array, a mapping ``{name: column}`` or a pandas DataFrame."""
    names = None
    if isinstance(X, Mapping):
        names = [str(k) for k in X]
        X = np.column_stack([np.asarray(X[k], dtype=np.float64) for k in X]) if X else []
    elif getattr(X, "columns", None) is not None and not isinstance(X, np.ndarray):
        names = [str(c) for c in X.columns]
        X = np.asarray(X, dtype=np.float64)
    if feature_names is not None:
        if names is not None:
            raise DataError("feature_names= is for an array; a table brings its own names")
        names = [str(n) for n in feature_names]
    X = check_features(X, name)
    if names is not None:
        if len(names) != X.shape[1]:
            raise DataError(f"{len(names)} feature names for {X.shape[1]} columns")
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise DataError(f"{name}: column {dup!r} appears twice")
    target = getattr(y, "name", None)
    return RawData(name, X, y, names, str(target) if target else "target")


def in_trained_order(raw_data: RawData, names: list[str] | None, n: int) -> RawData:
    """``raw_data`` with its columns in a model's order ``names`` (by name; a missing or an
    extra column is a ``DataError``), or as it is when either side has no names."""
    if names is None or raw_data.feature_names is None:
        return raw_data
    return raw_data.reorder(select(raw_data.feature_names, names, raw_data.name, n))


def raw(
    source: str | os.PathLike = DEFAULT,
    target_column: str | None = None,
    **csv_options,
) -> RawData:
    """The rows of a built-in name, a ``.csv``/``.tsv``/``.txt`` or an ``.npz`` file."""
    text = os.fspath(source)
    if text in BUILTIN:
        if target_column not in (None, "target"):
            raise DataError(f"the built-in data set {text!r} has no column {target_column!r}")
        return builtin(text)
    suffix = Path(text).suffix.lower()
    if suffix == ".npz":
        return read_npz(text)
    if suffix in (".csv", ".tsv", ".txt"):
        return read_csv(text, target_column, **csv_options)
    if not Path(text).exists():
        raise DataError(
            f"no data set {text!r}: give a built-in name ({', '.join(BUILTIN)}), a .csv or an .npz"
        )
    raise DataError(f"{text}: unknown data format (use .csv or .npz)")
