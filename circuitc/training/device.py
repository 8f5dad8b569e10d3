"""Training through the array-API backend: parameters and data kept in one array library
(NumPy, PyTorch, JAX, CuPy), on one device (``circuitc train --backend array-api``).

The run is ``sgd.train``'s, step for step: the same initial parameters, the same visiting order
(``epoch_order``), the same step sizes and the same update rules (``DeviceOptimizer`` writes
``sgd.Optimizer``'s rules as new arrays, since JAX arrays cannot be written into). Only the
arrays differ: the train rows and the parameters are moved to the library once, each batch is
``take`` of its rows there, and the module (compiled with ``backend="array_api"``) computes on
them. At the end of every epoch the parameters are copied back to NumPy for the epoch's
metrics and the history, which ``sgd`` computes as usual.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import sgd
from .binding import bind, check_params, init
from .errors import DataError
from .history import History, Progress, State

#: the array libraries ``--array-lib`` names, and the devices ``--device`` names
LIBS = ("numpy", "torch", "jax", "cupy")
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class Library:
    """An array library on a device: ``put`` moves a NumPy array there, ``get`` brings one back."""

    name: str
    device: str
    put: Callable
    get: Callable


def library(name: str, device: str = "cpu") -> Library:
    """The library ``name`` on ``device``; a ValueError says what is missing (the package, a
    GPU) or which pairs exist (NumPy is CPU only, CuPy GPU only). JAX gets 64-bit floats
    (``jax_enable_x64``), so float64 data stay float64."""
    if name not in LIBS:
        raise ValueError(f"unknown array library {name!r}; use one of {', '.join(LIBS)}")
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; use one of {', '.join(DEVICES)}")
    if name == "numpy":
        if device != "cpu":
            raise ValueError("NumPy arrays live on the CPU: use --array-lib torch, jax or cupy")
        return Library(name, device, np.asarray, np.asarray)
    module = _imported(name)
    if name == "torch":
        if device == "cuda" and not module.cuda.is_available():
            raise ValueError("torch sees no CUDA device")
        where = module.device(device)
        return Library(name, device, lambda a: module.asarray(a, device=where), _torch_numpy)
    if name == "jax":
        module.config.update("jax_enable_x64", True)
        try:
            where = module.devices("gpu" if device == "cuda" else "cpu")[0]
        except RuntimeError:
            raise ValueError("JAX sees no CUDA device") from None
        return Library(name, device, lambda a: module.device_put(np.asarray(a), where), np.asarray)
    if device != "cuda":
        raise ValueError("CuPy arrays live on a GPU: use --device cuda")
    return Library(name, device, module.asarray, module.asnumpy)


def _imported(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ValueError(f"--array-lib {name} needs {name} installed") from None


def _torch_numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


class DeviceOptimizer:
    """``sgd.Optimizer``'s rules, each update a new array (JAX arrays are immutable).

    SGD θ − η g; momentum v ← μ v + g, θ − η v; Adam with β₁ = 0.9, β₂ = 0.999, ε = 1e-8 and
    bias correction: the same operations in the same order as the NumPy optimizer.
    """

    def __init__(self, kind: str, params: dict, momentum: float, xp, get=np.asarray):
        if kind not in sgd.OPTIMIZERS:
            raise ValueError(f"unknown optimizer {kind!r}; use one of {', '.join(sgd.OPTIMIZERS)}")
        self.kind, self.momentum, self.t, self.xp, self.get = kind, float(momentum), 0, xp, get
        names = ("m", "v") if kind == "adam" else ("v",) if self.momentum else ()
        self.on = {f"{b}_{w}": xp.zeros_like(p) for w, p in params.items() for b in names}

    @property
    def buffers(self) -> dict:
        """The buffers as NumPy arrays, as ``sgd.Optimizer`` has them (a checkpoint saves them)."""
        return {k: self.get(v) for k, v in self.on.items()}

    def resume(self, saved, put) -> None:
        """Continue from a NumPy ``sgd.Optimizer`` (a resumed parameter file)."""
        self.t = saved.t
        self.on = {k: put(v) for k, v in saved.buffers.items()}

    def step(self, params: dict, grads: dict, eta: float, scale: float = 1.0) -> dict:
        """The parameters after one update (new arrays; ``params`` is left as it was)."""
        self.t += 1
        if self.kind == "sgd" and not self.momentum:
            return {w: p - (eta * scale) * grads[w] for w, p in params.items()}
        out = {}
        for w, p in params.items():
            g = scale * grads[w]
            if self.kind == "sgd":
                v = self.on[f"v_{w}"] = self.momentum * self.on[f"v_{w}"] + g
                out[w] = p - eta * v
                continue
            b1, b2, eps = 0.9, 0.999, 1e-8
            m = self.on[f"m_{w}"] = b1 * self.on[f"m_{w}"] + (1.0 - b1) * g
            v = self.on[f"v_{w}"] = b2 * self.on[f"v_{w}"] + (1.0 - b2) * (g * g)
            c1, c2 = 1.0 - b1**self.t, 1.0 - b2**self.t
            out[w] = p - eta * (m / c1) / (self.xp.sqrt(v / c2) + eps)
        return out


def train(
    module,
    data,
    *,
    lib: str = "numpy",
    device: str = "cpu",
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
    """``sgd.train`` with the parameters and the train rows in ``lib`` on ``device``.

    ``module`` is compiled with ``backend="array_api"`` and has one feature matrix (rows are
    instances). The arguments are ``sgd.train``'s; the callback's ``Progress.params`` are
    arrays of ``lib`` after a step, NumPy arrays after an epoch; a ``state`` from a NumPy run
    (a resumed parameter file) is continued. Returns NumPy parameters and the history, as
    ``sgd.train`` does.
    """
    if getattr(module, "BACKEND", None) != "array-api":
        raise ValueError("training on an array library needs a module compiled with "
                         "backend='array_api'")  # fmt: skip
    target = library(lib, device)
    data = sgd._checked_data(data, batch_size, seed, early_stopping)
    binding = bind(module, data)
    if binding.layout != "matrix":
        raise DataError("--array-lib trains circuits with a feature matrix (X, N×D) only")
    params = init(module, seed, data) if params is None else check_params(module, params, data)
    X, Y, parts = sgd._encoded(binding, data)
    eta_of = sgd.schedule_fn(schedule, lr, epochs, -(-X.shape[0] // batch_size))
    state = State() if state is None else state
    run = sgd._Run(
        module, binding, data, params, X, Y, parts, epochs, batch_size, shuffle, seed, eta_of,
        callback, state, early_stopping,
    )  # fmt: skip
    _device_loop(run, target, momentum, optimizer)
    return params, state.history


def _device_loop(run, target: Library, momentum: float, optimizer: str) -> None:
    """The epochs and steps of ``sgd._loop`` on the library's arrays; ``run.params`` (NumPy)
    receives the parameters after every epoch."""
    import array_api_compat

    X, Y, state, binding = target.put(run.X), target.put(run.Y), run.state, run.binding
    xp = array_api_compat.array_namespace(X)
    on = {w: target.put(p) for w, p in run.params.items()}
    opt = DeviceOptimizer(optimizer, on, momentum, xp, target.get)
    if state.optimizer is not None:
        opt.resume(state.optimizer, target.put)
    state.optimizer = opt
    n, history = run.X.shape[0], state.history
    steps = -(-n // run.batch_size)
    while state.epoch < run.epochs:
        epoch = state.epoch
        order = sgd.epoch_order(n, run.seed, epoch, run.shuffle)
        for s in range(state.step, steps):
            rows = target.put(order[s * run.batch_size : (s + 1) * run.batch_size])
            kw = {binding.features[0]: xp.take(X, rows, axis=0)}
            kw[binding.target] = xp.take(Y, rows, axis=0)
            J, g = run.module.value_and_grad(**on, **kw)
            loss, scale = float(xp.mean(J)), 1.0 / math.prod(J.shape)
            eta = run.eta_of(opt.t)
            if not math.isfinite(loss):
                raise sgd._diverged(loss, epoch, s, steps, eta)
            on = opt.step(on, g, eta, scale)
            state.step = s + 1
            progress = Progress("step", epoch + 1, s + 1, steps, loss, eta, on, state, history)
            if run.callback is not None and run.callback(progress):
                history.stopped = "callback"
                _copy_back(run.params, on, target)
                return
        _copy_back(run.params, on, target)
        if sgd._end_epoch(run, epoch, steps):
            return
        on = {w: target.put(p) for w, p in run.params.items()}  # early stopping may restore


def _copy_back(params: dict, on: dict, target: Library) -> None:
    """The library's parameters written into the NumPy ones (in place, as sgd keeps them)."""
    for w, p in params.items():
        p[...] = target.get(on[w])
