"""Data loading (circuitc.data): CSV, .npz, built-in sets, the seeded split, standardisation,
and every bad-input path (one ``DataError`` each, with a message naming the problem)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from circuitc.training import data

CSV = """a,b,label,c
1,2,0,3
4,5,1,6.5
7,8,1,-9
10,11,0,12
"""


def _write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- CSV ------------------------------------------------------------------------------------------
def test_csv_named_target_column(tmp_path):
    X, y, names, target = data.read_csv(_write(tmp_path, CSV), "label")
    assert names == ["a", "b", "c"] and target == "label"
    np.testing.assert_array_equal(X, [[1, 2, 3], [4, 5, 6.5], [7, 8, -9], [10, 11, 12]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])


def test_csv_default_target_is_target_else_last(tmp_path):
    _, y, names, target = data.read_csv(_write(tmp_path, CSV))
    assert target == "c" and names == ["a", "b", "label"]
    np.testing.assert_array_equal(y, [3, 6.5, -9, 12])
    text = "target,x\n1,2\n0,3\n"
    X, y, names, target = data.read_csv(_write(tmp_path, text, "t.csv"))
    assert target == "target" and names == ["x"]
    np.testing.assert_array_equal(y, [1, 0])


def test_csv_features_only(tmp_path):
    X, y, names, _ = data.read_csv(_write(tmp_path, CSV), has_target=False)
    assert y is None and X.shape == (4, 4) and names == ["a", "b", "label", "c"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b,label\n1,2,0\n3,x,1\n", r"line 3, column 'b': 'x' is not a number"),
        ("a,b,label\n1,nan,0\n3,4,1\n", r"line 2, column 'b': missing value \('nan'\)"),
        ("a,b,label\n1,2,0\n3,-inf,1\n", r"line 3, column 'b': -inf is not finite"),
        ("a,b,label\n1,2,0\n3,1\n", r"line 3 has 2 cells, the header has 3"),
        ("a,b,label\n", "needs a header row and at least one data row"),
        ("label\n1\n", "needs at least one feature column"),
    ],
)
def test_csv_bad_input(tmp_path, text, message):
    with pytest.raises(data.DataError, match=message):
        data.read_csv(_write(tmp_path, text), "label")


def test_csv_unknown_target_column(tmp_path):
    with pytest.raises(data.DataError, match=r"no column 'lbl'; the columns are a, b, label, c"):
        data.load(_write(tmp_path, CSV), target_column="lbl")


def test_cells_are_data_never_code(tmp_path):
    text = "a,label\n__import__('os').getcwd(),0\n1,1\n"
    with pytest.raises(data.DataError, match="is not a number"):
        data.read_csv(_write(tmp_path, text), "label")


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(data.DataError, match="cannot read"):
        data.read_csv(tmp_path / "nope.csv")
    with pytest.raises(data.DataError, match="no data set 'nope'"):
        data.load("nope")
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(data.DataError, match="unknown data format"):
        data.load(tmp_path / "d.json")


# -- npz ------------------------------------------------------------------------------------------
def test_npz(tmp_path):
    X = np.arange(12.0).reshape(6, 2)
    y = np.array([0, 1, 0, 1, 0, 1])
    np.savez(tmp_path / "d.npz", X=X, y=y, feature_names=np.array(["p", "q"]))
    X2, y2, names, _ = data.read_npz(tmp_path / "d.npz")
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    assert names == ["p", "q"]
    ds = data.load(tmp_path / "d.npz", test_size=0.5, standardize=False)
    assert ds.X_train.shape == (3, 2) and ds.X_test.shape == (3, 2)


def test_npz_refuses_pickles_and_missing_arrays(tmp_path):
    obj = np.array([{"a": 1}, None], dtype=object)
    np.savez(tmp_path / "p.npz", X=obj, y=np.zeros(2))
    with pytest.raises(data.DataError, match="allow_pickle=False|cannot read"):
        data.read_npz(tmp_path / "p.npz")
    np.savez(tmp_path / "m.npz", X=np.zeros((2, 2)))
    with pytest.raises(data.DataError, match="needs arrays 'X' and 'y'"):
        data.read_npz(tmp_path / "m.npz")
    np.savez(tmp_path / "s.npz", X=np.array([["a", "b"]]), y=np.zeros(1))
    with pytest.raises(data.DataError, match="must hold numbers"):
        data.read_npz(tmp_path / "s.npz")


def test_npz_with_nan(tmp_path):
    X = np.ones((5, 2))
    X[3, 1] = np.nan
    np.savez(tmp_path / "n.npz", X=X, y=np.zeros(5))
    with pytest.raises(data.DataError, match=r"feature value nan at row 4, column 2 is not finite"):
        data.load(tmp_path / "n.npz")
    np.savez(tmp_path / "t.npz", X=np.ones((5, 2)), y=np.array([0, 1, np.inf, 0, 1]))
    with pytest.raises(data.DataError, match=r"target value inf at row 3 is not finite"):
        data.load(tmp_path / "t.npz")


# -- split and standardisation ----------------------------------------------------------------------
def _toy(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * [1.0, 10.0, 0.1] + [5.0, -2.0, 0.0]
    y = (rng.random(n) < 0.3).astype(float)
    return X, y


def test_split_partitions_the_rows_and_is_seeded():
    X, y = _toy()
    X[:, 0] = np.arange(40)  # a row id, to find each row again
    a = data.split(X, y, seed=3, standardize=False)
    b = data.split(X, y, seed=3, standardize=False)
    c = data.split(X, y, seed=4, standardize=False)
    ids = np.concatenate([a.X_train[:, 0], a.X_test[:, 0]])
    assert sorted(ids.tolist()) == list(range(40))  # every row exactly once
    assert a.X_test.shape[0] == 10
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train[:, 0], c.X_train[:, 0])
    # labels travel with their rows
    np.testing.assert_array_equal(a.y_train, y[a.X_train[:, 0].astype(int)])


def test_split_is_stratified():
    X, y = _toy(n=100)
    ds = data.split(X, y, seed=0)
    ones = int(y.sum())
    assert int(ds.y_test.sum()) == round(0.25 * ones)
    assert ds.n_classes == 2


def test_standardisation_fitted_on_train_only():
    X, y = _toy()
    X[:, 2] = 7.0  # a constant column passes through unchanged (issue 12.2: a bias input x0 = 1)
    raw = data.split(X, y, seed=1, standardize=False)
    ds = data.split(X, y, seed=1)
    mean = raw.X_train.mean(axis=0)
    std = raw.X_train.std(axis=0)
    np.testing.assert_allclose(ds.mean[:2], mean[:2], rtol=1e-14)
    np.testing.assert_allclose(ds.X_train[:, :2].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train[:, :2].std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(ds.X_test[:, :2], (raw.X_test[:, :2] - mean[:2]) / std[:2])
    assert np.all(ds.X_train[:, 2] == 7) and np.all(ds.X_test[:, 2] == 7)
    assert ds.mean[2] == 0 and ds.scale[2] == 1
    # the test part's own statistics played no part
    assert not np.allclose(ds.X_test[:, :2].mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(ds.transform(raw.X_test), ds.X_test, rtol=1e-14)


def test_split_bad_input():
    X, y = _toy()
    with pytest.raises(data.DataError, match="40 rows of features but 39 target values"):
        data.split(X, y[:-1])
    with pytest.raises(data.DataError, match="test_size"):
        data.split(X, y, test_size=1.0)
    with pytest.raises(data.DataError, match="not numbers"):
        data.split([["a", "b"]], [0])
    with pytest.raises(data.DataError, match="expected 3"):
        data.split(X, y).transform(np.ones((2, 4)))


# -- built-in sets ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, rows, cols, classes",
    [("breast_cancer", 569, 30, 2), ("digits", 1797, 64, 10), ("iris", 150, 4, 3)],
)
def test_builtin(name, rows, cols, classes):
    pytest.importorskip("sklearn")
    ds = data.load(name, seed=0)
    assert ds.X_train.shape[0] + ds.X_test.shape[0] == rows
    assert ds.n_features == cols and ds.n_classes == classes
    assert data.load().name == "breast_cancer"


def test_builtin_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(data.DataError, match=r"pip install 'circuitc\[data\]'"):
        data.load("digits")


def test_builtin_has_no_other_column():
    with pytest.raises(data.DataError, match="has no column 'label'"):
        data.load("iris", target_column="label")
