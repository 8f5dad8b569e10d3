"""Networks written the way users write them, drawn at random (issue 11, part 5).

Every case is a small feed-forward network whose *style* is drawn by hypothesis, not taken from
``examples/``:

* layout: instances as rows (``X`` is N×D, ``Z·W``) or as columns (``X`` is D×N, ``W·Z``);
* depth and widths (1 to 3 layers of 1 to 6 units; a symbolic batch N bound at call time, 1 to 7);
* each activation: ``circuitc.nn.sigmoid``, the sigmoid written out with ``applyfunc``
  (``1/(1 + exp(-v))``), ``tanh`` through ``applyfunc``, softplus written out
  (``log(1 + exp(v))``), ``nn.relu``, or none;
* biases or none, added as a user adds them (``OneMatrix(N, 1)·b`` beside ``nn.add_bias``);
* the squared loss spelled five ways: ``1ᵀ(E∘E)1``, ``nn.sum(E∘E)``, ``HadamardPower(E, 2)``,
  ``Trace(EᵀE)`` and ``nn.squared_loss``;
* the memory layout of the arrays passed in: C order, Fortran order (what a column-major
  loader or a transposed read gives) and strided views.

The oracle is the same network written independently in torch (float64 autograd; skipped
cleanly when torch is missing, where central differences of circuitc's own forward stand in).
float32 arrays in must give float32 out, within the float32 row of the tolerance table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import TOL, assert_close, vjp_check
from sympy import HadamardPower, HadamardProduct, OneMatrix

import circuitc
from circuitc import nn

try:
    import torch
except ImportError:  # the torch comparison skips cleanly; central differences still run
    torch = None

ACTIVATIONS = ("nn_sigmoid", "sigmoid_written", "tanh", "softplus_written", "relu", "none")
LOSSES = ("ones_hadamard", "nn_sum", "hadamard_power", "trace", "squared_loss")
ORDERS = ("C", "F", "strided")

#: each loss as a multiple of Σ E²/N (the oracle's single formula)
LOSS_FACTOR = {
    "ones_hadamard": 0.5,
    "nn_sum": 1.0,
    "hadamard_power": 0.5,
    "trace": 0.5,
    "squared_loss": 0.5,
}


@dataclass(frozen=True)
class Style:
    """One drawn network: its sizes [D, H1, ..., K] and how the user wrote it."""

    layout: str
    sizes: tuple[int, ...]
    acts: tuple[str, ...]
    biases: tuple[bool, ...]
    loss: str
    batch: int
    order: str


@st.composite
def styles(draw) -> Style:
    depth = draw(st.integers(1, 3))
    sizes = tuple(draw(st.integers(1, 6)) for _ in range(depth + 1))
    return Style(
        layout=draw(st.sampled_from(("rows", "columns"))),
        sizes=sizes,
        acts=tuple(draw(st.sampled_from(ACTIVATIONS)) for _ in range(depth)),
        biases=tuple(draw(st.booleans()) for _ in range(depth)),
        loss=draw(st.sampled_from(LOSSES)),
        batch=draw(st.integers(1, 7)),
        order=draw(st.sampled_from(ORDERS)),
    )


# -- the circuit, in SymPy, as a user writes it ------------------------------------------------
def _activate(Z, act: str):
    if act == "nn_sigmoid":
        return nn.sigmoid(Z)
    if act == "sigmoid_written":
        return Z.applyfunc(lambda v: 1 / (1 + sp.exp(-v)))
    if act == "tanh":
        return Z.applyfunc(sp.tanh)
    if act == "softplus_written":
        return Z.applyfunc(lambda v: sp.log(1 + sp.exp(v)))
    if act == "relu":
        return nn.relu(Z)
    return Z


def _loss(E, s: Style, N):
    rows = s.layout == "rows"
    K = s.sizes[-1]
    if s.loss == "ones_hadamard":
        left, right = (
            (OneMatrix(1, N), OneMatrix(K, 1)) if rows else (OneMatrix(1, K), OneMatrix(N, 1))
        )
        return left * HadamardProduct(E, E) * right / (2 * N)
    if s.loss == "nn_sum":
        return nn.sum(HadamardProduct(E, E)) / N
    if s.loss == "hadamard_power":
        return nn.sum(HadamardPower(E, 2)) / (2 * N)
    if s.loss == "trace":
        return sp.Trace(E.T * E if rows else E * E.T) / (2 * N)
    return (
        nn.squared_loss(E, sp.ZeroMatrix(*E.shape))
        if rows
        else nn.squared_loss(E.T, sp.ZeroMatrix(*E.T.shape))
    )


def build(s: Style):
    """(J, wrt): the network of ``s`` in SymPy."""
    N = sp.Symbol("N")
    rows = s.layout == "rows"
    D, K = s.sizes[0], s.sizes[-1]
    Z = sp.MatrixSymbol("X", N, D) if rows else sp.MatrixSymbol("X", D, N)
    wrt = []
    for i, (fan_in, fan_out) in enumerate(zip(s.sizes[:-1], s.sizes[1:], strict=True)):
        W = (
            sp.MatrixSymbol(f"W{i}", fan_in, fan_out)
            if rows
            else sp.MatrixSymbol(f"W{i}", fan_out, fan_in)
        )
        Z = Z * W if rows else W * Z
        wrt.append(W)
        if s.biases[i]:
            b = (
                sp.MatrixSymbol(f"b{i}", 1, fan_out)
                if rows
                else sp.MatrixSymbol(f"b{i}", fan_out, 1)
            )
            if rows and i % 2 == 0:
                Z = nn.add_bias(Z, b)
            else:
                Z = Z + (OneMatrix(N, 1) * b if rows else b * OneMatrix(1, N))
            wrt.append(b)
        Z = _activate(Z, s.acts[i])
    Y = sp.MatrixSymbol("Y", N, K) if rows else sp.MatrixSymbol("Y", K, N)
    return _loss(Z - Y, s, N), wrt


# -- the data, in the memory layout drawn ------------------------------------------------------
def _laid_out(a: np.ndarray, order: str) -> np.ndarray:
    if order == "F":
        return np.asfortranarray(a)
    if order == "strided":
        wide = np.zeros((a.shape[0], 2 * a.shape[1]), dtype=a.dtype)
        wide[:, ::2] = a
        return wide[:, ::2]
    return np.ascontiguousarray(a)


def point(s: Style, seed: int, dtype=np.float64) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = s.layout == "rows"
    n, D, K = s.batch, s.sizes[0], s.sizes[-1]
    pt = {"X": rng.standard_normal((n, D) if rows else (D, n))}
    pt["Y"] = rng.standard_normal((n, K) if rows else (K, n))
    for i, (fan_in, fan_out) in enumerate(zip(s.sizes[:-1], s.sizes[1:], strict=True)):
        shape = (fan_in, fan_out) if rows else (fan_out, fan_in)
        pt[f"W{i}"] = rng.standard_normal(shape) / np.sqrt(fan_in)
        if s.biases[i]:
            pt[f"b{i}"] = 0.3 * rng.standard_normal((1, fan_out) if rows else (fan_out, 1))
    return {k: _laid_out(v.astype(dtype), s.order) for k, v in pt.items()}


# -- the oracle: the same network written independently in torch -------------------------------
def torch_loss(s: Style, t: dict) -> torch.Tensor:
    rows = s.layout == "rows"
    Z = t["X"]
    funcs = {
        "nn_sigmoid": torch.sigmoid,
        "sigmoid_written": torch.sigmoid,
        "tanh": torch.tanh,
        "softplus_written": torch.nn.functional.softplus,
        "relu": torch.relu,
        "none": lambda v: v,
    }
    for i in range(len(s.sizes) - 1):
        Z = Z @ t[f"W{i}"] if rows else t[f"W{i}"] @ Z
        if s.biases[i]:
            Z = Z + t[f"b{i}"]  # broadcast over the instances
        Z = funcs[s.acts[i]](Z)
    E = Z - t["Y"]
    return LOSS_FACTOR[s.loss] * torch.sum(E * E) / s.batch


_modules: dict[Style, object] = {}


def module(s: Style):
    """The compiled module of a drawn style (the batch and memory order do not change it)."""
    key = Style(s.layout, s.sizes, s.acts, s.biases, s.loss, 0, "C")
    if key not in _modules:
        J, wrt = build(s)
        _modules[key] = circuitc.compile(J, wrt=wrt, name="styled")
    return _modules[key]


def _relu_kink_free(s: Style, pt) -> bool:
    """True when no pre-activation of a relu layer sits within 1e-3 of its kink."""
    if "relu" not in s.acts:
        return True
    rows = s.layout == "rows"
    Z = np.asarray(pt["X"], dtype=np.float64)
    for i in range(len(s.sizes) - 1):
        W = pt[f"W{i}"]
        Z = Z @ W if rows else W @ Z
        if s.biases[i]:
            Z = Z + pt[f"b{i}"]
        if s.acts[i] == "relu":
            if np.min(np.abs(Z)) < 1e-3:
                return False
            Z = np.maximum(Z, 0.0)
        elif s.acts[i] != "none":
            Z = {
                "nn_sigmoid": lambda v: 1 / (1 + np.exp(-v)),
                "sigmoid_written": lambda v: 1 / (1 + np.exp(-v)),
                "tanh": np.tanh,
                "softplus_written": lambda v: np.logaddexp(0.0, v),
            }[s.acts[i]](Z)
    return True


SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@SETTINGS
@given(s=styles(), seed=st.integers(0, 2**16))
def test_drawn_network_against_torch(s, seed):
    """J and every gradient equal torch's float64 autograd of the same network."""
    if torch is None:
        pytest.skip("torch is not installed (central differences run in the next test)")
    pt = point(s, seed)
    if not _relu_kink_free(s, pt):
        return
    m = module(s)
    J, grads = m.value_and_grad(**pt)
    t = {
        k: torch.tensor(np.ascontiguousarray(v), dtype=torch.float64, requires_grad=True)
        for k, v in pt.items()
    }
    loss = torch_loss(s, t)
    loss.backward()
    assert_close(J, loss.item(), "exact", "J", scale=max(1.0, abs(loss.item())))
    for name in m.WRT:
        assert grads[name].shape == pt[name].shape, name
        expected = t[name].grad.numpy()
        scale = max(1.0, float(np.max(np.abs(expected))))
        assert_close(grads[name], expected, "exact", f"dJ/d{name}", scale=scale)


@SETTINGS
@given(s=styles(), seed=st.integers(0, 2**16))
def test_drawn_network_against_central_differences(s, seed):
    """Torch or not: every gradient agrees with directional central differences."""
    pt = point(s, seed)
    if not _relu_kink_free(s, pt):
        return
    m = module(s)
    _, grads = m.value_and_grad(**pt)
    vjp_check(m.forward, grads, pt, list(m.WRT), seed=seed)


@settings(
    max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(s=styles(), seed=st.integers(0, 2**16))
def test_drawn_network_in_float32(s, seed):
    """float32 arrays in: J and gradients come back float32, close to the float64 result."""
    pt64 = point(s, seed)
    if not _relu_kink_free(s, pt64):
        return
    m = module(s)
    J64, g64 = m.value_and_grad(**pt64)
    J32, g32 = m.value_and_grad(**point(s, seed, np.float32))
    assert np.asarray(J32).dtype == np.float32 or isinstance(J32, float)
    rtol, atol = TOL["float32"]
    depth = len(s.sizes) - 1
    for name in m.WRT:
        assert g32[name].dtype == np.float32, name
        scale = max(1.0, float(np.max(np.abs(g64[name]))))
        err = float(np.max(np.abs(g32[name].astype(np.float64) - g64[name])))
        assert err <= 20 * depth * (rtol * scale + atol), (name, err)
    assert abs(float(J32) - float(J64)) <= 20 * depth * rtol * max(1.0, abs(float(J64)))


def test_styles_compile_to_the_same_numbers():
    """Rows and columns of one network, every loss spelling: one value, one gradient (transposed)."""
    base = dict(
        sizes=(3, 4, 2), acts=("sigmoid_written", "tanh"), biases=(True, False), batch=5, order="C"
    )
    values = set()
    for loss in LOSSES:
        r = Style("rows", loss=loss, **base)
        c = Style("columns", loss=loss, **base)
        pr = point(r, 7)
        pc = {k: np.ascontiguousarray(v.T) for k, v in pr.items()}
        Jr, gr = module(r).value_and_grad(**pr)
        Jc, gc = module(c).value_and_grad(**pc)
        f = LOSS_FACTOR[loss]
        values.add(round(float(Jr) / f, 12))
        assert_close(Jc, Jr, "exact", f"J {loss}")
        for name in gr:
            assert_close(gc[name].T, gr[name], "exact", f"{loss} d/d{name}")
    assert len(values) == 1  # every spelling is the same ΣE²/N up to its factor
