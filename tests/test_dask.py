"""Data-parallel gradients on Dask (issue 14, part 3): ``circuitc.dask.value_and_grad``.

The data are ``dask.array`` arrays chunked by rows; each chunk runs the compiled module's
``value_and_grad`` and a tree reduction adds the results (the gradient of a sum is the sum of
the gradients). circuitc decides from the IR whether J is a sum (or a mean) over rows of a row
term plus a parameter-only term, weights mean-reduced chunks by n_k/N, skips empty chunks, adds
the parameter-only term once, and refuses any other J with a ``CircuitError`` saying why.

Oracles: the in-memory module on the same (concatenated) rows, and each loss's gradient in closed
form, written by hand in NumPy (never through circuitc).
"""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import circuitc
from circuitc import nn

da = pytest.importorskip("dask.array")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

#: the agreement the issue asks of the Dask gradient with the in-memory one
RTOL = 1e-10


def agree(actual, expected, what: str = "") -> None:
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"
    scale = max(1.0, float(np.max(np.abs(e))))
    np.testing.assert_allclose(a, e, rtol=RTOL, atol=RTOL * scale, err_msg=what)


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


# -- circuits --------------------------------------------------------------------------------------
N = sp.Symbol("N")
D = 4
X = sp.MatrixSymbol("X", N, D)
y = sp.MatrixSymbol("y", N, 1)
w = sp.MatrixSymbol("w", D, 1)
lam = sp.Symbol("lam")


def logreg():
    return runpy.run_path(str(EXAMPLES / "logistic_regression_batch.py"))["make_circuit"](D=D)


def mlp():
    return runpy.run_path(str(EXAMPLES / "mlp.py"))["make_circuit"](D=D, H=5, K=3)


def ridge_sum():
    """Sum over rows of ½(Xw − y)² plus λ·½‖w‖² (λ a data input without rows), added once."""
    return circuitc.Circuit(
        "ridge_sum", nn.squared_loss(X * w, y, reduction="sum") + lam * nn.l2(w), wrt=[w]
    )


def logreg_l2_mean():
    """Mean cross-entropy over rows plus 0.01·½‖w‖²."""
    return circuitc.Circuit(
        "logreg_l2",
        nn.binary_cross_entropy_with_logits(X * w, y) + sp.Rational(1, 100) * nn.l2(w),
        wrt=[w],
    )


def data(n: int = 23, seed: int = 0, k: int | None = None) -> dict:
    rng = np.random.default_rng(seed)
    out = {"X": rng.normal(size=(n, D)), "y": rng.integers(0, 2, (n, 1)).astype(float)}
    if k is not None:
        out["Y"] = np.eye(k)[rng.integers(0, k, n)]
        del out["y"]
    return out


def chunked(arrays: dict, chunks: tuple) -> dict:
    """Every row-indexed array as a dask array with the given row chunks (columns whole)."""
    return {k: da.from_array(v, chunks=(chunks,) + v.shape[1:]) for k, v in arrays.items()}


UNEVEN = (3, 7, 1, 12)  # 23 rows


# -- equality with the in-memory gradient and with closed forms ------------------------------------
def test_mean_loss_on_uneven_chunks_equals_in_memory_and_closed_form():
    module = circuitc.compile(logreg())
    rng = np.random.default_rng(1)
    theta = rng.normal(size=(D, 1))
    arrays = data(seed=1)
    J, g = circuitc.dask.value_and_grad(module, {"theta": theta}, **chunked(arrays, UNEVEN))
    J_ref, g_ref = module.value_and_grad(theta=theta, **arrays)
    agree(J, J_ref, "J")
    agree(g["theta"], g_ref["theta"], "dJ/dtheta")
    # closed form: X.T (sigmoid(X theta) - y) / N
    Xa, ya = arrays["X"], arrays["y"]
    agree(g["theta"], Xa.T @ (_sigmoid(Xa @ theta) - ya) / len(Xa), "closed form")
    a = Xa @ theta
    agree(J, np.mean(np.logaddexp(0, a) - ya * a), "closed-form J")


def test_sum_loss_adds_the_parameter_term_once():
    module = circuitc.compile(ridge_sum())
    rng = np.random.default_rng(2)
    wv = rng.normal(size=(D, 1))
    arrays = data(seed=2)
    J, g = circuitc.dask.value_and_grad(module, {"w": wv}, lam=0.3, **chunked(arrays, UNEVEN))
    Xa, ya = arrays["X"], arrays["y"]
    r = Xa @ wv - ya
    agree(J, 0.5 * np.sum(r**2) + 0.3 * 0.5 * np.sum(wv**2), "J")
    agree(g["w"], Xa.T @ r + 0.3 * wv, "dJ/dw")
    J_ref, g_ref = module.value_and_grad(w=wv, lam=0.3, **arrays)
    agree(J, J_ref, "J vs in-memory")
    agree(g["w"], g_ref["w"], "dJ/dw vs in-memory")


def test_mean_loss_with_a_penalty_weights_chunks_by_their_rows():
    module = circuitc.compile(logreg_l2_mean())
    rng = np.random.default_rng(3)
    wv = rng.normal(size=(D, 1))
    arrays = data(seed=3)
    J, g = circuitc.dask.value_and_grad(module, {"w": wv}, **chunked(arrays, UNEVEN))
    Xa, ya = arrays["X"], arrays["y"]
    agree(g["w"], Xa.T @ (_sigmoid(Xa @ wv) - ya) / len(Xa) + 0.01 * wv, "dJ/dw closed form")
    J_ref, _ = module.value_and_grad(w=wv, **arrays)
    agree(J, J_ref, "J")


def test_mlp_softmax_cross_entropy_on_uneven_chunks():
    module = circuitc.compile(mlp())
    rng = np.random.default_rng(4)
    params = {
        "W1": rng.normal(size=(D, 5)) * 0.5,
        "b1": rng.normal(size=(1, 5)),
        "W2": rng.normal(size=(5, 3)),
        "b2": rng.normal(size=(1, 3)),
    }
    arrays = data(seed=4, k=3)
    J, g = circuitc.dask.value_and_grad(module, params, **chunked(arrays, UNEVEN))
    J_ref, g_ref = module.value_and_grad(**params, **arrays)
    agree(J, J_ref, "J")
    for name in params:
        agree(g[name], g_ref[name], f"dJ/d{name}")


def test_empty_chunks_are_skipped():
    module = circuitc.compile(logreg())
    theta = np.linspace(-1, 1, D).reshape(D, 1)
    arrays = data(seed=5)
    J, g = circuitc.dask.value_and_grad(
        module, {"theta": theta}, **chunked(arrays, (0, 5, 0, 0, 18, 0))
    )
    J_ref, g_ref = module.value_and_grad(theta=theta, **arrays)
    assert np.isfinite(J)
    agree(J, J_ref, "J")
    agree(g["theta"], g_ref["theta"], "dJ/dtheta")


def test_inputs_chunked_differently_and_columns_chunked_are_aligned():
    module = circuitc.compile(logreg())
    theta = np.linspace(-1, 1, D).reshape(D, 1)
    arrays = data(seed=6)
    Xd = da.from_array(arrays["X"], chunks=((10, 13), (2, 2)))  # columns split too
    yd = da.from_array(arrays["y"], chunks=((4, 4, 15), (1,)))
    J, g = circuitc.dask.value_and_grad(module, {"theta": theta}, X=Xd, y=yd)
    J_ref, g_ref = module.value_and_grad(theta=theta, **arrays)
    agree(J, J_ref, "J")
    agree(g["theta"], g_ref["theta"], "dJ/dtheta")


def test_unknown_chunk_sizes_are_computed():
    """A filtered dask array has chunks of unknown size (nan); they are measured first."""
    module = circuitc.compile(logreg())
    theta = np.linspace(-1, 1, D).reshape(D, 1)
    arrays = data(n=40, seed=7)
    keep = arrays["X"][:, 0] > -0.3
    d = chunked(arrays, (9, 11, 20))
    mask = da.from_array(keep, chunks=((9, 11, 20),))
    J, g = circuitc.dask.value_and_grad(module, {"theta": theta}, X=d["X"][mask], y=d["y"][mask])
    J_ref, g_ref = module.value_and_grad(theta=theta, X=arrays["X"][keep], y=arrays["y"][keep])
    agree(J, J_ref, "J")
    agree(g["theta"], g_ref["theta"], "dJ/dtheta")


@settings(max_examples=15, deadline=None, derandomize=True)
@given(sizes=st.lists(st.integers(0, 9), min_size=1, max_size=7), seed=st.integers(0, 1000))
def test_any_row_chunking_gives_the_in_memory_gradient(sizes, seed):
    n = sum(sizes)
    if n == 0:
        sizes = sizes + [3]
        n = 3
    module = _compiled("logreg_l2")
    wv = np.random.default_rng(seed).normal(size=(D, 1))
    arrays = data(n=n, seed=seed)
    J, g = circuitc.dask.value_and_grad(module, {"w": wv}, **chunked(arrays, tuple(sizes)))
    J_ref, g_ref = module.value_and_grad(w=wv, **arrays)
    agree(J, J_ref, "J")
    agree(g["w"], g_ref["w"], "dJ/dw")


_MODULES: dict = {}


def _compiled(name):
    if name not in _MODULES:
        _MODULES[name] = circuitc.compile({"logreg_l2": logreg_l2_mean}[name]())
    return _MODULES[name]


def test_numpy_data_beside_dask_data_is_chunked_alike():
    module = circuitc.compile(logreg())
    theta = np.linspace(-1, 1, D).reshape(D, 1)
    arrays = data(seed=8)
    J, g = circuitc.dask.value_and_grad(
        module, {"theta": theta}, X=chunked(arrays, UNEVEN)["X"], y=arrays["y"]
    )
    J_ref, g_ref = module.value_and_grad(theta=theta, **arrays)
    agree(J, J_ref, "J")
    agree(g["theta"], g_ref["theta"], "dJ/dtheta")


# -- refusals: J that is not a sum or mean over rows of a row term ---------------------------------
REFUSED = {
    "log of a sum": (sp.log(1 + nn.sum((X * w).applyfunc(sp.exp))), "log"),
    "square of a sum": (nn.sum(X * w) ** 2, "pow|power|square"),
    "mean and sum mixed": (nn.mean(X * w) + nn.sum(y), "mean|sum"),
    "rows mixed by a product over rows": (nn.sum(nn.sigmoid(X.T * X * w)), "rows"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_other_losses_are_refused_saying_why(case):
    expr, why = REFUSED[case]
    module = circuitc.compile(expr, wrt=[w], name="refused")
    arrays = chunked(data(seed=9), UNEVEN)
    with pytest.raises(circuitc.CircuitError, match=why):
        circuitc.dask.value_and_grad(module, {"w": np.ones((D, 1))}, **arrays)


def test_a_parameter_with_the_row_dimension_is_refused():
    V = sp.MatrixSymbol("V", N, 1)
    module = circuitc.compile(nn.sum(X * w + V), wrt=[w, V], name="rowparam")
    with pytest.raises(circuitc.CircuitError, match="V"):
        circuitc.dask.value_and_grad(
            module, {"w": np.ones((D, 1)), "V": np.ones((23, 1))}, **chunked(data(), UNEVEN)
        )


def test_missing_and_unknown_arguments_are_named():
    module = circuitc.compile(logreg())
    arrays = chunked(data(), UNEVEN)
    with pytest.raises(TypeError, match="theta"):
        circuitc.dask.value_and_grad(module, {}, **arrays)
    with pytest.raises(TypeError, match="bogus"):
        circuitc.dask.value_and_grad(module, {"theta": np.ones((D, 1))}, bogus=1.0, **arrays)


# -- on a distributed cluster ----------------------------------------------------------------------
@pytest.mark.slow
def test_two_worker_processes_give_the_in_memory_gradient_and_training():
    distributed = pytest.importorskip("distributed")
    module = circuitc.compile(logreg_l2_mean())
    wv = np.linspace(-1, 1, D).reshape(D, 1)
    arrays = data(n=60, seed=10)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        J, g = circuitc.dask.value_and_grad(module, {"w": wv}, **chunked(arrays, (20, 25, 15)))
        # and 5 steps of full-batch gradient descent on the cluster, as in memory
        on_cluster = wv.copy()
        for _ in range(5):
            _, step = circuitc.dask.value_and_grad(
                module, {"w": on_cluster}, **chunked(arrays, (20, 25, 15))
            )
            on_cluster = on_cluster - 0.5 * step["w"]
    J_ref, g_ref = module.value_and_grad(w=wv, **arrays)
    agree(J, J_ref, "J")
    agree(g["w"], g_ref["w"], "dJ/dw")
    in_memory = wv.copy()
    for _ in range(5):
        in_memory = in_memory - 0.5 * module.grad(w=in_memory, **arrays)["w"]
    agree(on_cluster, in_memory, "w after 5 steps")


# -- the analysis alone: which J split over rows, and how ----------------------------------------
def _split(expr, wrt=(w,)):
    from circuitc.passes.rows import row_split
    from circuitc.pipeline import build

    return row_split(build(circuitc.Circuit("analysed", expr, list(wrt))))


@pytest.mark.parametrize(
    "expr, reduction, penalty",
    [
        (nn.mean(X * w), "mean", False),  # the mean of all N·1 elements: 1/N times a constant
        (nn.sum((X * w).applyfunc(sp.exp)) / (2 * N) + nn.l2(w), "mean", True),
        (nn.sum(nn.sum(X, axis=1).applyfunc(sp.sin)) * lam, "sum", False),
        (nn.sum((X.T * X) * w), "sum", False),  # a contraction over the rows is a sum over rows
        (nn.sum(2 * X.T) + 3, "sum", True),  # a transposed row term, scaled, summed; a constant
        (nn.softmax_cross_entropy(X, y * sp.ones(1, D)), "mean", False),
    ],
)
def test_the_analysis_finds_sums_and_means(expr, reduction, penalty):
    split = _split(expr)
    assert (split.dim, split.reduction, split.penalty) == ("N", reduction, penalty)


@pytest.mark.parametrize(
    "expr, why",
    [
        (nn.sum(X * w / N), "number of rows"),  # N inside the row term
        (nn.sum(X * w) / N**2, r"N\*\*-2"),
        ((nn.sum(X * w) + nn.l2(w)) / N, "parameter-only term is scaled"),
        (nn.sum(X * w) * nn.sum(y), "product of sums"),
        (
            nn.sum((X * w - nn.mean(X * w) * sp.OneMatrix(N, 1)).applyfunc(sp.Abs)),
            "row term uses a sum",
        ),
        (X[0, 0] * nn.l2(w), "single rows"),
        (nn.l2(w), "one row dimension"),
    ],
)
def test_the_analysis_refuses_saying_why(expr, why):
    with pytest.raises(circuitc.CircuitError, match=why):
        _split(expr)


def test_a_loss_that_reads_no_rows_is_refused():
    """X only feeds the prediction: J is the penalty alone, and there is nothing to split."""
    from circuitc.passes.rows import row_split
    from circuitc.pipeline import build

    circuit = circuitc.Circuit("no_rows", nn.l2(w), [w], prediction=X * w)
    with pytest.raises(circuitc.CircuitError, match="does not depend on the rows"):
        row_split(build(circuit))
