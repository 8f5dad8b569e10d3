"""Benchmark (not a test): issue 14's figures, printed as Markdown rows.

``mlp``: the 784-256-10 MLP's ``value_and_grad`` at batch 128 in float64 on one thread: hand
NumPy, the NumPy module, the array-API module on NumPy and on PyTorch, ``jax.jit`` of the
array-API module, and JAX's own ``jax.jit(jax.value_and_grad)`` of the loss written in JAX.

``dask``: ``circuitc.dask.value_and_grad`` of logistic regression (31 columns) over rows that
Dask generates chunk by chunk (never held in memory at once), on a ``LocalCluster`` of 1 and 2
worker processes with ``--memory-limit`` each: rows per second, the workers' peak resident
memory, and the gradient's error against the same rows in memory (on a size that fits).

``train``: an actual ``circuitc train --dask ADDRESS`` run (its own process) over Parquet files
written one at a time to ``--folder`` (outside the repository; kept for the next run), on a
``LocalCluster`` of 1 and 2 worker processes limited to ``--memory-limit``: seconds, the
workers' and the training process's peak resident memory.

Run: ``python benchmarks/bench_backends.py mlp|dask|train [--rows 2e7] [--memory-limit 512MB]``
(``train --rows 6e6`` is 1.5 GB of rows).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS"):
    os.environ.setdefault(_var, "1" if _var != "XLA_FLAGS" else "")
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

import argparse  # noqa: E402
import runpy  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _best(fn, repeats: int = 30) -> float:
    """The best of ``repeats`` timings (seconds) after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _mlp_point(n: int = 128, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.normal(size=(784, 256)) * 0.05,
        "b1": np.zeros((1, 256)),
        "W2": rng.normal(size=(256, 10)) * 0.05,
        "b2": np.zeros((1, 10)),
        "X": rng.normal(size=(n, 784)),
        "Y": np.eye(10)[rng.integers(0, 10, n)],
    }


def _hand_numpy(W1, b1, W2, b2, X, Y):
    """The MLP's forward and backward written by hand in NumPy."""
    n = X.shape[0]
    H = X @ W1 + b1
    Z = np.maximum(H, 0)
    A = Z @ W2 + b2
    m = A.max(axis=1, keepdims=True)
    E = np.exp(A - m)
    S = E.sum(axis=1, keepdims=True)
    J = -np.sum(Y * (A - m - np.log(S))) / n
    dA = (E / S - Y) / n
    dZ = (dA @ W2.T) * (H > 0)
    return J, {
        "W1": X.T @ dZ,
        "b1": dZ.sum(0, keepdims=True),
        "W2": Z.T @ dA,
        "b2": dA.sum(0, keepdims=True),
    }


def bench_mlp(repeats: int) -> None:
    import circuitc

    circuit = runpy.run_path(str(ROOT / "examples" / "mlp.py"))["circuit"]
    plain = circuitc.compile(circuit)
    xp_module = circuitc.compile(circuit, backend="array_api")
    p = _mlp_point()
    rows = [("hand-written NumPy", _best(lambda: _hand_numpy(**p), repeats))]
    rows.append(("circuitc NumPy module", _best(lambda: plain.value_and_grad(**p), repeats)))
    rows.append(
        ("array-API module on NumPy", _best(lambda: xp_module.value_and_grad(**p), repeats))
    )
    try:
        import torch

        torch.set_num_threads(1)
        pt = {k: torch.asarray(v) for k, v in p.items()}
        rows.append(
            (
                "array-API module on torch (eager)",
                _best(lambda: xp_module.value_and_grad(**pt), repeats),
            )
        )
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        pj = {k: jnp.asarray(v) for k, v in p.items()}
        jitted = jax.jit(xp_module.value_and_grad)
        rows.append(
            (
                "jax.jit(array-API module)",
                _best(lambda: jax.block_until_ready(jitted(**pj)), repeats),
            )
        )

        def loss(W1, b1, W2, b2, X, Y):
            A = jnp.maximum(X @ W1 + b1, 0) @ W2 + b2
            return -jnp.sum(Y * jax.nn.log_softmax(A, axis=1)) / X.shape[0]

        own = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))
        args = [pj[k] for k in ("W1", "b1", "W2", "b2", "X", "Y")]
        rows.append(
            (
                "jax.jit(jax.value_and_grad) of a JAX loss",
                _best(lambda: jax.block_until_ready(own(*args)), repeats),
            )
        )
        J, g = jitted(**pj)
        J_ref, g_ref = plain.value_and_grad(**p)
        err = max(
            float(np.max(np.abs(np.asarray(g[k]) - g_ref[k]))) / float(np.max(np.abs(g_ref[k])))
            for k in g_ref
        )
        print(f"jax.jit(array-API) vs NumPy module: max relative gradient difference {err:.1e}")
    except ImportError:
        pass
    hand = rows[0][1]
    print("| MLP 784-256-10, batch 128, float64, 1 thread | time | vs hand NumPy |\n|---|---|---|")
    for name, t in rows:
        print(f"| {name} | {t * 1e3:.2f} ms | {t / hand:.2f}× |")


def _logreg():
    return runpy.run_path(str(ROOT / "examples" / "logistic_regression_batch.py"))["circuit"]


def _lazy_rows(rows: int, chunk: int, seed: int = 0):
    """X (rows × 31, first column 1) and labels y, generated chunk by chunk by Dask."""
    import dask.array as da

    state = da.random.RandomState(seed)
    X = state.normal(size=(rows, 31), chunks=(chunk, 31))
    X = da.concatenate([da.ones((rows, 1), chunks=(chunk, 1)), X[:, 1:]], axis=1)
    y = (state.uniform(size=(rows, 1), chunks=(chunk, 1)) < 0.5).astype(float)
    return X, y


def bench_dask(rows: int, chunk: int, memory_limit: str) -> None:
    import dask
    import distributed

    import circuitc
    import circuitc.dask

    module = circuitc.compile(_logreg())
    theta = np.linspace(-0.5, 0.5, 31).reshape(31, 1)
    # the gradient's error on a size that fits in memory, uneven chunks
    Xs, ys = _lazy_rows(100_003, 7_919)
    X_np, y_np = dask.compute(Xs, ys)
    J, g = circuitc.dask.value_and_grad(module, {"theta": theta}, X=Xs, y=ys)
    J_ref, g_ref = module.value_and_grad(theta=theta, X=X_np, y=y_np)
    err = float(np.max(np.abs(g["theta"] - g_ref["theta"])) / np.max(np.abs(g_ref["theta"])))
    print(f"Dask gradient vs in memory (100,003 rows, 13 chunks): relative error {err:.1e}, "
          f"J {abs(J - J_ref) / abs(J_ref):.1e}")  # fmt: skip
    gb = rows * 32 * 8 / 1e9
    print(f"\n| {rows:,} rows × 32 float64 ({gb:.1f} GB), chunks of {chunk:,} rows, "
          f"workers limited to {memory_limit} | seconds | rows/s | peak worker RSS |")  # fmt: skip
    print("|---|---|---|---|")
    for workers in (1, 2):
        with (
            distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                memory_limit=memory_limit, dashboard_address=None,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):  # fmt: skip
            X, y = _lazy_rows(rows, chunk)
            t0 = time.perf_counter()
            circuitc.dask.value_and_grad(module, {"theta": theta}, X=X, y=y)
            seconds = time.perf_counter() - t0
            peak = max(client.run(_peak_rss).values())
        print(f"| {workers} worker{'s' if workers > 1 else ''} | {seconds:.1f} | "
              f"{rows / seconds:,.0f} | {peak / 1e6:.0f} MB |")  # fmt: skip


def write_parquet_rows(folder: Path, rows: int, chunk: int, seed: int = 0) -> float:
    """Logistic-regression rows (30 features and a 0/1 label) as Parquet files of ``chunk``
    rows each, written one at a time (never all in memory); returns the bytes of float64 rows."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w = np.linspace(-1.0, 1.0, 30)
    names = [f"x{j}" for j in range(30)] + ["label"]
    for k, start in enumerate(range(0, rows, chunk)):
        n = min(chunk, rows - start)
        X = rng.normal(size=(n, 30))
        y = (X @ w + rng.normal(size=n) > 0).astype(float)
        pd.DataFrame(np.column_stack([X, y]), columns=names).to_parquet(
            folder / f"part{k:04d}.parquet"
        )
    return rows * 31 * 8


def bench_train(rows: int, chunk: int, memory_limit: str, folder: Path, epochs: int) -> None:
    """An actual ``circuitc train --dask ADDRESS`` run (its own process) over Parquet files
    several times the workers' memory limit, on a LocalCluster of 1 and 2 limited workers:
    the run's seconds, the workers' and the training process's peak resident memory."""
    import subprocess
    import sys

    import distributed

    if not any(folder.glob("*.parquet")):
        size = write_parquet_rows(folder, rows, chunk)
    else:
        size = rows * 31 * 8
    print(
        f"\n| `train --dask`, {rows:,} rows × 31 float64 ({size / 1e9:.2f} GB of Parquet, "
        f"{-(-rows // chunk)} files), workers limited to {memory_limit}, {epochs} epochs "
        "full batch | seconds | rows/s per epoch | peak worker RSS | peak train process RSS |"
    )
    print("|---|---|---|---|---|")
    for workers in (1, 2):
        with distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True,
            memory_limit=memory_limit, dashboard_address=None,
        ) as cluster, distributed.Client(cluster) as client:  # fmt: skip
            out = folder.parent / f"bench_train_{workers}.npz"
            command = [
                sys.executable, "-m", "circuitc", "train",
                str(ROOT / "examples" / "logistic_regression_batch.py"), "--data", str(folder),
                "--target-column", "label", "--dask", cluster.scheduler_address,
                "--epochs", str(epochs), "--lr", "0.5", "--out", str(out),
            ]  # fmt: skip
            t0 = time.perf_counter()
            proc = subprocess.Popen(command)
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - t0
            if status != 0:
                raise SystemExit(f"train --dask failed (status {status})")
            peak = max(client.run(_peak_rss).values())
        passes = epochs + 1  # the preprocessing's pass, then one a step
        print(f"| {workers} worker{'s' if workers > 1 else ''} | {seconds:.0f} | "
              f"{rows * passes / seconds:,.0f} | {peak / 1e6:.0f} MB | "
              f"{usage.ru_maxrss * 1024 / 1e6:.0f} MB |")  # fmt: skip


def _peak_rss() -> int:
    """This process's peak resident memory in bytes (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=("mlp", "dask", "train"))
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--rows", type=float, default=8e6)
    parser.add_argument("--chunk", type=int, default=250_000)
    parser.add_argument("--memory-limit", default="512MB")
    parser.add_argument("--folder", default="/tmp/circuitc_bench_rows", help="train: the files")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    if args.case == "mlp":
        bench_mlp(args.repeats)
    elif args.case == "dask":
        bench_dask(int(args.rows), args.chunk, args.memory_limit)
    else:
        folder = Path(args.folder)
        bench_train(int(args.rows), args.chunk, args.memory_limit, folder, args.epochs)


if __name__ == "__main__":
    main()
