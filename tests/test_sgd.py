"""SGD over compiled circuits (circuitc.sgd): steps by hand, an independent NumPy loop,
reproducibility, exact resume, prediction, initialisation, schedules and bad input.

Oracles: the update rules written out by hand from the module's own gradient (for the
optimizer arithmetic), and a hand-written NumPy logistic regression (for the whole loop,
gradient included). Data are small synthetic sets so every test runs in well under a second.
"""

from __future__ import annotations

import math
import runpy
from pathlib import Path

import numpy as np
import pytest

import circuitc
from circuitc.training import checkpoint, data, sgd

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _example(name: str, circuit: str | None = None):
    ns = runpy.run_path(str(EXAMPLES / f"{name}.py"))
    if circuit is None:
        return ns["circuit"]
    return next(c for c in ns["circuits"] if c.name == circuit)


@pytest.fixture(scope="module")
def logreg():
    return circuitc.compile(_example("logistic_regression", "logistic_regression_cross_entropy"))


@pytest.fixture(scope="module")
def logreg_sq():
    return circuitc.compile(_example("logistic_regression", "logistic_regression"))


@pytest.fixture(scope="module")
def linreg():
    return circuitc.compile(_example("linear_regression"))


@pytest.fixture(scope="module")
def two_layer():
    return circuitc.compile(_example("two_layer_nn"))


def binary_data(n=60, d=4, seed=1, test_size=0.25) -> data.Dataset:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.arange(1, d + 1) + 3.0
    w = rng.normal(size=d)
    y = ((X - 3.0) @ w + 0.5 * rng.normal(size=n) > 0).astype(float)
    return data.split(X, y, name="synthetic", test_size=test_size, seed=seed)


def regression_data(n=40, d=4, seed=2) -> data.Dataset:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    return data.split(X, y, name="reg", seed=seed)


def _snapshot(params):
    return {k: np.array(v, copy=True) for k, v in params.items()}


def _theta_vector(params, d=4):
    return np.array([float(params[f"theta_{j}"]) for j in range(d + 1)])


# -- one step by hand ---------------------------------------------------------------------------
def _first_step(module, ds, **kw):
    """Run train until its first step is done; return (params before, params after)."""
    params = sgd.init(module, 0, ds)
    before = _snapshot(params)
    after, history = sgd.train(module, ds, params=params, callback=lambda p: True, **kw)
    assert history.stopped == "callback" and len(history) == 0
    return before, after


def _kwargs(module, ds, rows):
    b = sgd.bind(module, ds)
    X, Y = b.encode(ds.X_train, ds.y_train)
    return b.kwargs(X, Y, rows)


@pytest.mark.parametrize("fixture", ["logreg", "logreg_sq", "linreg"])
def test_one_sgd_step_is_theta_minus_eta_g(fixture, request):
    module = request.getfixturevalue(fixture)
    ds = regression_data() if fixture == "linreg" else binary_data()
    # start away from 0 so every gradient term is nonzero
    params = {w: np.array(0.1 * (j + 1)) for j, w in enumerate(module.WRT)}
    before = _snapshot(params)
    i = int(sgd.epoch_order(ds.X_train.shape[0], 7, 0)[0])
    g = module.grad(**before, **_kwargs(module, ds, slice(i, i + 1)))
    after, _ = sgd.train(module, ds, params=params, lr=0.3, seed=7, callback=lambda p: True)
    for w in module.WRT:
        assert after[w] == before[w] - 0.3 * g[w]
        assert g[w] != 0


def test_minibatch_step_follows_the_mean_gradient(logreg):
    ds = binary_data()
    params = {w: np.array(0.05 * (j + 1)) for j, w in enumerate(logreg.WRT)}
    before = _snapshot(params)
    rows = sgd.epoch_order(ds.X_train.shape[0], 3, 0)[:8]
    g = logreg.grad(**before, **_kwargs(logreg, ds, rows))  # gradient of the sum over 8
    after, _ = sgd.train(
        logreg, ds, params=params, lr=0.5, seed=3, batch_size=8, callback=lambda p: True
    )
    for w in logreg.WRT:
        assert after[w] == pytest.approx(before[w] - 0.5 * g[w] / 8, rel=1e-15, abs=1e-17)


def test_momentum_two_steps_by_hand(logreg):
    ds = binary_data()
    params = {w: np.array(0.1) for w in logreg.WRT}
    theta0 = _snapshot(params)
    order = sgd.epoch_order(ds.X_train.shape[0], 0, 0)
    steps = []
    sgd.train(
        logreg, ds, params=params, lr=0.2, momentum=0.9,
        callback=lambda p: steps.append(_snapshot(p.params)) or len(steps) == 2,
    )  # fmt: skip
    i, j = int(order[0]), int(order[1])
    g1 = logreg.grad(**theta0, **_kwargs(logreg, ds, slice(i, i + 1)))
    theta1 = {w: theta0[w] - 0.2 * g1[w] for w in logreg.WRT}
    g2 = logreg.grad(**theta1, **_kwargs(logreg, ds, slice(j, j + 1)))
    for w in logreg.WRT:
        v2 = 0.9 * g1[w] + g2[w]
        assert steps[0][w] == pytest.approx(theta1[w], rel=1e-14)
        assert steps[1][w] == pytest.approx(theta1[w] - 0.2 * v2, rel=1e-14)


def test_adam_first_two_steps_by_hand(logreg):
    ds = binary_data()
    params = {w: np.array(0.1) for w in logreg.WRT}
    theta0 = _snapshot(params)
    order = sgd.epoch_order(ds.X_train.shape[0], 0, 0)
    steps = []
    sgd.train(
        logreg, ds, params=params, lr=0.01, optimizer="adam",
        callback=lambda p: steps.append(_snapshot(p.params)) or len(steps) == 2,
    )  # fmt: skip
    b1, b2, eps = 0.9, 0.999, 1e-8
    theta, m, v = dict(theta0), {}, {}
    for t, i in enumerate(order[:2], start=1):
        i = int(i)
        g = logreg.grad(**theta, **_kwargs(logreg, ds, slice(i, i + 1)))
        for w in logreg.WRT:
            m[w] = b1 * m.get(w, 0.0) + (1 - b1) * g[w]
            v[w] = b2 * v.get(w, 0.0) + (1 - b2) * g[w] ** 2
            mhat, vhat = m[w] / (1 - b1**t), v[w] / (1 - b2**t)
            theta[w] = theta[w] - 0.01 * mhat / (math.sqrt(vhat) + eps)
        for w in logreg.WRT:
            assert steps[t - 1][w] == pytest.approx(theta[w], rel=1e-13)


# -- the whole loop against NumPy ---------------------------------------------------------------
def numpy_logreg_sgd(X, y, epochs, lr, seed):
    """Per-instance SGD for the cross-entropy logistic regression, written out in NumPy.

    θ = (bias, w); p = 1 / (1 + exp(-(bias + w·x))); dJ/dbias = p - y; dJ/dw = (p - y) x.
    The order is the documented one: epoch e visits default_rng([seed, e]).permutation(n).
    """
    n, d = X.shape
    theta = np.zeros(d + 1)
    trace = []
    for epoch in range(epochs):
        for i in np.random.default_rng([seed, epoch]).permutation(n):
            a = theta[0] + X[i] @ theta[1:]
            p = 1.0 / (1.0 + math.exp(-a))
            theta[0] -= lr * (p - y[i])
            theta[1:] -= lr * (p - y[i]) * X[i]
            trace.append(theta.copy())
    return trace


def test_per_instance_sgd_matches_numpy_step_for_step(logreg):
    ds = binary_data()
    assert all(float(v) == 0.0 for v in sgd.init(logreg, 0, ds).values())
    trace = []
    sgd.train(
        logreg, ds, epochs=3, lr=0.4, seed=5,
        callback=lambda p: p.kind == "step" and trace.append(_theta_vector(p.params)),
    )  # fmt: skip
    expected = numpy_logreg_sgd(ds.X_train, ds.y_train, 3, 0.4, 5)
    assert len(trace) == len(expected) == 3 * ds.X_train.shape[0]
    for k, (got, want) in enumerate(zip(trace, expected, strict=True)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13, err_msg=f"step {k}")


# -- reproducibility and resume -----------------------------------------------------------------
@pytest.mark.parametrize("opt", [dict(), dict(momentum=0.9), dict(optimizer="adam", lr=0.01)])
def test_same_seed_same_bits(two_layer, opt):
    ds = binary_data(d=3)
    runs = [sgd.train(two_layer, ds, epochs=2, seed=11, batch_size=4, **opt) for _ in range(2)]
    (p1, h1), (p2, h2) = runs
    for w in two_layer.WRT:
        assert p1[w].tobytes() == p2[w].tobytes()
    assert h1.loss == h2.loss
    p3, _ = sgd.train(two_layer, ds, epochs=2, seed=12, batch_size=4, **opt)
    assert any(p1[w].tobytes() != p3[w].tobytes() for w in two_layer.WRT)


@pytest.mark.parametrize(
    "opt", [dict(), dict(momentum=0.5), dict(optimizer="adam", lr=0.01), dict(schedule="cosine")]
)
def test_resume_equals_uninterrupted(two_layer, opt, tmp_path):
    ds = binary_data(d=3)
    full, hist = sgd.train(two_layer, ds, epochs=3, seed=4, batch_size=3, **opt)

    def stop_mid_epoch(p):
        return p.kind == "step" and p.epoch == 2 and p.step == 5

    state = sgd.State()
    part, h = sgd.train(
        two_layer, ds, epochs=3, seed=4, batch_size=3, state=state, callback=stop_mid_epoch, **opt
    )
    assert h.stopped == "callback" and (state.epoch, state.step) == (1, 5)
    # through the file, as `circuitc train --resume` does
    path = checkpoint.save(tmp_path / "ck.npz", two_layer, part, state=state, data=ds)
    ck = checkpoint.load(path, two_layer)
    resumed, h2 = sgd.train(
        two_layer, ds, params=ck.params, epochs=3, seed=4, batch_size=3, state=ck.state, **opt
    )
    for w in two_layer.WRT:
        assert resumed[w].tobytes() == full[w].tobytes()
    assert h2.loss == hist.loss and h2.test_accuracy == hist.test_accuracy


def test_parameters_are_updated_in_place(logreg):
    ds = binary_data()
    params = {w: np.zeros(()) for w in logreg.WRT}
    ids = {w: id(p) for w, p in params.items()}
    out, _ = sgd.train(logreg, ds, params=params, epochs=1)
    assert out is not None
    for w in logreg.WRT:
        assert id(out[w]) == ids[w] and params[w] is out[w]
    assert any(float(params[w]) != 0 for w in logreg.WRT)


def test_history_and_learning(logreg):
    ds = binary_data(n=120)
    _, h = sgd.train(logreg, ds, epochs=4, lr=0.1)
    assert h.epoch == [1, 2, 3, 4] and len(h) == 4 and h["loss"] is h.loss
    assert h.loss[-1] < h.loss[0] < math.log(2)  # below the loss of θ = 0
    assert h.train_accuracy[-1] > 0.85 and h.test_accuracy[-1] > 0.8
    assert [r["epoch"] for r in h.rows()] == [1, 2, 3, 4]


# -- prediction -------------------------------------------------------------------------------
def test_predict_is_the_forward_of_the_trained_network(logreg):
    ds = binary_data()
    params, h = sgd.train(logreg, ds, epochs=2, lr=0.3)
    b = sgd.bind(logreg, ds)
    X, _ = b.encode(ds.X_test, None)
    probs = sgd.predictions(logreg, b, params, X)
    theta = _theta_vector(params)
    expected = 1.0 / (1.0 + np.exp(-(theta[0] + ds.X_test @ theta[1:])))
    np.testing.assert_allclose(probs[:, 0], expected, rtol=1e-13)
    acc = np.mean((expected >= 0.5) == ds.y_test)
    assert h.test_accuracy[-1] == acc


def test_predict_of_a_trained_network_needs_no_target():
    """The batched 2-layer net (D = 5, H = 3) after training: ``predict`` called with the
    parameters and the features only equals the forward pass written out by hand."""
    make_circuit = runpy.run_path(str(EXAMPLES / "two_layer_nn_batch.py"))["make_circuit"]
    module = circuitc.compile(make_circuit(D=5, H=3))
    ds = binary_data()
    params, _ = sgd.train(module, ds, epochs=3, lr=0.5, batch_size=8)
    X, _ = sgd.bind(module, ds).encode(ds.X_test, None)
    p = module.predict(alpha=params["alpha"], beta=params["beta"], beta_0=params["beta_0"], X=X)
    Z = 1.0 / (1.0 + np.exp(-(X @ params["alpha"])))
    expected = 1.0 / (1.0 + np.exp(-(Z @ params["beta"] + params["beta_0"])))
    assert p.shape == (X.shape[0], 1)
    np.testing.assert_allclose(p, expected, rtol=1e-13, atol=0)
    with pytest.raises(ValueError, match="'X' has shape"):
        module.predict(**params, X=X[:, 1:])  # the same shape checks as value_and_grad


def test_regression_has_no_accuracy(linreg):
    ds = regression_data()
    assert sgd.bind(linreg, ds).task == "regression"
    _, h = sgd.train(linreg, ds, epochs=3, lr=0.05)
    assert h.train_accuracy == [None] * 3 and h.loss[-1] < h.loss[0]


# -- initialisation and schedules --------------------------------------------------------------
def test_init_zero_without_hidden_layer_random_with_one(logreg, two_layer):
    ds = binary_data(d=3)
    assert all(float(v) == 0 for v in sgd.init(logreg, 3, binary_data()).values())
    p1, p2, p3 = (sgd.init(two_layer, s, ds) for s in (3, 3, 4))
    assert all(p1[w].tobytes() == p2[w].tobytes() for w in two_layer.WRT)
    assert any(p1[w].tobytes() != p3[w].tobytes() for w in two_layer.WRT)
    values = np.array([float(v) for v in p1.values()])
    assert np.all(values != 0) and 0.1 < values.std() < 1.5


def test_schedules():
    const = sgd.schedule_fn(None, 0.5, 10, 4)
    assert const(0) == const(39) == 0.5
    inv = sgd.schedule_fn("1/t", 0.5, 10, 4)
    assert inv(0) == 0.5 and inv(4) == 0.25 and inv(12) == 0.125
    step = sgd.schedule_fn("step", 0.8, 8, 5)  # halved every 2 epochs = 10 steps
    assert [step(t) for t in (0, 9, 10, 19, 20)] == [0.8, 0.8, 0.4, 0.4, 0.2]
    cos = sgd.schedule_fn("cosine", 1.0, 2, 5)
    assert cos(0) == 1.0 and cos(5) == pytest.approx(0.5) and cos(10) == pytest.approx(0.0)
    f = sgd.schedule_fn(lambda t: 1.0 / (t + 1), 9.0, 2, 5)
    assert f(3) == 0.25
    with pytest.raises(ValueError, match="unknown schedule"):
        sgd.schedule_fn("linear", 0.1, 1, 1)


def test_schedule_drives_the_steps(logreg):
    ds = binary_data()
    lrs = []
    sgd.train(
        logreg, ds, epochs=2, lr=0.5, schedule="1/t",
        callback=lambda p: p.kind == "step" and lrs.append(p.lr),
    )  # fmt: skip
    n = ds.X_train.shape[0]
    assert lrs[0] == 0.5 and lrs[n] == 0.25 and len(lrs) == 2 * n


# -- bad input ------------------------------------------------------------------------------
def test_divergence_names_epoch_and_step(linreg):
    ds = regression_data()
    params = sgd.init(linreg, 0, ds)
    with pytest.raises(
        sgd.TrainingDiverged, match=r"became (inf|nan) at epoch \d+, step \d+ of 30"
    ) as e:
        sgd.train(linreg, ds, params=params, lr=1e3, epochs=5)
    assert f"at epoch {e.value.epoch}, step {e.value.step} of 30" in str(e.value)
    # the parameters are those of the last good step (finite)
    assert all(np.isfinite(v) for v in params.values())


def test_labels_outside_the_loss_range(logreg):
    ds = binary_data()
    ds.y_train[3] = 2.0
    with pytest.raises(data.DataError, match="needs labels 0 or 1; the train part has 2"):
        sgd.train(logreg, ds, epochs=1)
    ds.y_train[3] = 0.5
    with pytest.raises(data.DataError, match="labels 0 or 1"):
        sgd.bind(logreg, ds)


def test_wrong_column_count(logreg):
    for d in (3, 5):
        with pytest.raises(data.DataError, match=f"takes 4 features, the data has {d} columns"):
            sgd.train(logreg, binary_data(d=d), epochs=1)


def test_circuit_without_features_is_refused():
    import sympy as sp

    x, t = sp.symbols("x t")
    m = circuitc.compile((t * x - 1) ** 2, wrt=[t])
    with pytest.raises(data.DataError, match="features=... and target=..."):
        sgd.train(m, binary_data(d=1), epochs=1)


def test_bad_settings(logreg):
    ds = binary_data()
    with pytest.raises(ValueError, match="batch_size"):
        sgd.train(logreg, ds, batch_size=0)
    with pytest.raises(ValueError, match="unknown optimizer"):
        sgd.train(logreg, ds, optimizer="rmsprop")
    with pytest.raises(data.DataError, match="shape"):
        sgd.train(logreg, ds, params={w: np.zeros(2) for w in logreg.WRT})


def test_checkpoint_refuses_another_circuit(logreg, logreg_sq, tmp_path):
    path = checkpoint.save(tmp_path / "p.npz", logreg, sgd.init(logreg, 0, binary_data()))
    with pytest.raises(checkpoint.CheckpointError, match="not of 'logistic_regression'"):
        checkpoint.load(path, logreg_sq)
    assert checkpoint.load(path, logreg).params.keys() == set(logreg.WRT)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(checkpoint.CheckpointError, match="not a circuitc parameter file"):
        checkpoint.load(tmp_path / "junk.npz", logreg)
    with pytest.raises(checkpoint.CheckpointError, match="cannot read .*No such file"):
        checkpoint.load(tmp_path / "absent.npz", logreg)
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(checkpoint.CheckpointError, match="not a circuitc parameter file"):
        checkpoint.load(tmp_path / "plain.npy", logreg)
    np.savez(tmp_path / "other.npz", theta_0=np.zeros(()))
    with pytest.raises(checkpoint.CheckpointError, match="not a circuitc parameter file"):
        checkpoint.load(tmp_path / "other.npz", logreg)


# -- matrix circuits (instances are rows) -----------------------------------------------------------
@pytest.fixture(scope="module")
def logreg_batch():
    make = runpy.run_path(str(EXAMPLES / "logistic_regression_batch.py"))["make_circuit"]
    return circuitc.compile(make(D=5, name="logreg5"))


@pytest.fixture(scope="module")
def mlp_small():
    make = runpy.run_path(str(EXAMPLES / "mlp_digits.py"))["make_circuit"]
    return circuitc.compile(make(D=5, H=3, K=3, name="mlp_small"))


def three_class_data(n=45, seed=3) -> data.Dataset:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, 4)) + 2.0 * np.eye(3, 4)[y]
    return data.split(X, y, name="three", seed=seed)


def test_batch_circuit_gets_the_bias_column_and_matches_numpy(logreg_batch):
    ds = binary_data()
    b = sgd.bind(logreg_batch, ds)
    assert b.layout == "matrix" and b.bias and b.task == "binary"
    X, Y = b.encode(ds.X_train, ds.y_train)
    np.testing.assert_array_equal(X[:, 0], 1.0)
    np.testing.assert_array_equal(X[:, 1:], ds.X_train)
    assert Y.shape == (ds.X_train.shape[0], 1)
    trace = []
    sgd.train(
        logreg_batch, ds, epochs=2, lr=0.4, seed=5,
        callback=lambda p: p.kind == "step" and trace.append(p.params["theta"][:, 0].copy()),
    )  # fmt: skip
    expected = numpy_logreg_sgd(ds.X_train, ds.y_train, 2, 0.4, 5)
    assert len(trace) == len(expected)
    for k, (got, want) in enumerate(zip(trace, expected, strict=True)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13, err_msg=f"step {k}")


def test_batch_minibatch_matches_numpy_mean_gradient(logreg_batch):
    ds = binary_data(n=64)
    params, _ = sgd.train(logreg_batch, ds, epochs=2, lr=0.5, batch_size=10, seed=2)
    Xb = np.hstack([np.ones((ds.X_train.shape[0], 1)), ds.X_train])
    theta = np.zeros(5)
    n = Xb.shape[0]
    for epoch in range(2):
        order = np.random.default_rng([2, epoch]).permutation(n)
        for s in range(0, n, 10):
            rows = order[s : s + 10]
            p = 1.0 / (1.0 + np.exp(-(Xb[rows] @ theta)))
            theta -= 0.5 * Xb[rows].T @ (p - ds.y_train[rows]) / rows.size
    np.testing.assert_allclose(params["theta"][:, 0], theta, rtol=1e-12, atol=1e-14)


def _mlp_forward(params, X):
    Xb = np.hstack([np.ones((X.shape[0], 1)), X])
    Z = 1.0 / (1.0 + np.exp(-(Xb @ params["W1"])))
    A = Z @ params["W2"] + params["b2"]
    E = np.exp(A - A.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def test_multiclass_step_prediction_and_labels(mlp_small):
    ds = three_class_data()
    b = sgd.bind(mlp_small, ds)
    assert b.task == "multiclass" and b.n_classes == 3
    params = sgd.init(mlp_small, 0, ds)
    assert params["W1"].shape == (5, 3) and np.all(params["W1"] != 0)
    assert np.all(params["b2"] == 0)  # bias rows start at 0
    before = _snapshot(params)
    rows = sgd.epoch_order(ds.X_train.shape[0], 0, 0)[:4]
    X, Y = b.encode(ds.X_train, ds.y_train)
    np.testing.assert_array_equal(Y.argmax(axis=1), ds.y_train)  # one-hot
    g = mlp_small.grad(**before, **b.kwargs(X, Y, rows))
    after, _ = sgd.train(
        mlp_small, ds, params=params, lr=0.7, batch_size=4, callback=lambda p: True
    )
    for w in mlp_small.WRT:
        np.testing.assert_array_equal(after[w], before[w] - 0.7 * g[w])
    params, h = sgd.train(mlp_small, ds, epochs=15, lr=0.5, batch_size=4)
    probs = sgd.predictions(mlp_small, b, params, b.encode(ds.X_test, None)[0])
    np.testing.assert_allclose(probs, _mlp_forward(params, ds.X_test), rtol=1e-12, atol=1e-15)
    assert h.test_accuracy[-1] == np.mean(probs.argmax(axis=1) == ds.y_test)
    assert h.train_accuracy[-1] > 0.8
    ds.y_test[0] = 3
    with pytest.raises(data.DataError, match=r"needs labels integers 0..2; the test part has 3"):
        sgd.bind(mlp_small, ds)


def test_symbolic_dimensions_are_sized_from_the_data():
    import sympy as sp

    from circuitc import nn

    N, D, K = sp.symbols("N D K")
    X = sp.MatrixSymbol("X", N, D)
    Y = sp.MatrixSymbol("Y", N, K)
    W = sp.MatrixSymbol("W", D, K)
    c = circuitc.Circuit(
        "softmax_regression", nn.softmax_cross_entropy(X * W, Y), [W],
        features=X, target=Y, prediction=nn.softmax(X * W),
    )  # fmt: skip
    m = circuitc.compile(c)
    ds = three_class_data()
    b = sgd.bind(m, ds)
    assert b.dims == {"D": 4, "K": 3} and not b.bias and b.task == "multiclass"
    params = sgd.init(m, 0, ds)
    assert params["W"].shape == (4, 3) and np.all(params["W"] == 0)  # no hidden layer: zeros
    with pytest.raises(data.DataError, match="cannot size dimension 'D'"):
        sgd.init(m, 0)
    _, h = sgd.train(m, ds, epochs=3, lr=0.3)
    assert h.loss[-1] < h.loss[0] < math.log(3)


def test_checkpoint_refuses_another_version_of_the_circuit(logreg_batch, tmp_path):
    make = runpy.run_path(str(EXAMPLES / "logistic_regression_batch.py"))["make_circuit"]
    changed = circuitc.compile(make(D=6, name="logreg5"))  # same name, another circuit
    path = checkpoint.save(tmp_path / "p.npz", logreg_batch, {"theta": np.zeros((5, 1))})
    with pytest.raises(
        checkpoint.CheckpointError, match="another version of the circuit 'logreg5'"
    ):
        checkpoint.load(path, changed)


def test_a_generated_file_trains_without_its_circuit():
    from circuitc.loader import import_file

    generated = EXAMPLES.parent / "generated" / "logistic_regression_batch.py"
    module = import_file(generated, "logreg_from_file")
    assert not hasattr(module, "__circuit__")
    assert module.SHAPES == {"theta": (31, 1), "X": ("N", 31), "y": ("N", 1)}
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 30))
    ds = data.split(X, (X[:, 0] > 0).astype(float))
    assert sgd.bind(module, ds).bias
    _, h = sgd.train(module, ds, epochs=2, lr=0.1)
    assert h.train_accuracy[-1] > 0.8


def test_data_may_be_given_by_name(logreg_batch, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    np.savez(tmp_path / "d.npz", X=X, y=(X[:, 1] > 0).astype(float))
    p1, h1 = sgd.train(logreg_batch, str(tmp_path / "d.npz"), epochs=2, seed=3)
    p2, h2 = sgd.train(logreg_batch, data.load(tmp_path / "d.npz", seed=3), epochs=2, seed=3)
    assert p1["theta"].tobytes() == p2["theta"].tobytes() and h1.loss == h2.loss
