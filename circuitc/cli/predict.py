"""``circuitc predict``: predictions of a trained circuit, one CSV row per data row (and the
accuracy, when the data is labelled)."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np

from .train import _add_common, _check_writable, _compile, _errors, _one_circuit


def add_predict(p: argparse.ArgumentParser) -> None:
    _add_common(p, "the data the parameters were trained on")
    p.add_argument("--params", metavar="PATH", required=True, help="a file written by train")
    p.add_argument("-o", "--out", metavar="CSV", help="write the predictions here (default stdout)")


def _predict_data(args, ck, module):
    """(raw features, labels or None, name) for predict: every row of the data, no split."""
    from ..training import data

    source = args.data or ck.config.get("data") or data.DEFAULT
    target_column = args.target_column or ck.config.get("target_column")
    text = str(source)
    if text.lower().endswith((".csv", ".txt")) and ck.n_features is not None:
        with open(text, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
        if len(header) == ck.n_features and target_column is None:
            # features only: no target column to drop
            X, _, _, _ = data.read_csv(text, has_target=False)
            return X, None, Path(text).name
        if target_column is None and ck.target_name in [h.strip() for h in header]:
            target_column = ck.target_name
    X, y, _, _ = data.raw(source, target_column)
    return X, y, Path(text).name if text not in data.BUILTIN else text


def cmd_predict(args: argparse.Namespace) -> int:
    """Predict with trained parameters: one CSV row per data row (and the accuracy, if labelled)."""
    CliError, _ = _errors()
    from ..loader import write_atomic

    circuit = _one_circuit(args, {})
    module = _compile(circuit)
    if not hasattr(module, "predict"):
        raise CliError(f"circuit {circuit.name!r} has no prediction= to predict with")
    if args.out:
        _check_writable(args.out, "-o")
    X, y, labels, name, binding, probs = _predict(args, module)
    text, classes = _prediction_csv(binding, probs)
    if args.out:
        write_atomic(args.out, text)
        print(f"wrote {args.out} ({X.shape[0]} rows)")
    else:
        sys.stdout.write(text)
    if y is not None and classes is not None:
        acc = float(np.mean(classes == labels))
        print(
            f"accuracy {acc:.4f} on {X.shape[0]} rows of {name}",
            file=sys.stderr if not args.out else sys.stdout,
        )
    return 0


def _predict(args, module):
    """The data's rows scaled as in training and the module's predictions for them:
    ``(X, labels or None, labels as floats, data name, binding, predictions)``."""
    CliError, bad_input = _errors()
    from ..training import checkpoint, data, sgd

    try:
        ck = checkpoint.load(args.params, module)
        X, y, name = _predict_data(args, ck, module)
        X = data.check_features(X, name)
        if ck.n_features is not None and X.shape[1] != ck.n_features:
            raise data.DataError(
                f"{name} has {X.shape[1]} feature columns; {args.params} was trained on "
                f"{ck.n_features}"
            )
        if ck.mean is not None:
            X = (X - ck.mean) / ck.scale
        labels = np.zeros(X.shape[0]) if y is None else np.asarray(y, dtype=np.float64)
        if y is not None:
            data.check_features(labels, name)
        ds = data.Dataset(name, X, labels, X[:0], labels[:0], target_name=ck.target_name)
        binding = sgd.bind(module, ds)
        params = sgd.check_params(module, ck.params, ds)
        Xe, _ = binding.encode(X, None)
        probs = sgd.predictions(module, binding, params, Xe)
    except bad_input as e:
        raise CliError(str(e)) from None
    except OSError as e:  # the data file is missing or unreadable
        raise CliError(f"cannot read {e.filename or 'the data'}: {e.strerror or e}") from None
    return X, y, labels, name, binding, probs


def _prediction_csv(binding, probs) -> tuple[str, np.ndarray | None]:
    """The predictions as CSV text (a class and its probabilities for a classifier, the
    values for a regression), and the predicted classes (None for a regression)."""
    from ..training import sgd

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if binding.task in ("binary", "multiclass"):
        classes = sgd.classify(binding, probs).astype(int)
        if binding.task == "binary":
            w.writerow(["prediction", "probability"])
            rows = ([int(c), repr(float(p))] for c, p in zip(classes, probs[:, 0], strict=True))
        else:
            w.writerow(["prediction"] + [f"p_{k}" for k in range(probs.shape[1])])
            rows = (
                [int(c)] + [repr(float(v)) for v in row]
                for c, row in zip(classes, probs, strict=True)
            )
    else:
        classes = None
        w.writerow(
            ["prediction"]
            if probs.shape[1] == 1
            else [f"prediction_{k}" for k in range(probs.shape[1])]
        )
        rows = ([repr(float(v)) for v in row] for row in probs)
    w.writerows(rows)
    return buf.getvalue(), classes
