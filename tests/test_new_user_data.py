"""Data the way people have it (issue 12, parts 3 and 4): CSV files from spreadsheets, string
labels, a bias column, names, and a model that carries its preprocessing.

Everything runs through the CLI (``circuitc.cli.main``) on small CSV files written here with
Python's own ``csv`` module. Oracles: scikit-learn (``StandardScaler`` on the non-constant
columns, ``LogisticRegression`` for training quality, ``r2_score``), hand-written NumPy forward
passes, and the same data written the plain way (comma-separated, UTF-8, no BOM, columns in
order), which must train and predict exactly the same.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from circuitc import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LOGREG = str(EXAMPLES / "logistic_regression.py")
CE = ["--circuit", "logistic_regression_cross_entropy"]
LINREG = str(EXAMPLES / "linear_regression.py")
NAMES = ["x_1", "x_2", "x_3", "x_4"]

#: a logistic regression over a matrix X whose first column is the notes' bias input x_0 = 1,
#: read from the data (so the data set has 5 columns, the first all ones)
BIAS_CIRCUIT = """
import sympy as sp
from circuitc import Circuit, nn

N = sp.Symbol("N")
X = sp.MatrixSymbol("X", N, 5)
y = sp.MatrixSymbol("y", N, 1)
theta = sp.MatrixSymbol("theta", 5, 1)
a = sp.MatrixSymbol("a", N, 1)
J = sp.Symbol("J")
circuit = Circuit(
    "bias_in_data",
    output=J,
    wrt=[theta],
    steps=[(a, X * theta), (J, nn.binary_cross_entropy_with_logits(a, y))],
    features=X,
    target=y,
    prediction=nn.sigmoid(a),
)
"""


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err, pattern):
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("circuitc: error: "), err
    assert re.search(pattern, err), err


def _binary(n=120, seed=0):
    """Four features on different scales and 0/1 labels a logistic regression can learn."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * [1.0, 2.0, 3.0, 4.0] + 1.0
    y = ((X - 1.0) @ [1.0, -0.5, 0.3, 0.2] > 0.4).astype(int)
    return X, y


def write_csv(path, header, rows, *, delimiter=",", encoding="utf-8", quoting=csv.QUOTE_MINIMAL):
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.writer(f, delimiter=delimiter, quoting=quoting)
        if header is not None:
            w.writerow(header)
        w.writerows(rows)
    return str(path)


def _rows(X, y):
    return [[repr(float(v)) for v in row] + [t] for row, t in zip(X, y, strict=True)]


def _train(capsys, tmp_path, data, *extra, out="m.npz", circuit=(LOGREG, *CE)):
    out = tmp_path / out
    code, stdout, err = run(capsys, "train", *circuit, "--data", data, "--out", out, *extra)
    assert code == 0, err
    return out, stdout


def _predict(capsys, tmp_path, params, data, *extra, circuit=(LOGREG, *CE)):
    pred = tmp_path / "pred.csv"
    code, stdout, err = run(
        capsys, "predict", *circuit, "--params", params, "--data", data, "-o", pred, *extra
    )
    assert code == 0, err
    with open(pred, newline="") as f:
        return list(csv.DictReader(f)), stdout


def _params(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k].copy() for k in f.files if not k.startswith("_")}


@pytest.fixture
def plain(tmp_path):
    X, y = _binary()
    return write_csv(tmp_path / "plain.csv", [*NAMES, "label"], _rows(X, y))


# -- 12.2: a constant column (the bias input x0 = 1) is not standardised away ----------------------
def test_constant_bias_column_passes_through(capsys, tmp_path):
    sklearn_pre = pytest.importorskip("sklearn.preprocessing")
    rng = np.random.default_rng(3)
    n = 200
    X = rng.normal(size=(n, 4)) * [1.0, 5.0, 0.2, 3.0] + [2.0, -1.0, 0.5, 0.0]
    # an intercept matters: the classes split far from the standardised features' mean
    y = ((X[:, 0] - 2.0) + 0.1 * X[:, 1] > 0.8).astype(int)
    X1 = np.hstack([np.ones((n, 1)), X])
    data = write_csv(tmp_path / "b.csv", ["x0", *NAMES, "label"], _rows(X1, y))
    (tmp_path / "bias.py").write_text(BIAS_CIRCUIT)
    circuit = (tmp_path / "bias.py",)
    extra = ("--epochs", 30, "--lr", 0.1, "--batch-size", 8)
    out, stdout = _train(capsys, tmp_path, data, *extra, circuit=circuit)
    with np.load(out, allow_pickle=False) as f:
        mean, scale = f["_mean"], f["_scale"]
    assert mean[0] == 0.0 and scale[0] == 1.0  # x0 = 1 passes through as 1
    # the other columns: scikit-learn's StandardScaler fitted on the same train rows
    rows, _ = _predict(capsys, tmp_path, out, data, circuit=circuit)
    acc = float(np.mean([int(r["prediction"]) for r in rows] == y))
    oracle = sklearn_pre.StandardScaler().fit(X)  # all rows: the means are close, not equal
    assert np.all(np.abs(mean[1:] - oracle.mean_) <= 0.5 * oracle.scale_)
    lr = pytest.importorskip("sklearn.linear_model").LogisticRegression().fit(X, y)
    assert acc >= lr.score(X, y) - 0.05  # the majority class alone is ~0.7
    assert np.mean(y) < 0.35


def test_train_help_says_the_data_is_standardised(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    assert "--no-standardize" in out and "standardi" in out.lower()


def test_no_standardize_trains_on_raw_features(capsys, tmp_path, plain):
    out, _ = _train(capsys, tmp_path, plain, "--epochs", 2, "--lr", 0.01, "--no-standardize")
    rows, _ = _predict(capsys, tmp_path, out, plain)
    raw = np.loadtxt(plain, delimiter=",", skiprows=1)
    theta = _params(out)
    t = np.array([float(theta[f"theta_{j}"]) for j in range(5)])
    p = 1.0 / (1.0 + np.exp(-(t[0] + raw[:, :4] @ t[1:])))  # no scaling at all
    np.testing.assert_allclose([float(r["probability"]) for r in rows], p, rtol=1e-12)


# -- 12.3: Excel's "CSV UTF-8" (a BOM), and other dialects ---------------------------------------
def test_bom_csv_finds_its_first_column(capsys, tmp_path, plain):
    X, y = _binary()
    rows = [[t] + r[:4] for r, t in zip(_rows(X, y), y, strict=True)]
    bom = write_csv(tmp_path / "bom.csv", ["target", *NAMES], rows, encoding="utf-8-sig")
    assert Path(bom).read_bytes()[:3] == b"\xef\xbb\xbf"
    a, _ = _train(capsys, tmp_path, bom, "--epochs", 2, out="a.npz")
    b, _ = _train(capsys, tmp_path, plain, "--epochs", 2, out="b.npz")
    pa, pb = _params(a), _params(b)
    assert all(pa[k].tobytes() == pb[k].tobytes() for k in pb)


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_other_delimiters_train_like_commas(capsys, tmp_path, plain, delimiter):
    X, y = _binary()
    # a semicolon file from a German spreadsheet has quoted names with commas in them too
    header = [*NAMES, "label"]
    other = write_csv(tmp_path / "o.csv", header, _rows(X, y), delimiter=delimiter)
    a, _ = _train(capsys, tmp_path, other, "--epochs", 2, out="a.npz")
    b, _ = _train(capsys, tmp_path, plain, "--epochs", 2, out="b.npz")
    pa, pb = _params(a), _params(b)
    assert all(pa[k].tobytes() == pb[k].tobytes() for k in pb)


def test_quoted_fields(capsys, tmp_path, plain):
    X, y = _binary()
    quoted = write_csv(tmp_path / "q.csv", [*NAMES, "label"], _rows(X, y), quoting=csv.QUOTE_ALL)
    a, _ = _train(capsys, tmp_path, quoted, "--epochs", 2, out="a.npz")
    b, _ = _train(capsys, tmp_path, plain, "--epochs", 2, out="b.npz")
    pa, pb = _params(a), _params(b)
    assert all(pa[k].tobytes() == pb[k].tobytes() for k in pb)


# -- 12.14: string labels ---------------------------------------------------------------------------
def test_string_labels_are_encoded_and_predict_shows_them(capsys, tmp_path, plain):
    X, y = _binary()
    names = np.array(["benign", "malignant"])  # sorted: benign = 0, malignant = 1
    text = write_csv(tmp_path / "s.csv", [*NAMES, "label"], _rows(X, names[y]))
    a, _ = _train(capsys, tmp_path, text, "--epochs", 2, out="a.npz")
    b, _ = _train(capsys, tmp_path, plain, "--epochs", 2, out="b.npz")
    pa, pb = _params(a), _params(b)
    assert all(pa[k].tobytes() == pb[k].tobytes() for k in pb)
    rows, stdout = _predict(capsys, tmp_path, a, text)
    numeric, _ = _predict(capsys, tmp_path, b, plain)
    assert [r["prediction"] for r in rows] == [names[int(r["prediction"])] for r in numeric]
    assert re.search(r"accuracy \d\.\d{4}", stdout)


def test_string_labels_multiclass(capsys, tmp_path):
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import LabelEncoder

    iris = load_iris()
    species = iris.target_names[iris.target]  # 'setosa', 'versicolor', 'virginica'
    header = ["sepal length", "sepal width", "petal length", "petal width", "species"]
    path = write_csv(tmp_path / "iris.csv", header, _rows(iris.data, species))
    circuit = tmp_path / "soft.py"
    circuit.write_text(
        "import sympy as sp\nfrom circuitc import Circuit, nn\n"
        "N, K = sp.symbols('N K')\nX = sp.MatrixSymbol('X', N, 5)\n"
        "Y = sp.MatrixSymbol('Y', N, K)\nW = sp.MatrixSymbol('W', 5, K)\n"
        "A = sp.MatrixSymbol('A', N, K)\nJ = sp.Symbol('J')\n"
        "circuit = Circuit('soft', output=J, wrt=[W], steps=[(A, X * W), "
        "(J, nn.softmax_cross_entropy(A, Y))], features=X, target=Y, "
        "prediction=nn.softmax(A))\n"
    )
    out, _ = _train(
        capsys, tmp_path, path, "--epochs", 20, "--batch-size", 8, "--lr", 0.3,
        circuit=(circuit,),
    )  # fmt: skip
    rows, stdout = _predict(capsys, tmp_path, out, path, circuit=(circuit,))
    # the probability columns are named by class, in LabelEncoder's order
    classes = LabelEncoder().fit(species).classes_
    assert list(rows[0]) == ["prediction"] + [f"p_{c}" for c in classes]
    predicted = np.array([r["prediction"] for r in rows])
    assert set(predicted) <= set(classes)
    assert np.mean(predicted == species) > 0.85


# -- 12.14: a diverging loss prints as a number, not 165 digits -------------------------------------
def test_huge_loss_prints_in_scientific_notation(capsys, tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 4))
    path = write_csv(tmp_path / "r.csv", [*NAMES, "y"], _rows(X, X @ [1.0, 2.0, -1.0, 0.5]))
    code, stdout, err = run(
        capsys, "train", LINREG, "--data", path, "--epochs", 30, "--lr", 2.2,
        "--out", tmp_path / "m.npz", "--no-standardize",
    )  # fmt: skip
    losses = re.findall(r"loss (\S+)", stdout)
    assert losses and any("e+" in v for v in losses), stdout  # it did grow large
    assert all(len(v) <= 12 for v in losses), losses
    assert not re.search(r"\d{20}", stdout + err), stdout + err


# -- 12.14: predict's default accuracy is the test rows' ------------------------------------------
def test_predict_default_accuracy_is_on_the_held_out_rows(capsys, tmp_path, plain):
    out, stdout = _train(capsys, tmp_path, plain, "--epochs", 3)
    m = re.search(r"test accuracy (\S+) \((\d+) rows\)", stdout)
    code, pout, err = run(capsys, "predict", LOGREG, *CE, "--params", out, "-o", tmp_path / "p.csv")
    assert code == 0, err
    line = pout + err
    assert re.search(rf"accuracy {m.group(1)} on the {m.group(2)} test rows", line), line


# -- 12.15: encodings, headers, duplicate names, huge values -----------------------------------------
def test_latin1_csv(capsys, tmp_path, plain):
    X, y = _binary()
    header = ["température", "pression", "débit", "hauteur", "label"]
    path = write_csv(tmp_path / "l.csv", header, _rows(X, y), encoding="latin-1")
    code, _, err = run(capsys, "train", LOGREG, *CE, "--data", path, "--out", tmp_path / "m.npz")
    _one_line_error(code, err, r"not UTF-8.*--encoding")
    out, _ = _train(capsys, tmp_path, path, "--epochs", 2, "--encoding", "latin-1")
    rows, _ = _predict(capsys, tmp_path, out, path, "--encoding", "latin-1")
    assert len(rows) == 120
    with np.load(out, allow_pickle=False) as f:
        assert [str(s) for s in f["_feature_names"]] == header[:4]


def test_csv_without_header_keeps_its_first_row(capsys, tmp_path, plain):
    X, y = _binary()
    path = write_csv(tmp_path / "h.csv", None, _rows(X, y))
    _, stdout = _train(capsys, tmp_path, path, "--epochs", 1)
    assert "90 train / 30 test rows" in stdout  # all 120 rows
    assert "no header" in stdout


def test_duplicate_column_names(capsys, tmp_path):
    X, y = _binary()
    path = write_csv(tmp_path / "d.csv", ["a", "b", "a", "c", "label"], _rows(X, y))
    code, _, err = run(capsys, "train", LOGREG, *CE, "--data", path)
    _one_line_error(code, err, r"column 'a' appears twice \(columns 1 and 3\)")


def test_huge_finite_features_standardise(capsys, tmp_path, plain):
    X, y = _binary()
    big = X * [1.0, 1e307, 1.0, 1e-300]  # finite, but x - mean and x² overflow naively
    path = write_csv(tmp_path / "big.csv", [*NAMES, "label"], _rows(big, y))
    a, _ = _train(capsys, tmp_path, path, "--epochs", 2, out="a.npz")
    b, _ = _train(capsys, tmp_path, plain, "--epochs", 2, out="b.npz")
    pa, pb = _params(a), _params(b)
    for k in pb:
        np.testing.assert_allclose(pa[k], pb[k], rtol=1e-9, atol=1e-12)


# -- missing values ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["", "NA", "  "])
def test_missing_value_names_row_and_column(capsys, tmp_path, cell):
    X, y = _binary()
    rows = _rows(X, y)
    rows[6][2] = cell
    path = write_csv(tmp_path / "m.csv", [*NAMES, "label"], rows)
    code, _, err = run(capsys, "train", LOGREG, *CE, "--data", path)
    _one_line_error(code, err, r"line 8, column 'x_3': missing value.*--missing drop")
    out, stdout = _train(capsys, tmp_path, path, "--epochs", 1, "--missing", "drop")
    assert "89 train / 30 test rows" in stdout and "dropped 1 row" in stdout


# -- 12.8: features bound by name ----------------------------------------------------------------------
def test_reordered_columns_train_and_predict_the_same(capsys, tmp_path, plain):
    X, y = _binary()
    order = [2, 0, 3, 1]
    header = [NAMES[j] for j in order]
    rows = [[r[j] for j in order[:2]] + [r[4]] + [r[j] for j in order[2:]] for r in _rows(X, y)]
    reordered = write_csv(tmp_path / "r.csv", header[:2] + ["label"] + header[2:], rows)
    a, _ = _train(
        capsys, tmp_path, reordered, "--epochs", 2, "--target-column", "label", out="a.npz"
    )
    b, _ = _train(capsys, tmp_path, plain, "--epochs", 2, out="b.npz")
    pa, pb = _params(a), _params(b)
    assert all(pa[k].tobytes() == pb[k].tobytes() for k in pb)  # x_j bound to x_j
    ra, _ = _predict(capsys, tmp_path, b, reordered)  # trained on plain, predicting reordered
    rb, _ = _predict(capsys, tmp_path, b, plain)
    assert ra == rb


def test_matrix_circuit_predicts_reordered_columns_by_name(capsys, tmp_path):
    X, y = _binary()
    names = ["width", "height", "depth", "mass"]
    plain = write_csv(tmp_path / "p.csv", [*names, "label"], _rows(X, y))
    circuit = (str(EXAMPLES / "logistic_regression_batch.py"),)
    # the example takes 31 columns; build it at 5 (4 features and the bias column)
    (tmp_path / "lr5.py").write_text(
        f"import sys; sys.path.insert(0, {str(EXAMPLES)!r})\n"
        "from logistic_regression_batch import make_circuit\ncircuit = make_circuit(D=5)\n"
    )
    circuit = (tmp_path / "lr5.py",)
    out, _ = _train(capsys, tmp_path, plain, "--epochs", 2, circuit=circuit)
    order = [3, 1, 0, 2]
    shuffled = write_csv(
        tmp_path / "s.csv", ["label"] + [names[j] for j in order],
        [[r[4]] + [r[j] for j in order] for r in _rows(X, y)],
    )  # fmt: skip
    ra, _ = _predict(capsys, tmp_path, out, shuffled, circuit=circuit)
    rb, _ = _predict(capsys, tmp_path, out, plain, circuit=circuit)
    assert ra == rb


def test_missing_or_extra_column_at_predict(capsys, tmp_path, plain):
    X, y = _binary()
    out, _ = _train(capsys, tmp_path, plain, "--epochs", 1)
    missing = write_csv(
        tmp_path / "m.csv", ["x_1", "x_2", "x_4"], [r[:2] + [r[3]] for r in _rows(X, y)]
    )
    code, _, err = run(capsys, "predict", LOGREG, *CE, "--params", out, "--data", missing)
    _one_line_error(code, err, r"m.csv has no column 'x_3'")
    extra = write_csv(
        tmp_path / "e.csv", [*NAMES, "colour", "label"],
        [r[:4] + ["1.0", r[4]] for r in _rows(X, y)],
    )  # fmt: skip
    code, _, err = run(capsys, "predict", LOGREG, *CE, "--params", out, "--data", extra)
    _one_line_error(code, err, r"e.csv has a column 'colour' the model was not trained on")


# -- 12.18: validation, early stopping, test loss, a regression metric --------------------------------
def test_epoch_lines_show_test_and_validation_loss(capsys, tmp_path, plain):
    _, stdout = _train(capsys, tmp_path, plain, "--epochs", 2, "--validation", 0.2)
    lines = [ln for ln in stdout.splitlines() if ln.startswith("epoch ")]
    assert all("test loss" in ln and "val loss" in ln and "val acc" in ln for ln in lines)
    assert "72 train / 18 validation / 30 test rows" in stdout


def test_regression_metric(capsys, tmp_path):
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 4))
    t = X @ [1.0, 2.0, -1.0, 0.5] + 0.3 * rng.normal(size=80)
    path = write_csv(tmp_path / "r.csv", [*NAMES, "y"], _rows(X, t))
    out, stdout = _train(capsys, tmp_path, path, "--epochs", 5, "--lr", 0.01, circuit=(LINREG,))
    assert all("rmse" in ln for ln in stdout.splitlines() if ln.startswith("epoch "))
    m = re.search(r"test R² (\S+), RMSE (\S+) \((\d+) rows\)", stdout)
    assert m, stdout
    rows, pout = _predict(capsys, tmp_path, out, path, circuit=(LINREG,))
    pred = np.array([float(r["prediction"]) for r in rows])
    assert float(m.group(1)) > 0.9
    # on every row (predict) the oracle agrees with circuitc's own R² line
    assert f"R² {r2_score(t, pred):.4f}" in pout


def test_early_stopping_stops_and_keeps_the_best_epoch(capsys, tmp_path, plain):
    out, stdout = _train(
        capsys, tmp_path, plain, "--epochs", 200, "--lr", 0.5, "--validation", 0.25,
        "--early-stopping", 3,
    )  # fmt: skip
    m = re.search(r"early stopping at epoch (\d+): validation loss best at epoch (\d+)", stdout)
    assert m, stdout
    stopped, best = int(m.group(1)), int(m.group(2))
    assert stopped == best + 3 and stopped < 200
    val = [float(v) for v in re.findall(r"val loss (\S+)", stdout)]
    assert len(val) == stopped and int(np.argmin(val)) + 1 == best


def test_raw_huge_features_diverge_with_the_advice_to_standardise(capsys, tmp_path):
    X, y = _binary()
    big = X * [1.0, 1e200, 1.0, 1.0]
    path = write_csv(tmp_path / "big.csv", [*NAMES, "label"], _rows(big, y))
    code, _, err = run(
        capsys, "train", LOGREG, *CE, "--data", path, "--no-standardize",
        "--out", tmp_path / "m.npz",
    )  # fmt: skip
    assert code == 1 and err.count("\n") == 1, err
    assert "standardise the features (they reach" in err
    # standardised (the default), the same file trains
    _train(capsys, tmp_path, path, "--epochs", 1)


def test_resuming_an_early_stopped_run_says_so(capsys, tmp_path, plain):
    common = ("--lr", 0.5, "--validation", 0.25, "--early-stopping", 2, "--epochs", 200)
    out, stdout = _train(capsys, tmp_path, plain, *common)
    assert "early stopping at epoch" in stdout
    code, stdout, err = run(capsys, "train", LOGREG, *CE, "--resume", out, *common)
    assert code == 0, err
    assert "stopped early at epoch" in stdout


def test_decimal_comma_files_as_european_spreadsheets_save_them(capsys, tmp_path, plain):
    X, y = _binary()
    rows = [[v.replace(".", ",") for v in r[:4]] + [r[4]] for r in _rows(X, y)]
    path = write_csv(tmp_path / "de.csv", [*NAMES, "label"], rows, delimiter=";")
    assert "," in Path(path).read_text().splitlines()[1]  # 1,234 on every data line
    code, _, err = run(capsys, "train", LOGREG, *CE, "--data", path, "--out", tmp_path / "m.npz")
    _one_line_error(
        code,
        err,
        r"line 2, column 'x_1': '.*' is not a number \(a decimal comma\? give --decimal ,\)",
    )
    a, _ = _train(capsys, tmp_path, path, "--epochs", 2, "--decimal", ",", out="a.npz")
    b, _ = _train(capsys, tmp_path, plain, "--epochs", 2, out="b.npz")
    pa, pb = _params(a), _params(b)
    assert all(pa[k].tobytes() == pb[k].tobytes() for k in pb)
    rows_a, _ = _predict(capsys, tmp_path, a, path)  # the saved settings read it back
    rows_b, _ = _predict(capsys, tmp_path, b, plain)
    assert rows_a == rows_b


def test_utf16_tab_file_as_excel_unicode_text(capsys, tmp_path, plain):
    X, y = _binary()
    path = write_csv(
        tmp_path / "u.txt", [*NAMES, "label"], _rows(X, y), delimiter="\t", encoding="utf-16"
    )
    assert Path(path).read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    a, _ = _train(capsys, tmp_path, path, "--epochs", 2, out="a.npz")
    b, _ = _train(capsys, tmp_path, plain, "--epochs", 2, out="b.npz")
    pa, pb = _params(a), _params(b)
    assert all(pa[k].tobytes() == pb[k].tobytes() for k in pb)
