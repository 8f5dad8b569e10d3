"""Matrix circuits (issue 4): every matrix rule against central differences and torch autograd.

Each case is a small circuit over ``MatrixSymbol``s that exercises one rule (or one
``circuitc.nn`` building block), with a torch float64 reference of the same computation. The
oracles are independent of circuitc: a directional central difference of circuitc's own
forward (``oracles.vjp_check``) and, when torch is importable, torch's forward value and
autograd gradient of ``sum(J)``.
"""

from __future__ import annotations

import ast
from types import SimpleNamespace

import numpy as np
import pytest
import sympy as sp
from oracles import assert_close, vjp_check
from sympy.matrices.expressions.hadamard import HadamardPower, HadamardProduct

import circuitc
from circuitc import nn

try:
    import torch
except ImportError:  # the torch tests skip cleanly
    torch = None

N = sp.Symbol("N")
BATCH = 5  # the size N takes in these tests


def M(name, rows, cols):
    return sp.MatrixSymbol(name, rows, cols)


A, C = M("A", 3, 4), M("C", 3, 4)
B = M("B", 4, 2)
S = M("S", 3, 3)
b = M("b", 1, 3)
X = M("X", N, 4)
W = M("W", 4, 3)
w, v = M("w", 4, 1), M("v", 4, 1)
y = M("y", N, 1)
Y = M("Y", N, 3)
c = sp.Symbol("c")
S4 = M("S4", 4, 4)
R = M("R", 1, 4)


def _t(name):
    return lambda t: getattr(t, name)


#: name -> (expression, wrt, torch reference of J from a namespace of tensors)
CASES = {
    "matmul": (A * B, [A, B], lambda t: t.A @ t.B),
    "matmul_chain": (A * B * B.T, [A, B], lambda t: t.A @ t.B @ t.B.T),
    "transpose": (A.T * C, [A, C], lambda t: t.A.T @ t.C),
    "transpose_of_product": ((A * B).T * A, [A, B], lambda t: (t.A @ t.B).T @ t.A),
    "matadd": (A + 2 * C - A, [A, C], lambda t: 2 * t.C),
    "hadamard": (HadamardProduct(A, C), [A, C], lambda t: t.A * t.C),
    "hadamard_power": (HadamardPower(A, 3), [A], lambda t: t.A**3),
    "hadamard_self_product": (
        sp.hadamard_product(A + C, A + C),
        [A, C],
        lambda t: (t.A + t.C) ** 2,
    ),
    "applyfunc_exp": (A.applyfunc(sp.exp), [A], lambda t: torch.exp(t.A)),
    "applyfunc_nested": (
        A.applyfunc(sp.sin).applyfunc(lambda u: u**2 + c * u),
        [A, c],
        lambda t: torch.sin(t.A) ** 2 + t.c * torch.sin(t.A),
    ),
    "circuitc_sigmoid_of_matrix": (
        circuitc.sigmoid(A * B),
        [A, B],
        lambda t: torch.sigmoid(t.A @ t.B),
    ),
    "scalar_times_matrix": (c * A + C, [c, A, C], lambda t: t.c * t.A + t.C),
    "scalar_times_matmul": (c**2 * (A * B), [c, A], lambda t: t.c**2 * (t.A @ t.B)),
    "add_bias": (nn.add_bias(X * W, b), [W, b], lambda t: t.X @ t.W + t.b),
    "linear": (nn.linear(X, W, b), [W, b], lambda t: t.X @ t.W + t.b),
    "sum_all": (nn.sum(A * B), [A, B], lambda t: torch.sum(t.A @ t.B)),
    "sum_axis0": (nn.sum(A * B, axis=0), [A, B], lambda t: torch.sum(t.A @ t.B, 0, True)),
    "sum_axis1": (nn.sum(A * B, axis=1), [A, B], lambda t: torch.sum(t.A @ t.B, 1, True)),
    "sum_axis0_then_matmul": (
        nn.sum(X, axis=0) * W,
        [W],
        lambda t: torch.sum(t.X, 0, True) @ t.W,
    ),
    "sum_feeds_scalar": (c * nn.sum(A) ** 2, [c, A], lambda t: t.c * torch.sum(t.A) ** 2),
    "mean_symbolic_batch": (nn.mean(X * w), [w], lambda t: torch.mean(t.X @ t.w)),
    "mean_axis0": (nn.mean(X * W, axis=0), [W], lambda t: torch.mean(t.X @ t.W, 0, True)),
    "mean_axis1": (nn.mean(X * W, axis=1), [W], lambda t: torch.mean(t.X @ t.W, 1, True)),
    "trace": (sp.Trace(S * S.T + S), [S], lambda t: torch.trace(t.S @ t.S.T + t.S)),
    "matrix_power": (S**3, [S], lambda t: t.S @ t.S @ t.S),
    "onematrix_row_sum": (sp.OneMatrix(1, 3) * A, [A], lambda t: torch.sum(t.A, 0, True)),
    "onematrix_col_sum": (A * sp.OneMatrix(4, 1), [A], lambda t: torch.sum(t.A, 1, True)),
    "onematrix_general": (
        sp.OneMatrix(2, 3) * A,
        [A],
        lambda t: torch.ones(2, 3, dtype=torch.float64) @ t.A,
    ),
    "element_constant_index": (
        (A * B)[1, 0] * c + A[2, 3] ** 2,
        [A, B, c],
        lambda t: (t.A @ t.B)[1, 0] * t.c + t.A[2, 3] ** 2,
    ),
    "matmul_entry_idiom": (
        circuitc.sigmoid((R * w)[0, 0]) * (A * B)[2, 1],
        [R, w, A, B],
        lambda t: torch.sigmoid((t.R @ t.w)[0, 0]) * (t.A @ t.B)[2, 1],
    ),
    "one_by_one_in_scalar_function": (
        sp.exp(w.T * v) + sp.sin(w.T * w),
        [w, v],
        lambda t: torch.exp(t.w.T @ t.v)[0, 0] + torch.sin(t.w.T @ t.w)[0, 0],
    ),
    "one_by_one_output": (w.T * v, [w, v], lambda t: (t.w.T @ t.v)[0, 0]),
    "one_by_one_powers": (
        sp.sqrt(w.T * w) * (v.T * v) ** -1 + (w.T * v) ** 2,
        [w, v],
        lambda t: torch.sqrt(t.w.T @ t.w)[0, 0] / (t.v.T @ t.v)[0, 0] + (t.w.T @ t.v)[0, 0] ** 2,
    ),
    "explicit_matrix": (
        sp.Matrix([[c, c**2, 1], [sp.sin(c), 1, c]]) * A,
        [c, A],
        lambda t: (
            torch.stack(
                [
                    torch.stack([t.c, t.c**2, torch.ones((), dtype=torch.float64)]),
                    torch.stack([torch.sin(t.c), torch.ones((), dtype=torch.float64), t.c]),
                ]
            )
            @ t.A
        ),
    ),
    "relu": (nn.relu(X * W), [W], lambda t: torch.relu(t.X @ t.W)),
    "tanh": (nn.tanh(X * W), [W], lambda t: torch.tanh(t.X @ t.W)),
    "sigmoid": (nn.sigmoid(X * W), [W], lambda t: torch.sigmoid(t.X @ t.W)),
    "softmax": (nn.softmax(X * W), [W], lambda t: torch.softmax(t.X @ t.W, 1)),
    "log_softmax": (nn.log_softmax(X * W), [W], lambda t: torch.log_softmax(t.X @ t.W, 1)),
    "softmax_weighted": (
        HadamardProduct(Y, nn.softmax(X * W)),
        [W],
        lambda t: t.Y * torch.softmax(t.X @ t.W, 1),
    ),
    "squared_loss_mean": (
        nn.squared_loss(X * w, y),
        [w],
        lambda t: 0.5 * torch.sum((t.X @ t.w - t.y) ** 2) / BATCH,
    ),
    "squared_loss_sum": (
        nn.squared_loss(X * w, y, reduction="sum"),
        [w],
        lambda t: 0.5 * torch.sum((t.X @ t.w - t.y) ** 2),
    ),
    "bce_with_logits": (
        nn.binary_cross_entropy_with_logits(X * w, y),
        [w],
        lambda t: torch.nn.functional.binary_cross_entropy_with_logits(t.X @ t.w, t.y),
    ),
    "softmax_cross_entropy": (
        nn.softmax_cross_entropy(nn.linear(X, W, b), Y),
        [W, b],
        lambda t: torch.nn.functional.cross_entropy(t.X @ t.W + t.b, t.Y),
    ),
    "softmax_cross_entropy_sum": (
        nn.softmax_cross_entropy(X * W, Y, reduction="sum"),
        [W],
        lambda t: torch.nn.functional.cross_entropy(t.X @ t.W, t.Y, reduction="sum"),
    ),
    "l2": (
        nn.l2(W) + c * nn.l2(b),
        [W, b, c],
        lambda t: 0.5 * (t.W**2).sum() + t.c * 0.5 * (t.b**2).sum(),
    ),
}


def _symbols(expr, wrt):
    """The MatrixSymbols / Symbols of a case, by name (its arguments)."""
    found = {s.name: s for s in wrt}
    stack = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, sp.Dummy):
            continue
        if isinstance(e, (sp.MatrixSymbol, sp.Symbol)) and e != N:
            found.setdefault(e.name, e)
            continue
        stack.extend(getattr(e, "args", ()))
    return found


def _point(expr, wrt, seed=0, batch=BATCH):
    """Random arguments: Gaussian parameters, one-hot Y, 0/1 targets y."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, s in sorted(_symbols(expr, wrt).items()):
        if isinstance(s, sp.Symbol):
            out[name] = float(rng.normal())
            continue
        shape = tuple(batch if d == N else int(d) for d in s.shape)
        if name == "Y":
            out[name] = np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
        elif name == "y":
            out[name] = rng.integers(0, 2, shape).astype(float)
        else:
            out[name] = rng.normal(size=shape)
    return out


_modules: dict[str, object] = {}


def module(case):
    if case not in _modules:
        expr, wrt, _ = CASES[case]
        _modules[case] = circuitc.compile(expr, wrt=wrt, name=f"m_{case}")
    return _modules[case]


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_against_central_differences(case):
    expr, wrt, _ = CASES[case]
    m = module(case)
    point = _point(expr, wrt)
    J, g = m.value_and_grad(**point)
    names = [s.name for s in wrt]
    assert list(g) == names
    for n in names:
        assert np.shape(g[n]) == np.shape(point[n]), n  # gradient shape = argument shape
    vjp_check(m.forward, g, point, names, seed=1)
    # forward and value_and_grad agree
    assert_close(m.forward(**point), J, "exact", "forward vs value_and_grad")


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("case", sorted(CASES))
def test_against_torch_autograd(case):
    expr, wrt, ref = CASES[case]
    m = module(case)
    point = _point(expr, wrt)
    names = {s.name for s in wrt}
    tensors = {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=k in names) for k, v in point.items()
    }
    out = ref(SimpleNamespace(**tensors))
    J, g = m.value_and_grad(**point)
    expected = out.detach().numpy()
    assert np.shape(J) == np.shape(expected) or (np.ndim(J) == 0 and expected.size == 1)
    assert_close(J, expected, "exact" if case != "matrix_power" else "central", "J vs torch")
    out.sum().backward()
    for n in names:
        tg = tensors[n].grad  # None: J does not depend on it (SymPy cancelled A - A)
        expected = np.zeros(np.shape(point[n])) if tg is None else tg.numpy()
        assert_close(g[n], expected, "central", f"dJ/d{n} vs torch")


def test_one_by_one_output_is_a_float():
    m = module("one_by_one_output")
    point = _point(*CASES["one_by_one_output"][:2])
    J = m.forward(**point)
    assert type(J) is float
    assert_close(J, (point["w"].T @ point["v"])[0, 0], "exact", "1×1 J")


def test_dimension_symbols_are_never_arguments():
    m = module("mean_symbolic_batch")
    assert m.INPUTS == ("X",)
    assert "N" not in m.INPUTS and "N" not in m.WRT
    point = _point(*CASES["mean_symbolic_batch"][:2])
    with pytest.raises(TypeError):
        m.forward(**point, N=BATCH)


# -- stability ----------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_with_logits_is_finite_at_1e4(reduction):
    a = M("a", N, 1)
    m = circuitc.compile(
        nn.binary_cross_entropy_with_logits(a, y, reduction=reduction), wrt=[a], name="bce"
    )
    logits = np.array([[1e4], [-1e4], [1e4], [-1e4]])
    labels = np.array([[1.0], [0.0], [0.0], [1.0]])
    J, g = m.value_and_grad(a=logits, y=labels)
    # the limits: softplus(a) - y a is 0, 0, 1e4, 1e4; the gradient sigmoid(a) - y is 0, 0, 1, -1
    scale = 4 if reduction == "mean" else 1
    assert_close(J, 2e4 / scale, "exact", "J")
    np.testing.assert_array_equal(g["a"], np.array([[0.0], [0.0], [1.0], [-1.0]]) / scale)
    src = m.__source__
    assert "# stable: log(1+exp(a)) = softplus(a)" in src


def test_softmax_cross_entropy_is_finite_at_1e4():
    Z = M("Z", N, 3)
    m = circuitc.compile(nn.softmax_cross_entropy(Z, Y, reduction="sum"), wrt=[Z], name="sce")
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [0.0, 0.0, 1e4]])
    labels = np.eye(3)[[0, 0, 2]]
    J, g = m.value_and_grad(Z=logits, Y=labels)
    # limits: row 1 loss 0, row 2 loss 2e4, row 3 loss 0; gradient softmax - Y
    assert J == 2e4
    expected = np.array([[0.0, 0, 0], [-1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(g["Z"], expected)
    assert "# stable: log-sum-exp" in m.__source__


def test_softmax_is_finite_at_1e4():
    Z = M("Z", N, 3)
    m = circuitc.compile(nn.sum(HadamardProduct(Y, nn.softmax(Z))), wrt=[Z], name="sm")
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]])
    J, g = m.value_and_grad(Z=logits, Y=np.eye(3)[[0, 0]])
    assert J == 1.0
    assert np.all(np.isfinite(g["Z"]))


# -- dtype, batch sizes ----------------------------------------------------------------------------
def test_float32_in_float32_out():
    m = module("softmax_cross_entropy")
    point = {
        k: np.asarray(v, dtype=np.float32)
        for k, v in _point(*CASES["softmax_cross_entropy"][:2]).items()
    }
    J, g = m.value_and_grad(**point)
    assert np.asarray(J).dtype == np.float32
    for n in ("W", "b"):
        assert g[n].dtype == np.float32
    J64, g64 = m.value_and_grad(**{k: v.astype(np.float64) for k, v in point.items()})
    assert_close(J, J64, "float32", "float32 J")
    assert m.forward(**point).dtype == np.float32


@pytest.mark.parametrize("batch", [1, 7, 128])
def test_one_module_serves_every_batch_size(batch):
    m = module("softmax_cross_entropy")
    point = _point(*CASES["softmax_cross_entropy"][:2], seed=batch, batch=batch)
    J, g = m.value_and_grad(**point)
    # hand-written NumPy of the same loss
    Z = point["X"] @ point["W"] + point["b"]
    Z = Z - Z.max(axis=1, keepdims=True)
    logp = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    assert_close(J, -np.sum(point["Y"] * logp) / batch, "exact", "J")
    dZ = (np.exp(logp) - point["Y"]) / batch
    assert_close(g["W"], point["X"].T @ dZ, "exact", "dW", scale=1.0)
    assert_close(g["b"], dZ.sum(axis=0, keepdims=True), "exact", "db", scale=1.0)


def test_returned_gradients_are_fresh():
    m = module("matadd")
    point = _point(*CASES["matadd"][:2])
    g1 = m.grad(**point)
    g1["C"][...] = 123.0
    g2 = m.grad(**point)
    np.testing.assert_array_equal(g2["C"], 2.0)
    m = module("linear")
    point = _point(*CASES["linear"][:2])
    g1 = m.grad(**point)
    keep = g1["W"].copy()
    m.grad(**point)
    np.testing.assert_array_equal(g1["W"], keep)


# -- shape errors --------------------------------------------------------------------------------
def test_compile_time_shape_errors():
    D, K = sp.Symbol("D"), sp.Symbol("K")
    Xd = M("X", N, D)
    with pytest.raises(circuitc.CircuitError, match="square"):
        circuitc.compile(Xd * Xd, wrt=[Xd])  # SymPy accepts X*X; distinct dims are unequal
    Yk = M("Y", K, 3)
    with pytest.raises(circuitc.CircuitError, match="do not agree in a matrix product"):
        circuitc.compile(Xd * Yk, wrt=[Xd])
    with pytest.raises(circuitc.CircuitError, match="applyfunc"):
        circuitc.compile(sp.exp(A), wrt=[A])
    with pytest.raises(circuitc.CircuitError, match="add_bias"):
        circuitc.compile(nn.add_bias(X * W, M("b4", 1, 4)), wrt=[W])
    with pytest.raises(circuitc.CircuitError, match="square"):
        circuitc.compile(sp.Trace(Xd), wrt=[Xd])  # SymPy cannot tell N from D
    Z = M("Z", N, 2)
    bad_step = circuitc.Circuit("bad", nn.sum(Z), [W], steps=[(Z, X * W)])
    with pytest.raises(circuitc.CircuitError, match="declared"):
        circuitc.compile(bad_step)
    with pytest.raises(circuitc.CircuitError, match="reduction"):
        nn.squared_loss(X * w, y, reduction="max")
    with pytest.raises(circuitc.CircuitError):
        circuitc.compile(S**-1, wrt=[S])  # an inverse: not supported, named


def test_call_time_shape_errors():
    m = module("squared_loss_mean")
    point = _point(*CASES["squared_loss_mean"][:2])
    bad = dict(point, w=np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"'w' has shape \(3, 1\); expected \(4, 1\)"):
        m.value_and_grad(**bad)
    with pytest.raises(ValueError, match=r"'X' has shape \(5, 3\); expected \(N, 4\)"):
        m.forward(**dict(point, X=np.zeros((5, 3))))
    with pytest.raises(ValueError, match=r"'w' has shape \(4,\); expected \(4, 1\)"):
        m.forward(**dict(point, w=np.zeros(4)))
    with pytest.raises(ValueError, match=r"'w' has shape \(\); expected \(4, 1\)"):
        m.forward(**dict(point, w=1.0))
    # N bound by X (5 rows) and by y (7 rows): both named
    with pytest.raises(ValueError, match=r"dimension N .*'X' has N = 5 .*'y' has N = 7"):
        m.grad(**dict(point, y=np.zeros((7, 1))))
    with pytest.raises(TypeError):
        m.forward(w=point["w"], X=point["X"])


# -- no element loops -----------------------------------------------------------------------------
def _loops(source: str) -> list[str]:
    """Loops or comprehensions inside the module's public functions."""
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.For, ast.While, ast.comprehension)):
                    found.append(f"{node.name}: line {sub.lineno}")
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_element_loops_in_emitted_code(case):
    src = module(case).__source__
    assert _loops(src) == []
    body = src.split("\ndef forward", 1)[1]
    assert "for " not in body.replace("# ", "#")  # not even in a comprehension


def test_more_compile_time_errors():
    K = sp.Symbol("K")
    Z = M("Z", K, 3)
    # a dimension no argument has cannot be bound at call time
    unbound = circuitc.Circuit("unbound", nn.sum(Z), [W], steps=[(Z, sp.ZeroMatrix(K, 3))])
    with pytest.raises(circuitc.CircuitError, match="'K' is not the size of any argument"):
        circuitc.compile(unbound)
    # a dimension is never a parameter
    with pytest.raises(circuitc.CircuitError, match="'N' is a matrix dimension"):
        circuitc.compile(nn.sum(X * w) * N, wrt=[w, N])
    # a Sum over a symbolic range (SymPy's (X.T*y)[0, 0] with a symbolic N) is named
    with pytest.raises(circuitc.CircuitError, match="constant integer indices"):
        circuitc.compile((X.T * y)[0, 0], wrt=[y])


def test_a_dimension_in_an_expression_is_bound_from_the_arrays():
    m = circuitc.compile(nn.sum(X * w) * N + c, wrt=[w, c], name="dim_in_expr")
    assert m.INPUTS == ("X",)
    point = _point(nn.sum(X * w) + c, [w, c])
    for batch in (1, 7):
        point["X"] = np.ones((batch, 4))
        J, g = m.value_and_grad(**point)
        assert_close(J, batch * np.sum(point["X"] @ point["w"]) + point["c"], "exact", "J")
        assert_close(g["w"], batch * point["X"].sum(axis=0).reshape(4, 1), "exact", "dJ/dw")
        assert_close(g["c"], 1.0, "exact", "dJ/dc")


def test_deeply_nested_applyfunc_lowers_without_recursion():
    """200 nested layers tanh(h @ W) in one expression: the walk is iterative (SymPy itself
    needs a high recursion limit to build the expression, circuitc does not to compile it)."""
    import sys

    h = X
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        for _ in range(200):
            h = nn.tanh(sp.MatMul(h, S4, evaluate=False))
        expr = nn.sum(h)
    finally:
        sys.setrecursionlimit(old)
    sys.setrecursionlimit(250)
    try:
        m = circuitc.compile(expr, wrt=[S4], name="deep_tanh")
    finally:
        sys.setrecursionlimit(old)
    rng = np.random.default_rng(0)
    point = {"S4": rng.normal(0, 0.3, (4, 4)), "X": rng.normal(size=(3, 4))}
    J, g = m.value_and_grad(**point)
    # hand-written NumPy oracle
    hs = [point["X"]]
    for _ in range(200):
        hs.append(np.tanh(hs[-1] @ point["S4"]))
    assert_close(J, hs[-1].sum(), "exact", "J")
    d, dS = np.ones_like(hs[-1]), np.zeros((4, 4))
    for k in range(200, 0, -1):
        da = d * (1 - hs[k] ** 2)
        dS += hs[k - 1].T @ da
        d = da @ point["S4"].T
    assert_close(g["S4"], dS, "exact", "dJ/dS4", scale=1.0)


def test_a_matrix_parameter_as_the_output():
    m = circuitc.compile(A, wrt=[A], name="identity")
    a = np.arange(12.0).reshape(3, 4)
    J, g = m.value_and_grad(A=a)
    assert J is not a and np.array_equal(J, a)  # a fresh array
    np.testing.assert_array_equal(g["A"], np.ones((3, 4)))


@pytest.mark.parametrize("case", ["onematrix_general", "trace", "explicit_matrix"])
def test_constant_matrices_keep_float32(case):
    expr, wrt, _ = CASES[case]
    point = {
        k: (np.float32(v) if np.ndim(v) == 0 else np.asarray(v, dtype=np.float32))
        for k, v in _point(expr, wrt).items()
    }
    J, g = module(case).value_and_grad(**point)
    assert np.asarray(J).dtype == np.float32
    assert all(np.asarray(v).dtype == np.float32 for v in g.values())


def test_the_matmul_entry_idiom_is_vectorised():
    """SymPy expands (X*theta)[0, 0] into Σ_k X[0, k]*theta[k, 0]; circuitc emits X @ theta."""
    src = module("matmul_entry_idiom").__source__
    body = src.split("def value_and_grad", 1)[1]
    assert "R @ w" in body and "A @ B" in body
    assert "R[0, 1]" not in body


def test_a_transposed_argument_as_the_output_is_a_copy():
    m = circuitc.compile(A.T, wrt=[A], name="transposed")
    a = np.arange(12.0).reshape(3, 4)
    J = m.forward(A=a)
    J[0, 0] = 100.0
    assert a[0, 0] == 0.0
    J, g = m.value_and_grad(A=a)
    np.testing.assert_array_equal(J, a.T)
    np.testing.assert_array_equal(g["A"], np.ones((3, 4)))


def test_nn_on_scalars_gives_the_scalar_formulas():
    x, t = sp.symbols("x t")
    cases = {
        "sigmoid": (nn.sigmoid(x), lambda v: 1 / (1 + np.exp(-v))),
        "tanh": (nn.tanh(x), np.tanh),
        "relu": (nn.relu(x), lambda v: max(v, 0.0)),
        "squared": (nn.squared_loss(x, t), lambda v: 0.5 * (v - 0.25) ** 2),
        "bce": (
            nn.binary_cross_entropy_with_logits(x, t),
            lambda v: np.logaddexp(0, v) - 0.25 * v,
        ),
        "l2": (nn.l2(x), lambda v: v * v / 2),
        "sum": (nn.sum(x) + nn.mean(x), lambda v: 2 * v),
    }
    for name, (expr, ref) in cases.items():
        m = circuitc.compile(expr, wrt=[x], name=f"scalar_{name}")
        point = {"x": -0.7}
        if "t" in m.INPUTS:
            point["t"] = 0.25
        assert_close(m.forward(**point), ref(-0.7), "exact", name)
        vjp_check(m.forward, m.grad(**point), point, ["x"])
    with pytest.raises(circuitc.CircuitError):
        nn.softmax_cross_entropy(x, t)


def test_circuitc_softplus_of_a_matrix_is_elementwise():
    m = circuitc.compile(nn.sum(circuitc.softplus(A)), wrt=[A], name="softplus_matrix")
    a = np.linspace(-1e4, 1e4, 12).reshape(3, 4)
    J, g = m.value_and_grad(A=a)
    assert_close(J, np.sum(np.logaddexp(0, a)), "exact", "J")
    with np.errstate(over="ignore"):  # exp(1e4) = inf: the oracle's sigmoid is then 0
        expected = 1 / (1 + np.exp(-a))
    assert_close(g["A"], expected, "exact", "dJ/dA", scale=1.0)
