"""SciPy's optimizers on compiled modules (issue 13): scikit-learn's LogisticRegression is the
oracle. With ``l2_C=C`` circuitc minimises mean CE + ‖θ₁:‖²/(2·C·N), scikit-learn's objective
C·Σ CE + ½‖w‖² divided by C·N, so both reach the same coefficients and intercept."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import circuitc
from circuitc.training import scipy_opt

pytest.importorskip("scipy")
sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def problem():
    X, y = load_breast_cancer(return_X_y=True)
    Xs = StandardScaler().fit_transform(X)
    circuit = runpy.run_path(str(ROOT / "examples" / "logistic_regression_batch.py"))["circuit"]
    module = circuitc.compile(circuit)
    data = {"X": np.hstack([np.ones((len(y), 1)), Xs]), "y": y.reshape(-1, 1).astype(float)}
    return module, data, Xs, y


def _sklearn(Xs, y, C):
    model = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(Xs, y)
    return np.concatenate([model.intercept_, model.coef_.ravel()])


@pytest.mark.parametrize("method", ["lbfgs", "newton-cg", "trust-ncg"])
@pytest.mark.parametrize("C", [1.0, 0.05])
def test_reaches_scikit_learns_coefficients(problem, method, C):
    module, data, Xs, y = problem
    binding = scipy_opt.Binding(["X"], "y", "matrix", True, ("N", 1), {}, n_data_features=30)
    start = {"theta": np.zeros((31, 1))}
    result = scipy_opt.minimize(module, start, data, method=method, l2_C=C, binding=binding)
    expected = _sklearn(Xs, y, C)
    got = result.params["theta"].ravel()
    rel = np.max(np.abs(got - expected)) / np.max(np.abs(expected))
    assert rel < 1e-5, (method, C, rel)
    if method != "lbfgs":
        assert result.hvps > 0  # the Newton methods ran on the module's hvp


@pytest.mark.parametrize("method", ["lbfgs", "newton-cg"])
def test_circuitc_fit_with_a_scipy_optimizer(method):
    """The training API: fit standardises the raw rows itself (all of them: no test part), so
    scikit-learn on StandardScaler's columns is the same problem."""
    X, y = load_breast_cancer(return_X_y=True)
    circuit = runpy.run_path(str(ROOT / "examples" / "logistic_regression_batch.py"))["circuit"]
    model = circuitc.fit(circuit, X, y, optimizer=method, l2_C=1.0)
    expected = _sklearn(StandardScaler().fit_transform(X), y, 1.0)
    got = model.params["theta"].ravel()
    assert np.max(np.abs(got - expected)) / np.max(np.abs(expected)) < 1e-5
    assert model.history.scipy.success
    with pytest.raises(ValueError, match="l2_C"):
        circuitc.fit(circuit, X, y, optimizer="sgd", l2_C=1.0, epochs=1)


def test_the_bias_is_not_penalised():
    binding = scipy_opt.Binding(["X"], "y", "matrix", True, ("N", 1), {}, n_data_features=3)
    mask = scipy_opt.penalty_mask({"theta": np.zeros((4, 1)), "b": np.zeros((1, 2))}, binding)
    np.testing.assert_array_equal(mask["theta"].ravel(), [0, 1, 1, 1])
    np.testing.assert_array_equal(mask["b"], np.zeros((1, 2)))


def test_bad_arguments(problem):
    module, data, _, _ = problem
    with pytest.raises(ValueError, match="unknown optimizer"):
        scipy_opt.minimize(module, {"theta": np.zeros((31, 1))}, data, method="bfgs")
    with pytest.raises(ValueError, match="positive"):
        scipy_opt.minimize(module, {"theta": np.zeros((31, 1))}, data, l2_C=0.0)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lbfgs", "newton-cg"])
def test_cli_train_with_a_scipy_optimizer(tmp_path, method):
    out = tmp_path / "logreg.npz"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "circuitc",
            "train",
            str(ROOT / "examples" / "logistic_regression_batch.py"),
            "--optimizer",
            method,
            "--l2-C",
            "1",
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    with np.load(out, allow_pickle=False) as f:
        theta = f["theta"]
    assert theta.shape == (31, 1) and np.all(np.isfinite(theta))
    model = circuitc.load(
        out, runpy.run_path(str(ROOT / "examples" / "logistic_regression_batch.py"))["circuit"]
    )
    assert model.params["theta"].shape == (31, 1)


def test_cli_l2_C_needs_a_scipy_optimizer():
    run = subprocess.run(
        [sys.executable, "-m", "circuitc", "train",
         str(ROOT / "examples" / "logistic_regression_batch.py"), "--l2-C", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "--l2-C" in run.stderr
