"""Training through the array-API backend (issue 14, part 2): parameters and data in PyTorch,
JAX or NumPy arrays, step for step the NumPy path's run.

The oracle is the NumPy training path (``sgd.train`` on the NumPy module) on the same seed: after
100 SGD steps the parameters agree to 1e-10 relative (float64). The NumPy path itself is checked
against hand-written gradients elsewhere; here a hand-written SGD on the logistic regression
(closed-form gradient Xᵀ(σ(Xθ) − y)/n) is a second, independent oracle.
"""

from __future__ import annotations

import contextlib
import runpy
from pathlib import Path

import numpy as np
import pytest

import circuitc
from circuitc.training import data as datasets
from circuitc.training import device, sgd

pytest.importorskip("array_api_compat")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RTOL = 1e-10
STEPS = 100


def _circuit(example: str, **sizes):
    return runpy.run_path(str(EXAMPLES / f"{example}.py"))["make_circuit"](**sizes)


@pytest.fixture(scope="module")
def breast_cancer():
    pytest.importorskip("sklearn")
    return datasets.load("breast_cancer", seed=0)


def _stop_after(steps: int):
    """A callback that stops a run after ``steps`` steps (counted over epochs)."""
    seen = {"n": 0}

    def callback(progress):
        if progress.kind == "step":
            seen["n"] += 1
            return seen["n"] >= steps
        return False

    return callback


@contextlib.contextmanager
def _restore_x64():
    """device.library('jax') turns on 64-bit floats; put the flag back for the other tests."""
    try:
        import jax
    except ImportError:
        yield
        return
    before = jax.config.jax_enable_x64
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)


def _agree(actual: dict, expected: dict) -> None:
    for name in expected:
        scale = max(1.0, float(np.max(np.abs(expected[name]))))
        np.testing.assert_allclose(
            actual[name], expected[name], rtol=RTOL, atol=RTOL * scale, err_msg=name
        )


@pytest.mark.parametrize("lib", ["numpy", "torch", "jax"])
@pytest.mark.parametrize(
    "settings",
    [
        dict(optimizer="sgd", lr=0.1, batch_size=16),
        dict(optimizer="sgd", lr=0.05, batch_size=7, momentum=0.9, schedule="1/t"),
        dict(optimizer="adam", lr=0.01, batch_size=32),
    ],
    ids=["sgd", "momentum", "adam"],
)
def test_100_steps_agree_with_the_numpy_path(breast_cancer, lib, settings):
    pytest.importorskip(lib)
    circuit = _circuit("two_layer_nn_batch")
    plain = circuitc.compile(circuit)
    xp_module = circuitc.compile(circuit, backend="array_api")
    with _restore_x64():
        got, _ = device.train(
            xp_module, breast_cancer, lib=lib, epochs=50, seed=3,
            callback=_stop_after(STEPS), **settings,
        )  # fmt: skip
    want, history = sgd.train(
        plain, breast_cancer, epochs=50, seed=3, callback=_stop_after(STEPS), **settings
    )
    assert history.stopped == "callback"
    _agree(got, want)


def test_logistic_regression_against_hand_written_sgd(breast_cancer):
    """An oracle that shares nothing with circuitc's training: SGD written out with the
    closed-form gradient of the mean cross-entropy, on the same rows in the same order."""
    torch = pytest.importorskip("torch")  # noqa: F841
    module = circuitc.compile(_circuit("logistic_regression_batch"), backend="array_api")
    binding = sgd.bind(module, breast_cancer)
    X, Y = binding.encode(breast_cancer.X_train, breast_cancer.y_train)
    theta = sgd.init(module, 5, breast_cancer)["theta"].copy()
    n, bs, lr = X.shape[0], 20, 0.2
    done = 0
    epoch = 0
    while done < STEPS:
        order = sgd.epoch_order(n, 5, epoch, True)
        for s in range(-(-n // bs)):
            rows = order[s * bs : (s + 1) * bs]
            a = X[rows] @ theta
            theta = theta - lr * X[rows].T @ (1 / (1 + np.exp(-a)) - Y[rows]) / len(rows)
            done += 1
            if done == STEPS:
                break
        epoch += 1
    got, _ = device.train(
        module, breast_cancer, lib="torch", epochs=50, seed=5, lr=lr, batch_size=bs,
        callback=_stop_after(STEPS),
    )  # fmt: skip
    _agree(got, {"theta": theta})


@pytest.mark.parametrize("lib", ["torch", "jax"])
def test_whole_epochs_give_the_numpy_history(breast_cancer, lib):
    pytest.importorskip(lib)
    circuit = _circuit("logistic_regression_batch")
    with _restore_x64():
        got, h = device.train(
            circuitc.compile(circuit, backend="array_api"), breast_cancer, lib=lib,
            epochs=2, batch_size=16, seed=1,
        )  # fmt: skip
    want, h_ref = sgd.train(
        circuitc.compile(circuit), breast_cancer, epochs=2, batch_size=16, seed=1
    )
    _agree(got, want)
    np.testing.assert_allclose(h.loss, h_ref.loss, rtol=RTOL)
    assert h.train_accuracy == h_ref.train_accuracy and h.epoch == [1, 2]


def test_the_callback_sees_arrays_of_the_library(breast_cancer):
    torch = pytest.importorskip("torch")
    module = circuitc.compile(_circuit("logistic_regression_batch"), backend="array_api")
    kinds = []

    def callback(progress):
        kinds.append(type(progress.params["theta"]))
        return len(kinds) >= 3

    device.train(module, breast_cancer, lib="torch", batch_size=32, callback=callback)
    assert kinds == [torch.Tensor] * 3


def test_bad_choices_are_value_errors_saying_what():
    with pytest.raises(ValueError, match="CPU"):
        device.library("numpy", "cuda")
    with pytest.raises(ValueError, match="unknown array library"):
        device.library("tensorflow")
    with pytest.raises(ValueError, match="unknown device"):
        device.library("torch", "tpu")
    module = circuitc.compile(_circuit("logistic_regression_batch"))
    with pytest.raises(ValueError, match="array_api"):
        device.train(module, "breast_cancer", lib="numpy")


def test_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    module = circuitc.compile(_circuit("logistic_regression_batch"), backend="array_api")
    got, _ = device.train(module, "breast_cancer", lib="torch", device="cuda", epochs=1)
    want, _ = sgd.train(
        circuitc.compile(_circuit("logistic_regression_batch")), "breast_cancer", epochs=1
    )
    _agree(got, want)


# -- the command line ------------------------------------------------------------------------------
def _train_cli(tmp_path, capsys, *flags) -> tuple[int, str]:
    from circuitc import cli

    code = cli.main(
        ["train", str(EXAMPLES / "logistic_regression_batch.py"), "--epochs", "2",
         "--batch-size", "16", "--quiet", *flags]
    )  # fmt: skip
    return code, capsys.readouterr().err


@pytest.mark.parametrize("lib", ["torch", "jax", "numpy"])
def test_cli_trains_on_an_array_library_as_on_numpy(tmp_path, capsys, lib):
    pytest.importorskip(lib)
    pytest.importorskip("sklearn")
    with _restore_x64():
        code, err = _train_cli(
            tmp_path, capsys, "--backend", "array-api", "--array-lib", lib,
            "--out", str(tmp_path / "lib.npz"),
        )  # fmt: skip
    assert code == 0, err
    code, err = _train_cli(tmp_path, capsys, "--out", str(tmp_path / "numpy.npz"))
    assert code == 0, err
    got, want = np.load(tmp_path / "lib.npz"), np.load(tmp_path / "numpy.npz")
    _agree({"theta": got["theta"]}, {"theta": want["theta"]})


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--array-lib", "torch"], "need --backend array-api"),
        (["--device", "cuda"], "need --backend array-api"),
        (["--backend", "array-api", "--array-lib", "numpy", "--device", "cuda"], "CPU"),
    ],
)
def test_cli_refuses_bad_pairs_in_one_line(tmp_path, capsys, flags, message):
    code, err = _train_cli(tmp_path, capsys, *flags, "--out", str(tmp_path / "x.npz"))
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "x.npz").exists()


def test_a_numpy_run_resumed_on_torch_equals_the_whole_run(breast_cancer):
    """The optimizer's buffers and the position (epoch, step) carry over to the device."""
    pytest.importorskip("torch")
    circuit = _circuit("logistic_regression_batch")
    plain = circuitc.compile(circuit)
    settings = dict(epochs=2, batch_size=16, seed=2, momentum=0.9, lr=0.05)
    want, _ = sgd.train(plain, breast_cancer, **settings)
    state = sgd.State()
    part, _ = sgd.train(plain, breast_cancer, state=state, callback=_stop_after(10), **settings)
    assert (state.epoch, state.step) == (0, 10)
    module = circuitc.compile(circuit, backend="array_api")
    got, history = device.train(
        module, breast_cancer, lib="torch", params=part, state=state, **settings
    )
    assert history.epoch == [1, 2]
    _agree(got, want)
