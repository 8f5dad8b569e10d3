"""``circuitc train`` and ``circuitc predict``, in process through ``circuitc.cli.main``.

Small synthetic CSV files keep every run to a fraction of a second. Oracles: the epoch lines
and files are compared with ``circuitc.sgd.train`` run directly (resume, Ctrl-C), and the
predictions with a hand-written NumPy forward pass of the logistic regression.
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from circuitc import cli
from circuitc.cli import train as cli_train

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LOGREG = str(EXAMPLES / "logistic_regression.py")
CE = ["--circuit", "logistic_regression_cross_entropy"]
LINREG = str(EXAMPLES / "linear_regression.py")


def _write_csv(path, X, y, target="label"):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"f{j}" for j in range(X.shape[1])] + [target])
        for row, t in zip(X, y, strict=True):
            w.writerow([repr(float(v)) for v in row] + [repr(float(t))])
    return str(path)


@pytest.fixture
def binary_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(48, 4)) * [1, 2, 3, 4] + 1.0
    y = ((X - 1.0) @ [1.0, -0.5, 0.3, 0.2] > 0).astype(float)
    return _write_csv(tmp_path / "bin.csv", X, y)


@pytest.fixture
def regression_csv(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 4))
    return _write_csv(tmp_path / "reg.csv", X, X @ [1.0, 2.0, -1.0, 0.5], target="y")


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err, pattern):
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("circuitc: error: ")
    assert pattern in err, err


def _params(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k].copy() for k in f.files if not k.startswith("_")}


# -- train ----------------------------------------------------------------------------------------
def test_train_writes_parameters_log_and_lines(capsys, tmp_path, binary_csv):
    out, log = tmp_path / "m.npz", tmp_path / "metrics.csv"
    code, stdout, err = run(
        capsys, "train", LOGREG, *CE, "--data", binary_csv, "--epochs", 3, "--out", out,
        "--log", log,
    )  # fmt: skip
    assert code == 0, err
    lines = [ln for ln in stdout.splitlines() if ln.startswith("epoch ")]
    assert [ln.split()[1] for ln in lines] == ["1/3", "2/3", "3/3"]
    assert all("loss" in ln and "train acc" in ln and "test acc" in ln for ln in lines)
    assert "test accuracy" in stdout and f"wrote {out}" in stdout
    with np.load(out, allow_pickle=False) as f:
        assert str(f["_circuit_name"]) == "logistic_regression_cross_entropy"
        assert len(str(f["_circuit_hash"])) >= 12
        assert int(f["_epoch"]) == 3
    with open(log) as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_train_defaults_come_from_the_circuit_file(capsys, tmp_path, binary_csv):
    text = Path(LOGREG).read_text() + "\nTRAIN = dict(epochs=2, lr=0.05)\n"
    file = tmp_path / "lr.py"
    file.write_text(text)
    code, stdout, _ = run(
        capsys, "train", file, *CE, "--data", binary_csv, "--out", tmp_path / "a.npz"
    )
    assert code == 0 and "lr 0.05" in stdout and "epoch 2/2" in stdout
    code, stdout, _ = run(
        capsys, "train", file, *CE, "--data", binary_csv, "--epochs", 1, "--out", tmp_path / "b.npz"
    )
    assert code == 0 and "epoch 1/1" in stdout and "epoch 2/" not in stdout
    file.write_text(Path(LOGREG).read_text() + "\nTRAIN = dict(epoch=2)\n")
    code, _, err = run(capsys, "train", file, *CE, "--data", binary_csv)
    _one_line_error(code, err, "unknown setting 'epoch'")


def test_train_data_comes_from_the_circuit_file_unless_given(capsys, tmp_path, binary_csv):
    file = tmp_path / "lr.py"
    file.write_text(Path(LOGREG).read_text() + f"\nTRAIN = dict(data={binary_csv!r}, epochs=1)\n")
    code, stdout, err = run(capsys, "train", file, *CE, "--out", tmp_path / "a.npz")
    assert code == 0, err
    assert stdout.startswith("logistic_regression_cross_entropy on bin.csv: 36 train / 12 test")
    code, _, err = run(capsys, "train", file, *CE, "--data", tmp_path / "none.csv")
    _one_line_error(code, err, "none.csv")


@pytest.mark.parametrize("flag", ["--out", "--log"])
def test_train_refuses_an_unwritable_output_before_training(capsys, tmp_path, binary_csv, flag):
    (tmp_path / "afile").write_text("")
    target = tmp_path / "afile" / "m.out"
    argv = ["train", LOGREG, *CE, "--data", binary_csv, "--epochs", 1]
    argv += [flag, target] if flag == "--out" else [flag, target, "--out", tmp_path / "m.npz"]
    code, stdout, err = run(capsys, *argv)
    _one_line_error(code, err, f"{flag} {target}: {tmp_path / 'afile'} is a file, not a folder")
    assert stdout == "" and sorted(p.name for p in tmp_path.iterdir()) == ["afile", "bin.csv"]
    code, stdout, err = run(capsys, "train", LOGREG, *CE, "--data", binary_csv, "--out", tmp_path)
    _one_line_error(code, err, "is a folder; give a file name")


def test_predict_refuses_an_unwritable_output_and_a_file_that_is_not_npz(
    capsys, tmp_path, binary_csv
):
    params = tmp_path / "m.npz"
    argv = ["--data", binary_csv]
    assert run(capsys, "train", LOGREG, *CE, *argv, "--epochs", 1, "--out", params)[0] == 0
    (tmp_path / "afile").write_text("")
    code, _, err = run(capsys, "predict", LOGREG, *CE, *argv, "--params", params,
                       "-o", tmp_path / "afile" / "p.csv")  # fmt: skip
    _one_line_error(code, err, "is a file, not a folder")
    (tmp_path / "cut.npz").write_bytes(params.read_bytes()[:300])
    for bad in (binary_csv, tmp_path / "cut.npz", tmp_path / "afile"):
        code, _, err = run(capsys, "predict", LOGREG, *CE, *argv, "--params", bad)
        _one_line_error(code, err, f"{bad} is not a circuitc parameter file (.npz)")


def test_resume_equals_uninterrupted(capsys, tmp_path, binary_csv):
    common = [*CE, "--data", binary_csv, "--batch-size", 4, "--optimizer", "adam", "--lr", 0.05]
    assert (
        run(capsys, "train", LOGREG, *common, "--epochs", 4, "--out", tmp_path / "full.npz")[0] == 0
    )
    assert (
        run(capsys, "train", LOGREG, *common, "--epochs", 2, "--out", tmp_path / "part.npz")[0] == 0
    )
    code, stdout, _ = run(
        capsys, "train", LOGREG, *CE, "--data", binary_csv, "--epochs", 4,
        "--resume", tmp_path / "part.npz", "--out", tmp_path / "part.npz",
    )  # fmt: skip
    assert code == 0 and "resuming" in stdout and "epoch 3/4" in stdout
    full, resumed = _params(tmp_path / "full.npz"), _params(tmp_path / "part.npz")
    assert full.keys() == resumed.keys()
    for k in full:
        assert full[k].tobytes() == resumed[k].tobytes()


def test_ctrl_c_writes_the_checkpoint_and_resume_finishes_the_run(
    capsys, tmp_path, binary_csv, monkeypatch
):
    handler = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite runs in the background
    common = [*CE, "--data", binary_csv, "--epochs", 3, "--momentum", 0.9]
    assert run(capsys, "train", LOGREG, *common, "--out", tmp_path / "full.npz")[0] == 0
    compile_module = cli_train._compile
    calls = [0]

    def compile_with_interrupt(circuit, *rest):  # rest: the parsed arguments (--backend)
        module = compile_module(circuit, *rest)
        inner = module.value_and_grad

        def value_and_grad(**kw):
            calls[0] += 1
            if calls[0] == 50:  # in epoch 2 (36 train rows per epoch)
                os.kill(os.getpid(), signal.SIGINT)
            return inner(**kw)

        module.value_and_grad = value_and_grad
        return module

    monkeypatch.setattr(cli_train, "_compile", compile_with_interrupt)
    out = tmp_path / "int.npz"
    code, stdout, err = run(capsys, "train", LOGREG, *common, "--out", out)
    assert code == 130
    m = re.search(r"interrupted at epoch 2, step (\d+): wrote", err)
    assert m and "--resume" in err and "Traceback" not in err
    with np.load(out, allow_pickle=False) as f:  # the exact state after that step
        assert (int(f["_epoch"]), int(f["_step"])) == (1, int(m.group(1)))
    monkeypatch.setattr(cli_train, "_compile", compile_module)
    code, stdout, err = run(capsys, "train", LOGREG, *common, "--resume", out, "--out", out)
    assert code == 0, err
    full, resumed = _params(tmp_path / "full.npz"), _params(out)
    for k in full:
        assert full[k].tobytes() == resumed[k].tobytes()
    assert signal.getsignal(signal.SIGINT) is handler


def test_divergence_keeps_the_last_good_checkpoint(capsys, tmp_path, regression_csv):
    out = tmp_path / "lin.npz"
    common = [LINREG, "--data", regression_csv, "--out", out]
    assert run(capsys, "train", *common, "--epochs", 1, "--lr", 0.01)[0] == 0
    before = out.read_bytes()
    code, stdout, err = run(capsys, "train", *common, "--epochs", 5, "--lr", 1000, "--resume", out)
    assert code == 1 and err.count("\n") == 1
    m = re.search(r"the loss became (inf|nan) at epoch (\d+), step (\d+) of 30", err)
    assert m, err
    epoch = int(m.group(2))
    assert f"{out} keeps epoch {epoch - 1}" in err
    with np.load(out, allow_pickle=False) as f:  # the last good epoch, finite
        assert int(f["_epoch"]) == epoch - 1
        assert all(np.isfinite(f[k]).all() for k in f.files if k.startswith("theta"))
    if epoch == 2:
        assert out.read_bytes() == before


def test_train_without_tqdm(capsys, tmp_path, binary_csv, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    code, stdout, _ = run(
        capsys,
        "train",
        LOGREG,
        *CE,
        "--data",
        binary_csv,
        "--epochs",
        1,
        "--out",
        tmp_path / "m.npz",
    )
    assert code == 0 and "epoch 1/1" in stdout


def test_plot(capsys, tmp_path, binary_csv, monkeypatch):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curve.png"
    code, _, err = run(
        capsys, "train", LOGREG, *CE, "--data", binary_csv, "--epochs", 2,
        "--out", tmp_path / "m.npz", "--plot", png,
    )  # fmt: skip
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib(capsys, tmp_path, binary_csv, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = run(
        capsys, "train", LOGREG, *CE, "--data", binary_csv, "--plot", tmp_path / "c.png"
    )
    _one_line_error(code, err, "pip install 'circuitc[plot]'")
    assert not (tmp_path / "c.png").exists()


# -- predict --------------------------------------------------------------------------------------
def test_predict_is_the_forward_of_the_trained_network(capsys, tmp_path, binary_csv):
    out = tmp_path / "m.npz"
    assert (
        run(capsys, "train", LOGREG, *CE, "--data", binary_csv, "--epochs", 2, "--out", out)[0] == 0
    )
    pred = tmp_path / "pred.csv"
    code, stdout, err = run(
        capsys, "predict", LOGREG, *CE, "--params", out, "--data", binary_csv, "-o", pred
    )
    assert code == 0, err
    assert "accuracy" in stdout
    with open(pred) as f:
        rows = list(csv.DictReader(f))
    # independent forward: standardise with the saved train statistics, then sigmoid(θ·x)
    raw = np.loadtxt(binary_csv, delimiter=",", skiprows=1)
    X, y = raw[:, :4], raw[:, 4]
    with np.load(out, allow_pickle=False) as f:
        Xs = (X - f["_mean"]) / f["_scale"]
        theta = np.array([float(f[f"theta_{j}"]) for j in range(5)])
    p = 1.0 / (1.0 + np.exp(-(theta[0] + Xs @ theta[1:])))
    assert len(rows) == 48
    np.testing.assert_allclose([float(r["probability"]) for r in rows], p, rtol=1e-13)
    assert [int(r["prediction"]) for r in rows] == (p >= 0.5).astype(int).tolist()
    acc = float(np.mean((p >= 0.5) == y))
    assert f"accuracy {acc:.4f}" in stdout
    # to stdout, and from a CSV without the target column
    feats = _write_csv(tmp_path / "feats.csv", X[:5, :3], X[:5, 3], target="f3")
    code, stdout, err = run(capsys, "predict", LOGREG, *CE, "--params", out, "--data", feats)
    assert code == 0, err
    lines = stdout.splitlines()
    assert lines[0] == "prediction,probability" and len(lines) == 6
    np.testing.assert_allclose([float(ln.split(",")[1]) for ln in lines[1:]], p[:5], rtol=1e-13)


# -- bad input: one line, exit 2 -------------------------------------------------------------------
def test_nan_in_the_data(capsys, tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text("a,b,c,d,label\n1,2,3,4,0\n1,nan,3,4,1\n")
    code, _, err = run(capsys, "train", LOGREG, *CE, "--data", path)
    _one_line_error(code, err, "line 3, column 'b': missing value ('nan')")


def test_wrong_column_count(capsys, tmp_path):
    path = _write_csv(tmp_path / "three.csv", np.ones((6, 3)), np.zeros(6))
    code, _, err = run(capsys, "train", LOGREG, *CE, "--data", path)
    _one_line_error(code, err, "takes 4 features, the data has 3 columns (three.csv)")


def test_wrong_column_count_names_the_default_data_set(capsys):
    pytest.importorskip("sklearn")
    code, _, err = run(capsys, "train", LINREG)  # no --data: breast_cancer, 30 columns
    _one_line_error(code, err, "takes 4 features, the data has 30 columns (breast_cancer)")


def test_labels_outside_the_loss_range(capsys, tmp_path):
    path = _write_csv(tmp_path / "y.csv", np.ones((6, 4)), [0, 1, 2, 0, 1, 2])
    code, _, err = run(capsys, "train", LOGREG, *CE, "--data", path)
    _one_line_error(code, err, "needs labels 0 or 1")


def test_unknown_target_column(capsys, binary_csv):
    code, _, err = run(capsys, "train", LOGREG, *CE, "--data", binary_csv, "--target-column", "y")
    _one_line_error(code, err, "no column 'y'")


def test_unknown_data_set(capsys):
    code, _, err = run(capsys, "train", LOGREG, *CE, "--data", "mnist")
    _one_line_error(code, err, "no data set 'mnist'")


def test_params_of_another_circuit(capsys, tmp_path, binary_csv):
    out = tmp_path / "m.npz"
    assert (
        run(capsys, "train", LOGREG, *CE, "--data", binary_csv, "--epochs", 1, "--out", out)[0] == 0
    )
    other = ["--circuit", "logistic_regression"]
    code, _, err = run(capsys, "train", LOGREG, *other, "--data", binary_csv, "--resume", out)
    _one_line_error(code, err, "parameters of the circuit 'logistic_regression_cross_entropy'")
    code, _, err = run(capsys, "predict", LOGREG, *other, "--params", out, "--data", binary_csv)
    _one_line_error(code, err, "not of 'logistic_regression'")
    code, _, err = run(capsys, "predict", LOGREG, *CE, "--params", tmp_path / "none.npz")
    _one_line_error(code, err, "cannot read parameters")


def test_predict_data_with_wrong_column_count(capsys, tmp_path, binary_csv):
    out = tmp_path / "m.npz"
    assert (
        run(capsys, "train", LOGREG, *CE, "--data", binary_csv, "--epochs", 1, "--out", out)[0] == 0
    )
    path = _write_csv(tmp_path / "six.csv", np.ones((3, 6)), np.zeros(3))
    code, _, err = run(capsys, "predict", LOGREG, *CE, "--params", out, "--data", path)
    _one_line_error(code, err, "has a column 'f4' the model was not trained on")


def test_several_circuits_need_a_choice(capsys, binary_csv):
    code, _, err = run(capsys, "train", LOGREG, "--data", binary_csv)
    _one_line_error(code, err, "pick one with --circuit")


def test_bad_flags(capsys, binary_csv):
    code, _, err = run(capsys, "train", LOGREG, *CE, "--lr", "-1")
    _one_line_error(code, err, "--lr")
    code, _, err = run(capsys, "train", LOGREG, *CE, "--epochs", "0")
    _one_line_error(code, err, "--epochs")


def test_progress_bar_on_a_terminal(capsys, tmp_path, binary_csv, monkeypatch):
    pytest.importorskip("tqdm")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    code, stdout, _ = run(
        capsys,
        "train",
        LOGREG,
        *CE,
        "--data",
        binary_csv,
        "--epochs",
        2,
        "--out",
        tmp_path / "m.npz",
    )
    assert code == 0
    bar = term.getvalue()
    assert "step" in bar and "loss" in bar and "/72" in bar  # 2 epochs of 36 steps
    # the epoch lines go around the bar
    assert "epoch 2/2" in stdout + bar
