"""The benchmark runner: circuitc's generated code against expert hand code, SymPy, JAX, PyTorch.

``python -m benchmarks`` (or ``python benchmarks/run.py``) runs every (case, method) pair in a
process of its own, with every thread pool pinned to one thread, checks that each method
computes the same value and gradient as the expert's hand code (``benchmarks/expert.py``,
written from the mathematics, never from circuitc's output), and prints a markdown table of
times and of ratios to the expert's time (lower is better); for the matrix cases also the
peak memory of one call (tracemalloc: every NumPy buffer alive at once, the returned arrays
included) and its ratio to the expert's. The ``hand`` column is the older baseline that
mirrors the emitted code line by line (kept for comparison; it is not the headline). Circuits
written in styles ``examples/`` does not use are in ``benchmarks/circuits.py``. ``--out FILE`` also writes
the table, with the machine it ran on, to ``FILE`` (``benchmarks/RESULTS.md`` by default
when ``--save`` is given). JAX and PyTorch rows are skipped when they are not installed
(``pip install -e .[bench]``).

Times are the best of several repeats of a calibrated loop (the minimum is the estimate
least disturbed by other processes); ``--rounds 2`` runs every process twice, in alternating
order, and keeps the better time.

``python benchmarks/run.py --worker CASE METHOD`` is the child process: it builds one case for
one method, checks nothing itself, and prints one JSON line (the time per call and the
numbers the parent compares).
"""

from __future__ import annotations

import os

#: every thread pool the methods may start, pinned to one thread (set before any import)
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "BLIS_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}
os.environ.update(THREAD_ENV)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# -- what is measured ----------------------------------------------------------------------------
#: (case, methods, baseline, what the row shows); the baseline is the expert's hand code
CASES: list[tuple[str, list[str], str, str]] = [
    (
        "small_scalar",
        ["expert", "circuitc", "hand", "lambdify", "jax", "torch"],
        "expert",
        "small example, x a Python float: value_and_grad",
    ),
    (
        "small_vector",
        ["expert", "circuitc", "hand", "numba", "lambdify", "jax", "torch"],
        "expert",
        "small example, x of 10⁶ float64: value_and_grad",
    ),
    (
        "logreg_batch",
        ["expert", "circuitc", "hand", "jax", "torch"],
        "expert",
        "logistic regression, breast_cancer 569×31: value and gradient",
    ),
    (
        "logreg_sgd",
        ["expert", "circuitc", "hand", "jax", "torch"],
        "expert",
        "logistic regression, one per-instance SGD step on a 1×31 row",
    ),
    (
        "two_layer",
        ["expert", "circuitc", "hand", "jax", "torch"],
        "expert",
        "2-layer net 31-32-1, batch 64: value and gradient",
    ),
    (
        "mlp",
        ["expert", "circuitc", "hand", "jax", "torch"],
        "expert",
        "MLP 784-256-10, batch 128: value and gradient",
    ),
    (
        "mlp_columns",
        ["expert", "circuitc", "jax"],
        "expert",
        "MLP 784-256-10, batch 128, instances as columns, σ written out, Hadamard squared loss",
    ),
    (
        "logreg_scalars",
        ["expert", "circuitc", "jax"],
        "expert",
        "logistic regression, 31 scalar θ_j over 569-element feature arrays",
    ),
]
#: the cases whose table row also shows peak memory (tracemalloc) beside time
MEMORY_CASES = {"small_vector", "logreg_batch", "two_layer", "mlp", "mlp_columns", "logreg_scalars"}
#: compile time: circuitc (lower, sweep, emit, import) against sympy.diff (+ lambdify, cse=True)
COMPILE_CASES: list[tuple[str, str]] = [
    ("sin_chain", "10,000-step sin chain (Circuit steps)"),
    ("product", "all partials of a product of 1000 symbols"),
    ("logistic_map", "20-level logistic map x ← r·x·(1−x)"),
    ("dag", "1000-level DAG x ← sin(x)·x + cos(x)/(1+x²) + a"),
]
COMPILE_METHODS = ["circuitc", "sympy"]
OPTIONAL = {"jax": "jax", "torch": "torch", "numba": "numba"}
#: the table's columns: "numba" is circuitc's fused backend (backend="numba"); "hand" the old
#: baseline that mirrors the emitted code
COLUMNS = ["expert", "circuitc", "hand", "numba", "lambdify", "jax", "torch"]
HEADERS = {
    "expert": "expert hand code",
    "hand": "hand (mirrors circuitc)",
    "numba": "circuitc numba",
}


# == the worker: one case, one method ===========================================================
#: the clock every time is read from: the CPU time of this process (all its threads), not the
#: wall clock. The machines these run on are shared; a process that waits for a core is not
#: charged for the wait, so a ratio measures the code, not the load (for one thread the two
#: clocks agree on an idle machine)
_clock = time.process_time


def _time(fn: Callable[[], object], budget: float) -> tuple[float, float, int]:
    """(best, median) seconds per call of ``fn`` over repeats of a loop calibrated to ~20 ms."""
    fn()
    number = 1
    while True:
        t0 = _clock()
        for _ in range(number):
            fn()
        dt = _clock() - t0
        if dt >= 0.02 or number >= 1 << 20:
            break
        number *= 10 if dt < 0.002 else 2
    per = []
    start = _clock()
    while len(per) < 5 or (_clock() - start < budget and len(per) < 200):
        t0 = _clock()
        for _ in range(number):
            fn()
        per.append((_clock() - t0) / number)
    per.sort()
    return per[0], per[len(per) // 2], number


def _load_example(name: str):
    sys.path.insert(0, str(ROOT))
    module = __import__(f"examples.{name}", fromlist=["_"])
    return module


def _expert():
    """``benchmarks/expert.py``: the hand code an expert writes."""
    sys.path.insert(0, str(ROOT))
    from benchmarks import expert

    return expert


def _circuits():
    """``benchmarks/circuits.py``: circuits in styles the examples do not use."""
    sys.path.insert(0, str(ROOT))
    from benchmarks import circuits

    return circuits


def _breast_cancer():
    """The 569×30 breast-cancer features, standardised, with the bias column x_0 = 1 first."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    X = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    X = np.hstack([np.ones((X.shape[0], 1)), X])
    y = data.target.astype(np.float64).reshape(-1, 1)
    return X, y


def _summary(value, grads) -> list[float]:
    """The numbers the parent compares across methods: J and a few sums of each gradient."""
    import numpy as np

    out = [float(np.sum(np.asarray(value, dtype=np.float64)))]
    for g in grads:
        g = np.asarray(g, dtype=np.float64)
        out += [float(np.sum(g)), float(np.sum(np.abs(g))), float(g.reshape(-1)[0])]
    return out


def _to_numpy(t):
    import numpy as np

    if hasattr(t, "detach"):
        t = t.detach().numpy()
    return np.asarray(t)


def _setup_torch():
    import torch

    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    return torch


def _setup_jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    return jax


# -- small example -------------------------------------------------------------------------------
def case_small(method: str, vector: bool):
    """J = cos(sin(x²) + 3x²) and dJ/dx (of sum J for a vector)."""
    import numpy as np

    x0 = np.random.default_rng(0).uniform(-2, 2, 10**6) if vector else 0.5
    if method == "expert":
        f = _expert().small_vector if vector else _expert().small_scalar
        return (lambda: f(x0)), (lambda r: _summary(r[0], [r[1]]))
    if method == "hand" and not vector:

        def hand(*, x):
            t = x**2
            u = math.sin(t) + 3 * t
            J = math.cos(u)
            dt = -math.sin(u) * (math.cos(t) + 3)
            return J, {"x": dt * 2 * x}

        return (lambda: hand(x=x0)), (lambda r: _summary(r[0], [r[1]["x"]]))
    if method == "hand":

        def hand_np(*, x):
            t = x**2
            u = np.sin(t) + 3 * t
            J = np.cos(u)
            dt = -np.sin(u) * (np.cos(t) + 3)
            return J, {"x": dt * 2 * x}

        return (lambda: hand_np(x=x0)), (lambda r: _summary(r[0], [r[1]["x"]]))
    if method in ("circuitc", "numba"):
        import circuitc

        backend = "numba" if method == "numba" else "numpy"
        m = circuitc.compile(_load_example("small_example").circuit, backend=backend)
        vg = m.value_and_grad
        return (lambda: vg(x=x0)), (lambda r: _summary(r[0], [r[1]["x"]]))
    if method == "lambdify":
        import sympy as sp

        x = sp.Symbol("x")
        J = sp.cos(sp.sin(x**2) + 3 * x**2)
        f = sp.lambdify(x, [J, sp.diff(J, x)], "numpy" if vector else "math", cse=True)
        return (lambda: f(x=x0)), (lambda r: _summary(r[0], [r[1]]))
    if method == "jax":
        jax = _setup_jax()
        jnp = jax.numpy

        def f(x):
            return jnp.cos(jnp.sin(x**2) + 3 * x**2)

        if vector:

            @jax.jit
            def vg(x):
                J, pullback = jax.vjp(f, x)
                return J, pullback(jnp.ones_like(J))[0]

            xj = jnp.asarray(x0)
            return (lambda: jax.block_until_ready(vg(xj))), (
                lambda r: _summary(_to_numpy(r[0]), [_to_numpy(r[1])])
            )
        vg = jax.jit(jax.value_and_grad(f))
        return (lambda: jax.block_until_ready(vg(x0))), (
            lambda r: _summary(float(r[0]), [float(r[1])])
        )
    if method == "torch":
        torch = _setup_torch()

        def run():
            x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
            J = torch.cos(torch.sin(x**2) + 3 * x**2)
            if vector:
                J.backward(torch.ones_like(J))
            else:
                J.backward()
            return J.detach(), x.grad

        return run, (lambda r: _summary(_to_numpy(r[0]), [_to_numpy(r[1])]))
    raise KeyError(method)


# -- logistic regression -------------------------------------------------------------------------
def case_logreg(method: str, sgd: bool):
    """Mean cross-entropy of σ(Xθ) (stable form); SGD: one step on one instance, lr 0.1."""
    import numpy as np

    X, y = _breast_cancer()
    theta0 = np.random.default_rng(1).normal(0, 0.1, (X.shape[1], 1))
    lr = 0.1
    if sgd:
        X, y = X[:1].copy(), y[:1].copy()

    if method == "expert":
        expert = _expert()
        if sgd:
            state = {"theta": theta0.copy()}

            def run():
                expert.logreg_sgd_step(state["theta"], X, y, lr)
                return state["theta"]

            return run, (lambda r: _summary(0.0, [r]))
        return (lambda: expert.logreg_batch(theta0, X, y)), (lambda r: _summary(r[0], [r[1]]))
    if method == "hand":

        def hand(theta, X, y):
            a = X @ theta
            J = np.mean(np.logaddexp(0.0, a) - y * a)
            p = 1.0 / (1.0 + np.exp(-a))
            return J, X.T @ (p - y) / X.shape[0]

        run_vg = lambda theta: hand(theta, X, y)  # noqa: E731
    elif method == "circuitc":
        import circuitc

        m = circuitc.compile(_load_example("logistic_regression_batch").make_circuit())

        def run_vg(theta):
            J, g = m.value_and_grad(theta=theta, X=X, y=y)
            return J, g["theta"]
    elif method == "jax":
        jax = _setup_jax()
        jnp = jax.numpy

        def loss(theta, X, y):
            a = X @ theta
            return jnp.mean(jnp.logaddexp(0.0, a) - y * a)

        Xj, yj = jnp.asarray(X), jnp.asarray(y)
        if sgd:
            step = jax.jit(lambda theta, X, y: theta - lr * jax.grad(loss)(theta, X, y))
            state = {"theta": jnp.asarray(theta0)}

            def run():
                state["theta"] = jax.block_until_ready(step(state["theta"], Xj, yj))
                return state["theta"]

            return run, (lambda r: _summary(0.0, [_to_numpy(r)]))
        vg = jax.jit(jax.value_and_grad(loss))
        thj = jnp.asarray(theta0)
        return (lambda: jax.block_until_ready(vg(thj, Xj, yj))), (
            lambda r: _summary(_to_numpy(r[0]), [_to_numpy(r[1])])
        )
    elif method == "torch":
        torch = _setup_torch()
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        F = torch.nn.functional
        theta_t = torch.tensor(theta0, requires_grad=True)

        def run_vg_t():
            a = Xt @ theta_t
            J = torch.mean(F.softplus(a) - yt * a)
            J.backward()
            g = theta_t.grad
            theta_t.grad = None
            return J.detach(), g

        if sgd:

            def run():
                _, g = run_vg_t()
                with torch.no_grad():
                    theta_t.sub_(lr * g)
                return theta_t

            return run, (lambda r: _summary(0.0, [_to_numpy(r)]))
        return run_vg_t, (lambda r: _summary(_to_numpy(r[0]), [_to_numpy(r[1])]))
    else:
        raise KeyError(method)

    if sgd:
        state = {"theta": theta0.copy()}

        def run():
            _, g = run_vg(state["theta"])
            state["theta"] -= lr * g
            return state["theta"]

        return run, (lambda r: _summary(0.0, [r]))
    return (lambda: run_vg(theta0)), (lambda r: _summary(r[0], [r[1]]))


# -- the notes' 2-layer network, batch 64 ----------------------------------------------------------
def case_two_layer(method: str):
    """31-32-1, sigmoid hidden and output, J = ½ Σ (ŷ − y)² / N."""
    import numpy as np

    X, y = _breast_cancer()
    X, y = X[:64].copy(), y[:64].copy()
    rng = np.random.default_rng(2)
    alpha0, beta0 = rng.normal(0, 0.3, (31, 32)), rng.normal(0, 0.3, (32, 1))
    b00 = rng.normal(0, 0.3, (1, 1))
    if method == "expert":
        f = _expert().two_layer
        return (lambda: f(alpha0, beta0, b00, X, y)), (lambda r: _summary(r[0], r[1]))
    if method == "hand":

        def hand(alpha, beta, beta_0, X, y):
            n = X.shape[0]
            Z = 1.0 / (1.0 + np.exp(-(X @ alpha)))
            yh = 1.0 / (1.0 + np.exp(-(Z @ beta + beta_0)))
            d = yh - y
            J = 0.5 * np.sum(d * d) / n
            db = d / n * yh * (1.0 - yh)
            dA = (db @ beta.T) * Z * (1.0 - Z)
            return J, (X.T @ dA, Z.T @ db, np.sum(db, axis=0, keepdims=True))

        return (lambda: hand(alpha0, beta0, b00, X, y)), (lambda r: _summary(r[0], r[1]))
    if method == "circuitc":
        import circuitc

        m = circuitc.compile(_load_example("two_layer_nn_batch").make_circuit())

        def run():
            return m.value_and_grad(alpha=alpha0, beta=beta0, beta_0=b00, X=X, y=y)

        return run, (lambda r: _summary(r[0], [r[1]["alpha"], r[1]["beta"], r[1]["beta_0"]]))
    if method == "jax":
        jax = _setup_jax()
        jnp = jax.numpy

        def loss(alpha, beta, beta_0, X, y):
            Z = jax.nn.sigmoid(X @ alpha)
            yh = jax.nn.sigmoid(Z @ beta + beta_0)
            return 0.5 * jnp.sum((yh - y) ** 2) / X.shape[0]

        vg = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
        args = [jnp.asarray(a) for a in (alpha0, beta0, b00, X, y)]
        return (lambda: jax.block_until_ready(vg(*args))), (
            lambda r: _summary(_to_numpy(r[0]), [_to_numpy(g) for g in r[1]])
        )
    if method == "torch":
        torch = _setup_torch()
        ps = [torch.tensor(a, requires_grad=True) for a in (alpha0, beta0, b00)]
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

        def run():
            alpha, beta, beta_0 = ps
            Z = torch.sigmoid(Xt @ alpha)
            yh = torch.sigmoid(Z @ beta + beta_0)
            J = 0.5 * torch.sum((yh - yt) ** 2) / Xt.shape[0]
            J.backward()
            grads = [p.grad for p in ps]
            for p in ps:
                p.grad = None
            return J.detach(), grads

        return run, (lambda r: _summary(_to_numpy(r[0]), [_to_numpy(g) for g in r[1]]))
    raise KeyError(method)


# -- the 784-256-10 MLP, batch 128 -------------------------------------------------------------------
def case_mlp(method: str):
    """relu hidden layer, softmax cross-entropy (mean over the batch)."""
    import numpy as np

    rng = np.random.default_rng(3)
    D, H, K, n = 784, 256, 10, 128
    params = dict(
        W1=rng.normal(0, 0.05, (D, H)),
        b1=rng.normal(0, 0.05, (1, H)),
        W2=rng.normal(0, 0.05, (H, K)),
        b2=rng.normal(0, 0.05, (1, K)),
    )
    X, Y = rng.random((n, D)), np.eye(K)[rng.integers(0, K, n)]
    names = ["W1", "b1", "W2", "b2"]
    if method == "expert":
        f = _expert().mlp
        return (lambda: f(**params, X=X, Y=Y)), (lambda r: _summary(r[0], r[1]))
    if method == "hand":

        def hand(W1, b1, W2, b2, X, Y):
            n = X.shape[0]
            Z1 = X @ W1 + b1
            Z = np.maximum(Z1, 0.0)
            A = Z @ W2 + b2
            m = np.max(A, axis=1, keepdims=True)
            E = np.exp(A - m)
            S = np.sum(E, axis=1, keepdims=True)
            J = -np.sum(Y * (A - m - np.log(S))) / n
            dA = (E / S - Y) / n
            dZ1 = (dA @ W2.T) * (Z1 > 0)
            return J, (
                X.T @ dZ1,
                dZ1.sum(axis=0, keepdims=True),
                Z.T @ dA,
                dA.sum(axis=0, keepdims=True),
            )

        return (lambda: hand(**params, X=X, Y=Y)), (lambda r: _summary(r[0], r[1]))
    if method == "circuitc":
        import circuitc

        m = circuitc.compile(_load_example("mlp").make_circuit())

        return (lambda: m.value_and_grad(**params, X=X, Y=Y)), (
            lambda r: _summary(r[0], [r[1][k] for k in names])
        )
    if method == "jax":
        jax = _setup_jax()
        jnp = jax.numpy

        def loss(W1, b1, W2, b2, X, Y):
            Z = jnp.maximum(X @ W1 + b1, 0.0)
            A = Z @ W2 + b2
            return -jnp.sum(Y * jax.nn.log_softmax(A, axis=1)) / X.shape[0]

        vg = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))
        args = [jnp.asarray(params[k]) for k in names] + [jnp.asarray(X), jnp.asarray(Y)]
        return (lambda: jax.block_until_ready(vg(*args))), (
            lambda r: _summary(_to_numpy(r[0]), [_to_numpy(g) for g in r[1]])
        )
    if method == "torch":
        torch = _setup_torch()
        ps = [torch.tensor(params[k], requires_grad=True) for k in names]
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)

        def run():
            W1, b1, W2, b2 = ps
            Z = torch.relu(Xt @ W1 + b1)
            A = Z @ W2 + b2
            J = -torch.sum(Yt * torch.log_softmax(A, dim=1)) / Xt.shape[0]
            J.backward()
            grads = [p.grad for p in ps]
            for p in ps:
                p.grad = None
            return J.detach(), grads

        return run, (lambda r: _summary(_to_numpy(r[0]), [_to_numpy(g) for g in r[1]]))
    raise KeyError(method)


# -- the 784-256-10 MLP with instances as columns, written without circuitc.nn ------------------
def case_mlp_columns(method: str):
    """X is 784×128 (one column per instance), sigmoid hidden and output, squared loss."""
    import numpy as np

    rng = np.random.default_rng(4)
    D, H, K, n = 784, 256, 10, 128
    W1, W2 = rng.normal(0, 0.05, (H, D)), rng.normal(0, 0.2, (K, H))
    X, Y = rng.random((D, n)), np.eye(K)[rng.integers(0, K, n)].T.copy()
    if method == "expert":
        f = _expert().mlp_columns
        return (lambda: f(W1, W2, X, Y)), (lambda r: _summary(r[0], r[1]))
    if method == "circuitc":
        import circuitc

        J, wrt = _circuits().mlp_columns(D, H, K)
        m = circuitc.compile(J, wrt=wrt, name="mlp_columns")
        return (lambda: m.value_and_grad(W1=W1, W2=W2, X=X, Y=Y)), (
            lambda r: _summary(r[0], [r[1]["W1"], r[1]["W2"]])
        )
    if method == "jax":
        jax = _setup_jax()
        jnp = jax.numpy

        def loss(W1, W2, X, Y):
            P = jax.nn.sigmoid(W2 @ jax.nn.sigmoid(W1 @ X))
            return 0.5 * jnp.sum((P - Y) ** 2) / X.shape[1]

        vg = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
        args = [jnp.asarray(a) for a in (W1, W2, X, Y)]
        return (lambda: jax.block_until_ready(vg(*args))), (
            lambda r: _summary(_to_numpy(r[0]), [_to_numpy(g) for g in r[1]])
        )
    raise KeyError(method)


# -- logistic regression with scalar parameters over arrays of instances ---------------------------
def case_logreg_scalars(method: str):
    """31 floats θ_j, 31 arrays x_j of the 569 breast-cancer instances (x_0 = 1), y an array."""
    import numpy as np

    X, y = _breast_cancer()
    D = X.shape[1]
    xs = [X[:, j].copy() for j in range(D)]
    yv = y[:, 0].copy()
    thetas = [float(t) for t in np.random.default_rng(5).normal(0, 0.1, D)]
    if method == "expert":
        f = _expert().logreg_scalars
        return (lambda: f(thetas, xs, yv)), (lambda r: _summary(r[0], [r[1]]))
    if method == "circuitc":
        import circuitc

        J, wrt = _circuits().logreg_scalars(D)
        m = circuitc.compile(J, wrt=wrt, name="logreg_scalars")
        kw = {f"theta{j}": thetas[j] for j in range(D)}
        kw.update({f"x{j}": xs[j] for j in range(D)}, y=yv)
        return (lambda: m.value_and_grad(**kw)), (
            lambda r: _summary(r[0], [[r[1][f"theta{j}"] for j in range(D)]])
        )
    if method == "jax":
        jax = _setup_jax()
        jnp = jax.numpy

        def loss(thetas, xs, y):
            a = sum(t * x for t, x in zip(thetas, xs, strict=True))
            return jnp.sum(jax.nn.softplus(a) - y * a), jax.nn.softplus(a) - y * a

        vg = jax.jit(jax.value_and_grad(loss, has_aux=True))
        th, xj, yj = [jnp.asarray(t) for t in thetas], [jnp.asarray(x) for x in xs], jnp.asarray(yv)
        return (lambda: jax.block_until_ready(vg(th, xj, yj))), (
            lambda r: _summary(_to_numpy(r[0][1]), [[float(g) for g in r[1]]])
        )
    raise KeyError(method)


# -- compile time ----------------------------------------------------------------------------------
def compile_case(case: str, method: str) -> dict:
    """Seconds to turn the circuit into a callable value-and-gradient, or why it failed."""
    import sympy as sp

    if case == "sin_chain":
        n, x = 10_000, sp.Symbol("x")
        if method == "circuitc":
            import circuitc

            steps, prev = [], x
            for k in range(n):
                s = sp.Symbol(f"s{k}")
                steps.append((s, sp.sin(prev)))
                prev = s
            t0 = _clock()
            circuitc.compile(circuitc.Circuit("sin_chain", prev, [x], steps=steps))
            return {"seconds": _clock() - t0}
        e = x
        for _ in range(n):
            e = sp.sin(e)
        t0 = _clock()
        d = sp.diff(e, x)
        sp.lambdify(x, [e, d], "math", cse=True)
        return {"seconds": _clock() - t0}
    if case == "product":
        xs = list(sp.symbols("p0:1000"))
        P = sp.Mul(*xs)
        t0 = _clock()
        if method == "circuitc":
            import circuitc

            circuitc.compile(P, wrt=xs, name="product")
        else:
            sp.lambdify(xs, [P, *(sp.diff(P, s) for s in xs)], "math", cse=True)
        return {"seconds": _clock() - t0}
    if case == "logistic_map":
        x, r = sp.symbols("x r")
        e = x
        for _ in range(20):
            e = r * e * (1 - e)
        t0 = _clock()
        if method == "circuitc":
            import circuitc

            circuitc.compile(e, wrt=[x, r], name="logistic_map")
        else:
            sp.lambdify([x, r], [e, sp.diff(e, x), sp.diff(e, r)], "math", cse=True)
        return {"seconds": _clock() - t0}
    if case == "dag":
        x, a = sp.symbols("x a")
        e = x
        for _ in range(1000):
            e = sp.sin(e) * e + sp.cos(e) / (1 + e**2) + a
        t0 = _clock()
        if method == "circuitc":
            import circuitc

            circuitc.compile(e, wrt=[x, a], name="dag")
        else:
            sp.lambdify([x, a], [e, sp.diff(e, x), sp.diff(e, a)], "math", cse=True)
        return {"seconds": _clock() - t0}
    raise KeyError(case)


def pin_to_one_cpu() -> None:
    """Run this process on one CPU: JAX 0.10 starts threads on every core whatever XLA_FLAGS
    say, and the CPU time of two busy threads is not one thread's."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def worker(case: str, method: str, budget: float) -> dict:
    """Build one case for one method, time it, and return what the parent prints."""
    pin_to_one_cpu()
    if case in dict(COMPILE_CASES):
        sys.setrecursionlimit(10_000)  # SymPy's fair chance (its own process: no one else sees it)
        try:
            return compile_case(case, method)
        except RecursionError:
            return {"error": "RecursionError"}
    builders = {
        "small_scalar": lambda m: case_small(m, vector=False),
        "small_vector": lambda m: case_small(m, vector=True),
        "logreg_batch": lambda m: case_logreg(m, sgd=False),
        "logreg_sgd": lambda m: case_logreg(m, sgd=True),
        "two_layer": case_two_layer,
        "mlp": case_mlp,
        "mlp_columns": case_mlp_columns,
        "logreg_scalars": case_logreg_scalars,
    }
    run, summarise = builders[case](method)
    import numpy as np

    with np.errstate(over="ignore"):
        check = summarise(run())
        best, median, number = _time(run, budget)
        peak = peak_bytes(run) if case in MEMORY_CASES else None
    return {"best": best, "median": median, "number": number, "check": check, "peak": peak}


def peak_bytes(fn: Callable[[], object]) -> int:
    """The most memory one call of ``fn`` holds at once (tracemalloc, NumPy's buffers included).

    Counted from just before the call (the previous result already dropped), so what the call
    returns is counted too: the same for every method of a case.
    """
    import tracemalloc

    fn()  # warm: caches and lazily built tables are not the call's own memory
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - before
        del result
    finally:
        tracemalloc.stop()
    return peak


# == the parent: processes, checks, the table ====================================================
def available(method: str) -> bool:
    module = OPTIONAL.get(method)
    return module is None or importlib.util.find_spec(module) is not None


def run_child(case: str, method: str, budget: float, timeout: float) -> dict:
    env = dict(os.environ, **THREAD_ENV, PYTHONHASHSEED="0")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", case, method]
    cmd += ["--budget", str(budget)]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(ROOT)
        )
    except subprocess.TimeoutExpired:
        return {"error": f"> {timeout:.0f} s (stopped)"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": tail[:80]}
    return json.loads(lines[-1])


def agree(a: list[float], b: list[float], sgd: bool) -> bool:
    """Two summaries agree to about 1e-6 relative (float64 everywhere; different op orders)."""
    if len(a) != len(b):
        return False
    start = 1 if sgd else 0  # an SGD step reports the updated parameters only
    return all(
        math.isclose(p, q, rel_tol=1e-6, abs_tol=1e-9)
        for p, q in zip(a[start:], b[start:], strict=True)
    )


#: the methods whose memory tracemalloc sees (JAX and PyTorch allocate outside it)
MEMORY_METHODS = ["expert", "circuitc", "hand"]


def table_header() -> list[str]:
    """The markdown header of the time table: one column per method, then peak memory."""
    names = [HEADERS.get(c, c) for c in COLUMNS]
    names += [f"peak: {HEADERS.get(c, c)}" for c in MEMORY_METHODS]
    return ["| case | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]


def table_row(title: str, results: dict[str, dict], baseline: str, sgd: bool) -> str:
    """One markdown row: each method's time and ratio to the baseline, then peak memory.

    A method whose numbers differ from the baseline's is marked ``✗ differs``.
    """
    base = results.get(baseline, {})
    cells = []
    for method in COLUMNS:
        r = results.get(method)
        if r is None:
            cells.append("—")
        elif "error" in r:
            cells.append(r["error"])
        else:
            text = fmt_time(r["best"])
            if method != baseline and "best" in base:
                text += f" (**{r['best'] / base['best']:.2f}×**)"
            if "check" in base and not agree(r["check"], base["check"], sgd):
                text += " ✗ differs"
            cells.append(text)
    for method in MEMORY_METHODS:
        peak = (results.get(method) or {}).get("peak")
        if peak is None:
            cells.append("—")
            continue
        text = fmt_bytes(peak)
        if method != baseline and base.get("peak"):
            text += f" ({peak / base['peak']:.2f}×)"
        cells.append(text)
    return f"| {title} | " + " | ".join(cells) + " |"


def fmt_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024**2:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024**2:.2f} MiB"


def fmt_time(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def machine() -> list[str]:
    import numpy as np

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = [f"numpy {np.__version__}"]
    for name in ("sympy", "torch", "jax", "numba"):
        if importlib.util.find_spec(name) is not None:
            import importlib.metadata as md

            with contextlib.suppress(md.PackageNotFoundError):
                versions.append(f"{name} {md.version(name)}")
    return [
        f"- machine: {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs (nproc), {cpu}",
        f"- Python {platform.python_version()}; " + ", ".join(versions),
        "- threads: "
        + ", ".join(f"{k}={v}" for k, v in THREAD_ENV.items() if k != "XLA_FLAGS")
        + f"; XLA_FLAGS='{THREAD_ENV['XLA_FLAGS']}'; torch.set_num_threads(1); each worker "
        "pinned to one CPU (sched_setaffinity)",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--worker", nargs=2, metavar=("CASE", "METHOD"), help=argparse.SUPPRESS)
    p.add_argument("--budget", type=float, default=0.6, help="seconds of timing per process")
    p.add_argument("--rounds", type=int, default=2, help="run every process this many times")
    p.add_argument("--only", action="append", default=[], help="run only these cases")
    p.add_argument("--no-compile", action="store_true", help="skip the compile-time cases")
    p.add_argument("--compile-timeout", type=float, default=30.0)
    p.add_argument("--save", action="store_true", help="write benchmarks/RESULTS.md")
    p.add_argument("--out", help="write the table to this file")
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker, args.budget)))
        return 0

    lines = [
        "# circuitc benchmarks",
        "",
        "Produced by `python -m benchmarks --save` (see `benchmarks/run.py`); numbers from one run.",
        "",
    ]
    lines += machine()
    lines += [
        "- load average at the start (1, 5, 15 min): "
        + ", ".join(f"{v:.2f}" for v in os.getloadavg()),
        f"- each method in its own process; CPU time of the process (time.process_time: waiting"
        " for a core is not counted); best of repeats over"
        f" ~{args.budget:g} s"
        f" per process, {args.rounds} round(s); ratio = time / the expert's time"
        " (benchmarks/expert.py; lower is better); peak = the most memory one call holds at"
        " once (tracemalloc), ratio to the expert's",
        "",
    ]
    lines += table_header()
    print("\n".join(lines), flush=True)
    for case, methods, baseline, title in CASES:
        if args.only and case not in args.only:
            continue
        results: dict[str, dict] = {}
        for rnd in range(args.rounds):
            order = methods if rnd % 2 == 0 else methods[::-1]
            for method in order:
                if not available(method):
                    results.setdefault(method, {"error": "not installed"})
                    continue
                r = run_child(case, method, args.budget, timeout=300)
                old = results.get(method)
                if old is None or "error" in old or ("best" in r and r["best"] < old["best"]):
                    results[method] = r
        row = table_row(title, results, baseline, sgd="sgd" in case)
        lines.append(row)
        print(row, flush=True)

    if not args.no_compile and not args.only:
        head = [
            "",
            "Compile time (circuit → callable value and gradient):",
            "",
            "| circuit | circuitc | sympy.diff + lambdify(cse=True) |",
            "|---|---|---|",
        ]
        lines += head
        print("\n".join(head), flush=True)
        for case, title in COMPILE_CASES:
            cells = []
            for method in COMPILE_METHODS:
                r = run_child(case, method, args.budget, timeout=args.compile_timeout)
                cells.append(r["error"] if "error" in r else fmt_time(r["seconds"]))
            row = f"| {title} | " + " | ".join(cells) + " |"
            lines.append(row)
            print(row, flush=True)

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    lines += [
        "",
        f"Load average (1, 5, 15 min) at the end: {load} (other processes share the CPUs;"
        " ratios within a row are only as steady as that load).",
    ]
    print(lines[-1])
    out = args.out or (str(ROOT / "benchmarks" / "RESULTS.md") if args.save else None)
    if out:
        Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
