"""SciPy's optimizers on a compiled module: full-batch L-BFGS, Newton-CG and trust-region
Newton-CG, with the module's gradient and, for the Newton methods, its Hessian-vector product.

The objective is the mean loss over the N rows (J itself when the circuit averages, as the
examples' ``reduction="mean"`` losses do; the mean of J when J has one entry a row), plus,
with ``l2_C``, scikit-learn's L2 penalty in its own parametrisation: scikit-learn minimises
``C·Σᵢ lossᵢ + ½‖w‖²``, which divided by ``C·N`` is ``mean loss + ‖w‖²/(2·C·N)``, so the same
``C`` reaches the same optimum (``LogisticRegression(C=...)`` is then an oracle). The bias is
not penalised: the first row of a parameter that multiplies the data's bias column of ones,
and every parameter shaped like a bias row (1×k).

SciPy is an optional dependency (``pip install 'circuitc[scipy]'``); this module imports it
only when it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .binding import Binding, _is_bias

#: the --optimizer names and SciPy's method names
METHODS = {"lbfgs": "L-BFGS-B", "newton-cg": "Newton-CG", "trust-ncg": "trust-ncg"}


class ScipyMissing(ImportError):
    """SciPy is not installed (it is the ``scipy`` extra)."""


@dataclass
class Result:
    """What ``minimize`` found: the parameters, the objective there and SciPy's own report."""

    params: dict[str, np.ndarray]
    objective: float
    gradient_norm: float
    iterations: int
    evaluations: int
    hvps: int
    success: bool
    message: str
    losses: list[float] = field(default_factory=list)  # the objective at each iteration


def penalty_mask(params: dict, binding: Binding | None = None) -> dict[str, np.ndarray]:
    """1 for every penalised entry, 0 for the biases (see the module docstring)."""
    mask = {}
    for name, value in params.items():
        shape = np.shape(value)
        m = np.ones(shape)
        if shape == () or _is_bias(shape):
            m[...] = 0.0
        elif (
            binding is not None
            and binding.bias
            and len(shape) == 2
            and shape[0] == binding.n_data_features + 1
        ):
            m[0, ...] = 0.0  # the weights of the bias column x_0 = 1
        mask[name] = m
    return mask


class Problem:
    """The objective SciPy sees, over the parameters flattened into one vector θ (``WRT``
    order, each in C order): N times the mean loss plus N times the penalty, i.e. the sum over
    rows and scikit-learn's objective over C (the same optimum, and curvatures well above the
    3·eps that Newton-CG's inner CG takes for zero); its gradient and Hessian-vector product."""

    def __init__(self, module, params: dict, data: dict, l2_C, binding, value_and_grad=None):
        """``value_and_grad`` replaces the module's (``circuitc.dask``'s over row-chunked data:
        then the scale follows from J's size at the first evaluation, not from a forward)."""
        self.module, self.data = module, data
        self.evaluate = value_and_grad or module.value_and_grad
        self.names = list(module.WRT)
        self.shapes = [np.shape(params[n]) for n in self.names]
        self.cuts = np.cumsum([int(np.prod(s)) for s in self.shapes])[:-1]
        self.rows = _rows(data)
        self.mask = self.flat(penalty_mask(params, binding))
        self.lam = 0.0 if l2_C is None else 1.0 / l2_C  # N · 1/(C·N)
        # J is the mean already (one number), or one loss a row (then sum(J) is N · mean)
        self.scale = None if value_and_grad else self._scale(module.forward(**params, **data))
        self.gradients = self.hvps = 0
        self.last = np.nan

    def _scale(self, J) -> float:
        size = np.size(J)
        return float(self.rows) if size == 1 else float(self.rows) / size

    def unflat(self, theta) -> dict:
        parts = np.split(np.asarray(theta, dtype=np.float64), self.cuts)
        return {n: p.reshape(s) for n, p, s in zip(self.names, parts, self.shapes, strict=True)}

    def flat(self, values: dict) -> np.ndarray:
        return np.concatenate(
            [np.ravel(np.asarray(values[n], dtype=np.float64)) for n in self.names]
        )

    def fun(self, theta):
        """The objective and its gradient (``value_and_grad`` of the module, once)."""
        self.gradients += 1
        J, g = self.evaluate(**self.unflat(theta), **self.data)
        if self.scale is None:
            self.scale = self._scale(J)
        w = theta * self.mask
        self.last = float(np.sum(J)) * self.scale + 0.5 * self.lam * float(w @ w)
        return self.last, self.flat(g) * self.scale + self.lam * w

    def hessp(self, theta, v):
        """The Hessian of the objective times v (the module's ``hvp``)."""
        self.hvps += 1
        Hv = self.module.hvp(self.unflat(v), **self.unflat(theta), **self.data)
        return self.flat(Hv) * self.scale + self.lam * self.mask * v


def _check_options(module, method: str, l2_C: float | None) -> None:
    """A known method, a positive C, and an hvp for the Newton methods (a ValueError else)."""
    if method not in METHODS:
        raise ValueError(f"unknown optimizer {method!r}; choose one of {', '.join(METHODS)}")
    if l2_C is not None and not (np.isfinite(l2_C) and l2_C > 0):
        raise ValueError(f"l2_C must be a positive number, got {l2_C!r}")
    if method != "lbfgs" and not getattr(module, "SECOND_ORDER", True):
        raise ValueError(
            f"optimizer {method!r} needs the module's hvp(), and module '{module.NAME}' was "
            "compiled without it: compile the circuit with second_order=True (or use lbfgs)"
        )


def minimize(
    module,
    params: dict,
    data: dict,
    method: str = "lbfgs",
    l2_C: float | None = None,
    binding: Binding | None = None,
    tol: float = 1e-10,
    max_iter: int = 10_000,
    value_and_grad=None,
) -> Result:
    """Minimise the mean loss (plus the L2 penalty of ``l2_C``) over the parameters.

    Args:
        module: a module compiled by circuitc (``hvp`` is needed for the Newton methods).
        params: the starting point, one array per parameter (``module.WRT``).
        data: the data inputs' keyword arguments, all N rows (full batch).
        method: ``lbfgs``, ``newton-cg`` or ``trust-ncg``.
        l2_C: scikit-learn's C (inverse regularisation strength); None for no penalty.
        binding: how the data was bound (it says whether X carries a bias column).
        tol: the tolerance SciPy stops at (on the gradient of ``Problem``'s objective).
        value_and_grad: J and the gradient in place of the module's, called as it is
            (``training.outofcore`` passes ``circuitc.dask``'s over row-chunked data).

    Raises ``ScipyMissing`` without SciPy, ``ValueError`` for an unknown method, a bad C, or a
    Newton method on a module compiled without ``hvp`` (``second_order``).
    """
    optimize = _scipy_optimize()
    _check_options(module, method, l2_C)
    problem = Problem(module, params, data, l2_C, binding, value_and_grad)
    losses: list[float] = []
    options: dict = {"maxiter": max_iter}
    kwargs: dict = {"jac": True, "callback": lambda xk, *a: losses.append(problem.last)}
    if method == "lbfgs":
        options.update(gtol=tol, ftol=1e-15, maxcor=20)
    else:
        # Newton-CG stops on the step's size, trust-ncg on the gradient's
        options.update(xtol=tol * 1e-4) if method == "newton-cg" else options.update(gtol=tol)
        kwargs["hessp"] = problem.hessp
    x0 = problem.flat(params)
    res = optimize.minimize(problem.fun, x0, method=METHODS[method], options=options, **kwargs)
    value, grad = problem.fun(res.x)
    n = problem.rows
    return Result(
        problem.unflat(res.x),
        value / n,
        float(np.linalg.norm(grad)) / n,
        int(getattr(res, "nit", 0)),
        problem.gradients,
        problem.hvps,
        bool(res.success),
        str(res.message),
        [f / n for f in losses],
    )


def _scipy_optimize():
    """``scipy.optimize`` (``ScipyMissing`` without SciPy)."""
    try:
        import scipy.optimize
    except ImportError:
        raise ScipyMissing(
            "the SciPy optimizers need scipy: pip install 'circuitc[scipy]'"
        ) from None
    return scipy.optimize


def _rows(data: dict) -> int:
    """N: the number of rows of the data (the first axis of the largest data array)."""
    sizes = [np.shape(v)[0] for v in data.values() if np.ndim(v) >= 1]
    return max(sizes) if sizes else 1


def train(module, dataset, *, method: str, params: dict | None = None, l2_C=None, seed: int = 0):
    """Full batch on ``dataset``'s training rows, called as ``sgd.train`` is: returns the
    parameters and an empty ``History`` (no epochs) carrying the run's ``Result`` as
    ``history.scipy``."""
    from . import sgd

    binding = sgd.bind(module, dataset)
    start = params if params is not None else sgd.init(module, seed, dataset)
    X, Y = binding.encode(dataset.X_train, dataset.y_train)
    with np.errstate(all="ignore"):
        result = minimize(module, start, binding.kwargs(X, Y, slice(None)), method, l2_C, binding)
    if not all(np.all(np.isfinite(v)) for v in result.params.values()):
        raise sgd.TrainingDiverged(f"{method} diverged: the parameters are not finite")
    history = sgd.History()
    history.scipy = result
    return result.params, history
