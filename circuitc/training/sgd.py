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
from dataclasses import dataclass, field

import numpy as np

from .binding import (  # noqa: F401  (re-exported: sgd.bind, sgd.init... are documented)
    Binding,
    arg_shapes,
    bind,
    check_params,
    init,
    param_shapes,
)
from .data import Dataset, load

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "1/t", "step", "cosine")
_ndarray = np.ndarray


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the parameters are those of the last good step."""

    def __init__(self, message: str, epoch: int, step: int):
        super().__init__(message)
        self.epoch = epoch
        self.step = step


# -- schedules and optimizers -------------------------------------------------------------------
def schedule_fn(schedule, lr: float, epochs: int, steps_per_epoch: int) -> Callable[[int], float]:
    """The step size η_t of global step t (counted from 0).

    ``None``/``"constant"``: η; ``"1/t"``: η / (1 + t / steps_per_epoch) (one "t" per epoch);
    ``"step"``: η halved every max(1, epochs // 4) epochs; ``"cosine"``: η (1 + cos(π t / T)) / 2
    over the T steps of the run; a callable ``f(t)`` is used as is.
    """
    if callable(schedule):
        return schedule
    total = max(1, epochs * steps_per_epoch)
    if schedule in (None, "constant"):
        return lambda t: lr
    if schedule == "1/t":
        return lambda t: lr / (1.0 + t / steps_per_epoch)
    if schedule == "step":
        every = max(1, epochs // 4) * steps_per_epoch
        return lambda t: lr * 0.5 ** (t // every)
    if schedule == "cosine":
        return lambda t: lr * 0.5 * (1.0 + math.cos(math.pi * min(t, total) / total))
    raise ValueError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")


class Optimizer:
    """Moves parameters in place: plain SGD, SGD with momentum, or Adam.

    SGD: θ ← θ − η g. Momentum μ: v ← μ v + g, θ ← θ − η v. Adam (β₁ = 0.9, β₂ = 0.999,
    ε = 1e-8): m ← β₁ m + (1 − β₁) g, v ← β₂ v + (1 − β₂) g², θ ← θ − η m̂ / (√v̂ + ε) with the
    bias-corrected m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ).
    """

    def __init__(self, kind: str, params: dict, momentum: float = 0.0):
        if kind not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {kind!r}; use one of {', '.join(OPTIMIZERS)}")
        self.kind = kind
        self.momentum = float(momentum)
        self.t = 0
        self.buffers: dict[str, np.ndarray] = {}
        if kind == "adam":
            for w, p in params.items():
                self.buffers[f"m_{w}"] = np.zeros_like(p)
                self.buffers[f"v_{w}"] = np.zeros_like(p)
        elif self.momentum:
            for w, p in params.items():
                self.buffers[f"v_{w}"] = np.zeros_like(p)

    def step(self, params: dict, grads: dict, eta: float, scale: float = 1.0) -> None:
        """One update; ``grads`` (fresh arrays from the module) may be overwritten."""
        self.t += 1
        if self.kind == "sgd" and not self.momentum:
            rate = eta * scale
            for w, p in params.items():
                g = grads[w]
                if g.__class__ is _ndarray and g.shape == p.shape:
                    g *= rate  # the module's gradient is a fresh array: scale it in place
                    p -= g
                else:
                    p -= rate * g
        elif self.kind == "sgd":
            mu = self.momentum
            for w, p in params.items():
                v = self.buffers[f"v_{w}"]
                v *= mu
                v += scale * grads[w]
                p -= eta * v
        else:
            b1, b2, eps = 0.9, 0.999, 1e-8
            c1 = 1.0 - b1**self.t
            c2 = 1.0 - b2**self.t
            for w, p in params.items():
                g = scale * np.asarray(grads[w])
                m, v = self.buffers[f"m_{w}"], self.buffers[f"v_{w}"]
                m *= b1
                m += (1.0 - b1) * g
                v *= b2
                v += (1.0 - b2) * (g * g)
                p -= eta * (m / c1) / (np.sqrt(v / c2) + eps)


# -- history and resumable state ------------------------------------------------------------------
@dataclass
class History:
    """Per epoch: the loss (mean J over the train part, after the epoch), accuracies, step size.

    Accuracies are ``None`` when the circuit has no ``predict`` or does regression.
    ``stopped`` is ``None`` after a full run, ``"callback"`` when the callback asked to stop.
    """

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float | None] = field(default_factory=list)
    test_accuracy: list[float | None] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    stopped: str | None = None

    FIELDS = ("epoch", "loss", "train_accuracy", "test_accuracy", "lr")

    def __getitem__(self, key: str) -> list:
        if key not in self.FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __len__(self) -> int:
        return len(self.epoch)

    def rows(self) -> list[dict]:
        """One dict per epoch, keyed by ``FIELDS``."""
        return [{k: getattr(self, k)[i] for k in self.FIELDS} for i in range(len(self))]


@dataclass
class State:
    """Where a run is: the next ``(epoch, step)`` (0-based), the optimizer and the history.

    ``train(..., state=s)`` continues from ``s`` and keeps it up to date, so a caller can save
    it at any step (``circuitc.checkpoint.save``) and a resumed run equals an uninterrupted one.
    """

    epoch: int = 0
    step: int = 0
    optimizer: Optimizer | None = None
    history: History = field(default_factory=History)


@dataclass
class Progress:
    """What ``callback`` receives after every step (``kind="step"``) and epoch (``"epoch"``)."""

    kind: str
    epoch: int  # 1-based
    step: int  # 1-based within the epoch
    steps_per_epoch: int
    loss: float  # the batch's loss, or the epoch's train loss
    lr: float
    params: dict
    state: State
    history: History


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """The order in which epoch ``epoch`` (0-based) visits the ``n`` train instances."""
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, epoch]).permutation(n)


# -- training -----------------------------------------------------------------------------------
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

    Returns:
        ``(params, history)``.

    Raises:
        TrainingDiverged: the loss became NaN/inf (the message names the epoch and step).
        DataError: the data does not fit the circuit.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if not isinstance(data, Dataset):
        data = load(data, seed=seed)
    binding = bind(module, data)
    params = init(module, seed, data) if params is None else check_params(module, params, data)
    X, Y = binding.encode(data.X_train, data.y_train)
    Xt, Yt = binding.encode(data.X_test, data.y_test)
    n = X.shape[0]
    steps_per_epoch = -(-n // batch_size)
    eta_of = schedule_fn(schedule, lr, epochs, steps_per_epoch)
    if state is None:
        state = State()
    if state.optimizer is None:
        state.optimizer = Optimizer(optimizer, params, momentum)
    with np.errstate(over="ignore", invalid="ignore"):  # a non-finite loss is reported below
        return _loop(
            module,
            binding,
            data,
            params,
            X,
            Y,
            Xt,
            Yt,
            epochs,
            batch_size,
            shuffle,
            seed,
            eta_of,
            callback,
            state,
        )


def _loop(
    module,
    binding,
    data,
    params,
    X,
    Y,
    Xt,
    Yt,
    epochs,
    batch_size,
    shuffle,
    seed,
    eta_of,
    callback,
    state,
):
    n = X.shape[0]
    steps_per_epoch = -(-n // batch_size)
    opt = state.optimizer
    history = state.history
    grad_fn = module.value_and_grad
    kw = dict(params)
    matrix = binding.layout == "matrix"
    if matrix:
        xname = binding.features[0]
        yname = binding.target
        if batch_size == 1:  # one view per instance, made once (the per-instance hot loop)
            x_rows = [X[i : i + 1] for i in range(n)]
            y_rows = [Y[i : i + 1] for i in range(n)]
    while state.epoch < epochs:
        epoch = state.epoch
        order = epoch_order(n, seed, epoch, shuffle)
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
                raise TrainingDiverged(
                    f"the loss became {loss} at epoch {epoch + 1}, step {s + 1} of "
                    f"{steps_per_epoch} (lr={eta_of(opt.t):g}); try a smaller learning rate",
                    epoch + 1,
                    s + 1,
                )
            eta = eta_of(opt.t)
            opt.step(params, g, eta, scale)
            state.step = s + 1
            if callback is not None and callback(
                Progress(
                    "step", epoch + 1, s + 1, steps_per_epoch, loss, eta, params, state, history
                )
            ):
                history.stopped = "callback"
                return params, history
        train_loss, train_acc = evaluate(module, binding, params, X, Y, data.y_train)
        test_acc = accuracy(module, binding, params, Xt, data.y_test)
        if not math.isfinite(train_loss):
            raise TrainingDiverged(
                f"the loss became {train_loss} at the end of epoch {epoch + 1} "
                f"(step {steps_per_epoch}); try a smaller learning rate",
                epoch + 1,
                steps_per_epoch,
            )
        history.epoch.append(epoch + 1)
        history.loss.append(train_loss)
        history.train_accuracy.append(train_acc)
        history.test_accuracy.append(test_acc)
        history.lr.append(float(eta_of(max(opt.t - 1, 0))))
        state.epoch, state.step = epoch + 1, 0
        if callback is not None and callback(
            Progress(
                "epoch",
                epoch + 1,
                steps_per_epoch,
                steps_per_epoch,
                train_loss,
                history.lr[-1],
                params,
                state,
                history,
            )
        ):
            history.stopped = "callback"
            return params, history
    return params, history
