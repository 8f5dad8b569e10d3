"""Accuracy of the trained examples beside scikit-learn, and the cost of one SGD step.

    python benchmarks/accuracy.py [--quick]

Reports (nothing is asserted; issue 5's targets are printed beside the figures):

* ``logistic_regression_batch.py`` on breast_cancer, and scikit-learn's ``LogisticRegression``
  on the same split and scaling (target: within 2 points);
* ``two_layer_nn_batch.py`` on breast_cancer (target ≥ 0.95), beside ``MLPClassifier`` with one
  hidden layer of the same size and sigmoid units;
* ``mlp_digits.py`` on digits (target ≥ 0.95), beside ``MLPClassifier`` likewise;
* a per-instance SGD step on logistic regression through ``circuitc.sgd.train`` against a
  hand-written NumPy step over the same instances (target ≤ 1.3×): whole epochs of each,
  interleaved, the fastest of several runs, the fixed cost of ``train`` (binding, set-up)
  measured with ``epochs=0`` and subtracted;
* the README's job, ``circuitc train examples/two_layer_nn_batch.py``, timed end to end.

Each example is trained with its own ``TRAIN`` settings (what ``circuitc train`` uses).
"""

from __future__ import annotations

import argparse
import math
import runpy
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import circuitc
from circuitc.training import data, sgd

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def load_example(name: str):
    """(compiled module, TRAIN settings) of ``examples/<name>.py``, or None when it is missing."""
    path = EXAMPLES / f"{name}.py"
    if not path.exists():
        return None
    ns = runpy.run_path(str(path))
    circuit = ns["circuit"] if "circuit" in ns else ns["circuits"][0]
    return circuitc.compile(circuit), dict(ns.get("TRAIN", {}))


def train_example(name: str, dataset: data.Dataset, seed: int = 0):
    loaded = load_example(name)
    if loaded is None:
        return None
    module, settings = loaded
    kw = dict(epochs=20, lr=0.1, batch_size=1)
    kw.update(settings)
    start = time.perf_counter()
    _, history = sgd.train(module, dataset, seed=seed, **kw)
    return history.test_accuracy[-1], time.perf_counter() - start, kw


def sklearn_logreg(ds: data.Dataset) -> float:
    from sklearn.linear_model import LogisticRegression

    return (
        LogisticRegression(max_iter=10000).fit(ds.X_train, ds.y_train).score(ds.X_test, ds.y_test)
    )


def sklearn_mlp(ds: data.Dataset, hidden: int, seed: int = 0) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((hidden,), activation="logistic", max_iter=500, random_state=seed)
        return clf.fit(ds.X_train, ds.y_train).score(ds.X_test, ds.y_test)


def hand_epoch(X, y, w, lr, order):
    """One epoch of per-instance SGD for the mean cross-entropy, written out in NumPy.

    The same work as the module's step: the logits, the stable loss (checked finite), the
    probability, the gradient X^T (p − y) and the update in place.
    """
    for i in order:
        x = X[i : i + 1]
        t = y[i : i + 1]
        a = x @ w
        loss = float(np.sum(np.logaddexp(0.0, a) - t * a))
        if not math.isfinite(loss):
            raise FloatingPointError
        p = 1.0 / (1.0 + np.exp(-a))
        w -= lr * (x.T @ (p - t))


def sgd_step_ratio(ds: data.Dataset, repeats: int = 7, epochs: int = 2):
    """(µs per circuitc step, µs per NumPy step, ratio) for per-instance logistic regression."""
    loaded = load_example("logistic_regression_batch")
    if loaded is None:
        return None
    module, _ = loaded
    binding = sgd.bind(module, ds)
    X, Y = binding.encode(ds.X_train, ds.y_train)
    n = X.shape[0]
    lr = 0.01
    orders = [sgd.epoch_order(n, 0, e) for e in range(epochs)]
    ours, fixed, hand = [], [], []
    for _ in range(repeats):  # interleaved: each repeat times all three
        params = sgd.init(module, 0, ds)
        t0 = time.perf_counter()
        sgd.train(module, ds, params=params, epochs=epochs, lr=lr)
        t1 = time.perf_counter()
        sgd.train(module, ds, params=params, epochs=0, lr=lr)
        t2 = time.perf_counter()
        w = np.zeros((X.shape[1], 1))
        for order in orders:
            hand_epoch(X, Y, w, lr, order)
        t3 = time.perf_counter()
        ours.append(t1 - t0)
        fixed.append(t2 - t1)
        hand.append(t3 - t2)
    steps = epochs * n
    ours_us = (min(ours) - min(fixed)) / steps * 1e6
    hand_us = min(hand) / steps * 1e6
    return ours_us, hand_us, ours_us / hand_us


def readme_job() -> float | None:
    path = EXAMPLES / "two_layer_nn_batch.py"
    if not path.exists():
        return None
    out = Path("/tmp") / "circuitc-bench-readme.npz"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "circuitc", "train", str(path), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        print(proc.stderr.strip())
        return None
    return elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the README timing")
    parser.add_argument(
        "--seeds", type=int, default=3, help="split/initialisation seeds 0..S-1 (default 3)"
    )
    args = parser.parse_args(argv)
    seeds = range(max(1, args.seeds))
    cases = [
        ("logistic_regression_batch", "breast_cancer", sklearn_logreg, "LogisticRegression",
         "within 2 points"),
        ("two_layer_nn_batch", "breast_cancer", lambda ds: sklearn_mlp(ds, 32),
         "MLPClassifier(32, logistic)", "≥ 0.95"),
        ("mlp_digits", "digits", lambda ds: sklearn_mlp(ds, 64), "MLPClassifier(64, logistic)",
         "≥ 0.95"),
    ]  # fmt: skip
    print(
        "| example | data | test accuracy (seed 0) | scikit-learn (seed 0) | target "
        f"| seeds 0–{seeds[-1]}: ours min / mean | scikit-learn mean | train time | settings |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, source, reference, ref_name, target in cases:
        ours, refs, seconds, kw = [], [], 0.0, {}
        for seed in seeds:
            ds = data.load(source, seed=seed)
            refs.append(reference(ds))
            result = train_example(name, ds, seed=seed)
            if result is None:
                break
            acc, t, kw = result
            ours.append(acc)
            seconds = seconds or t
        if not ours:
            print(
                f"| {name} | {source} | (examples/{name}.py missing) | {refs[0]:.4f} | {target} |"
            )
            continue
        settings = ", ".join(f"{k}={v}" for k, v in kw.items())
        print(
            f"| {name} | {source} | {ours[0]:.4f} | {refs[0]:.4f} ({ref_name}) | {target} "
            f"| {min(ours):.4f} / {np.mean(ours):.4f} | {np.mean(refs):.4f} | {seconds:.2f} s "
            f"| {settings} |"
        )
    cancer = data.load("breast_cancer", seed=0)
    ratio = sgd_step_ratio(cancer)
    if ratio is None:
        print("\nSGD step: examples/logistic_regression_batch.py missing")
    else:
        ours, hand, r = ratio
        print(
            f"\nper-instance SGD step, logistic regression on breast_cancer: circuitc {ours:.1f} µs, "
            f"hand-written NumPy {hand:.1f} µs, ratio {r:.2f}× (target ≤ 1.3×)"
        )
    if not args.quick:
        seconds = readme_job()
        if seconds is not None:
            print(f"README job (circuitc train examples/two_layer_nn_batch.py): {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
