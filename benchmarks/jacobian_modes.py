"""Jacobians of matrix outputs in forward and reverse mode (issue 13), reported, never asserted.

Two circuits, each compiled with ``jacobian_mode="forward"`` and ``"reverse"``:

* narrow: an MLP's class probabilities on a batch of 8 digits, softmax(sigmoid(X W1) W2 + b2),
  X 8×64, W1 64×32, W2 32×10: m = 80 output entries, n = 2,378 parameter entries (``auto``
  picks reverse);
* wide: sigmoid(A B), A 4×3 the parameter, B 3×300: m = 1,200, n = 12 (``auto`` picks forward).

For each: ``circuitc cost``'s op counts of both modes (IR ops: a matmul counts one) and the best
of a few calls' wall-clock time on one thread, and the two Jacobians' largest difference.

Run: ``python benchmarks/jacobian_modes.py`` (prints a Markdown table).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

import circuitc  # noqa: E402
from circuitc import nn  # noqa: E402


def narrow():
    X = sp.MatrixSymbol("X", 8, 64)
    W1, W2, b2 = (
        sp.MatrixSymbol("W1", 64, 32),
        sp.MatrixSymbol("W2", 32, 10),
        sp.MatrixSymbol("b2", 1, 10),
    )
    expr = nn.softmax(nn.add_bias(nn.sigmoid(X * W1) * W2, b2))
    return "narrow (MLP probabilities, 8x10)", expr, [W1, W2, b2]


def wide():
    A, B = sp.MatrixSymbol("A", 4, 3), sp.MatrixSymbol("B", 3, 300)
    return "wide (sigmoid(A B), 4x300)", nn.sigmoid(A * B), [A]


def best_of(f, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(label, expr, wrt, repeat: int = 3) -> str:
    rng = np.random.default_rng(0)
    symbols = sorted(expr.free_symbols | set(wrt), key=lambda s: s.name)
    point = {s.name: rng.normal(size=s.shape) * 0.3 for s in symbols if hasattr(s, "shape")}
    j = circuitc.cost(expr, wrt=wrt, naive=False).jacobian
    mods = {
        m: circuitc.compile(expr, wrt=wrt, name=f"b_{m}", jacobian_mode=m)
        for m in ("forward", "reverse")
    }
    auto = circuitc.compile(expr, wrt=wrt, name="b_auto").JACOBIAN_MODE
    secs = {m: best_of(lambda m=m: mods[m].jacobian(**point), repeat) for m in mods}
    fwd, rev = (mods[m].jacobian(**point) for m in ("forward", "reverse"))
    diff = max(float(np.max(np.abs(fwd[k] - rev[k]))) for k in fwd)
    return (
        f"| {label} | {j.outputs} | {j.entries} | {auto} | {j.forward_mode:,} | {j.reverse_mode:,} "
        f"| {secs['forward'] * 1e3:.1f} ms | {secs['reverse'] * 1e3:.1f} ms | {diff:.1e} |"
    )


def main() -> None:
    print(
        "| circuit | m | n | auto | forward ops | reverse ops | forward time | reverse time | max diff |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for case in (narrow, wide):
        print(measure(*case()))


if __name__ == "__main__":
    main()
