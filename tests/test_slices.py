"""Matrix slices (issue 12, part 8): ``X[a:b, c:d]``, a row ``X[i, :]``, a column ``X[:, j]``,
with steps, of symbols and of expressions, used once or several times.

The adjoint of a slice is the incoming adjoint placed back into a zero matrix of the parent's
shape (summed where slices overlap). Oracles: the gradient written by hand in NumPy, central
differences of the compiled forward pass, and torch's autograd when importable.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import assert_close, central_grad

import circuitc
from circuitc import nn

A = sp.MatrixSymbol("A", 3, 4)
W = sp.MatrixSymbol("W", 4, 2)
RNG = np.random.default_rng(8)
A0 = RNG.uniform(-1.5, 1.5, (3, 4))
W0 = RNG.uniform(-1.0, 1.0, (4, 2))


def sin_sum(M):
    """sum(sin(M)) elementwise: a scalar loss over a matrix expression."""
    return nn.sum(M.applyfunc(sp.sin))


#: name: (the circuit's loss, the same slice as a NumPy index, for the hand-written gradient)
SINGLE = {
    "block": (A[0:2, 1:3], np.s_[0:2, 1:3]),
    "row": (A[1, :], np.s_[1:2, :]),
    "column": (A[:, 2], np.s_[:, 2:3]),
    "steps": (A[::2, 1:4:2], np.s_[::2, 1:4:2]),
    "all": (A[:, :], np.s_[:, :]),
    "one_element_block": (A[2:3, 3:4], np.s_[2:3, 3:4]),
}


@pytest.mark.parametrize("key", sorted(SINGLE))
def test_slice_value_and_adjoint_by_hand(key):
    sl, index = SINGLE[key]
    m = circuitc.compile(sin_sum(sl), wrt=[A], name=f"slice_{key}")
    value, grad = m.value_and_grad(A=A0)
    assert_close(value, np.sum(np.sin(A0[index])), "exact", f"{key} value")
    want = np.zeros_like(A0)
    want[index] = np.cos(A0[index])
    assert grad["A"].shape == A0.shape
    assert_close(grad["A"], want, "exact", f"{key} adjoint")
    assert_close(grad["A"], central_grad(m.forward, {"A": A0}, "A"), "central", f"{key} vs fd")


def test_overlapping_slices_accumulate():
    """Two slices that share elements (and a third of the same rows): the adjoints add up."""
    loss = sin_sum(A[0:2, :]) + nn.sum(A[1:3, 1:3]) + sin_sum(A[1, :])
    m = circuitc.compile(loss, wrt=[A], name="slice_overlap")
    want = np.zeros_like(A0)
    want[0:2, :] += np.cos(A0[0:2, :])
    want[1:3, 1:3] += 1.0
    want[1, :] += np.cos(A0[1, :])
    value, grad = m.value_and_grad(A=A0)
    expected = np.sin(A0[0:2]).sum() + A0[1:3, 1:3].sum() + np.sin(A0[1]).sum()
    assert_close(value, expected, "exact", "value")
    assert_close(grad["A"], want, "exact", "adjoint")


def test_slice_of_an_expression_feeds_a_matmul():
    """(A @ W)[:, 0:1] and A.T[1:3, :]: slices of matrix expressions, in a product."""
    loss = nn.sum((A * W)[:, 0:1].applyfunc(sp.tanh)) + nn.sum(A.T[1:3, :] * W[0:3, 0:1])
    m = circuitc.compile(loss, wrt=[A, W], name="slice_expr")
    value, grad = m.value_and_grad(A=A0, W=W0)
    P = A0 @ W0
    expected = np.tanh(P[:, 0:1]).sum() + (A0.T[1:3, :] @ W0[0:3, 0:1]).sum()
    assert_close(value, expected, "exact", "value")
    for name in ("A", "W"):
        fd = central_grad(m.forward, {"A": A0, "W": W0}, name)
        assert_close(grad[name], fd, "central", f"d/d{name} vs central differences")


def test_a_row_and_a_column_have_matrix_shapes():
    row = circuitc.compile(A[1, :] * W, wrt=[A], name="slice_row_shape")
    out = row.forward(A=A0, W=W0)
    np.testing.assert_allclose(out, A0[1:2, :] @ W0, rtol=1e-15)
    col = circuitc.compile(nn.sum(A[:, 2] * A[:, 2].T), wrt=[A], name="slice_col_outer")
    value, grad = col.value_and_grad(A=A0)
    c = A0[:, 2]
    assert_close(value, np.sum(np.outer(c, c)), "exact", "outer product")
    want = np.zeros_like(A0)
    want[:, 2] = 2 * c.sum()  # d/dc sum(c cᵀ) = 2·sum(c) for every entry
    assert_close(grad["A"], want, "exact", "outer product adjoint")


def test_slices_of_a_batch_keep_the_batch_dimension():
    """X is N×D with N bound at call time: X[:, 0:2] is N×2 for every N."""
    N = sp.Symbol("N")
    X = sp.MatrixSymbol("X", N, 3)
    V = sp.MatrixSymbol("V", 2, 1)
    m = circuitc.compile(nn.mean(X[:, 0:2] * V), wrt=[V], name="slice_batch")
    for n in (1, 5, 17):
        Xn = RNG.standard_normal((n, 3))
        Vn = RNG.standard_normal((2, 1))
        value, grad = m.value_and_grad(X=Xn, V=Vn)
        assert_close(value, np.mean(Xn[:, 0:2] @ Vn), "exact", f"N={n}")
        assert_close(grad["V"], Xn[:, 0:2].sum(axis=0)[:, None] / n, "exact", f"dV at N={n}")


def test_a_slice_with_symbolic_bounds_is_a_clear_error():
    N = sp.Symbol("N")
    X = sp.MatrixSymbol("X", N, 3)
    with pytest.raises(circuitc.CircuitError, match="slice"):
        circuitc.compile(nn.sum(X[1:, :]), wrt=[X])


@settings(max_examples=25, derandomize=True, deadline=None, database=None)
@given(
    rows=st.integers(1, 5),
    cols=st.integers(1, 5),
    data=st.data(),
)
def test_random_slices_against_numpy(rows, cols, data):
    """Any start/stop/step of any small matrix: value and adjoint against NumPy by hand."""

    def bounds(n):
        start = data.draw(st.integers(0, n - 1))
        stop = data.draw(st.integers(start + 1, n))
        step = data.draw(st.integers(1, 3))
        return start, stop, step

    (r0, r1, rs), (c0, c1, cs) = bounds(rows), bounds(cols)
    M = sp.MatrixSymbol("M", rows, cols)
    sl = M[r0:r1:rs, c0:c1:cs]
    m = circuitc.compile(sin_sum(sl), wrt=[M], name="slice_random")
    M0 = np.random.default_rng(rows * 10 + cols).uniform(-2, 2, (rows, cols))
    index = np.s_[r0:r1:rs, c0:c1:cs]
    value, grad = m.value_and_grad(M=M0)
    assert_close(value, np.sum(np.sin(M0[index])), "exact", "value")
    want = np.zeros_like(M0)
    want[index] = np.cos(M0[index])
    assert_close(grad["M"], want, "exact", f"adjoint of {index}")


def test_against_torch_autograd():
    torch = pytest.importorskip("torch")
    loss = sin_sum(A[0:2, 1:3]) + nn.sum((A * W)[1, :].applyfunc(sp.exp)) + sin_sum(A[:, 3])
    m = circuitc.compile(loss, wrt=[A, W], name="slice_torch")
    value, grad = m.value_and_grad(A=A0, W=W0)
    ta = torch.tensor(A0, requires_grad=True)
    tw = torch.tensor(W0, requires_grad=True)
    t = (
        torch.sin(ta[0:2, 1:3]).sum()
        + torch.exp((ta @ tw)[1:2, :]).sum()
        + torch.sin(ta[:, 3:4]).sum()
    )
    t.backward()
    assert_close(value, t.item(), "exact", "value")
    assert_close(grad["A"], ta.grad.numpy(), "exact", "dA")
    assert_close(grad["W"], tw.grad.numpy(), "exact", "dW")
