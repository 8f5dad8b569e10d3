"""Training larger than memory (issue 14, part 4): rows read chunk by chunk from Parquet, Zarr
or CSV files, the preprocessing fitted in one pass, full-batch gradient descent through
``circuitc.dask`` (``circuitc train FILE --data PATH --dask [local[:N]|ADDRESS]``).

Oracle: the same gradient-descent steps written by hand in NumPy on the rows held in memory,
with the closed-form gradient of the mean cross-entropy, Xᵀ(σ(Xθ) − y)/N.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

import circuitc

pytest.importorskip("dask.array")
pd = pytest.importorskip("pandas")

from circuitc.training import outofcore  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
D = 5


def _frame(n: int = 157, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D)) * [1.0, 10.0, 0.1, 3.0, 1.0] + [0.0, 5.0, -2.0, 1.0, 0.0]
    X[:, 4] = 7.0  # a constant column: kept as it is
    y = (X[:, 0] + 0.1 * X[:, 1] + rng.normal(size=n) > 0.5).astype(float)
    return pd.DataFrame(np.column_stack([X, y]), columns=[f"f{j}" for j in range(D)] + ["label"])


def _write(tmp_path: Path, kind: str, frame) -> str:
    """The frame as 3 uneven files (or a Zarr group); returns what --data names."""
    cuts = [0, 40, 41, 157]
    if kind == "zarr":
        zarr = pytest.importorskip("zarr")
        group = zarr.open_group(str(tmp_path / "rows.zarr"), mode="w")
        group.create_array("X", data=frame.iloc[:, :-1].to_numpy(), chunks=(50, D))
        group.create_array("y", data=frame.iloc[:, -1].to_numpy(), chunks=(50,))
        return str(tmp_path / "rows.zarr")
    folder = tmp_path / kind
    folder.mkdir()
    for i in range(3):
        part = frame.iloc[cuts[i] : cuts[i + 1]]
        if kind == "parquet":
            pytest.importorskip("pyarrow")
            part.to_parquet(folder / f"part{i}.parquet")
        else:
            part.to_csv(folder / f"part{i}.csv", index=False)
    return str(folder / "*.csv") if kind == "csv-glob" else str(folder)


def _hand_descent(frame, epochs: int, lr: float) -> np.ndarray:
    X, y = frame.iloc[:, :-1].to_numpy(), frame.iloc[:, -1].to_numpy().reshape(-1, 1)
    mean, std = X.mean(axis=0), X.std(axis=0)
    constant = np.all(X[0] == X, axis=0)
    Z = (X - np.where(constant, 0, mean)) / np.where(constant, 1, std)
    Z = np.hstack([np.ones((len(Z), 1)), Z])
    theta = np.zeros((D + 1, 1))
    for _ in range(epochs):
        theta = theta - lr * Z.T @ (1 / (1 + np.exp(-(Z @ theta))) - y) / len(Z)
    return theta


def _logreg():
    make = runpy.run_path(str(EXAMPLES / "logistic_regression_batch.py"))["make_circuit"]
    return circuitc.compile(make(D=D + 1))


@pytest.mark.parametrize("kind", ["parquet", "csv", "csv-glob", "zarr"])
def test_gradient_descent_over_files_equals_the_rows_in_memory(tmp_path, kind):
    frame = _frame()
    rows = outofcore.open_rows(_write(tmp_path, kind, frame), None if kind == "zarr" else "label")
    assert rows.X.shape == (157, D)
    params, pre, state = outofcore.gradient_descent(_logreg(), rows, epochs=6, lr=0.5)
    want = _hand_descent(frame, 6, 0.5)
    np.testing.assert_allclose(params["theta"], want, rtol=1e-10, atol=1e-12)
    assert pre.bias and pre.task == "binary" and list(pre.classes) == [0.0, 1.0]
    assert pre.scale[4] == 1.0 and pre.mean[4] == 0.0  # the constant column, as it is
    assert state.history.epoch == list(range(1, 7))


def test_a_missing_target_column_is_named(tmp_path):
    path = _write(tmp_path, "csv", _frame())
    with pytest.raises(ValueError, match="nope"):
        outofcore.open_rows(path, "nope")
    with pytest.raises(ValueError, match="no Zarr group"):
        outofcore.open_rows(tmp_path / "empty_*.txt")


@pytest.mark.slow
def test_cli_trains_on_a_local_cluster_of_two_processes(tmp_path, capsys):
    pytest.importorskip("distributed")
    from circuitc import cli

    frame = _frame()
    data = _write(tmp_path, "csv", frame)
    circuit_file = tmp_path / "logreg.py"
    circuit_file.write_text(
        "import runpy\n"
        f"circuit = runpy.run_path({str(EXAMPLES / 'logistic_regression_batch.py')!r})"
        f"['make_circuit'](D={D + 1}, name='logreg')\n"
    )
    out = tmp_path / "logreg.npz"
    code = cli.main(
        ["train", str(circuit_file), "--data", data, "--target-column", "label",
         "--dask", "local:2", "--epochs", "4", "--lr", "0.5", "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    np.testing.assert_allclose(np.load(out)["theta"], _hand_descent(frame, 4, 0.5), rtol=1e-10)


@pytest.mark.parametrize(
    "flags, message",
    [(["--dask"], "needs --data"), (["--dask", "local:two", "--data", "x.csv"], "local:N")],
)
def test_cli_refusals_are_one_line(tmp_path, capsys, flags, message):
    pytest.importorskip("distributed")
    from circuitc import cli

    code = cli.main(
        ["train", str(EXAMPLES / "logistic_regression_batch.py"), *flags,
         "--out", str(tmp_path / "x.npz")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
