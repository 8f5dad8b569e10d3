"""Data sets for training: raw rows, a seeded train/validation/test split, standardisation.

Sources (``raw``): the built-in sets ``breast_cancer`` (the default), ``digits`` and ``iris``
from scikit-learn (the ``data`` extra); a CSV file (``csvfile``: a BOM, any of ``, ; TAB |``,
quotes, missing cells, with or without a header; the target is the column ``target_column``,
by default the column ``target``, else the last); an ``.npz`` with arrays ``X`` (n × d) and
``y`` (n), read with ``allow_pickle=False``; or arrays (``from_arrays``, a DataFrame or a
mapping of named columns included).

``split`` holds out a test part and, on request, a validation part (scikit-learn's
``train_test_split``, seeded, stratified by class where every class can be), encodes text
labels (sorted, as ``LabelEncoder``), and fits the standardisation on the train part only:
every column that is not constant there gets mean 0 and standard deviation 1; a constant
column (the bias input x₀ = 1) passes through unchanged. Bad data raises ``DataError`` with a
one-line message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .errors import DataError
from .preprocess import Preprocessing, check_finite, encode_labels, fit_scaler, identity_scaler
from .sources import (  # noqa: F401  (re-exported: data.read_csv, data.raw... are documented)
    BUILTIN,
    DEFAULT,
    RawData,
    builtin,
    check_features,
    from_arrays,
    in_trained_order,
    raw,
    read_csv,
    read_npz,
)

__all__ = [
    "BUILTIN",
    "DEFAULT",
    "DataError",
    "Dataset",
    "RawData",
    "from_arrays",
    "load",
    "raw",
    "read_csv",
    "read_npz",
    "split",
]


@dataclass
class Dataset:
    """Features and target, split into train, validation and test parts (float64, rows).

    Attributes:
        name: where the data came from (a built-in name or a file name).
        X_train, y_train, X_val, y_val, X_test, y_test: the parts, standardised; ``y`` is one
            number per row (a class code when the labels are text). A part may have 0 rows.
        feature_names: one name per column of ``X`` (``None``: the data had no names).
        target_name: the name of the target column.
        mean, scale: the standardisation fitted on ``X_train``: ``X = (raw - mean) / scale``
            (0 and 1 for a constant column, and for every column without standardisation).
        classes: the text labels, ``classes[k]`` being code k (``None``: numeric labels).
        val_rows, test_rows: which rows of the raw data the validation and test parts hold.
        dropped: CSV lines left out for a missing value.
        digest: ``RawData.digest()`` of the data split.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str] | None = None
    target_name: str = "target"
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    classes: np.ndarray | None = None
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    val_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    test_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    dropped: list[int] = field(default_factory=list)
    digest: str = ""

    def __post_init__(self):
        d = self.X_train.shape[1]
        if self.X_val is None:
            self.X_val, self.y_val = np.zeros((0, d)), np.zeros(0)
        if self.mean is None:
            self.mean, self.scale = identity_scaler(d)

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def column_names(self) -> list[str]:
        if self.feature_names is not None:
            return list(self.feature_names)
        return [f"x{j + 1}" for j in range(self.n_features)]

    @property
    def n_classes(self) -> int | None:
        """The number of classes: of the text labels, else ``max(label) + 1`` when every label
        is a non-negative integer, else ``None``."""
        if self.classes is not None:
            return len(self.classes)
        y = np.concatenate([self.y_train, self.y_val, self.y_test])
        if y.size and np.all(y >= 0) and np.all(y == np.round(y)):
            return int(y.max()) + 1
        return None

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Scale new raw features as the train part was scaled."""
        X = check_features(X, "data")
        if X.shape[1] != self.n_features:
            raise DataError(f"data has {X.shape[1]} feature columns, expected {self.n_features}")
        return (X - self.mean) / self.scale

    def preprocessing(self, binding=None) -> Preprocessing:
        """What ``predict`` must do to raw rows: this data set's names, scaling and classes,
        with the bias column and the task of the circuit it is bound to (``sgd.bind``)."""
        task = getattr(binding, "task", None)
        classes = self.classes
        if classes is None and task in ("binary", "multiclass"):
            classes = np.arange(binding.n_classes)
        return Preprocessing(
            self.feature_names,
            self.mean,
            self.scale,
            bool(getattr(binding, "bias", False)),
            classes if task in ("binary", "multiclass") else None,
            self.target_name,
            task,
        )


def _labels(y, n: int, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(codes, classes)`` of one label per row (text labels encoded)."""
    y = np.asarray(y)
    if y.dtype.kind == "O":
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            y = y.astype(str)
    try:
        codes, classes = encode_labels(y.reshape(-1))
    except (TypeError, ValueError) as e:
        raise DataError(f"{name}: target values are not numbers ({e})") from None
    if codes.shape[0] != n:
        raise DataError(f"{name}: {n} rows of features but {codes.shape[0]} target values")
    check_finite(codes, name, "target")
    return codes, classes


def _stratify(codes: np.ndarray, n_test: int, n_train: int) -> np.ndarray | None:
    """The labels to stratify by, when they are classes each split part can hold."""
    if not np.all(codes == np.round(codes)):
        return None  # regression targets
    _, counts = np.unique(codes, return_counts=True)
    if counts.min() < 2 or n_test < counts.size or n_train < counts.size:
        return None
    return codes


def _hold_out(rows: np.ndarray, codes: np.ndarray, size: float, seed: int):
    """``(kept, held_out)`` rows: ``size`` of ``rows`` held out (train_test_split, seeded)."""
    n = rows.size
    n_out = int(round(size * n))
    if size == 0.0 or n_out == 0:
        return rows, rows[:0]
    if n - n_out < 1:
        raise DataError(f"holding out {size:g} of {n} rows leaves none to train on")
    try:
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise DataError(
            "splitting off test or validation rows needs scikit-learn: pip install 'circuitc[data]'"
        ) from None
    strat = _stratify(codes[rows], n_out, n - n_out)
    kept, out = train_test_split(rows, test_size=n_out, random_state=seed, stratify=strat)
    return kept, np.sort(out)


def split(
    X,
    y=None,
    *,
    name: str = "data",
    feature_names: list[str] | None = None,
    target_name: str = "target",
    test_size: float = 0.25,
    validation=0.0,
    seed: int = 0,
    standardize: bool = True,
) -> Dataset:
    """A ``Dataset`` of raw rows: ``X`` and ``y``, or a ``RawData`` as ``X``.

    ``test_size`` and ``validation`` (a fraction of the rows left after the test part, or a
    ``RawData`` of separate validation rows) are held out with a seeded, stratified
    ``train_test_split``; the train rows are then shuffled with ``seed``. The standardisation
    is fitted on the train rows only.
    """
    raw_data = X if isinstance(X, RawData) else RawData(name, X, y, feature_names, target_name)
    X = check_features(raw_data.X, raw_data.name)
    name = raw_data.name
    codes, classes = _labels(raw_data.y, X.shape[0], name)
    external = isinstance(validation, RawData)
    rows, val_rows, test_rows = _parts(
        codes, test_size, 0.0 if external else validation, seed, name
    )
    mean, scale = fit_scaler(X[rows]) if standardize else identity_scaler(X.shape[1])

    def scaled(part: np.ndarray) -> np.ndarray:
        Z = (part - mean) / scale
        check_finite(Z, name, "standardised feature")
        return np.ascontiguousarray(Z)

    if external:
        X_val, y_val = _external(validation, X.shape[1], classes)
    else:
        X_val, y_val = X[val_rows], codes[val_rows]
    return Dataset(
        name,
        scaled(X[rows]),
        codes[rows],
        scaled(X[test_rows]),
        codes[test_rows],
        None if raw_data.feature_names is None else list(raw_data.feature_names),
        raw_data.target_name,
        mean,
        scale,
        classes,
        scaled(X_val),
        y_val,
        val_rows,
        test_rows,
        list(raw_data.dropped),
        raw_data.digest(),
    )


def _parts(codes: np.ndarray, test_size: float, validation, seed: int, name: str):
    """``(train, validation, test)`` row indices; the train rows shuffled with ``seed``."""
    n = codes.shape[0]
    if n < 2:
        raise DataError(f"{name}: needs at least 2 rows, got {n}")
    if not 0.0 <= test_size < 1.0:
        raise DataError(f"test_size must be in [0, 1), got {test_size}")
    if not 0.0 <= float(validation) < 1.0:
        raise DataError(f"validation must be a fraction in [0, 1), got {validation}")
    rows, test_rows = _hold_out(np.arange(n), codes, test_size, seed)
    rows, val_rows = _hold_out(np.sort(rows), codes, float(validation), seed)
    rows = np.sort(rows)
    return rows[np.random.default_rng(seed).permutation(rows.size)], val_rows, test_rows


def _external(val: RawData, d: int, classes: np.ndarray | None):
    """Raw features and label codes of separately given validation rows."""
    Xv = check_features(val.X, "validation data")
    if Xv.shape[1] != d:
        raise DataError(f"validation data has {Xv.shape[1]} feature columns, the data has {d}")
    yv, _ = _labels(val.y, Xv.shape[0], "validation data")
    if classes is not None:
        yv = codes_of(val.y, classes)
    return Xv, yv


def codes_of(y, classes: np.ndarray) -> np.ndarray:
    """Codes of text labels ``y`` under ``classes``; an unknown label is a ``DataError``."""
    y = np.asarray(y).astype(str).reshape(-1)
    codes = np.searchsorted(classes, y)
    codes = np.minimum(codes, len(classes) - 1)
    bad = classes[codes] != y
    if bad.any():
        raise DataError(f"label {y[np.flatnonzero(bad)[0]]!r} is not one of the trained classes")
    return codes.astype(np.float64)


def load(
    source: str | os.PathLike = DEFAULT,
    *,
    target_column: str | None = None,
    test_size: float = 0.25,
    validation: float = 0.0,
    seed: int = 0,
    standardize: bool = True,
    **csv_options,
) -> Dataset:
    """A ``Dataset`` from a built-in name, a CSV or an ``.npz`` file (see the module doc)."""
    return split(
        raw(source, target_column, **csv_options),
        test_size=test_size,
        validation=validation,
        seed=seed,
        standardize=standardize,
    )
