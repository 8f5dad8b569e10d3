"""``train --dask`` beyond one full-batch run: the parameter file after every epoch and
``--resume``, minibatch steps over row chunks (``--chunks-per-step``), L-BFGS.

Oracles: the same steps written by hand in NumPy on the rows held in memory (the closed-form
gradient of the mean cross-entropy, Xᵀ(σ(Xθ) − y)/n, on each step's chunks), and
scikit-learn's ``LogisticRegression`` for L-BFGS's optimum. The cluster is one in-process
worker (``LocalCluster(processes=False)``) that the CLI reaches by its address.
"""

from __future__ import annotations

import os
import runpy
import signal

import numpy as np
import pytest

import circuitc

pytest.importorskip("dask.array")
pytest.importorskip("pandas")
distributed = pytest.importorskip("distributed")

from test_outofcore import EXAMPLES, D, _frame, _logreg, _write  # noqa: E402

from circuitc import cli  # noqa: E402
from circuitc.training import checkpoint, outofcore  # noqa: E402

CUTS = [0, 40, 41, 157]  # the rows of _write's three files


@pytest.fixture(scope="module")
def address():
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def _scaled(frame):
    """The rows as the module takes them: standardised (a constant column kept), a bias column
    of ones first, labels 0/1 as a column."""
    X, y = frame.iloc[:, :-1].to_numpy(), frame.iloc[:, -1].to_numpy().reshape(-1, 1)
    constant = np.all(X[0] == X, axis=0)
    Z = (X - np.where(constant, 0, X.mean(axis=0))) / np.where(constant, 1, X.std(axis=0))
    return np.hstack([np.ones((len(Z), 1)), Z]), y


def _gradient(Z, y, theta):
    return Z.T @ (1 / (1 + np.exp(-(Z @ theta))) - y) / len(Z)


def _hand_full(frame, epochs, lr):
    Z, y = _scaled(frame)
    theta = np.zeros((D + 1, 1))
    for _ in range(epochs):
        theta = theta - lr * _gradient(Z, y, theta)
    return theta


def _hand_minibatch(frame, epochs, lr, seed, k):
    """Each epoch: the 3 chunks in the order numpy's Generator([seed, epoch]) permutes them,
    one step per k of them on their rows."""
    Z, y = _scaled(frame)
    theta = np.zeros((D + 1, 1))
    for epoch in range(epochs):
        order = list(np.random.default_rng([seed, epoch]).permutation(3))
        for i in range(0, 3, k):
            rows = np.concatenate([np.arange(CUTS[c], CUTS[c + 1]) for c in order[i : i + k]])
            theta = theta - lr * _gradient(Z[rows], y[rows], theta)
    return theta


def _circuit_file(tmp_path):
    path = tmp_path / "logreg.py"
    path.write_text(
        "import runpy\n"
        f"circuit = runpy.run_path({str(EXAMPLES / 'logistic_regression_batch.py')!r})"
        f"['make_circuit'](D={D + 1}, name='logreg')\n"
    )
    return str(path)


def _named():
    make = runpy.run_path(str(EXAMPLES / "logistic_regression_batch.py"))["make_circuit"]
    return circuitc.compile(make(D=D + 1, name="logreg"))


def _train(tmp_path, address, *flags, code=0):
    data = str(tmp_path / "csv") if (tmp_path / "csv").exists() else None
    data = data or _write(tmp_path, "csv", _frame())
    got = cli.main(
        ["train", _circuit_file(tmp_path), "--data", data, "--target-column", "label",
         "--dask", address, *flags]
    )  # fmt: skip
    assert got == code
    return got if code else data


@pytest.mark.parametrize("k", [1, 2, 3])
def test_minibatch_over_chunks_equals_a_hand_loop(tmp_path, k):
    import dask

    frame = _frame()
    rows = outofcore.open_rows(_write(tmp_path, "parquet", frame), "label")
    with dask.config.set(scheduler="synchronous"):
        params, _, state = outofcore.gradient_descent(
            _logreg(), rows, epochs=3, lr=0.5, seed=7, chunks_per_step=k
        )
    want = _hand_minibatch(frame, 3, 0.5, 7, k)
    np.testing.assert_allclose(params["theta"], want, rtol=1e-10, atol=1e-13)
    assert state.epoch == 3 and len(state.history.loss) == 3


def test_the_chunk_order_is_a_function_of_seed_and_epoch():
    sizes = (5, 0, 3, 4, 2)
    steps = outofcore.chunk_steps(sizes, 3, 1, 2)
    assert steps == outofcore.chunk_steps(sizes, 3, 1, 2)
    assert sorted(sum(steps, [])) == [0, 2, 3, 4]  # every non-empty chunk once
    assert [len(s) for s in steps] == [2, 2]
    orders = {tuple(sum(outofcore.chunk_steps(sizes, 3, e, 1), [])) for e in range(6)}
    assert len(orders) > 1  # reshuffled every epoch


@pytest.mark.parametrize("batch", [[], ["--chunks-per-step", "1"]])
def test_resumed_run_equals_an_uninterrupted_one(tmp_path, address, capsys, monkeypatch, batch):
    """4 epochs in one go, and 2 epochs then --resume to 4, give the same parameters and the
    hand loop's; after every epoch the file on disk loads and holds that epoch's parameters."""
    from circuitc.cli import device

    saved = []
    original = device._Saver.__call__

    def checked(self, p):
        stop = original(self, p)
        ck = checkpoint.load(self.out, self.module)
        saved.append((ck.state.epoch, np.array_equal(ck.params["theta"], p.params["theta"])))
        return stop

    monkeypatch.setattr(device._Saver, "__call__", checked)
    whole, part = tmp_path / "whole.npz", tmp_path / "part.npz"
    flags = ["--lr", "0.5", "--seed", "7", *batch]
    log = tmp_path / "log.csv"
    pytest.importorskip("matplotlib")
    png = tmp_path / "curve.png"
    _train(tmp_path, address, "--epochs", "4", "--out", str(whole), "--log", str(log),
           "--plot", str(png), *flags)  # fmt: skip
    assert log.read_text().count("\n") == 5 and png.stat().st_size > 0  # a row an epoch
    assert saved == [(e, True) for e in range(1, 5)]
    out = capsys.readouterr().out
    assert "epoch 1/4  loss" in out and "epoch 4/4  loss" in out
    # Ctrl-C during epoch 2: the run stops once epoch 2 is written, with status 130
    press = lambda self, p: os.kill(os.getpid(), signal.SIGINT) if p.epoch == 2 else None  # noqa: E731
    monkeypatch.setattr(
        device._Saver, "__call__", lambda self, p: press(self, p) or checked(self, p)
    )
    assert _train(tmp_path, address, "--epochs", "4", "--out", str(part), *flags, code=130) == 130
    assert "interrupted after epoch 2" in capsys.readouterr().err
    assert checkpoint.load(part, _named()).state.epoch == 2
    _train(tmp_path, address, "--epochs", "4", "--resume", str(part))
    assert "resuming" in capsys.readouterr().out
    got, want = np.load(part)["theta"], np.load(whole)["theta"]
    np.testing.assert_array_equal(got, want)
    frame = _frame()
    hand = _hand_minibatch(frame, 4, 0.5, 7, 1) if batch else _hand_full(frame, 4, 0.5)
    np.testing.assert_allclose(got, hand, rtol=1e-10, atol=1e-13)
    ck = checkpoint.load(part, _named())
    assert ck.state.history.epoch == [1, 2, 3, 4] and ck.config["lr"] == 0.5


def test_lbfgs_reaches_scikit_learns_optimum(tmp_path, address):
    pytest.importorskip("scipy")
    sklearn = pytest.importorskip("sklearn.linear_model")
    frame = _frame()
    out = tmp_path / "lbfgs.npz"
    _train(tmp_path, address, "--optimizer", "lbfgs", "--l2-C", "1.0", "--out", str(out), "--quiet")
    Z, y = _scaled(frame)
    model = sklearn.LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(Z[:, 1:], y.ravel())
    want = np.concatenate([model.intercept_, model.coef_.ravel()])
    got = np.load(out)["theta"].ravel()
    assert np.max(np.abs(got - want)) / np.max(np.abs(want)) < 1e-6
    # and the in-memory run of the training API on the same rows (all of them, no test part)
    circuit = runpy.run_path(str(EXAMPLES / "logistic_regression_batch.py"))["make_circuit"](
        D=D + 1
    )
    X, y = frame.iloc[:, :-1].to_numpy(), frame.iloc[:, -1].to_numpy()
    memory = circuitc.fit(circuit, X, y, optimizer="lbfgs", l2_C=1.0).params["theta"].ravel()
    assert np.max(np.abs(got - memory)) / np.max(np.abs(memory)) < 1e-6


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--batch-size", "8"], "--chunks-per-step"),
        (["--momentum", "0.5"], "--momentum"),
        (["--l2-C", "1"], "--l2-C"),
        (["--optimizer", "adam"], "adam"),
        (["--optimizer", "lbfgs", "--chunks-per-step", "2"], "full batch"),
    ],
)
def test_refusals_are_one_line(tmp_path, capsys, flags, message):
    code = cli.main(
        ["train", str(EXAMPLES / "logistic_regression_batch.py"), "--dask", "--data", "x.csv",
         "--out", str(tmp_path / "x.npz"), *flags]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
