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

from .data import DataError, Dataset, load

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "1/t", "step", "cosine")
_ndarray = np.ndarray


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the parameters are those of the last good step."""

    def __init__(self, message: str, epoch: int, step: int):
        super().__init__(message)
        self.epoch = epoch
        self.step = step


# -- the module's arguments and the data they bind --------------------------------------------------
def arg_shapes(module) -> dict[str, tuple]:
    """Each argument's shape: ``()`` for a scalar, else a tuple of ints and dimension names."""
    shapes = getattr(module, "SHAPES", None)
    if shapes is not None:
        return {k: tuple(v) for k, v in shapes.items()}
    circuit = getattr(module, "__circuit__", None)
    if circuit is None:
        raise DataError(f"module {module.NAME!r} does not say the shapes of its arguments")
    symbols = list(circuit.wrt) + list(circuit.features or [])
    symbols += [circuit.target] if circuit.target is not None else []
    out = {}
    for s in symbols:
        shape = getattr(s, "shape", ())
        out[s.name] = tuple(int(d) if d.is_Integer else str(d) for d in shape)
    return out


def _is_bias(shape: tuple) -> bool:
    return len(shape) == 1 or (len(shape) == 2 and shape[0] == 1)


@dataclass
class Binding:
    """How a data set's features and labels become the module's keyword arguments.

    ``layout`` is ``"matrix"`` (one feature matrix argument, rows are instances) or
    ``"columns"`` (one scalar argument per feature column, matched one to one). ``bias`` says
    a column of ones goes first (the notes' x_0 = 1): when the feature matrix has one column
    more than the data. ``task`` is ``"binary"`` (one probability per instance,
    labels 0/1), ``"multiclass"`` (one probability per class, integer labels), ``"regression"``
    or ``None`` (no ``predict``: loss only).
    """

    features: list[str]
    target: str
    layout: str
    bias: bool
    target_shape: tuple
    dims: dict[str, int]
    task: str | None = None
    n_classes: int | None = None
    n_data_features: int = 0

    def encode(self, X: np.ndarray, y: np.ndarray | None):
        """Feature array (with the bias column) and target array, as the module takes them."""
        if X.shape[1] != self.n_data_features:
            raise DataError(
                f"the data has {X.shape[1]} feature columns, the circuit takes "
                f"{self.n_data_features}"
            )
        if self.bias:
            X = np.hstack([np.ones((X.shape[0], 1)), X])
        X = np.ascontiguousarray(X, dtype=np.float64)
        if y is None:
            return X, None
        if self.task == "multiclass":
            Y = np.zeros((y.shape[0], self.n_classes))
            Y[np.arange(y.shape[0]), y.astype(np.intp)] = 1.0
        elif self.layout == "matrix" and len(self.target_shape) == 2:
            Y = y.reshape(-1, 1).astype(np.float64)
        else:
            Y = y.astype(np.float64)
        return X, np.ascontiguousarray(Y)

    def kwargs(self, X: np.ndarray, Y: np.ndarray | None, rows) -> dict:
        """The data keyword arguments for ``rows`` (a slice or an index array)."""
        out = {}
        if self.layout == "matrix":
            out[self.features[0]] = X[rows]
        else:
            Xr = X[rows]
            for j, name in enumerate(self.features):
                out[name] = Xr[..., j]
        if Y is not None:
            out[self.target] = Y[rows]
        return out


def bind(module, data: Dataset) -> Binding:
    """Match the module's ``FEATURES``/``TARGET`` to the data set, or raise ``DataError``."""
    name = getattr(module, "NAME", "circuit")
    features = list(getattr(module, "FEATURES", ()) or ())
    target = getattr(module, "TARGET", None)
    if not features or target is None:
        raise DataError(
            f"circuit {name!r} does not say which inputs the data binds: "
            "give its Circuit features=... and target=..."
        )
    others = [n for n in module.INPUTS if n not in features and n != target]
    if others:
        raise DataError(
            f"circuit {name!r}: data input {others[0]!r} is neither a feature nor the target"
        )
    shapes = arg_shapes(module)
    d = data.n_features
    dims: dict[str, int] = {}
    if len(features) == 1 and len(shapes[features[0]]) == 2:
        layout = "matrix"
        _rows, cols = shapes[features[0]]
        if isinstance(cols, str):
            bias, dims[cols] = False, d
        elif cols in (d, d + 1):
            bias = cols == d + 1
        else:
            raise DataError(
                f"circuit {name!r}: {features[0]} has {cols} columns ({cols} features, or "
                f"{cols - 1} and the bias column of ones); the data has {d} features ({data.name})"
            )
    else:
        layout = "columns"
        bad = [f for f in features if shapes[f] != ()]
        if bad:
            raise DataError(f"circuit {name!r}: feature {bad[0]!r} is neither a scalar nor X")
        if len(features) != d:
            raise DataError(
                f"circuit {name!r} takes {len(features)} features, the data has {d} columns "
                f"({data.name})"
            )
        bias = False  # named scalar features: the bias is a parameter of its own
    tshape = shapes[target]
    n_classes = None
    task = None
    k = tshape[-1] if len(tshape) == 2 else 1
    if isinstance(k, str):
        k = data.n_classes
        if k is None:
            raise DataError(
                f"circuit {name!r}: {target} has one column per class, labels are not classes"
            )
        dims[tshape[-1]] = k
    if hasattr(module, "predict"):
        if k > 1:
            task, n_classes = "multiclass", k
        else:
            task = (
                "binary" if _predicts_probability(module, shapes, features, dims) else "regression"
            )
            n_classes = 2 if task == "binary" else None
    binding = Binding(features, target, layout, bias, tshape, dims, task, n_classes, d)
    _check_labels(name, binding, data)
    return binding


def _check_labels(name: str, b: Binding, data: Dataset) -> None:
    """Labels a classifier's loss can take: 0/1 for one probability, 0..K-1 for K classes."""
    if b.task not in ("binary", "multiclass"):
        return
    for part, y in (("train", data.y_train), ("test", data.y_test)):
        bad = (y < 0) | (y >= b.n_classes) | (y != np.round(y))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            allowed = "0 or 1" if b.task == "binary" else f"integers 0..{b.n_classes - 1}"
            raise DataError(
                f"circuit {name!r} needs labels {allowed}; the {part} part has {y[i]:g}"
            )


def _size(shape: tuple, dims: dict[str, int], n: int | None, what: str) -> tuple[int, ...]:
    """Concrete sizes; ``n`` sizes an unknown first (batch) dimension, none for a parameter."""
    out = []
    for i, d in enumerate(shape):
        if isinstance(d, int):
            out.append(d)
        elif d in dims:
            out.append(dims[d])
        elif i == 0 and n is not None:
            out.append(n)  # the batch dimension
        else:
            raise DataError(f"cannot size dimension {d!r} of {what} from the data")
    return tuple(out)


def _predicts_probability(module, shapes, features, dims) -> bool:
    """Does ``predict`` stay within [0, 1] for random parameters and large random inputs?

    A sigmoid output always does; an affine output (regression) leaves it at once.
    """
    rng = np.random.default_rng(12345)
    n = 16
    kw = {}
    for name in module.WRT:
        kw[name] = 3.0 * rng.standard_normal(_size(shapes[name], dims, None, name))
    for name in features:
        kw[name] = 5.0 * rng.standard_normal(_size(shapes[name], dims, n, name) or (n,))
    with np.errstate(all="ignore"):  # predict() takes no target
        y = np.asarray(module.predict(**kw), dtype=float)
    return bool(np.all((y >= 0) & (y <= 1)))


# -- initialisation -----------------------------------------------------------------------------
def param_shapes(module, data: Dataset | None = None) -> dict[str, tuple[int, ...]]:
    """Each parameter's concrete shape (a symbolic dimension sized from ``data``)."""
    shapes = arg_shapes(module)
    dims = bind(module, data).dims if data is not None else {}
    return {w: _size(shapes[w], dims, None, w) for w in module.WRT}


def init(module, seed: int = 0, data: Dataset | None = None) -> dict[str, np.ndarray]:
    """Seeded starting parameters (float64 arrays; a scalar parameter is a 0-d array).

    Zeros when that leaves no parameter stuck — a model without a hidden layer, such as
    logistic regression, whose every parameter has a nonzero gradient at 0. Otherwise (a hidden
    layer: at 0 its weights get no gradient and would stay equal) weights are drawn from a
    normal of standard deviation sqrt(2 / (fan_in + fan_out)) (Glorot), bias rows (1 × H) start
    at 0, and scalar parameters are drawn from a normal of standard deviation 0.5.
    """
    dims = bind(module, data).dims if data is not None else {}
    shapes = arg_shapes(module)
    shapes = {w: _size(shapes[w], dims, None, w) for w in module.WRT}
    params = {w: np.zeros(s) for w, s in shapes.items()}
    if not _stuck_at_zero(module, params, dims):
        return params
    rng = np.random.default_rng(seed)
    for w in module.WRT:
        s = shapes[w]
        p = params[w]
        if s == ():
            p[()] = 0.5 * rng.standard_normal()
        elif not _is_bias(s):
            fan_in, fan_out = s[0], int(np.prod(s[1:]))
            p[...] = math.sqrt(2.0 / (fan_in + fan_out)) * rng.standard_normal(s)
    return params


def _stuck_at_zero(module, params, dims: dict[str, int]) -> bool:
    """True when some parameter gets an all-zero gradient at all-zero parameters.

    The probe uses random inputs and random targets in (0, 1) (not the data: balanced labels
    would give a bias an exactly zero gradient by chance).
    """
    shapes = arg_shapes(module)
    rng = np.random.default_rng(0)
    n = 8
    kw = {}
    for name in module.INPUTS:
        shape = _size(shapes[name], dims, n, name) if shapes.get(name) else (n,)
        kw[name] = (
            rng.random(shape)
            if name == getattr(module, "TARGET", None)
            else rng.standard_normal(shape)
        )
    with np.errstate(all="ignore"):
        _, g = module.value_and_grad(**params, **kw)
    return any(not np.any(np.asarray(g[w]) != 0) for w in module.WRT)


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


def check_params(module, params: dict, data: Dataset | None = None) -> dict:
    """``params`` as float64 arrays of the right shapes (the same arrays when they already are)."""
    want = param_shapes(module, data)
    missing = [w for w in module.WRT if w not in params]
    if missing:
        raise DataError(f"no value for parameter {missing[0]!r}")
    out = {}
    for w in module.WRT:
        p = params[w]
        if not (isinstance(p, np.ndarray) and p.dtype == np.float64):
            p = np.array(p, dtype=np.float64)
        if p.shape != want[w]:
            raise DataError(f"parameter {w!r} has shape {p.shape}, the circuit needs {want[w]}")
        out[w] = p
    return out


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
