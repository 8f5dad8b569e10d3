"""What training fits to the raw data, kept with the parameters so new raw rows go the same way.

A ``Preprocessing`` is plain arrays (saved in the parameter file under ``_``-names, never
pickled; ``docs/design.md`` lists them):

* ``feature_names``: the data's columns in the order the model reads them (``None`` when the
  data had no names: columns are then taken by position);
* ``mean``, ``scale``: ``X = (raw - mean) / scale`` per column. A column that is constant on
  the train rows (the notes' bias input x₀ = 1, digits' blank border pixels) has mean 0 and
  scale 1: it passes through unchanged. Without standardisation every mean is 0 and every
  scale 1;
* ``bias``: a column of ones goes first (the circuit's X has one column more than the data);
* ``classes``: the label of class k is ``classes[k]`` (a classifier; text labels are encoded
  in sorted order, as scikit-learn's ``LabelEncoder`` does), else ``None``;
* ``target_name`` and ``task`` (``"binary"``, ``"multiclass"``, ``"regression"`` or ``None``).

Only NumPy is needed to apply it (README: "Using a trained model without circuitc").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .errors import DataError


def fit_scaler(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column ``(mean, scale)`` of ``X``; a constant column gets ``(0, 1)``.

    Computed on each column divided by its largest magnitude, so finite values up to 1e308
    neither overflow (the mean's sum, the variance's squares) nor underflow (1e-300²).
    """
    X = np.asarray(X, dtype=np.float64)
    constant = np.all(X[:1] == X, axis=0)
    peak = np.max(np.abs(X), axis=0)
    peak[constant | (peak == 0)] = 1.0
    Z = X / peak
    mean = Z.mean(axis=0) * peak
    scale = Z.std(axis=0) * peak
    mean[constant] = 0.0
    scale[constant] = 1.0
    return mean, scale


def identity_scaler(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean 0 and scale 1 for ``d`` columns: no standardisation."""
    return np.zeros(d), np.ones(d)


def encode_labels(y) -> tuple[np.ndarray, np.ndarray | None]:
    """``(codes, classes)``: numbers stay as they are (``classes`` is ``None``); text labels
    become 0..K-1 in sorted order, ``classes[k]`` being the label of code k."""
    y = np.asarray(y)
    if y.dtype.kind in "fiub":
        return y.astype(np.float64).reshape(-1), None
    if y.dtype.kind not in "US":
        y = y.astype(str)
    classes, codes = np.unique(y.reshape(-1), return_inverse=True)
    return codes.astype(np.float64), classes


@dataclass
class Preprocessing:
    """The fitted preprocessing of one model (see the module doc)."""

    feature_names: list[str] | None
    mean: np.ndarray
    scale: np.ndarray
    bias: bool = False
    classes: np.ndarray | None = None
    target_name: str = "target"
    task: str | None = None

    @property
    def n_features(self) -> int:
        return int(self.mean.shape[0])

    def columns(self, X, what: str = "data") -> np.ndarray:
        """Raw features as a float64 matrix in the trained order.

        ``X`` is a matrix (columns by position), or has names — a mapping of column name to
        values, or a table with ``columns`` (a pandas DataFrame) — which are matched to
        ``feature_names``: a missing or an extra column is a ``DataError`` naming it.
        """
        names = _names_of(X)
        if names is None:
            M = _matrix(X, what)
            if M.shape[1] != self.n_features:
                raise DataError(
                    f"{what} has {M.shape[1]} feature columns; the model was trained on "
                    f"{self.n_features}"
                )
            return M
        order = select(names, self.feature_names, what, self.n_features)
        cols = [np.asarray(X[names[j]]) for j in order]  # a mapping's or a data frame's column
        return _matrix(np.column_stack(cols) if cols else np.empty((0, 0)), what)

    def transform(self, X, what: str = "data") -> np.ndarray:
        """Raw rows → what the circuit's features take: scaled, the bias column first."""
        M = self.columns(X, what)
        Z = (M - self.mean) / self.scale
        check_finite(Z, what, "standardised feature")
        if self.bias:
            Z = np.hstack([np.ones((Z.shape[0], 1)), Z])
        return np.ascontiguousarray(Z)

    def labels(self, codes: np.ndarray) -> np.ndarray:
        """Class codes (0..K-1) → the labels the data used."""
        codes = np.asarray(codes, dtype=np.intp)
        return codes if self.classes is None else self.classes[codes]


def _names_of(X) -> list[str] | None:
    if isinstance(X, Mapping):
        return [str(k) for k in X]
    cols = getattr(X, "columns", None)
    if cols is not None and not isinstance(X, np.ndarray):
        return [str(c) for c in cols]
    return None


def select(names: list[str], trained: list[str] | None, what: str, n: int) -> list[int]:
    """Indices into ``names`` of the ``trained`` columns, in the trained order."""
    if trained is None:  # trained on data without names: by position
        if len(names) != n:
            raise DataError(
                f"{what} has {len(names)} feature columns; the model was trained on {n}"
            )
        return list(range(n))
    index = {name: j for j, name in enumerate(names)}
    if len(index) != len(names):
        twice = next(name for name in names if names.count(name) > 1)
        raise DataError(f"{what}: column {twice!r} appears twice")
    for name in trained:
        if name not in index:
            raise DataError(f"{what} has no column {name!r} (the model reads {', '.join(trained)})")
    known = set(trained)
    for name in names:
        if name not in known:
            raise DataError(f"{what} has a column {name!r} the model was not trained on")
    return [index[name] for name in trained]


def _matrix(X, what: str) -> np.ndarray:
    try:
        M = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(f"{what}: features are not numbers ({e})") from None
    if M.ndim == 1:
        M = M[:, None]
    if M.ndim != 2:
        raise DataError(f"{what}: features must be a matrix (rows × columns), got {M.ndim}-d")
    check_finite(M, what, "feature")
    return M


def check_finite(a: np.ndarray, what: str, kind: str) -> None:
    """A ``DataError`` naming the first cell of ``a`` that is NaN or infinite."""
    bad = ~np.isfinite(a)
    if bad.any():
        where = np.argwhere(bad)[0]
        cell = f"row {where[0] + 1}" + (f", column {where[1] + 1}" if a.ndim == 2 else "")
        raise DataError(f"{what}: {kind} value {a[tuple(where)]} at {cell} is not finite")
