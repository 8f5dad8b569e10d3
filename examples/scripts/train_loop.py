"""Training with circuitc's lower-level pieces in a loop of your own.

``circuitc train`` and ``circuitc.fit`` run this loop for you; here every step is spelled out
with the pieces they are made of (``circuitc.training``):

* ``data.load`` reads a data set and splits it (a stratified test quarter), standardising the
  features on the train rows only;
* ``sgd.bind`` matches the data to the compiled module's arguments (here X gets a column of
  ones first, because the circuit's X has one column more than the data);
* ``sgd.init`` draws starting parameters, ``sgd.Optimizer`` moves them (SGD, momentum, Adam);
* ``sgd.epoch_order`` is the seeded visiting order, ``sgd.evaluate`` the loss and accuracy;
* ``checkpoint.save`` writes the parameters with the fitted preprocessing, so that
  ``circuitc predict`` and ``circuitc.load`` can use them on raw rows.

Run it from the repository: ``python examples/scripts/train_loop.py`` (needs scikit-learn for
the breast_cancer data). It lives in ``examples/scripts/`` because it is a program to run, not
a circuit file: ``circuitc compile``/``show``/``train`` and the tests that go through
``examples/*.py`` expect circuit files there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import circuitc
from circuitc.training import checkpoint, data, sgd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # examples/, for the circuit
from logistic_regression_batch import make_circuit  # noqa: E402


def main(epochs: int = 10, lr: float = 0.05, batch_size: int = 32, seed: int = 0, out=None):
    """Train logistic regression on breast_cancer with Adam; returns (params, test accuracy)."""
    module = circuitc.compile(make_circuit(D=31))  # 30 features and the bias column
    ds = data.load("breast_cancer", seed=seed)
    binding = sgd.bind(module, ds)
    params = sgd.init(module, seed, ds)
    opt = sgd.Optimizer("adam", params)
    X, Y = binding.encode(ds.X_train, ds.y_train)  # the bias column added, y as an N×1 column
    Xt, Yt = binding.encode(ds.X_test, ds.y_test)
    accuracy = None
    for epoch in range(epochs):
        order = sgd.epoch_order(X.shape[0], seed, epoch)
        for start in range(0, X.shape[0], batch_size):
            rows = order[start : start + batch_size]
            J, grads = module.value_and_grad(**params, **binding.kwargs(X, Y, rows))
            opt.step(params, grads, lr)  # J is the batch mean: its gradient needs no scaling
        loss, accuracy = sgd.evaluate(module, binding, params, Xt, Yt, ds.y_test)
        print(f"epoch {epoch + 1:2d}: test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    if out is not None:
        pre = ds.preprocessing(binding)  # names, scaling, bias column, classes
        checkpoint.save(out, module, params, preprocessing=pre, data=ds)
        print(f"wrote {out}")
    return params, accuracy


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
