"""Benchmark (not a test): the generated 784-256-10 MLP against hand-written NumPy.

Times ``value_and_grad`` of ``generated/mlp.py`` (compiled from ``examples/mlp.py``) at batch
128 against a hand-written NumPy forward + backward of the same network, on one BLAS thread,
with the two interleaved in every repeat, and prints

* generated / hand-written (target ≤ 1.10), and
* value_and_grad / forward of the generated module (target ≤ 2.5).

Run: ``python benchmarks/bench_matrix.py [--repeats 30] [--batch 128]``.
"""

from __future__ import annotations

import os

for _var in (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[_var] = "1"  # before NumPy is imported: one BLAS thread

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def load_generated():
    """The committed generated module, or a fresh compile of the example when it is missing."""
    path = ROOT / "generated" / "mlp.py"
    sys.path.insert(0, str(ROOT))
    if path.exists():
        from circuitc.loader import import_file

        return import_file(path)
    import circuitc
    from examples.mlp import make_circuit

    return circuitc.compile(make_circuit())


def hand_value_and_grad(W1, b1, W2, b2, X, Y):
    """The same network and loss written by hand: relu hidden layer, softmax cross-entropy."""
    n = X.shape[0]
    Z1 = X @ W1 + b1
    Z = np.maximum(Z1, 0)
    A = Z @ W2 + b2
    m = np.max(A, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(A - m), axis=1, keepdims=True))
    logp = A - lse
    J = -np.sum(Y * logp) / n
    dA = (np.exp(logp) - Y) / n  # one-hot rows of Y sum to 1
    dW2 = Z.T @ dA
    db2 = np.sum(dA, axis=0, keepdims=True)
    dZ1 = np.where(Z1 > 0, dA @ W2.T, 0)
    dW1 = X.T @ dZ1
    db1 = np.sum(dZ1, axis=0, keepdims=True)
    return J, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def best_of(fn, kw, inner):
    t0 = time.perf_counter()
    for _ in range(inner):
        fn(**kw)
    return (time.perf_counter() - t0) / inner


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--inner", type=int, default=5)
    p.add_argument("--batch", type=int, default=128)
    args = p.parse_args(argv)

    mod = load_generated()
    rng = np.random.default_rng(0)
    D, H, K, n = 784, 256, 10, args.batch
    kw = dict(
        W1=rng.normal(0, 0.05, (D, H)),
        b1=rng.normal(0, 0.05, (1, H)),
        W2=rng.normal(0, 0.05, (H, K)),
        b2=rng.normal(0, 0.05, (1, K)),
        X=rng.random((n, D)),
        Y=np.eye(K)[rng.integers(0, K, n)],
    )
    # the two agree before anything is timed
    J, g = mod.value_and_grad(**kw)
    Jh, gh = hand_value_and_grad(**kw)
    assert abs(J - Jh) <= 1e-9 * abs(Jh), (J, Jh)
    for name in gh:
        np.testing.assert_allclose(g[name], gh[name], rtol=1e-7, atol=1e-12)

    gen, hand, fwd = [], [], []
    for _ in range(args.inner):  # warm-up
        mod.value_and_grad(**kw)
        hand_value_and_grad(**kw)
    for _ in range(args.repeats):  # interleaved
        gen.append(best_of(mod.value_and_grad, kw, args.inner))
        hand.append(best_of(hand_value_and_grad, kw, args.inner))
        fwd.append(best_of(mod.forward, kw, args.inner))
    # per-repeat ratios: the two sides of one repeat ran back to back, so load drifts cancel
    paired = statistics.median(a / b for a, b in zip(gen, hand, strict=True))
    paired_fwd = statistics.median(a / b for a, b in zip(gen, fwd, strict=True))
    g_med, h_med, f_med = (statistics.median(x) for x in (gen, hand, fwd))
    g_min, h_min, f_min = (min(x) for x in (gen, hand, fwd))
    print(f"MLP {D}-{H}-{K}, batch {n}, one BLAS thread, {args.repeats}×{args.inner} calls")
    print(f"  generated value_and_grad  median {g_med * 1e3:8.3f} ms   min {g_min * 1e3:8.3f} ms")
    print(f"  hand-written NumPy        median {h_med * 1e3:8.3f} ms   min {h_min * 1e3:8.3f} ms")
    print(f"  generated forward         median {f_med * 1e3:8.3f} ms   min {f_min * 1e3:8.3f} ms")
    print(
        f"  generated / hand-written  {paired:.3f} (median of paired ratios)  "
        f"{g_med / h_med:.3f} (of medians)  {g_min / h_min:.3f} (of minima)   target <= 1.10"
    )
    print(
        f"  value_and_grad / forward  {paired_fwd:.3f} (median of paired ratios)  "
        f"{g_med / f_med:.3f} (of medians)  {g_min / f_min:.3f} (of minima)   target <= 2.5"
    )


if __name__ == "__main__":
    main()
