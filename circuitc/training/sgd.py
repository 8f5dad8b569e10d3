"""Stochastic gradient descent over a compiled circuit (the notes' eq. 5/6) and friends.

``train(module, data)`` minimises the circuit's loss J over the train part of a
``circuitc.data.Dataset``: every step takes a batch of instances (``batch_size=1`` is the
notes' per-instance SGD), asks the module for ``value_and_grad`` and moves each parameter
against its gradient, ``θ ← θ − η_t ∇J``, in place. When J comes out per instance (a scalar
circuit given arrays) the step follows the gradient of the batch mean of J; a matrix circuit
with ``reduction="mean"`` returns that mean itself.

The order in which instances are visited is a pure function of ``(seed, epoch)``
(``epoch_order``), so a run interrupted at any step resumes exactly (``state=``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .binding import (  # noqa: F401  (re-exported: sgd.bind, sgd.init... are documented)
    Binding,
    align,
    arg_shapes,
    bind,
    bind_shapes,
    check_params,
    init,
    param_shapes,
)
from .data import Dataset, load
from .errors import DataError
from .history import History, Progress, State  # noqa: F401  (re-exported)
from .metrics import (  # noqa: F401  (re-exported)
    _mean_loss,
    accuracy,
    classify,
    evaluate,
    metrics,
    predictions,
    r2,
    rmse,
)
from .optimizers import (  # noqa: F401  (re-exported: sgd.schedule_fn, sgd.Optimizer...)
    OPTIMIZERS,
    SCHEDULES,
    Optimizer,
    epoch_order,
    schedule_fn,
)


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the parameters are those of the last good step."""

    def __init__(self, message: str, epoch: int, step: int):
        super().__init__(message)
        self.epoch = epoch
        self.step = step


# -- training -----------------------------------------------------------------------------------
def train(
    module,
    data: Dataset,
    *,
    params: dict | None = None,
    epochs: int = 20,
    lr: float = 0.1,
    batch_size: int = 1,
    shuffle: bool = True,
    seed: int = 0,
    schedule=None,
    momentum: float = 0.0,
    optimizer: str = "sgd",
    callback: Callable[[Progress], object] | None = None,
    state: State | None = None,
    early_stopping: int | None = None,
) -> tuple[dict, History]:
    """Minimise the circuit's loss over ``data``'s train part with SGD (or Adam).

    Args:
        module: a compiled circuit with ``FEATURES`` and ``TARGET`` (and ``predict`` for
            accuracies).
        data: a ``circuitc.data.Dataset``, or a source for ``circuitc.data.load`` (a
            built-in name, a .csv or an .npz path) split and scaled with ``seed``.
        params: starting parameters (updated in place when they are float64 arrays of the
            right shapes); by default ``init(module, seed, data)``.
        epochs: the total number of passes over the train part (a resumed run stops there too).
        lr: the step size η (the start of a schedule).
        batch_size: instances per step; 1 is the notes' per-instance SGD.
        shuffle: visit the instances in ``epoch_order(n, seed, epoch)`` rather than in order.
        seed: seeds the initialisation and the visiting order.
        schedule: ``None``/``"constant"``, ``"1/t"``, ``"step"``, ``"cosine"`` or ``f(t) -> η``.
        momentum: SGD momentum μ (0: plain SGD).
        optimizer: ``"sgd"`` or ``"adam"``.
        callback: called with a ``Progress`` after every step and every epoch; a true return
            value stops the run after that step (``history.stopped = "callback"``).
        state: a ``State`` to continue from and keep up to date (see ``State``).
        early_stopping: stop when the validation loss has not improved for this many epochs,
            and put back the parameters of the best epoch (``data`` needs a validation part).

    Returns:
        ``(params, history)``.

    Raises:
        TrainingDiverged: the loss became NaN/inf (the message names the epoch and step).
        DataError: the data does not fit the circuit.
    """
    data = _checked_data(data, batch_size, seed, early_stopping)
    binding = bind(module, data)
    params = init(module, seed, data) if params is None else check_params(module, params, data)
    X, Y, parts = _encoded(binding, data)
    eta_of = schedule_fn(schedule, lr, epochs, -(-X.shape[0] // batch_size))
    state = _started(state, optimizer, params, momentum)
    run = _Run(
        module, binding, data, params, X, Y, parts, epochs, batch_size, shuffle, seed, eta_of,
        callback, state, early_stopping,
    )  # fmt: skip
    _loop(run)
    return params, state.history


def _started(state: State | None, optimizer: str, params: dict, momentum: float) -> State:
    """The run's state: a new one, or the one given (continued), with its optimizer."""
    state = State() if state is None else state
    if state.optimizer is None:
        state.optimizer = Optimizer(optimizer, params, momentum)
    return state


def _encoded(binding: Binding, data: Dataset) -> tuple[np.ndarray, np.ndarray, dict]:
    """The train part as the module reads it, and the test and validation parts (each with
    its raw labels, for the accuracies)."""
    X, Y = binding.encode(data.X_train, data.y_train)
    parts = {
        "test": (*binding.encode(data.X_test, data.y_test), data.y_test),
        "val": (*binding.encode(data.X_val, data.y_val), data.y_val),
    }
    return X, Y, parts


def _checked_data(data, batch_size: int, seed: int, patience: int | None) -> Dataset:
    """``data`` as a ``Dataset`` (loaded and split with ``seed`` when it is a source), the
    batch size and the early stopping checked against it."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if not isinstance(data, Dataset):
        data = load(data, seed=seed)
    _check_early_stopping(patience, data)
    return data


def _check_early_stopping(patience: int | None, data: Dataset) -> None:
    if patience is None:
        return
    if patience < 1:
        raise ValueError(f"early_stopping must be at least 1 epoch, got {patience}")
    if data.X_val.shape[0] == 0:
        raise DataError("early stopping needs validation rows (validation=0.2, say)")


@dataclass
class _Run:
    """One call of ``train``: the module, the encoded data and the settings."""

    module: object
    binding: Binding
    data: Dataset
    params: dict
    X: np.ndarray
    Y: np.ndarray
    parts: dict
    epochs: int
    batch_size: int
    shuffle: bool
    seed: int
    eta_of: Callable[[int], float]
    callback: Callable | None
    state: State
    patience: int | None


@np.errstate(over="ignore", invalid="ignore")  # a non-finite loss is reported, not warned
def _loop(run: _Run) -> None:
    """The epochs and their steps (the per-instance hot loop keeps its names local)."""
    X, Y, binding, params, state = run.X, run.Y, run.binding, run.params, run.state
    batch_size, callback, eta_of = run.batch_size, run.callback, run.eta_of
    n = X.shape[0]
    steps_per_epoch = -(-n // batch_size)
    opt = state.optimizer
    history = state.history
    grad_fn = run.module.value_and_grad
    kw = dict(params)
    matrix = binding.layout == "matrix"
    if matrix:
        xname = binding.features[0]
        yname = binding.target
        if batch_size == 1:  # one view per instance, made once (the per-instance hot loop)
            x_rows = [X[i : i + 1] for i in range(n)]
            y_rows = [Y[i : i + 1] for i in range(n)]
    while state.epoch < run.epochs:
        epoch = state.epoch
        order = epoch_order(n, run.seed, epoch, run.shuffle)
        if batch_size == 1:
            order = order.tolist()
        for s in range(state.step, steps_per_epoch):
            if batch_size == 1 and matrix:
                i = order[s]
                kw[xname] = x_rows[i]
                kw[yname] = y_rows[i]
            else:
                if batch_size == 1:
                    rows = slice(order[s], order[s] + 1)
                else:
                    rows = order[s * batch_size : (s + 1) * batch_size]
                if matrix:
                    kw[xname] = X[rows]
                    kw[yname] = Y[rows]
                else:
                    kw.update(binding.kwargs(X, Y, rows))
            J, g = grad_fn(**kw)
            if J.__class__ is float:
                loss, scale = J, 1.0
            else:
                loss, scale = _mean_loss(J)
            if not math.isfinite(loss):
                raise _diverged(loss, epoch, s, steps_per_epoch, eta_of(opt.t), run.data)
            eta = eta_of(opt.t)
            opt.step(params, g, eta, scale)
            state.step = s + 1
            if callback is not None and callback(
                Progress(
                    "step", epoch + 1, s + 1, steps_per_epoch, loss, eta, params, state, history
                )
            ):
                history.stopped = "callback"
                return
        if _end_epoch(run, epoch, steps_per_epoch):
            return


def _diverged(loss: float, epoch: int, s: int, steps_per_epoch: int, eta: float, data: Dataset):
    """The error for a non-finite loss at step ``s`` of ``epoch`` (both 0-based)."""
    return TrainingDiverged(
        f"the loss became {loss} at epoch {epoch + 1}, step {s + 1} of "
        f"{steps_per_epoch} (lr={eta:g}); {_advice(data)}",
        epoch + 1,
        s + 1,
    )


def _end_epoch(run: _Run, epoch: int, steps_per_epoch: int) -> bool:
    """Measure every part, record the epoch, apply early stopping, call back; True: stop."""
    state, params, history = run.state, run.params, run.state.history
    train = metrics(run.module, run.binding, params, run.X, run.Y, run.data.y_train)
    test = metrics(run.module, run.binding, params, *run.parts["test"])
    val = metrics(run.module, run.binding, params, *run.parts["val"])
    if not math.isfinite(train["loss"]):
        raise TrainingDiverged(
            f"the loss became {train['loss']} at the end of epoch {epoch + 1} "
            f"(step {steps_per_epoch}); {_advice(run.data)}",
            epoch + 1,
            steps_per_epoch,
        )
    history.append(
        epoch=epoch + 1,
        loss=train["loss"],
        train_accuracy=train["accuracy"],
        test_accuracy=test["accuracy"],
        lr=float(run.eta_of(max(state.optimizer.t - 1, 0))),
        test_loss=test["loss"],
        val_loss=val["loss"],
        val_accuracy=val["accuracy"],
        train_rmse=train["rmse"],
        test_rmse=test["rmse"],
    )
    state.epoch, state.step = epoch + 1, 0
    stop = run.patience is not None and _early_stop(state, params, val["loss"], run.patience)
    progress = Progress(
        "epoch", epoch + 1, steps_per_epoch, steps_per_epoch, train["loss"], history.lr[-1],
        params, state, history,
    )  # fmt: skip
    if run.callback is not None and run.callback(progress):
        history.stopped = "callback"
        return True
    return stop


def _advice(data: Dataset) -> str:
    """What to try after a divergence: a smaller step, and scaling when the features are raw
    and large (an unscaled 1e308 overflows whatever the step)."""
    raw = not np.any(data.mean) and np.all(data.scale == 1.0)
    peak = float(np.max(np.abs(data.X_train))) if data.X_train.size else 0.0
    if raw and peak > 1e3:
        return f"try a smaller learning rate, or standardise the features (they reach {peak:.3g})"
    return "try a smaller learning rate"


def _early_stop(state: State, params: dict, val_loss: float, patience: int) -> bool:
    """Keep the best epoch's parameters; after ``patience`` epochs without a lower validation
    loss, put them back into ``params`` (in place) and say stop."""
    history = state.history
    if val_loss < state.best_loss:
        state.best_loss = val_loss
        state.best = {w: np.array(p, copy=True) for w, p in params.items()}
        history.best_epoch = state.epoch
        return False
    if history.best_epoch is not None and state.epoch - history.best_epoch >= patience:
        for w, p in params.items():
            p[...] = state.best[w]
        history.stopped = "early_stopping"
        return True
    return False
