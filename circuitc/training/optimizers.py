"""The step sizes and update rules of SGD (``train`` in ``sgd.py`` drives them): learning-rate
schedules, plain/momentum SGD and Adam updating the parameters in place, and the visiting
order of each epoch, a pure function of ``(seed, epoch)`` so that a run resumes exactly."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "1/t", "step", "cosine")
_ndarray = np.ndarray


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


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """The order in which epoch ``epoch`` (0-based) visits the ``n`` train instances."""
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, epoch]).permutation(n)
