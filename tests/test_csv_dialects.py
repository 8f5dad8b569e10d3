"""CSV files in every dialect people save (hypothesis): delimiter, quoting, BOM, line endings,
column order, label types, a header or none. The oracle is the data itself: what was
written with Python's ``csv`` writer must be read back exactly — numbers bit for bit (``repr``
round-trips), names and labels as text — and, bound by name, in the same column order.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from circuitc.training import csvfile, data
from circuitc.training.preprocess import select

NAME = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
        min_size=1,
        max_size=8,
    )
    .map(str.strip)
    .filter(lambda s: s and s.lower() not in csvfile.MISSING)
)
FLOAT = st.floats(allow_nan=False, allow_infinity=False, width=64)
LABEL_KINDS = ("int", "float", "text")


@st.composite
def tables(draw):
    """(file bytes, feature names or None, X, y, target name, options)"""
    d = draw(st.integers(1, 4))
    n = draw(st.integers(2, 12))
    header = draw(st.booleans())
    names = draw(st.lists(NAME, min_size=d + 1, max_size=d + 1, unique=True))
    if header:  # a header whose cells are all numbers would be read as data
        names = [f"c{j}" if csvfile.is_number(nm) else nm for j, nm in enumerate(names)]
        if len(set(names)) < len(names):
            names = [f"c{j}" for j in range(d + 1)]
    X = np.array(draw(st.lists(st.lists(FLOAT, min_size=d, max_size=d), min_size=n, max_size=n)))
    kind = draw(st.sampled_from(LABEL_KINDS))
    if kind == "int":
        y = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=float)
    elif kind == "float":
        y = np.array(draw(st.lists(FLOAT, min_size=n, max_size=n)))
    else:
        pool = draw(st.lists(NAME.filter(lambda s: not csvfile.is_number(s)), min_size=1,
                             max_size=3, unique=True))  # fmt: skip
        y = np.array(draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n)))
    at = draw(st.integers(0, d))  # where the target column goes
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    bom = draw(st.booleans())
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, quoting=quoting, lineterminator=newline)
    # the feature columns in any order when the header names them (positional without one)
    order = draw(st.permutations(range(d))) if header else list(range(d))
    cols = [[repr(float(v)) for v in X[:, j]] for j in order]
    target = [repr(float(v)) for v in y] if kind != "text" else list(y)
    cols.insert(at, target)
    if header:
        written = [names[j] for j in order]
        w.writerow(written[:at] + [names[d]] + written[at:])
    for i in range(n):
        row = [c[i] for c in cols]
        if quoting == csv.QUOTE_NONNUMERIC:  # numbers unquoted, as floats
            row = [float(v) if (j != at or kind != "text") else v for j, v in enumerate(row)]
        w.writerow(row)
    text = buf.getvalue().encode("utf-8-sig" if bom else "utf-8")
    return text, (names[:d] if header else None), X, y, names[d], at, delimiter


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(tables())
def test_read_back_exactly(tmp_path_factory, case):
    text, names, X, y, target, at, _ = case
    path = tmp_path_factory.mktemp("csv") / "d.csv"
    path.write_bytes(text)
    assert (csvfile.read(path).header is None) == (names is None)  # a header is found as one
    # no header: the target is named by position ("column N"; the last one by default)
    target = target if names is not None else f"column {at + 1}"
    raw = data.read_csv(path, target)
    # bound by name, the columns come back in the order the data was made in
    raw = data.in_trained_order(raw, names, X.shape[1])
    assert raw.feature_names == names
    np.testing.assert_array_equal(raw.X, X)
    if y.dtype.kind == "U":
        assert raw.y.tolist() == y.tolist()
    else:
        np.testing.assert_array_equal(raw.y, y)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.permutations(["a", "b", "c", "d"]), st.lists(FLOAT, min_size=4, max_size=4))
def test_columns_are_bound_by_name(order, row):
    trained = ["a", "b", "c", "d"]
    values = dict(zip(trained, row, strict=True))
    idx = select(list(order), trained, "data", 4)
    assert [order[j] for j in idx] == trained
    got = np.array([[values[order[j]] for j in idx]])
    np.testing.assert_array_equal(got, [row])


def test_label_encoding_matches_scikit_learn():
    LabelEncoder = pytest.importorskip("sklearn.preprocessing").LabelEncoder
    y = np.array(["virginica", "setosa", "versicolor", "setosa", "Setosa", "é", "z"])
    ids = np.arange(7.0)[:, None]  # a row id, to find each row again after the shuffle
    ds = data.split(ids, y, test_size=0.0, standardize=False)
    enc = LabelEncoder().fit(y)
    rows = ds.X_train[:, 0].astype(int)
    assert ds.classes.tolist() == enc.classes_.tolist()
    np.testing.assert_array_equal(ds.y_train, enc.transform(y[rows]))
