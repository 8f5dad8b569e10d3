"""The benchmark runner's own plumbing (cheap cases only; no timings are asserted)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's benchmarks/
from benchmarks import run  # noqa: E402


def test_small_scalar_methods_compute_the_same_numbers():
    hand = run.worker("small_scalar", "hand", budget=0.01)
    mine = run.worker("small_scalar", "circuitc", budget=0.01)
    # timings are reported, never bounded: only that a number came back
    assert all(math.isfinite(r["best"]) and r["best"] >= 0 for r in (hand, mine))
    assert run.agree(mine["check"], hand["check"], sgd=False)
    # and the hand-written reference is the notes' small example at x = 0.5
    assert hand["check"][0] == pytest.approx(math.cos(math.sin(0.25) + 0.75), rel=1e-15)


def test_agree_spots_a_wrong_gradient():
    assert not run.agree([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.1], sgd=False)
    assert run.agree([9.0, 2.0], [1.0, 2.0], sgd=True)  # an SGD step compares parameters only


def test_compile_case_reports_seconds():
    out = run.compile_case("logistic_map", "circuitc")
    assert "error" not in out, out
    assert math.isfinite(out["seconds"]) and out["seconds"] >= 0  # reported, never bounded


# -- the expert baselines (benchmarks/expert.py) against independent oracles ---------------------
def _expert():
    from benchmarks import expert

    return expert


def _rng_case(name, rng):
    """(expert function, keyword point, wrt names, how J is read) at small sizes."""
    n = 6
    if name == "logreg_batch":
        X = np.hstack([np.ones((n, 1)), rng.normal(size=(n, 3))])
        point = dict(theta=rng.normal(size=(4, 1)), X=X, y=(rng.random((n, 1)) < 0.5) * 1.0)
        return point, ["theta"]
    if name == "two_layer":
        point = dict(
            alpha=rng.normal(size=(4, 3)),
            beta=rng.normal(size=(3, 1)),
            beta_0=rng.normal(size=(1, 1)),
            X=rng.normal(size=(n, 4)),
            y=rng.random((n, 1)),
        )
        return point, ["alpha", "beta", "beta_0"]
    if name == "mlp":
        point = dict(
            W1=rng.normal(size=(5, 4)),
            b1=rng.normal(size=(1, 4)),
            W2=rng.normal(size=(4, 3)),
            b2=rng.normal(size=(1, 3)),
            X=rng.normal(size=(n, 5)),
            Y=np.eye(3)[rng.integers(0, 3, n)],
        )
        return point, ["W1", "b1", "W2", "b2"]
    if name == "mlp_columns":
        point = dict(
            W1=rng.normal(size=(4, 5)),
            W2=rng.normal(size=(3, 4)),
            X=rng.normal(size=(5, n)),
            Y=np.eye(3)[rng.integers(0, 3, n)].T.copy(),
        )
        return point, ["W1", "W2"]
    raise KeyError(name)


@pytest.mark.parametrize("name", ["logreg_batch", "two_layer", "mlp", "mlp_columns"])
def test_expert_gradients_match_central_differences(name):
    from oracles import vjp_check

    f = getattr(_expert(), name)
    point, wrt = _rng_case(name, np.random.default_rng(7))
    J, grads = f(**point)
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert len(grads) == len(wrt)
    for g, w in zip(grads, wrt, strict=True):
        assert g.shape == point[w].shape, w
    vjp_check(lambda **kw: f(**kw)[0], dict(zip(wrt, grads, strict=True)), point, wrt, seed=1)


def test_expert_never_writes_into_its_arguments_and_returns_fresh_arrays():
    expert = _expert()
    rng = np.random.default_rng(3)
    for name in ["logreg_batch", "two_layer", "mlp", "mlp_columns"]:
        point, _ = _rng_case(name, rng)
        before = {k: v.copy() for k, v in point.items()}
        _, grads = getattr(expert, name)(**point)
        for k, v in point.items():
            np.testing.assert_array_equal(v, before[k], err_msg=f"{name} wrote into {k}")
            for g in grads if isinstance(grads, tuple) else (grads,):
                assert not np.shares_memory(g, v), (name, k)
    x = rng.uniform(-2, 2, 50)
    x0 = x.copy()
    J, g = expert.small_vector(x)
    np.testing.assert_array_equal(x, x0)


def test_expert_small_example_against_the_closed_form_and_central_differences():
    from oracles import assert_close, central_diff

    expert = _expert()
    for x in [-1.7, -0.3, 0.0, 0.5, 1.9]:
        J, g = expert.small_scalar(x)
        assert_close(J, math.cos(math.sin(x * x) + 3 * x * x), "exact")
        assert_close(g, central_diff(lambda v: expert.small_scalar(v)[0], x), "central")
    xs = np.linspace(-2, 2, 41)
    Jv, gv = expert.small_vector(xs)
    for x, J, g in zip(xs, Jv, gv, strict=True):
        Js, gs = expert.small_scalar(float(x))
        assert_close(J, Js, "exact")
        assert_close(g, gs, "exact")


def test_expert_sgd_step_is_the_full_batch_gradient_of_one_row():
    expert = _expert()
    rng = np.random.default_rng(4)
    theta = rng.normal(size=(5, 1))
    x, y = rng.normal(size=(1, 5)), np.array([[1.0]])
    J, g = expert.logreg_batch(theta, x, y)
    stepped = theta.copy()
    J_step = expert.logreg_sgd_step(stepped, x, y, 0.1)  # in place: the loop's own state
    assert J_step == pytest.approx(J, rel=1e-14)
    np.testing.assert_allclose(stepped, theta - 0.1 * g, rtol=1e-14, atol=1e-16)
    # stable at logits of ±1e4: no inf/nan, the limits of the loss
    for a, target, loss in [(1e4, 1.0, 0.0), (-1e4, 0.0, 0.0), (1e4, 0.0, 1e4)]:
        th = np.array([[a]])
        assert expert.logreg_sgd_step(th, np.ones((1, 1)), np.array([[target]]), 0.0) == loss


def test_expert_scalar_logreg_agrees_with_the_batch_form():
    expert = _expert()
    rng = np.random.default_rng(5)
    X = np.hstack([np.ones((9, 1)), rng.normal(size=(9, 3))])
    y = (rng.random(9) < 0.5) * 1.0
    thetas = list(rng.normal(size=4))
    J, g = expert.logreg_scalars(thetas, [X[:, j].copy() for j in range(4)], y)
    Jb, gb = expert.logreg_batch(np.array(thetas).reshape(-1, 1), X, y.reshape(-1, 1))
    assert J.shape == (9,)
    assert float(np.sum(J)) / 9 == pytest.approx(Jb, rel=1e-13)
    np.testing.assert_allclose(np.array(g) / 9, gb[:, 0], rtol=1e-12, atol=1e-15)
    assert all(isinstance(v, float) for v in g)


# -- the new circuits (benchmarks/circuits.py) against the expert code ----------------------------
def test_logreg_scalars_circuit_computes_what_the_expert_computes():
    """At D = 5 (the benchmark's D = 31 needs n-ary sums of any width)."""
    import circuitc
    from benchmarks import circuits

    expert = _expert()
    J_expr, wrt = circuits.logreg_scalars(5)
    m = circuitc.compile(J_expr, wrt=wrt, name="logreg_scalars5")
    rng = np.random.default_rng(6)
    xs = [np.ones(11)] + [rng.normal(size=11) for _ in range(4)]
    y = (rng.random(11) < 0.5) * 1.0
    thetas = list(rng.normal(0, 0.5, 5))
    kw = {f"theta{j}": thetas[j] for j in range(5)} | {f"x{j}": xs[j] for j in range(5)}
    J, g = m.value_and_grad(**kw, y=y)
    Je, ge = expert.logreg_scalars(thetas, xs, y)
    np.testing.assert_allclose(J, Je, rtol=1e-12)
    np.testing.assert_allclose([g[f"theta{j}"] for j in range(5)], ge, rtol=1e-10)


def test_mlp_columns_case_plumbing_reports_time_and_peak_memory():
    mine = run.worker("mlp_columns", "circuitc", budget=0.01)
    hand = run.worker("mlp_columns", "expert", budget=0.01)
    assert run.agree(mine["check"], hand["check"], sgd=False)
    for r in (mine, hand):  # reported, never bounded
        assert math.isfinite(r["best"]) and r["best"] >= 0
        assert isinstance(r["peak"], int) and r["peak"] > 0


def test_peak_bytes_counts_the_buffers_one_call_holds():
    big = 1 << 20  # 1 MiB of float64, twice at once
    peak = run.peak_bytes(lambda: np.ones(big // 8) + np.ones(big // 8))
    assert 2 * big <= peak < 4 * big


def test_table_row_gives_ratios_to_the_expert_and_marks_a_difference():
    results = {
        "expert": {"best": 2e-3, "check": [1.0, 2.0], "peak": 1024**2},
        "circuitc": {"best": 3e-3, "check": [1.0, 2.0], "peak": 2 * 1024**2},
        "hand": {"best": 1e-3, "check": [1.0, 2.5], "peak": None},
        "jax": {"error": "not installed"},
    }
    row = run.table_row("case", results, "expert", sgd=False)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == len(run.table_header()[0].strip("|").split("|"))
    assert cells[0] == "case"
    assert "(**1.50×**)" in cells[1 + run.COLUMNS.index("circuitc")]
    assert "✗ differs" in cells[1 + run.COLUMNS.index("hand")]
    assert cells[1 + run.COLUMNS.index("jax")] == "not installed"
    assert cells[-3:] == ["1.00 MiB", "2.00 MiB (2.00×)", "—"]
