"""A trained circuit as one object: ``fit`` (scikit-learn's and Keras' ``fit``), ``Model`` with
``predict``/``predict_proba``/``score``/``save``, and ``load``.

``fit(module, X, y, ...)`` fits the preprocessing (standardisation, the bias column, label
classes, column names) on the rows it trains on, runs ``sgd.train`` and returns a ``Model``
whose ``predict`` takes raw rows. ``Model.save`` writes the parameters and the preprocessing
as plain arrays (``checkpoint``); ``load(path, module)`` reads them back. Parameters are
data: the circuit, which is code, always comes from the caller, never from the file.
``circuitc.fit``/``circuitc.load`` also accept a ``Circuit`` (compiled first).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from ..loader import check_target
from . import checkpoint, data, scipy_opt, sgd
from .errors import DataError
from .preprocess import Preprocessing, select
from .sources import RawData, from_arrays


class Model:
    """A compiled circuit, its trained parameters and the preprocessing they were trained with.

    Attributes:
        module: the compiled module (``forward``, ``value_and_grad``, ``predict``).
        params: ``{name: float64 array}``, the parameters.
        preprocessing: a ``Preprocessing``: column names, ``mean``/``scale``, ``bias``,
            ``classes``, ``task``.
        history: the ``History`` of the run (per-epoch losses and metrics).
        validation: the raw ``(X, y)`` rows held out for validation, or ``None``.
    """

    def __init__(self, module, params: dict, preprocessing: Preprocessing, history=None,
                 validation=None):  # fmt: skip
        self.module = module
        self.params = params
        self.preprocessing = preprocessing
        self.history = history if history is not None else sgd.History()
        self.validation = validation
        classes = preprocessing.classes
        self._binding = sgd.bind_shapes(
            module, preprocessing.n_features, None if classes is None else len(classes)
        )

    def __repr__(self) -> str:
        pre = self.preprocessing
        return (
            f"<circuitc.Model {self.module.NAME!r}: {pre.n_features} features, "
            f"{pre.task or 'loss only'}, {len(self.history)} epochs>"
        )

    def _outputs(self, X) -> np.ndarray:
        if not hasattr(self.module, "predict"):
            raise DataError(f"circuit {self.module.NAME!r} has no prediction= to predict with")
        Z = self.preprocessing.transform(X)
        with np.errstate(all="ignore"):
            return sgd.predictions(self.module, self._binding, self.params, Z)

    def predict_proba(self, X) -> np.ndarray:
        """A classifier's probabilities for raw rows, one column per output of the circuit's
        prediction: one per class, or for a binary circuit one, the probability of
        ``preprocessing.classes[1]``."""
        if self.preprocessing.task not in ("binary", "multiclass"):
            raise DataError(f"circuit {self.module.NAME!r} is not a classifier")
        return self._outputs(X)

    def predict(self, X) -> np.ndarray:
        """Labels (a classifier: the data's own labels) or values (regression) for raw rows.

        ``X`` is a matrix (columns in the trained order) or, when the model was trained on
        named columns, a mapping ``{name: column}`` or a DataFrame, matched by name.
        """
        out = self._outputs(X)
        if self.preprocessing.task in ("binary", "multiclass"):
            return self.preprocessing.labels(sgd.classify(self._binding, out))
        return out[:, 0] if out.shape[1] == 1 else out

    def score(self, X, y) -> float:
        """Accuracy (a classifier) or R² (regression) on raw rows and their labels."""
        pred = self.predict(X)
        y = np.asarray(y).reshape(pred.shape)
        if self.preprocessing.task in ("binary", "multiclass"):
            return float(np.mean(pred == y))
        return sgd.r2(y.astype(np.float64), pred)

    def save(self, path: str | os.PathLike, *, force: bool = False) -> Path:
        """Write the parameters, the preprocessing and the history to ``path`` (``.npz``,
        atomically). A file there that circuitc did not write is kept unless ``force``."""
        check_target(path, checkpoint.is_parameter_file, force=force, force_hint="force=True")
        state = sgd.State(epoch=len(self.history), history=self.history)
        return checkpoint.save(
            path, self.module, self.params, state=state, preprocessing=self.preprocessing
        )


def load(path: str | os.PathLike, module) -> Model:
    """The ``Model`` saved at ``path`` (by ``Model.save`` or ``circuitc train``) for the
    compiled ``module``; parameters of another circuit are a ``CheckpointError``."""
    ck = checkpoint.load(path, module)
    history = ck.state.history if ck.state is not None else None
    return Model(module, ck.params, ck.preprocessing(module), history)


def _validation_rows(validation, raw: RawData):
    """``split``'s ``validation=``: a fraction, or separate rows as a ``RawData`` (columns
    matched by name when both have names)."""
    if validation is None:
        return 0.0
    if not isinstance(validation, tuple):
        return float(validation)
    if len(validation) != 2:
        raise DataError("validation= takes a fraction or a pair (X_val, y_val)")
    val = from_arrays(*validation, name="validation data")
    if val.feature_names is not None and raw.feature_names is not None:
        n = len(raw.feature_names)
        val = val.reorder(select(val.feature_names, raw.feature_names, "validation data", n))
    return val


def fit(
    module,
    X,
    y,
    *,
    epochs: int = 20,
    lr: float = 0.1,
    batch_size: int = 1,
    optimizer: str = "sgd",
    momentum: float = 0.0,
    schedule=None,
    seed: int = 0,
    callbacks: Iterable[Callable] = (),
    validation=None,
    early_stopping: int | None = None,
    standardize: bool = True,
    feature_names: Sequence[str] | None = None,
    params: dict | None = None,
    l2_C: float | None = None,
) -> Model:
    """Train the compiled ``module`` on raw rows ``X`` and labels ``y``; see ``circuitc.fit``."""
    raw = sgd.align(module, from_arrays(X, y, feature_names))
    val = _validation_rows(validation, raw)
    dataset = data.split(raw, test_size=0.0, validation=val, seed=seed, standardize=standardize)
    callbacks = list(callbacks)

    def callback(progress) -> bool:
        stop = False
        for cb in callbacks:
            stop = bool(cb(progress)) or stop
        return stop

    if optimizer in scipy_opt.METHODS:  # SciPy, full batch, on the module's gradient and hvp
        params, history = scipy_opt.train(
            module, dataset, method=optimizer, params=params, l2_C=l2_C, seed=seed
        )
    elif l2_C is not None:
        raise ValueError("l2_C is an option of the SciPy optimizers (lbfgs, newton-cg, trust-ncg)")
    else:
        params, history = sgd.train(
            module, dataset, params=params, epochs=epochs, lr=lr, batch_size=batch_size,
            seed=seed, schedule=schedule, momentum=momentum, optimizer=optimizer,
            callback=callback if callbacks else None, early_stopping=early_stopping,
        )  # fmt: skip
    if isinstance(validation, tuple):
        held_out = validation
    elif dataset.val_rows.size:
        held_out = (raw.X[dataset.val_rows], np.asarray(raw.y)[dataset.val_rows])
    else:
        held_out = None
    binding = sgd.bind(module, dataset)
    return Model(module, params, dataset.preprocessing(binding), history, held_out)
