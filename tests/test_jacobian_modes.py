"""Jacobians of matrix outputs in both modes (issue 13, part 3): forward mode (one tangent pass
per parameter entry) and reverse mode (one backward pass per output entry, seeded with a
one-hot), chosen at compile time from the static sizes or forced with ``jacobian_mode``.

Oracles that share no code with circuitc's sweeps: closed forms (a linear map ``W @ X`` has
a Jacobian built from identity blocks), torch's ``autograd.functional.jacobian`` (float64,
skipped without torch) and central differences of the compiled forward pass. Both modes must
agree with each other and with the oracle, on wide and tall outputs, float64 and float32.
"""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import EPS, assert_close
from test_matrix import CASES as MATRIX_CASES
from test_matrix import _point as matrix_point

import circuitc
from circuitc import nn
from circuitc.errors import CircuitError

MODES = ("forward", "reverse")


def both(expr, wrt, name):
    """The circuit compiled with each mode forced, keyed by mode."""
    return {
        mode: circuitc.compile(expr, wrt=wrt, name=f"{name}_{mode}", jacobian_mode=mode)
        for mode in MODES
    }


def by_differences(f, point, name):
    """d f / d point[name] by central differences, one coordinate at a time (the step ε·scale),
    shaped f.shape + param.shape."""
    base = np.asarray(point[name], dtype=np.float64)
    h = EPS * max(1.0, float(np.max(np.abs(base))))
    out_shape = np.shape(f(**point)) or (1, 1)  # forward returns a 1×1 matrix as a float
    columns = []
    for idx in np.ndindex(base.shape):
        hi, lo = dict(point), dict(point)
        hi[name], lo[name] = base.copy(), base.copy()
        hi[name][idx] += h
        lo[name][idx] -= h
        columns.append(np.reshape(np.subtract(f(**hi), f(**lo)) / (2 * h), out_shape))
    out = np.stack(columns, axis=-1)
    return out.reshape(out.shape[:-1] + base.shape)


def scale(a) -> float:
    return max(1.0, float(np.max(np.abs(a)))) if np.size(a) else 1.0


# -- closed forms -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_a_linear_map_has_a_jacobian_of_identity_blocks(mode):
    """out = W @ X: d out[i, j] / d W[a, b] = δ_ia X[b, j] and d out[i, j] / d X[a, b] =
    W[i, a] δ_jb, exactly (no rounding: each entry is one product by 1)."""
    W, X = sp.MatrixSymbol("W", 3, 4), sp.MatrixSymbol("X", 4, 2)
    m = circuitc.compile(W * X, wrt=[W, X], name=f"lin_{mode}", jacobian_mode=mode)
    rng = np.random.default_rng(1)
    w, x = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    jac = m.jacobian(W=w, X=x)
    assert jac["W"].shape == (3, 2, 3, 4) and jac["X"].shape == (3, 2, 4, 2)
    np.testing.assert_array_equal(jac["W"], np.einsum("ia,bj->ijab", np.eye(3), x))
    np.testing.assert_array_equal(jac["X"], np.einsum("ia,jb->ijab", w, np.eye(2)))


@pytest.mark.parametrize("mode", MODES)
def test_the_tanh_of_a_row_times_a_matrix(mode):
    """out = tanh(r @ w), 1×2 of 80 parameters: d out[0, j] / d w[i, l] = δ_jl (1 − out_j²) r_i."""
    r, w = sp.MatrixSymbol("r", 1, 40), sp.MatrixSymbol("w", 40, 2)
    m = circuitc.compile(nn.tanh(r * w), wrt=[w], name=f"row_{mode}", jacobian_mode=mode)
    rng = np.random.default_rng(2)
    rv, wv = rng.normal(size=(1, 40)), rng.normal(size=(40, 2))
    t = np.tanh(rv @ wv)[0]
    expected = np.einsum("jl,j,i->jil", np.eye(2), 1 - t**2, rv[0])[None]
    assert_close(m.jacobian(r=rv, w=wv)["w"], expected, "exact", f"{mode}: tanh(r w)")


# -- the choice ---------------------------------------------------------------------------------------
def test_auto_picks_reverse_for_a_narrow_output_and_forward_for_a_wide_one():
    r, w = sp.MatrixSymbol("r", 1, 40), sp.MatrixSymbol("w", 40, 2)
    A, B = sp.MatrixSymbol("A", 4, 3), sp.MatrixSymbol("B", 3, 30)
    narrow = circuitc.compile(nn.tanh(r * w), wrt=[w], name="narrow")
    wide = circuitc.compile(nn.sigmoid(A * B), wrt=[A], name="wide")
    assert narrow.JACOBIAN_MODE == "reverse"
    assert wide.JACOBIAN_MODE == "forward"
    assert (
        "# jacobian() is emitted in reverse mode: J has 2 entries, fewer than the parameters' 80"
        in (narrow.__source__)
    )
    assert "the parameters have 12 entries, no more than the 120 of J" in wide.__source__
    assert "def _backward_of_output(" in narrow.__source__
    assert "def _tangent_of_output(" not in narrow.__source__
    assert "def _tangent_of_output(" in wide.__source__
    assert "def _backward_of_output(" not in wide.__source__


@pytest.mark.parametrize(
    ("cols", "mode"), [(1, "reverse"), (2, "forward"), (3, "forward")], ids=["m<n", "m=n", "m>n"]
)
def test_reverse_mode_exactly_when_the_output_has_fewer_entries(cols, mode):
    """A 2×2 parameter (n = 4) times a 2×cols input: m = 2·cols output entries."""
    A, C = sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("C", 2, cols)
    module = circuitc.compile(A * C, wrt=[A], name=f"edge_{cols}")
    assert (module.JACOBIAN_MODE, cols) == (mode, cols)


def test_a_symbolic_dimension_means_forward_mode_unless_reverse_is_asked_for():
    """N rows: the output's size is unknown at compile time, so auto keeps forward mode; a
    forced reverse mode reads the sizes at call time and agrees with it."""
    N = sp.Symbol("N")
    X, W = sp.MatrixSymbol("X", N, 3), sp.MatrixSymbol("W", 3, 8)
    expr = nn.softmax(X * W)
    auto = circuitc.compile(expr, wrt=[W], name="batch")
    assert auto.JACOBIAN_MODE == "forward"
    assert "J's shape (N, 8) has the symbolic dimension N, unknown until call time" in (
        auto.__source__
    )
    modes = both(expr, [W], "batch")
    assert modes["reverse"].JACOBIAN_MODE == "reverse"
    for rows in (1, 2, 5):
        point = {"X": np.random.default_rng(rows).normal(size=(rows, 3)), "W": np.ones((3, 8))}
        fwd = modes["forward"].jacobian(**point)["W"]
        rev = modes["reverse"].jacobian(**point)["W"]
        assert rev.shape == (rows, 8, 3, 8)
        assert_close(rev, fwd, "exact", f"N = {rows}", scale=scale(fwd))
        assert_close(rev, by_differences(auto.forward, point, "W"), "central", "vs differences")


def test_an_unknown_mode_is_refused_with_the_choices():
    A = sp.MatrixSymbol("A", 2, 2)
    with pytest.raises(
        CircuitError, match="unknown jacobian mode 'sideways'.*auto, forward, reverse"
    ):
        circuitc.compile(A * A, wrt=[A], jacobian_mode="sideways")


def test_a_scalar_circuit_ignores_the_mode_and_still_refuses_a_jacobian():
    x = sp.Symbol("x")
    m = circuitc.compile(sp.sin(x), wrt=[x], name="s", jacobian_mode="reverse")
    assert not hasattr(m, "JACOBIAN_MODE")
    with pytest.raises(TypeError, match="scalar output"):
        m.jacobian(x=1.0)


def test_an_output_free_of_the_parameters_has_a_zero_jacobian_in_forward_mode():
    A, C = sp.MatrixSymbol("A", 2, 3), sp.MatrixSymbol("C", 2, 3)
    m = circuitc.compile(nn.tanh(C), wrt=[A], name="free", jacobian_mode="reverse")
    assert m.JACOBIAN_MODE == "forward"
    jac = m.jacobian(A=np.ones((2, 3)), C=np.ones((2, 3)))
    np.testing.assert_array_equal(jac["A"], np.zeros((2, 3, 2, 3)))


def test_no_loop_in_the_public_functions_and_no_recursion():
    """The loop over the output's entries lives in the ``_jacobian_rows`` helper; the emitted
    functions are straight-line, and none calls itself."""
    r, w = sp.MatrixSymbol("r", 1, 40), sp.MatrixSymbol("w", 40, 2)
    src = circuitc.source(nn.tanh(r * w), wrt=[w], name="narrow")
    tree = ast.parse(src)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in ("jacobian", "_backward_of_output"):
            assert not [s for s in ast.walk(node) if isinstance(s, (ast.For, ast.While))]
            calls = {
                c.func.id
                for c in ast.walk(node)
                if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
            }
            assert node.name not in calls


# -- every matrix case, both modes, against differences ------------------------------------------------
MATRIX_OUTPUTS = sorted(
    case
    for case, (expr, _, _) in MATRIX_CASES.items()
    if getattr(expr, "shape", (1, 1)) != (1, 1) and getattr(expr, "is_Matrix", False)
)


@pytest.mark.parametrize("case", MATRIX_OUTPUTS)
def test_both_modes_agree_with_differences_on_every_matrix_case(case):
    expr, wrt, _ = MATRIX_CASES[case]
    modes = both(expr, wrt, f"jm_{case}")
    point = matrix_point(expr, wrt)
    fwd = modes["forward"].jacobian(**point)
    rev = modes["reverse"].jacobian(**point)
    assert list(rev) == list(fwd) == [s.name for s in wrt]
    for s in wrt:
        expected = by_differences(modes["forward"].forward, point, s.name)
        assert rev[s.name].shape == fwd[s.name].shape == expected.shape
        assert_close(
            rev[s.name], fwd[s.name], "exact", f"{case}: modes, d/d{s.name}", scale(expected)
        )
        assert_close(rev[s.name], expected, "central", f"{case}: d/d{s.name}", scale(expected))


# -- torch, wide and tall ---------------------------------------------------------------------------
def _mlp_out(rows: int, d: int, h: int, k: int):
    X = sp.MatrixSymbol("X", rows, d)
    W1, W2 = sp.MatrixSymbol("W1", d, h), sp.MatrixSymbol("W2", h, k)
    b = sp.MatrixSymbol("b", 1, k)
    return nn.add_bias(nn.sigmoid(X * W1) * W2, b), [W1, W2, b]


@pytest.mark.parametrize("shape", [(1, 12), (12, 1), (2, 30), (30, 2)], ids=str)
def test_wide_and_tall_outputs_against_torch(shape):
    torch = pytest.importorskip("torch")
    rows, k = shape
    d, h = 5, 4
    expr, wrt = _mlp_out(rows, d, h, k)
    modes = both(expr, wrt, f"mlp_{rows}x{k}")
    rng = np.random.default_rng(rows * 100 + k)
    point = {s.name: rng.normal(size=s.shape) for s in wrt} | {"X": rng.normal(size=(rows, d))}
    X = torch.tensor(point["X"])

    def out(W1, W2, b):
        return torch.sigmoid(X @ W1) @ W2 + b

    names = [s.name for s in wrt]
    expected = torch.autograd.functional.jacobian(out, tuple(torch.tensor(point[n]) for n in names))
    for mode, m in modes.items():
        jac = m.jacobian(**point)
        for n, e in zip(names, expected, strict=True):
            assert jac[n].shape == (rows, k) + point[n].shape
            assert_close(
                jac[n], e.numpy(), "exact", f"{mode} {shape}: d/d{n} vs torch", scale(e.numpy())
            )


# -- dtypes and ownership -------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_float32_stays_float32_within_the_float32_tolerance(mode):
    expr, wrt = _mlp_out(3, 4, 3, 2)
    m = circuitc.compile(expr, wrt=wrt, name=f"f32_{mode}", jacobian_mode=mode)
    rng = np.random.default_rng(5)
    point = {s.name: rng.normal(size=s.shape) for s in wrt} | {"X": rng.normal(size=(3, 4))}
    exact = m.jacobian(**point)
    single = m.jacobian(**{k: v.astype(np.float32) for k, v in point.items()})
    for n, v in single.items():
        assert v.dtype == np.float32, n
        assert_close(v, exact[n], "float32", f"{mode}: float32 d/d{n}", scale(exact[n]))


@pytest.mark.parametrize("mode", MODES)
def test_results_are_fresh_writable_arrays(mode):
    r, w = sp.MatrixSymbol("r", 1, 6), sp.MatrixSymbol("w", 6, 2)
    m = circuitc.compile(nn.tanh(r * w) + r * w, wrt=[r, w], name=f"own_{mode}", jacobian_mode=mode)
    point = {"r": np.ones((1, 6)), "w": np.full((6, 2), 0.1)}
    first = m.jacobian(**point)
    again = m.jacobian(**point)
    for n in first:
        assert first[n].flags.writeable
        assert not np.shares_memory(first[n], point[n])
        first[n][...] = 7.0  # never seen by a later call
        assert not np.any(again[n] == 7.0)


# -- random shapes --------------------------------------------------------------------------------------
@settings(
    max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    rows=st.integers(1, 4),
    d=st.integers(1, 4),
    k=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_both_modes_agree_with_differences(rows, d, k, seed):
    X, W = sp.MatrixSymbol("X", rows, d), sp.MatrixSymbol("W", d, k)
    expr = nn.tanh(X * W).applyfunc(lambda u: u**2 + sp.Rational(1, 2) * u)
    modes = both(expr, [X, W], f"rand_{rows}_{d}_{k}")
    rng = np.random.default_rng(seed)
    point = {"X": rng.normal(size=(rows, d)), "W": rng.normal(size=(d, k))}
    for name in ("X", "W"):
        expected = by_differences(modes["forward"].forward, point, name)
        fwd = modes["forward"].jacobian(**point)[name]
        rev = modes["reverse"].jacobian(**point)[name]
        assert_close(rev, fwd, "exact", f"modes d/d{name}", scale(expected))
        assert_close(rev, expected, "central", f"d/d{name}", scale(expected))


# -- the command line -----------------------------------------------------------------------------------
def test_the_cli_takes_a_jacobian_mode(tmp_path):
    from circuitc.cli import main

    circuit = tmp_path / "c.py"
    circuit.write_text(
        "import sympy as sp\nfrom circuitc import Circuit, nn\n"
        "r = sp.MatrixSymbol('r', 1, 40)\nw = sp.MatrixSymbol('w', 40, 2)\n"
        "circuit = Circuit('narrow', nn.tanh(r * w), wrt=[w])\n"
    )
    for mode, want in (("auto", "reverse"), ("forward", "forward"), ("reverse", "reverse")):
        out = tmp_path / mode
        assert main(["compile", str(circuit), "-o", str(out), "--jacobian-mode", mode]) == 0
        text = (out / "narrow.py").read_text()
        assert f'JACOBIAN_MODE = "{want}"' in text, json.dumps(mode)


def test_show_takes_the_same_jacobian_mode_as_compile(tmp_path, capsys):
    """``show`` prints what ``compile`` writes, option for option (it ignored --jacobian-mode)."""
    from circuitc.cli import main

    circuit = tmp_path / "c.py"
    circuit.write_text(
        "import sympy as sp\nfrom circuitc import Circuit, nn\n"
        "r = sp.MatrixSymbol('r', 1, 40)\nw = sp.MatrixSymbol('w', 40, 2)\n"
        "circuit = Circuit('narrow', nn.tanh(r * w), wrt=[w])\n"
    )
    for mode in ("forward", "reverse"):
        out = tmp_path / mode
        assert main(["compile", str(circuit), "-o", str(out), "--jacobian-mode", mode]) == 0
        capsys.readouterr()
        assert main(["show", str(circuit), "--jacobian-mode", mode]) == 0
        assert capsys.readouterr().out == (out / "narrow.py").read_text()


# -- a scalar in a 1×1 op --------------------------------------------------------------------------------
def test_a_scalar_added_to_a_1x1_matrix_gets_a_scalar_adjoint():
    """J = t/2 + t[0, 0]², t = tanh(X W), all 1×1: the element's square is a scalar added to a
    1×1 matrix, and its adjoint must be the scalar sum of J's 1×1 adjoint (it was the 1×1
    array, which ``a[0, 0] = g`` refused). dJ/dX = (2t + 1/2)(1 − t²) W, by hand."""
    X, W = sp.MatrixSymbol("X", 1, 1), sp.MatrixSymbol("W", 1, 1)
    expr = nn.tanh(X * W).applyfunc(lambda u: u**2 + sp.Rational(1, 2) * u)
    x, w = np.array([[0.3]]), np.array([[-1.2]])
    t = np.tanh(x * w)
    for mode in MODES:
        m = circuitc.compile(expr, wrt=[X, W], name=f"one_{mode}", jacobian_mode=mode)
        value, grad = m.value_and_grad(X=x, W=w)
        assert_close(value, float((t**2 + t / 2)[0, 0]), "exact", "J")
        assert_close(grad["X"], (2 * t + 0.5) * (1 - t**2) * w, "exact", "dJ/dX")
        assert_close(
            m.jacobian(X=x, W=w)["W"], ((2 * t + 0.5) * (1 - t**2) * x)[None, None], "exact", mode
        )
