"""``circuitc predict``: the trained parameters and their preprocessing applied to raw rows.

The rows are every row of ``--data`` (by default the data the parameters were trained on),
their columns matched by name to those the model was trained on; one CSV row of predictions
per data row (class labels as the data had them), then the accuracy (or R² and RMSE) when the
data has labels — on the held-out test rows first when it is the trained-on data.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np

from .common import (
    add_data_arguments,
    check_writable,
    one_circuit,
    starts_with,
    training_errors,
)
from .progress import number_text


def add_predict(p: argparse.ArgumentParser) -> None:
    add_data_arguments(p, "the data the parameters were trained on")
    p.add_argument("--params", metavar="PATH", required=True, help="a file written by train")
    p.add_argument("-o", "--out", metavar="CSV", help="write the predictions here (default stdout)")
    p.add_argument(
        "--force", action="store_true", help="let -o replace a file circuitc did not write"
    )


def _predict_data(args, ck, pre):
    """The rows to predict (a ``RawData``, columns in the trained order): every row, no split."""
    from ..training import csvfile, data

    source = args.data or ck.config.get("data") or data.DEFAULT
    target_column = args.target_column or ck.config.get("target_column")
    encoding = args.encoding or ck.config.get("encoding")
    delimiter = args.delimiter or ck.config.get("delimiter")
    decimal = args.decimal or ck.config.get("decimal") or "."
    text = str(source)
    if Path(text).suffix.lower() in (".csv", ".tsv", ".txt"):
        table = csvfile.read(text, encoding=encoding, delimiter=delimiter, decimal=decimal)
        names = table.names
        if target_column is None and pre.target_name in names and table.header is not None:
            target_column = pre.target_name
        if table.header is None:  # by position: a target column is one more than the features
            has_target = len(names) == pre.n_features + 1
        else:
            has_target = target_column is not None
        cols = csvfile.columns(table, target_column, has_target=has_target)
        raw = data.RawData(Path(text).name, cols.X, cols.y, cols.feature_names)
    else:
        raw = data.raw(source, target_column)
    if raw.feature_names is not None and pre.feature_names is not None:
        return data.in_trained_order(raw, pre.feature_names, pre.n_features)
    if raw.X.shape[1] != pre.n_features:
        raise data.DataError(
            f"{raw.name} has {raw.X.shape[1]} feature columns; {args.params} was trained on "
            f"{pre.n_features}"
        )
    return raw


def _label_codes(y, pre, name: str) -> np.ndarray:
    """The class codes of labels ``y`` (text labels looked up in the trained classes)."""
    from ..training.data import DataError, codes_of

    y = np.asarray(y)
    if pre.classes is not None and pre.classes.dtype.kind in "US":
        return codes_of(y, pre.classes)
    if y.dtype.kind not in "fiub":
        raise DataError(f"{name}: the labels are text; the model was trained on numbers")
    return y.astype(np.float64)


def _prediction_rows(binding, pre, probs: np.ndarray):
    """(header, rows, predicted codes or None) of the predictions CSV."""
    from ..training import sgd

    if binding.task not in ("binary", "multiclass"):
        header = (
            ["prediction"]
            if probs.shape[1] == 1
            else [f"prediction_{k}" for k in range(probs.shape[1])]
        )
        return header, ([repr(float(v)) for v in row] for row in probs), None
    codes = sgd.classify(binding, probs).astype(int)
    labels = pre.labels(codes)
    if binding.task == "binary":
        rows = ([str(c), repr(float(p))] for c, p in zip(labels, probs[:, 0], strict=True))
        return ["prediction", "probability"], rows, codes
    header = ["prediction"] + [f"p_{c}" for c in pre.labels(np.arange(probs.shape[1]))]
    rows = ([str(c)] + [repr(float(v)) for v in row] for c, row in zip(labels, probs, strict=True))
    return header, rows, codes


def _score_line(binding, raw, ck, codes, probs, y) -> str | None:
    """Accuracy (or R² and RMSE) of the predictions: on the held-out test rows first when the
    data is the data the parameters were trained on."""
    from ..training import sgd

    if y is None or binding.task is None:
        return None
    n = raw.X.shape[0]

    def score(rows):
        if binding.task == "regression":
            t = np.asarray(y, dtype=np.float64)[rows].reshape(probs[rows].shape)
            r2, err = sgd.r2(t, probs[rows]), sgd.rmse(t, probs[rows])
            return f"R² {r2:.4f}, RMSE {number_text(err)}"
        return f"accuracy {float(np.mean(codes[rows] == y[rows])):.4f}"

    everything = np.arange(n)
    test = ck.test_rows
    if test is not None and test.size and ck.data_digest == raw.digest() and test.max() < n:
        return (
            f"{score(test)} on the {test.size} test rows of {raw.name} "
            f"({score(everything)} on all {n} rows, {n - test.size} of them trained on)"
        )
    return f"{score(everything)} on {n} rows of {raw.name}"


def cmd_predict(args: argparse.Namespace) -> int:
    """Predict with trained parameters: one CSV row per data row (and the accuracy, if labelled)."""
    CliError, bad_input = training_errors()
    from ..api import compile as compile_circuit
    from ..loader import write_atomic
    from ..training import checkpoint, sgd

    circuit = one_circuit(args, {})
    module = compile_circuit(circuit)
    if not hasattr(module, "predict"):
        raise CliError(f"circuit {circuit.name!r} has no prediction= to predict with")
    if args.out:
        check_writable(
            args.out,
            "-o",
            [args.file, args.params, args.data],
            force=args.force,
            ours=starts_with(b"prediction"),
        )
    try:
        ck = checkpoint.load(args.params, module)
        pre = ck.preprocessing(module)
        raw = _predict_data(args, ck, pre)
        y = None if raw.y is None else _label_codes(raw.y, pre, raw.name)
        k = None if pre.classes is None else len(pre.classes)
        binding = sgd.bind_shapes(module, pre.n_features, k, raw.name)
        params = sgd.check_params(module, ck.params, binding)
        probs = sgd.predictions(module, binding, params, pre.transform(raw.X, raw.name))
    except bad_input as e:
        raise CliError(str(e)) from None
    header, rows, codes = _prediction_rows(binding, pre, probs)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    if args.out:
        write_atomic(args.out, buf.getvalue())
        print(f"wrote {args.out} ({raw.X.shape[0]} rows)")
    else:
        sys.stdout.write(buf.getvalue())
    line = _score_line(binding, raw, ck, codes, probs, y)
    if line:
        print(line, file=sys.stderr if not args.out else sys.stdout)
    return 0
