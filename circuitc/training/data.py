"""Data sets for training: features, target, a seeded train/test split and standardisation.

A ``Dataset`` holds the train and test parts as float64 arrays (instances are rows). Sources:

* the built-in sets ``breast_cancer`` (the default), ``digits`` and ``iris``, from scikit-learn
  (the ``data`` extra);
* a CSV file with a header row, the target being one named column (``target_column``; by
  default a column called ``target``, else the last one); every cell is parsed with ``float``;
* an ``.npz`` file with arrays ``X`` (n × d) and ``y`` (n), read with ``allow_pickle=False``.

Standardisation (mean 0, standard deviation 1 per column) is fitted on the train part only and
applied to both parts; the fitted ``mean``/``scale`` travel with trained parameters so that
``predict`` scales new data the same way. Bad data raises ``DataError`` with a one-line message.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: the data sets scikit-learn ships (no download)
BUILTIN = ("breast_cancer", "digits", "iris")
DEFAULT = "breast_cancer"


class DataError(ValueError):
    """Unusable data: a missing file, a bad cell, NaN/inf, an unknown column, wrong shapes."""


@dataclass
class Dataset:
    """Features and target, split into a train and a test part (float64, instances are rows).

    Attributes:
        name: where the data came from (a built-in name or a file name).
        X_train, y_train, X_test, y_test: the two parts; ``y`` is one value per row.
        feature_names: one name per column of ``X``.
        target_name: the name of the target column.
        mean, scale: the standardisation fitted on ``X_train`` (``None`` when not standardised);
            ``X = (raw - mean) / scale``.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str] = field(default_factory=list)
    target_name: str = "target"
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int | None:
        """``max(label) + 1`` when every label is a non-negative integer, else ``None``."""
        y = np.concatenate([self.y_train, self.y_test])
        if y.size and np.all(y >= 0) and np.all(y == np.round(y)):
            return int(y.max()) + 1
        return None

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Scale new raw features as the train part was scaled."""
        X = check_features(X, "data")
        if X.shape[1] != self.n_features:
            raise DataError(f"data has {X.shape[1]} feature columns, expected {self.n_features}")
        if self.mean is None:
            return X
        return (X - self.mean) / self.scale


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
    _check_finite(X, what, "feature")
    return X


def _check_finite(a: np.ndarray, what: str, kind: str) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        where = np.argwhere(bad)[0]
        cell = f"row {where[0] + 1}" + (f", column {where[1] + 1}" if a.ndim == 2 else "")
        raise DataError(f"{what}: {kind} value {a[tuple(where)]} at {cell} is not finite")


def split(
    X,
    y,
    *,
    name: str = "data",
    feature_names: list[str] | None = None,
    target_name: str = "target",
    test_size: float = 0.25,
    seed: int = 0,
    standardize: bool = True,
) -> Dataset:
    """A ``Dataset`` from arrays: a seeded shuffle, then the last ``test_size`` part is the test part.

    The split is stratified by label when every label is an integer (so small classes appear in
    both parts). Standardisation is fitted on the train part only.
    """
    X = check_features(X, name)
    try:
        y = np.asarray(y, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise DataError(f"{name}: target values are not numbers ({e})") from None
    if y.shape[0] != X.shape[0]:
        raise DataError(f"{name}: {X.shape[0]} rows of features but {y.shape[0]} target values")
    _check_finite(y, name, "target")
    n = X.shape[0]
    if n < 2:
        raise DataError(f"{name}: needs at least 2 rows, got {n}")
    if not 0.0 <= test_size < 1.0:
        raise DataError(f"test_size must be in [0, 1), got {test_size}")
    rng = np.random.default_rng(seed)
    if np.all(y == np.round(y)):
        # stratified: each label's rows shuffled, and the same share of each goes to test
        # (largest remainders: the test part has round(test_size * n) rows in all)
        labels = np.unique(y)
        sizes = np.array([np.count_nonzero(y == label) for label in labels])
        share = test_size * sizes
        counts = np.floor(share).astype(int)
        extra = int(round(test_size * n)) - counts.sum()
        counts[np.argsort(-(share - counts), kind="stable")[:extra]] += 1
        test = []
        for label, k in zip(labels, counts, strict=True):
            rows = np.flatnonzero(y == label)
            rows = rows[rng.permutation(rows.size)]
            test.extend(rows[:k].tolist())
        test = np.array(sorted(test), dtype=np.intp)
    else:
        test = np.sort(rng.permutation(n)[: int(round(test_size * n))])
    is_test = np.zeros(n, dtype=bool)
    is_test[test] = True
    train_rows = np.flatnonzero(~is_test)
    test_rows = np.flatnonzero(is_test)
    train_rows = train_rows[rng.permutation(train_rows.size)]
    X_train, y_train = X[train_rows], y[train_rows]
    X_test, y_test = X[test_rows], y[test_rows]
    mean = scale = None
    if standardize:
        mean = X_train.mean(axis=0)
        scale = X_train.std(axis=0)
        scale[scale == 0] = 1.0  # a constant column (digits' border pixels) stays 0
        X_train = (X_train - mean) / scale
        X_test = (X_test - mean) / scale
    if feature_names is None:
        feature_names = [f"x{j + 1}" for j in range(X.shape[1])]
    return Dataset(
        name,
        np.ascontiguousarray(X_train),
        y_train,
        np.ascontiguousarray(X_test),
        y_test,
        list(feature_names),
        target_name,
        mean,
        scale,
    )


def builtin(name: str) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """The raw ``(X, y, feature_names, target_name)`` of a scikit-learn data set."""
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
    return bunch.data, bunch.target, names, "target"


def read_csv(path, target_column: str | None = None, has_target: bool = True):
    """``(X, y, feature_names, target_name)`` of a CSV file with a header row.

    The target is the column named ``target_column``; by default the column ``target`` when
    there is one, else the last column. With ``has_target=False`` every column is a feature
    and ``y`` is ``None``. Cells are parsed with ``float`` (never evaluated).
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: not a CSV text file ({e})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise DataError(f"{path}: needs a header row and at least one data row")
    header = [cell.strip() for cell in rows[0]]
    if len(header) < 1 + has_target:
        raise DataError(f"{path}: needs at least one feature column and a target column")
    if not has_target:
        target = None
    elif target_column is None:
        target = header.index("target") if "target" in header else len(header) - 1
    elif target_column in header:
        target = header.index(target_column)
    else:
        raise DataError(f"{path}: no column {target_column!r}; the columns are {', '.join(header)}")
    values = np.empty((len(rows) - 1, len(header)))
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(f"{path}: line {i} has {len(row)} cells, the header has {len(header)}")
        for j, cell in enumerate(row):
            try:
                values[i - 2, j] = float(cell)
            except ValueError:
                raise DataError(
                    f"{path}: line {i}, column {header[j]!r}: {cell.strip()!r} is not a number"
                ) from None
            if not math.isfinite(values[i - 2, j]):
                raise DataError(
                    f"{path}: line {i}, column {header[j]!r}: {cell.strip()} is not finite"
                )
    keep = [j for j in range(len(header)) if j != target]
    if target is None:
        return values, None, header, None
    return values[:, keep], values[:, target], [header[j] for j in keep], header[target]


def read_npz(path):
    """``(X, y, feature_names, target_name)`` of an ``.npz`` with arrays ``X`` and ``y``."""
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
    if X.dtype.kind not in "fiub" or y.dtype.kind not in "fiub":
        raise DataError(f"{path}: 'X' and 'y' must hold numbers")
    return X, y, names, "target"


def raw(source: str | os.PathLike = DEFAULT, target_column: str | None = None):
    """``(X, y, feature_names, target_name)`` from a built-in name, a ``.csv`` or an ``.npz``."""
    text = os.fspath(source)
    if text in BUILTIN:
        if target_column not in (None, "target"):
            raise DataError(f"the built-in data set {text!r} has no column {target_column!r}")
        return builtin(text)
    suffix = Path(text).suffix.lower()
    if suffix == ".npz":
        return read_npz(text)
    if suffix in (".csv", ".txt"):
        return read_csv(text, target_column)
    if not Path(text).exists():
        raise DataError(
            f"no data set {text!r}: give a built-in name ({', '.join(BUILTIN)}), a .csv or an .npz"
        )
    raise DataError(f"{text}: unknown data format (use .csv or .npz)")


def load(
    source: str | os.PathLike = DEFAULT,
    *,
    target_column: str | None = None,
    test_size: float = 0.25,
    seed: int = 0,
    standardize: bool = True,
) -> Dataset:
    """A ``Dataset`` from a built-in name, a ``.csv`` or an ``.npz`` file (see the module doc)."""
    X, y, names, target = raw(source, target_column)
    name = os.fspath(source)
    return split(
        X,
        y,
        name=name if name in BUILTIN else Path(name).name,
        feature_names=names,
        target_name=target,
        test_size=test_size,
        seed=seed,
        standardize=standardize,
    )
