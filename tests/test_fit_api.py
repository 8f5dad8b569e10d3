"""The Python training API (issue 12, parts 4 and 5): ``circuitc.fit`` returns a model that
carries its preprocessing; ``model.save`` and ``circuitc.load`` round-trip it; a generated
module plus its ``.npz`` predict in a Python that cannot import circuitc.

Oracles: scikit-learn (``StandardScaler`` on the non-constant columns of exactly the rows
trained on, ``LogisticRegression`` for training quality, ``LabelEncoder`` for label order) and
hand-written NumPy forward passes and losses.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import circuitc
from circuitc import Circuit, nn

ROOT = Path(__file__).resolve().parent.parent


def logreg(D: int, name: str = "logreg") -> Circuit:
    """Logistic regression over a matrix X (N × D; the trainer adds the bias column)."""
    N = sp.Symbol("N")
    X = sp.MatrixSymbol("X", N, D + 1)
    y = sp.MatrixSymbol("y", N, 1)
    theta = sp.MatrixSymbol("theta", D + 1, 1)
    a = sp.MatrixSymbol("a", N, 1)
    J = sp.Symbol("J")
    return Circuit(
        name,
        output=J,
        wrt=[theta],
        steps=[(a, X * theta), (J, nn.binary_cross_entropy_with_logits(a, y))],
        features=X,
        target=y,
        prediction=nn.sigmoid(a),
    )


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * [1.0, 10.0, 0.1, 3.0] + [5.0, -2.0, 0.0, 1.0]
    z = (X[:, 0] - 5.0) - 0.1 * (X[:, 1] + 2.0) + 5.0 * X[:, 2] + 0.8
    y = (z + 0.3 * rng.normal(size=n) > 0).astype(int)
    return X, y


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def test_fit_and_load_are_public():
    assert {"fit", "load"} <= set(circuitc.__all__)
    assert not hasattr(circuitc, "train")  # the name belongs to the training subpackage


def test_fit_standardises_non_constant_columns_like_standard_scaler():
    StandardScaler = pytest.importorskip("sklearn.preprocessing").StandardScaler
    X, y = _data()
    X = np.hstack([X[:, :2], np.full((len(X), 1), 7.0), X[:, 2:]])  # a constant column
    model = circuitc.fit(logreg(5), X, y, epochs=2, lr=0.1, batch_size=16, seed=0)
    pre = model.preprocessing
    varying = [0, 1, 3, 4]
    oracle = StandardScaler().fit(X[:, varying])  # fit() trained on every row
    np.testing.assert_allclose(pre.mean[varying], oracle.mean_, rtol=1e-12)
    np.testing.assert_allclose(pre.scale[varying], oracle.scale_, rtol=1e-12)
    assert pre.mean[2] == 0.0 and pre.scale[2] == 1.0  # the constant passes through
    assert pre.bias  # X has one column more than the data: the bias column of ones


def test_fit_trains_as_well_as_scikit_learn():
    LogisticRegression = pytest.importorskip("sklearn.linear_model").LogisticRegression
    X, y = _data(600)
    Xtr, ytr, Xte, yte = X[:450], y[:450], X[450:], y[450:]
    model = circuitc.fit(logreg(4), Xtr, ytr, epochs=30, lr=0.1, batch_size=8, seed=1)
    ours = float(np.mean(model.predict(Xte) == yte))
    theirs = LogisticRegression().fit(Xtr, ytr).score(Xte, yte)
    assert ours >= theirs - 0.03, (ours, theirs)
    assert model.score(Xte, yte) == ours


def test_predict_on_raw_rows_is_the_hand_written_forward():
    X, y = _data()
    model = circuitc.fit(logreg(4), X, y, epochs=3, lr=0.1, batch_size=4)
    theta = model.params["theta"]
    pre = model.preprocessing
    Z = np.hstack([np.ones((len(X), 1)), (X - pre.mean) / pre.scale])
    p = _sigmoid(Z @ theta)[:, 0]
    np.testing.assert_allclose(model.predict_proba(X)[:, 0], p, rtol=1e-13)
    np.testing.assert_array_equal(model.predict(X), (p >= 0.5).astype(int))


def test_string_labels_round_trip_and_keep_label_encoder_order(tmp_path):
    LabelEncoder = pytest.importorskip("sklearn.preprocessing").LabelEncoder
    X, y = _data()
    names = np.array(["no", "yes"])[y]
    model = circuitc.fit(logreg(4), X, names, epochs=2, batch_size=8)
    assert list(model.preprocessing.classes) == list(LabelEncoder().fit(names).classes_)
    numeric = circuitc.fit(logreg(4), X, y, epochs=2, batch_size=8)
    np.testing.assert_array_equal(model.params["theta"], numeric.params["theta"])
    assert set(model.predict(X)) <= {"no", "yes"}
    path = model.save(tmp_path / "m.npz")
    again = circuitc.load(path, logreg(4))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_save_and_load_round_trip(tmp_path):
    X, y = _data()
    circuit = logreg(4)
    module = circuitc.compile(circuit)
    model = circuitc.fit(module, X, y, epochs=2, batch_size=8)
    path = model.save(tmp_path / "m.npz")
    for given in (circuit, module):
        loaded = circuitc.load(path, given)
        np.testing.assert_array_equal(loaded.params["theta"], model.params["theta"])
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    with pytest.raises(ValueError, match="parameters of the circuit 'logreg'"):
        circuitc.load(path, logreg(4, name="other"))


def test_features_by_name(tmp_path):
    X, y = _data()
    names = ["a", "b", "c", "d"]
    cols = dict(zip(names, X.T, strict=True))
    model = circuitc.fit(logreg(4), cols, y, epochs=2, batch_size=8)
    assert model.preprocessing.feature_names == names
    reordered = {k: cols[k] for k in ["c", "a", "d", "b"]}
    np.testing.assert_array_equal(model.predict_proba(reordered), model.predict_proba(X))
    with pytest.raises(ValueError, match="no column 'd'"):
        model.predict({k: cols[k] for k in "abc"})
    with pytest.raises(ValueError, match="a column 'e' the model was not trained on"):
        model.predict({**cols, "e": X[:, 0]})
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(reordered)
    np.testing.assert_array_equal(model.predict_proba(frame), model.predict_proba(X))


def test_validation_and_early_stopping_keep_the_best_parameters():
    X, y = _data(400)
    model = circuitc.fit(
        logreg(4), X, y, epochs=300, lr=2.0, batch_size=1, validation=0.25, early_stopping=2
    )
    h = model.history
    assert h.stopped == "early_stopping" and len(h) < 300
    best = int(np.argmin(h.val_loss))
    assert len(h) == best + 1 + 2
    # the kept parameters are the best epoch's: the validation loss by hand equals its entry
    Xv, yv = model.validation
    pre = model.preprocessing
    Z = np.hstack([np.ones((len(Xv), 1)), (Xv - pre.mean) / pre.scale])
    a = (Z @ model.params["theta"])[:, 0]
    loss = np.mean(np.logaddexp(0.0, a) - yv * a)
    np.testing.assert_allclose(loss, h.val_loss[best], rtol=1e-12)


def test_callbacks_stop_the_run():
    X, y = _data()
    seen = []

    def stop_after_two(progress):
        if progress.kind == "epoch":
            seen.append(progress.epoch)
            return progress.epoch == 2

    model = circuitc.fit(logreg(4), X, y, epochs=10, callbacks=[stop_after_two])
    assert seen == [1, 2] and len(model.history) == 2 and model.history.stopped == "callback"


def _readme_snippet() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- numpy-only -->\s*```python\n(.*?)```", text, re.S)
    assert m, "README has no NumPy-only block"
    return m.group(1)


@pytest.mark.parametrize("labels", ["numbers", "strings"])
def test_readme_numpy_only_snippet_runs_without_circuitc(tmp_path, labels):
    X, y = _data()
    if labels == "strings":
        y = np.array(["cat", "dog"])[y]
    circuitc.compile(logreg(4, name="logreg"), out=tmp_path / "logreg.py")
    model = circuitc.fit(logreg(4, name="logreg"), X, y, epochs=2, batch_size=8)
    model.save(tmp_path / "model.npz")
    np.save(tmp_path / "raw.npy", X[:20])
    script = tmp_path / "use.py"
    script.write_text(
        "import sys\nsys.modules['circuitc'] = None  # importing circuitc now fails\n"
        + _readme_snippet()
        + textwrap.dedent(
            """
            import numpy as np
            out = predict(np.load("raw.npy"))
            np.save("out.npy", np.asarray(out))
            """
        )
    )
    subprocess.run([sys.executable, str(script)], cwd=tmp_path, check=True, timeout=120)
    got = np.load(tmp_path / "out.npy", allow_pickle=False)
    np.testing.assert_array_equal(got, model.predict(X[:20]))


def _readme_block(heading: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_training_block_runs(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_readme_block("## Training from Python"), "README.md", "exec"), namespace)
    model, X_test, y_test = namespace["model"], namespace["X_test"], namespace["y_test"]
    assert (tmp_path / "logreg.npz").exists()
    # the reloaded model is the saved one, and it learned: scikit-learn's own logistic
    # regression on the same split is the yardstick
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    oracle = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    oracle.fit(namespace["X_train"], namespace["y_train"])
    assert model.score(X_test, y_test) >= oracle.score(X_test, y_test) - 0.05
    assert model.history.stopped in (None, "early_stopping")


def test_example_training_script(tmp_path, capsys):
    pytest.importorskip("sklearn")
    import runpy

    script = runpy.run_path(str(ROOT / "examples" / "scripts" / "train_loop.py"))
    params, accuracy = script["main"](epochs=3, out=tmp_path / "loop.npz")
    assert accuracy > 0.9
    # the file it wrote is a model: circuitc.load applies its preprocessing to raw rows,
    # and the probabilities are the hand-written forward pass of the same parameters
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    model = circuitc.load(tmp_path / "loop.npz", script["make_circuit"](D=31))
    pre = model.preprocessing
    Z = np.hstack([np.ones((len(X), 1)), (X - pre.mean) / pre.scale])
    np.testing.assert_allclose(model.predict_proba(X)[:, 0], _sigmoid(Z @ params["theta"])[:, 0])
    assert model.score(X, y) > 0.9


def test_predict_refuses_a_frame_with_a_column_twice():
    pd = pytest.importorskip("pandas")
    X, y = _data()
    cols = dict(zip("abcd", X.T, strict=True))
    model = circuitc.fit(logreg(4), cols, y, epochs=1, batch_size=8)
    frame = pd.DataFrame(np.column_stack([X, X[:, :1]]), columns=["a", "b", "c", "d", "a"])
    with pytest.raises(ValueError, match="column 'a' appears twice"):
        model.predict(frame)


def test_model_is_public_and_fit_returns_one():
    assert "Model" in circuitc.__all__
    X, y = _data()
    model = circuitc.fit(logreg(4), X, y, epochs=1, batch_size=16)
    assert isinstance(model, circuitc.Model)
    assert "logreg" in repr(model) and "binary" in repr(model)
