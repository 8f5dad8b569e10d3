"""The fused numba backend: one loop gives the NumPy module's values and gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from oracles import assert_close, mp_function

import circuitc

pytest.importorskip("numba")

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the NumPy oracle at inf

x, y = sp.symbols("x y")

CIRCUITS = {
    "small_example": (sp.cos(sp.sin(x**2) + 3 * x**2), [x]),
    "exp_log_tanh": (sp.exp(x * y) * sp.log(1 + y**2) + sp.tanh(x - y), [x, y]),
    "powers": (x**y + sp.sqrt(x) * y**-2 + sp.atan2(y, x), [x, y]),
}


@pytest.fixture(scope="module", params=sorted(CIRCUITS))
def pair(request):
    expr, wrt = CIRCUITS[request.param]
    fused = circuitc.compile(expr, wrt=wrt, name=request.param, backend="numba")
    plain = circuitc.compile(expr, wrt=wrt, name=request.param)
    return fused, plain, [w.name for w in wrt]


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, equal_nan=True)


def test_fused_module_is_one_numba_loop(pair):
    fused, _, _ = pair
    assert fused.BACKEND == "numba"
    assert fused.__source__.count("@_nb.njit") == 2  # forward and value_and_grad
    assert "import numba as _nb" in fused.__source__


def test_vectors_match_the_numpy_module(pair):
    fused, plain, names = pair
    rng = np.random.default_rng(5)
    kw = {n: rng.uniform(0.1, 2.0, 1000) for n in names}
    value, grad = fused.value_and_grad(**kw)
    ref_value, ref_grad = plain.value_and_grad(**kw)
    close(value, ref_value)
    for n in names:
        assert grad[n].shape == kw[n].shape
        close(grad[n], ref_grad[n])
    close(fused.forward(**kw), ref_value)


def test_broadcast_scalars_and_float32_match(pair):
    fused, plain, names = pair
    kw = {
        n: (np.linspace(0.2, 1.5, 6).reshape(2, 3) if i == 0 else 0.7) for i, n in enumerate(names)
    }
    value, grad = fused.value_and_grad(**kw)
    ref_value, ref_grad = plain.value_and_grad(**kw)
    close(value, ref_value)
    for n in names:
        assert np.shape(grad[n]) == np.shape(kw[n])
        close(grad[n], ref_grad[n])  # a float parameter's gradient sums over the broadcast
    k32 = {n: np.asarray(v, dtype=np.float32) for n, v in kw.items()}
    v32, g32 = fused.value_and_grad(**k32)
    assert v32.dtype == np.float32 and all(g32[n].dtype == np.float32 for n in names)


def test_floats_and_edges_match(pair):
    fused, plain, names = pair
    for v in [0.5, 0.0, -1.0, 1e200, math.inf, -math.inf, math.nan]:
        kw = {n: v for n in names}
        value, grad = fused.value_and_grad(**kw)
        with np.errstate(all="ignore"):
            ref_value, ref_grad = plain.value_and_grad(**{n: np.float64(v) for n in names})
        assert type(value) is float
        close(value, ref_value)
        for n in names:
            close(grad[n], ref_grad[n])


def test_fused_circuits_against_mpmath(pair):
    """The tests above compare the fused module with the NumPy one; this one checks the numbers."""
    fused, _, names = pair
    expr, wrt = CIRCUITS[fused.NAME]
    value_of = mp_function(expr, wrt)
    slope_of = {s.name: mp_function(sp.diff(expr, s), wrt) for s in wrt}
    rng = np.random.default_rng(9)
    kw = {n: rng.uniform(0.1, 2.0, 6) for n in names}
    value, grad = fused.value_and_grad(**kw)
    for i in range(6):
        at = {n: float(v[i]) for n, v in kw.items()}
        assert_close(value[i], value_of(at), "mpmath", f"{fused.NAME} at {at}")
        for n in names:
            assert_close(grad[n][i], slope_of[n](at), "mpmath", f"d{fused.NAME}/d{n} at {at}")


def test_gradient_matches_central_differences():
    module = circuitc.compile(sp.exp(x * y) * sp.sin(x), wrt=[x, y], backend="numba")
    xs, ys = np.linspace(-1, 1, 9), np.linspace(0.5, 1.5, 9)
    _, grad = module.value_and_grad(x=xs, y=ys)
    h = 1e-6
    f = lambda a, b: np.exp(a * b) * np.sin(a)  # noqa: E731
    np.testing.assert_allclose(grad["x"], (f(xs + h, ys) - f(xs - h, ys)) / (2 * h), rtol=1e-6)
    np.testing.assert_allclose(grad["y"], (f(xs, ys + h) - f(xs, ys - h)) / (2 * h), rtol=1e-6)


def test_circuits_that_cannot_be_fused_are_refused_by_name():
    with pytest.raises(circuitc.CircuitError, match="sigmoid"):
        circuitc.source(circuitc.sigmoid(x), wrt=[x], backend="numba")
    W = sp.MatrixSymbol("W", 2, 2)
    with pytest.raises(circuitc.CircuitError, match="matrix"):
        circuitc.source(sp.trace(W * W), wrt=[W], backend="numba")
    with pytest.raises(circuitc.CircuitError, match="unknown backend"):
        circuitc.source(x, wrt=[x], backend="jax")


def test_cli_compiles_with_the_numba_backend(tmp_path):
    from circuitc.cli import main

    src = tmp_path / "c.py"
    src.write_text(
        "import sympy as sp\nfrom circuitc import Circuit\nx = sp.Symbol('x')\n"
        "circuit = Circuit('fused_cli', sp.sin(x) * x, [x])\n"
    )
    assert main(["compile", str(src), "-o", str(tmp_path), "--backend", "numba"]) == 0
    text = (tmp_path / "fused_cli.py").read_text()
    assert "@_nb.njit" in text
