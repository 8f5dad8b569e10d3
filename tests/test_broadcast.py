"""Broadcasting, reduction, dtypes and fresh arrays (docs/design.md, Public contract).

Scalar symbols may be given arrays: the forward pass is elementwise, and each gradient is of
sum(J), reduced back to its argument's shape. The oracles are NumPy written by hand here and
the same circuit called one element at a time.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from oracles import assert_close, central_grad

import circuitc

x, y, w, b = sp.symbols("x y w b")

# J = w·x² + sin(w·y) + b, with hand derivatives
EXPR = w * x**2 + sp.sin(w * y) + b


def hand(wv, xv, yv, bv):
    value = wv * xv**2 + np.sin(wv * yv) + bv
    dw = xv**2 + yv * np.cos(wv * yv)
    dx = 2 * wv * xv
    dy = wv * np.cos(wv * yv)
    db = np.ones_like(value)
    return value, {"w": dw, "x": dx, "y": dy, "b": db}


@pytest.fixture(scope="module")
def model():
    return circuitc.compile(EXPR, wrt=[w, b], name="bcast")


@pytest.fixture(scope="module")
def model_all():
    return circuitc.compile(EXPR, wrt=[w, x, y, b], name="bcast_all")


RNG = np.random.default_rng(7)
XS = RNG.normal(size=6)
YS = RNG.normal(size=6)


def test_forward_is_elementwise(model):
    value = model.forward(w=0.7, b=-0.2, x=XS, y=YS)
    assert isinstance(value, np.ndarray) and value.shape == (6,)
    expected, _ = hand(0.7, XS, YS, -0.2)
    assert_close(value, expected, "exact", "J(batch)")
    # and equal to the circuit called one element at a time
    for i in range(6):
        assert_close(value[i], model.forward(w=0.7, b=-0.2, x=XS[i], y=YS[i]), "exact", f"J[{i}]")


def test_gradient_of_a_scalar_parameter_is_the_batch_sum(model):
    value, grad = model.value_and_grad(w=0.7, b=-0.2, x=XS, y=YS)
    _, g = hand(0.7, XS, YS, -0.2)
    assert isinstance(grad["w"], float) and isinstance(grad["b"], float)
    assert_close(grad["w"], np.sum(g["w"]), "exact", "dJ/dw = batch sum")
    assert_close(grad["b"], 6.0, "exact", "dJ/db = batch size")
    per_row = sum(model.grad(w=0.7, b=-0.2, x=XS[i], y=YS[i])["w"] for i in range(6))
    assert_close(grad["w"], per_row, "exact", "dJ/dw = sum of the per-row gradients")


def test_array_parameter_gets_an_elementwise_gradient(model_all):
    ws = RNG.normal(size=6)
    _, grad = model_all.value_and_grad(w=ws, b=0.3, x=XS, y=YS)
    _, g = hand(ws, XS, YS, 0.3)
    for name in ("w", "x", "y"):
        assert grad[name].shape == (6,)
        assert_close(grad[name], g[name], "exact", f"dJ/d{name}")
    assert isinstance(grad["b"], float)


def test_outer_broadcast_reduces_each_argument_to_its_shape(model_all):
    xs = RNG.normal(size=(3, 1))
    ys = RNG.normal(size=(1, 4))
    ws = RNG.normal(size=(4,))
    value, grad = model_all.value_and_grad(w=ws, b=np.array([[0.5]]), x=xs, y=ys)
    assert value.shape == (3, 4)
    _, g = hand(ws, xs, ys, 0.5)
    assert grad["x"].shape == (3, 1) and grad["y"].shape == (1, 4)
    assert grad["w"].shape == (4,) and grad["b"].shape == (1, 1)
    assert_close(grad["x"], np.sum(g["x"] * np.ones((3, 4)), axis=1, keepdims=True), "exact", "x")
    assert_close(grad["y"], np.sum(g["y"] * np.ones((3, 4)), axis=0, keepdims=True), "exact", "y")
    assert_close(grad["w"], np.sum(g["w"], axis=0), "exact", "w")
    assert_close(grad["b"], [[12.0]], "exact", "b")
    # and against central differences of sum(J)
    point = {"w": ws, "b": np.array([[0.5]]), "x": xs, "y": ys}
    for name in ("w", "x", "y", "b"):
        fd = central_grad(model_all.forward, point, name)
        assert_close(grad[name], fd, "central", f"dJ/d{name} vs central differences")


# -- dtypes --------------------------------------------------------------------------------------
def test_float32_in_float32_out(model_all):
    f32 = {
        "w": np.float32(0.7),
        "b": np.full(6, 0.1, dtype=np.float32),
        "x": XS.astype(np.float32),
        "y": YS.astype(np.float32),
    }
    value, grad = model_all.value_and_grad(**f32)
    assert value.dtype == np.float32
    assert model_all.forward(**f32).dtype == np.float32
    for name, v in f32.items():
        assert np.asarray(grad[name]).dtype == np.float32, name
        assert np.shape(grad[name]) == np.shape(v), name
    value64, grad64 = model_all.value_and_grad(
        **{k: np.float64(v) if np.ndim(v) == 0 else v.astype(np.float64) for k, v in f32.items()}
    )
    assert_close(value, value64, "float32", "J float32 vs float64")
    for name in f32:
        assert_close(grad[name], grad64[name], "float32", f"dJ/d{name} float32 vs float64")


def test_python_float_parameter_with_float32_data_stays_float32(model):
    value, grad = model.value_and_grad(
        w=0.7, b=-0.2, x=XS.astype(np.float32), y=YS.astype(np.float32)
    )
    assert value.dtype == np.float32
    assert np.asarray(grad["w"]).dtype == np.float32


def test_float64_scalars_give_python_floats(model):
    value, grad = model.value_and_grad(w=np.float64(0.7), b=0.1, x=1.5, y=-2.0)
    assert type(value) is float and type(grad["w"]) is float and type(grad["b"]) is float


def test_int_and_list_inputs(model):
    value, grad = model.value_and_grad(w=2, b=0, x=[1, 2, 3], y=[0, 1, -1])
    expected, g = hand(2.0, np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, -1.0]), 0.0)
    assert_close(value, expected, "exact", "J with ints and lists")
    assert_close(grad["w"], np.sum(g["w"]), "exact", "dJ/dw with ints and lists")
    assert isinstance(grad["w"], float)
    assert model.forward(w=1, b=2, x=3, y=0) == 11.0


# -- fresh arrays --------------------------------------------------------------------------------
def test_two_parameters_of_a_sum_get_independent_arrays():
    m = circuitc.compile(x + y, wrt=[x, y], name="plus")
    xs, ys = np.arange(3.0), np.arange(3.0) * 2
    value, grad = m.value_and_grad(x=xs, y=ys)
    assert grad["x"] is not grad["y"]
    assert not np.shares_memory(grad["x"], grad["y"])
    assert not np.shares_memory(grad["x"], value) and not np.shares_memory(grad["x"], xs)
    grad["x"][0] = 99.0
    np.testing.assert_array_equal(grad["y"], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(xs, [0.0, 1.0, 2.0])


def test_a_later_call_does_not_overwrite_an_earlier_result(model_all):
    ws = np.array([0.1, 0.2, 0.3])
    v1, g1 = model_all.value_and_grad(w=ws, b=0.0, x=np.ones(3), y=np.ones(3))
    keep_v, keep_g = v1.copy(), {k: np.copy(v) for k, v in g1.items()}
    v2, g2 = model_all.value_and_grad(w=ws * 5, b=1.0, x=np.ones(3) * 2, y=np.ones(3))
    np.testing.assert_array_equal(v1, keep_v)
    for k in g1:
        np.testing.assert_array_equal(g1[k], keep_g[k])
    # mutating a returned gradient changes nothing else
    g2["w"][:] = -1.0
    v3, g3 = model_all.value_and_grad(w=ws * 5, b=1.0, x=np.ones(3) * 2, y=np.ones(3))
    assert not np.any(g3["w"] == -1.0)
    np.testing.assert_array_equal(v2, v3)


def test_output_that_is_an_input_is_returned_as_a_copy():
    m = circuitc.compile(x, wrt=[x], name="ident")
    xs = np.arange(3.0)
    value, grad = m.value_and_grad(x=xs)
    assert not np.shares_memory(value, xs)
    np.testing.assert_array_equal(grad["x"], np.ones(3))
    assert not np.shares_memory(m.forward(x=xs), xs)


def test_unused_parameter_gets_a_zero_gradient_of_its_shape():
    m = circuitc.compile(sp.sin(x), wrt=[x, w], name="unused")
    _, grad = m.value_and_grad(x=np.ones(4), w=np.ones((2, 3), dtype=np.float32))
    assert grad["w"].shape == (2, 3) and grad["w"].dtype == np.float32
    assert not grad["w"].any()
    _, grad = m.value_and_grad(x=0.3, w=1.5)
    assert grad["w"] == 0.0 and isinstance(grad["w"], float)


def test_wrongly_shaped_arguments_raise_value_error(model_all):
    with pytest.raises(ValueError):
        model_all.value_and_grad(w=np.ones(3), b=0.0, x=np.ones(4), y=np.ones(3))
