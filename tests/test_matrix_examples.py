"""The batch examples (issue 4): each agrees with its scalar counterpart, the MLP with NumPy.

``make_circuit(...)`` builds a batch example at the scalar example's sizes; both modules then
get the same numbers. The scalar modules broadcast over arrays of instances and return the
gradient of sum(J); the batch examples use ``reduction="mean"``, so J_batch = mean(J_scalar)
and grad_batch = grad_scalar / N.
"""

from __future__ import annotations

import ast
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from oracles import assert_close, vjp_check

import circuitc
from circuitc.loader import import_file

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BATCH_EXAMPLES = ["logistic_regression_batch", "two_layer_nn_batch", "mlp"]


def example(name: str) -> dict:
    return runpy.run_path(str(EXAMPLES / f"{name}.py"))


def _rng(seed=0):
    return np.random.default_rng(seed)


def test_logistic_regression_batch_matches_the_scalar_module():
    scalar_circuit = next(
        c
        for c in example("logistic_regression")["circuits"]
        if c.name == "logistic_regression_cross_entropy"
    )
    scalar = circuitc.compile(scalar_circuit)
    batch = circuitc.compile(example("logistic_regression_batch")["make_circuit"](D=5))
    rng = _rng(1)
    n = 9
    theta = rng.normal(size=5)
    x = rng.normal(size=(n, 4))
    labels = rng.integers(0, 2, n).astype(float)
    kw = {f"theta_{j}": float(theta[j]) for j in range(5)}
    kw.update({f"x_{j}": x[:, j - 1] for j in range(1, 5)})
    Js, gs = scalar.value_and_grad(**kw, y_star=labels)
    X = np.hstack([np.ones((n, 1)), x])
    Jb, gb = batch.value_and_grad(theta=theta.reshape(5, 1), X=X, y=labels.reshape(n, 1))
    assert_close(Jb, np.mean(Js), "exact", "J")
    expected = np.array([[gs[f"theta_{j}"]] for j in range(5)]) / n
    assert_close(gb["theta"], expected, "exact", "dJ/dtheta", scale=1.0)
    # the prediction too
    assert_close(
        batch.predict(theta=theta.reshape(5, 1), X=X, y=labels.reshape(n, 1))[:, 0],
        scalar.predict(**kw, y_star=labels),
        "exact",
        "prediction",
    )


def test_two_layer_nn_batch_matches_the_scalar_module():
    scalar = circuitc.compile(example("two_layer_nn")["circuit"])
    batch = circuitc.compile(example("two_layer_nn_batch")["make_circuit"](D=4, H=4))
    rng = _rng(2)
    n = 6
    alpha = rng.normal(size=(4, 4))  # alpha[i, j-1] = alpha_j_i, i = 0 the bias input
    beta = rng.normal(size=5)  # beta_0 (bias) .. beta_4
    x = rng.normal(size=(n, 3))
    target = rng.random(n)
    kw = {f"alpha_{j}_{i}": float(alpha[i, j - 1]) for j in range(1, 5) for i in range(4)}
    kw.update({f"beta_{j}": float(beta[j]) for j in range(5)})
    kw.update({f"x_{i}": x[:, i - 1] for i in range(1, 4)})
    Js, gs = scalar.value_and_grad(**kw, y_star=target)
    X = np.hstack([np.ones((n, 1)), x])
    args = dict(
        alpha=alpha,
        beta=beta[1:].reshape(4, 1),
        beta_0=beta[:1].reshape(1, 1),
        X=X,
        y=target.reshape(n, 1),
    )
    Jb, gb = batch.value_and_grad(**args)
    assert_close(Jb, np.mean(Js), "exact", "J")
    d_alpha = np.array([[gs[f"alpha_{j}_{i}"] for j in range(1, 5)] for i in range(4)]) / n
    assert_close(gb["alpha"], d_alpha, "exact", "dJ/dalpha", scale=1.0)
    d_beta = np.array([[gs[f"beta_{j}"]] for j in range(1, 5)]) / n
    assert_close(gb["beta"], d_beta, "exact", "dJ/dbeta", scale=1.0)
    assert_close(gb["beta_0"], np.array([[gs["beta_0"]]]) / n, "exact", "dJ/dbeta_0", scale=1.0)


def _hand_mlp(W1, b1, W2, b2, X, Y):
    """The MLP's loss and gradient written by hand in NumPy."""
    n = X.shape[0]
    Z1 = X @ W1 + b1
    Z = np.maximum(Z1, 0)
    A = Z @ W2 + b2
    A = A - A.max(axis=1, keepdims=True)
    logp = A - np.log(np.exp(A).sum(axis=1, keepdims=True))
    dA = (np.exp(logp) - Y) / n
    dZ1 = (dA @ W2.T) * (Z1 > 0)
    grads = {
        "W1": X.T @ dZ1,
        "b1": dZ1.sum(axis=0, keepdims=True),
        "W2": Z.T @ dA,
        "b2": dA.sum(axis=0, keepdims=True),
    }
    return -np.sum(Y * logp) / n, grads


@pytest.fixture(scope="module")
def small_mlp():
    return circuitc.compile(example("mlp")["make_circuit"](D=6, H=5, K=3, name="mlp_small"))


def _mlp_point(batch, seed, D=6, H=5, K=3):
    rng = _rng(seed)
    return dict(
        W1=rng.normal(size=(D, H)),
        b1=rng.normal(size=(1, H)),
        W2=rng.normal(size=(H, K)),
        b2=rng.normal(size=(1, K)),
        X=rng.normal(size=(batch, D)),
        Y=np.eye(K)[rng.integers(0, K, batch)],
    )


@pytest.mark.parametrize("batch", [1, 7, 128])
def test_mlp_matches_hand_written_numpy_at_every_batch_size(small_mlp, batch):
    point = _mlp_point(batch, seed=batch)
    J, g = small_mlp.value_and_grad(**point)
    Jh, gh = _hand_mlp(**point)
    assert_close(J, Jh, "exact", "J")
    for name in gh:
        assert g[name].shape == point[name].shape
        assert_close(g[name], gh[name], "exact", f"dJ/d{name}", scale=1.0)
    vjp_check(small_mlp.forward, g, point, ["W1", "b1", "W2", "b2"], seed=batch)


def test_mlp_float32(small_mlp):
    point = {k: v.astype(np.float32) for k, v in _mlp_point(7, seed=3).items()}
    J, g = small_mlp.value_and_grad(**point)
    assert np.asarray(J).dtype == np.float32
    assert all(v.dtype == np.float32 for v in g.values())
    assert small_mlp.predict(**point).dtype == np.float32


def _hand_mlp_digits(W1, W2, b2, X, Y):
    """examples/mlp_digits.py by hand: Z = σ(X W1), A = Z W2 + b2, mean softmax cross-entropy."""
    n = X.shape[0]
    Z = 1.0 / (1.0 + np.exp(-(X @ W1)))
    A = Z @ W2 + b2
    A = A - A.max(axis=1, keepdims=True)
    logp = A - np.log(np.exp(A).sum(axis=1, keepdims=True))
    dA = (np.exp(logp) - Y) / n
    grads = {
        "W1": X.T @ ((dA @ W2.T) * Z * (1.0 - Z)),
        "W2": Z.T @ dA,
        "b2": dA.sum(axis=0, keepdims=True),
    }
    return -np.sum(Y * logp) / n, grads, np.exp(logp)


@pytest.mark.parametrize("batch", [1, 9])
def test_mlp_digits_matches_hand_written_numpy(batch):
    """The digits network (sigmoid hidden layer, no b1) against its own hand-written gradient."""
    module = circuitc.compile(example("mlp_digits")["make_circuit"](D=5, H=4, K=3, name="d_small"))
    rng = _rng(20 + batch)
    point = dict(
        W1=rng.normal(size=(5, 4)),
        W2=rng.normal(size=(4, 3)),
        b2=rng.normal(size=(1, 3)),
        X=np.hstack([np.ones((batch, 1)), rng.normal(size=(batch, 4))]),
        Y=np.eye(3)[rng.integers(0, 3, batch)],
    )
    J, g = module.value_and_grad(**point)
    Jh, gh, ph = _hand_mlp_digits(**point)
    assert_close(J, Jh, "exact", "J")
    assert sorted(g) == sorted(gh)
    for name in gh:
        assert g[name].shape == point[name].shape
        assert_close(g[name], gh[name], "exact", f"dJ/d{name}", scale=1.0)
    assert_close(module.predict(**point), ph, "exact", "predict")
    vjp_check(module.forward, g, point, ["W1", "W2", "b2"], seed=batch)


@pytest.mark.parametrize("name", BATCH_EXAMPLES)
def test_generated_modules_have_no_element_loops(name):
    """generated/<name>.py (byte-compared with the example by the golden test) has no loops."""
    path = ROOT / "generated" / f"{name}.py"
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            for sub in ast.walk(node):
                assert not isinstance(sub, (ast.For, ast.While, ast.comprehension)), (
                    name,
                    node.name,
                    sub.lineno,
                )
    assert " @ " in text
    module = import_file(path)
    assert "N" not in module.INPUTS


def test_examples_default_sizes():
    """docs/design.md's examples table: X N×31 for the two batch examples, 784-256-10 for the MLP."""
    lr = import_file(ROOT / "generated" / "logistic_regression_batch.py")
    nn2 = import_file(ROOT / "generated" / "two_layer_nn_batch.py")
    mlp = import_file(ROOT / "generated" / "mlp.py")
    rng = _rng(4)
    n = 3
    X = rng.normal(size=(n, 31))
    J, g = lr.value_and_grad(theta=np.zeros((31, 1)), X=X, y=np.ones((n, 1)))
    assert_close(J, np.log(2.0), "exact", "J at theta = 0")
    assert g["theta"].shape == (31, 1)
    g = nn2.grad(
        alpha=rng.normal(size=(31, 32)),
        beta=rng.normal(size=(32, 1)),
        beta_0=np.zeros((1, 1)),
        X=X,
        y=np.ones((n, 1)),
    )
    assert g["alpha"].shape == (31, 32)
    point = _mlp_point(n, 5, D=784, H=256, K=10)
    J, g = mlp.value_and_grad(**point)
    Jh, gh = _hand_mlp(**point)
    assert_close(J, Jh, "exact", "J")
    assert_close(g["W1"], gh["W1"], "exact", "dJ/dW1", scale=1.0)
    assert mlp.FEATURES == ("X",) and mlp.TARGET == "Y"


def test_cli_exits_2_on_a_shape_error(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import sympy as sp\n"
        "from circuitc import Circuit\n"
        "N, D = sp.symbols('N D')\n"
        "X = sp.MatrixSymbol('X', N, D)\n"
        "circuit = Circuit('bad', X * X, [X])\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "circuitc", "compile", str(bad), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "square" in (proc.stderr + proc.stdout)
    assert not (tmp_path / "out" / "bad.py").exists()
