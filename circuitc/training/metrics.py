"""How well parameters do on a part of the data: mean loss, predictions, accuracy, RMSE, R²."""

from __future__ import annotations

import numpy as np

from .binding import Binding


def _mean_loss(J) -> tuple[float, float]:
    """(mean of J, 1 / size of J): the loss of the batch and the gradient's scale."""
    if isinstance(J, float):
        return J, 1.0
    J = np.asarray(J)
    return float(J.mean()), 1.0 / J.size


def evaluate(module, binding: Binding, params: dict, X, Y, y) -> tuple[float, float | None]:
    """(mean loss, accuracy) of ``params`` on encoded data ``X``/``Y`` with labels ``y``."""
    kw = binding.kwargs(X, Y, slice(None))
    with np.errstate(all="ignore"):
        loss = _mean_loss(module.forward(**params, **kw))[0]
    return loss, accuracy(module, binding, params, X, y)


def metrics(module, binding: Binding, params: dict, X, Y, y) -> dict:
    """``{"loss", "accuracy", "rmse"}`` of ``params`` on an encoded part (``None`` when empty
    or not defined: accuracy for classifiers, RMSE for regression)."""
    if X.shape[0] == 0:
        return {"loss": None, "accuracy": None, "rmse": None}
    loss, acc = evaluate(module, binding, params, X, Y, y)
    err = None
    if binding.task == "regression":
        with np.errstate(all="ignore"):
            pred = predictions(module, binding, params, X)
        err = rmse(np.asarray(Y).reshape(pred.shape), pred)
    return {"loss": loss, "accuracy": acc, "rmse": err}


def rmse(y: np.ndarray, pred: np.ndarray) -> float:
    """The root mean squared error of predictions ``pred`` of targets ``y``."""
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(y)) ** 2)))


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    """The coefficient of determination 1 − Σ(y − ŷ)² / Σ(y − ȳ)² (over all outputs)."""
    y = np.asarray(y, dtype=np.float64)
    total = float(np.sum((y - y.mean(axis=0)) ** 2))
    residual = float(np.sum((y - np.asarray(pred)) ** 2))
    return 1.0 - residual / total if total > 0 else (1.0 if residual == 0 else 0.0)


def predictions(module, binding: Binding, params: dict, X) -> np.ndarray:
    """``predict`` on encoded features: one row per instance (probabilities for a classifier).

    ``predict`` reads the parameters and the features only: no target is passed.
    """
    kw = binding.kwargs(X, None, slice(None))
    out = np.asarray(module.predict(**params, **kw), dtype=np.float64)
    if out.ndim == 0:
        out = np.full(X.shape[0], float(out))
    return out.reshape(X.shape[0], -1)


def classify(binding: Binding, probs: np.ndarray) -> np.ndarray:
    """Class labels from ``predictions``: the likeliest class, or probability ≥ 0.5."""
    if binding.task == "multiclass":
        return np.argmax(probs, axis=1).astype(np.float64)
    return (probs[:, 0] >= 0.5).astype(np.float64)


def accuracy(module, binding: Binding, params: dict, X, y) -> float | None:
    """The fraction of rows of encoded features ``X`` whose predicted class is the label ``y``."""
    if binding.task not in ("binary", "multiclass") or X.shape[0] == 0:
        return None
    with np.errstate(all="ignore"):
        probs = predictions(module, binding, params, X)
    return float(np.mean(classify(binding, probs) == y))
