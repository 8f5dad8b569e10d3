"""Issue 12, part 2 (compile side): no silent wrong answers.

Each circuit here used to compile and run, and give a wrong J or gradient without a word:

* problem 4: an output (or prediction) that no step defines became a data input — the
  module returned its argument, the gradient was 0 and ``circuitc check`` passed;
* problem 5: a step named like a matrix dimension (``N``) replaced the bound batch size, so
  ``nn.mean`` divided by the step's value;
* problem 6: ``np.matrix`` arguments kept their matrix semantics, so the emitted ``*`` and
  ``**`` became matrix products (masked arrays kept their masks the same way);
* problem 9: ``A.applyfunc(f)`` with a body that does not read its variable lowered to a
  scalar, so ``nn.sum``/``nn.mean``/``Trace`` of it counted one element instead of all;
* problem 15 (compile side): a step reading its own symbol, and ``None``/strings as
  arguments (registered derivatives are checked at ``register`` time: tests/test_register_any.py).

Oracles: hand-written NumPy of the same formulas, and central differences.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import circuitc
from circuitc import nn

x, t, J, y = sp.symbols("x t J y")


# -- problem 4: an output no step defines ------------------------------------------------------------


def test_an_output_that_no_step_defines_is_an_error():
    c = circuitc.Circuit("forgot", output=J, wrt=[x], steps=[(t, x**2)])
    with pytest.raises(circuitc.CircuitError, match=r"output 'J' is not defined by any step"):
        circuitc.compile(c)


def test_an_output_that_is_a_data_input_is_an_error_without_steps_too():
    with pytest.raises(circuitc.CircuitError, match=r"output 'y'"):
        circuitc.compile(y, wrt=[x], name="just_y")


def test_a_prediction_that_no_step_defines_is_an_error():
    yh = sp.Symbol("y_hat")
    c = circuitc.Circuit("forgot_pred", output=J, wrt=[x], steps=[(J, (x - y) ** 2)], prediction=yh)
    with pytest.raises(circuitc.CircuitError, match=r"prediction 'y_hat' is not defined"):
        circuitc.compile(c)


def test_an_output_that_is_a_parameter_or_a_step_is_fine():
    assert circuitc.compile(x, wrt=[x], name="ident").value_and_grad(x=2.0) == (2.0, {"x": 1.0})
    c = circuitc.Circuit("ok", output=t, wrt=[x], steps=[(t, x**2)])
    assert circuitc.compile(c).value_and_grad(x=3.0) == (9.0, {"x": 6.0})


# -- problem 5: a step named like a dimension ----------------------------------------------------------


def test_a_step_named_like_a_matrix_dimension_is_an_error():
    N = sp.Symbol("N")
    X = sp.MatrixSymbol("X", N, 2)
    w = sp.MatrixSymbol("w", 2, 1)
    c = circuitc.Circuit("dims", output=J, wrt=[w], steps=[(N, sp.Integer(7)), (J, nn.mean(X * w))])
    with pytest.raises(circuitc.CircuitError, match=r"step 'N'.*matrix dimension"):
        circuitc.compile(c)


def test_a_matrix_step_named_like_a_dimension_is_an_error():
    D = sp.Symbol("D")
    X = sp.MatrixSymbol("X", 3, D)
    Dm = sp.MatrixSymbol("D", 3, 1)
    c = circuitc.Circuit(
        "dims2", output=J, wrt=[X], steps=[(Dm, X * sp.ones(1, 1)), (J, nn.sum(X))]
    )
    with pytest.raises(circuitc.CircuitError, match=r"step 'D'.*matrix dimension"):
        circuitc.compile(c)


# -- problem 6: ndarray subclasses are converted with np.asarray ----------------------------------------


def _elementwise_module():
    return circuitc.compile(x * y + x**2, wrt=[x], name="elementwise")


def _oracle(a, b):
    """J = x*y + x**2 and dJ/dx = y + 2x, elementwise, in plain NumPy."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a * b + a**2, b + 2 * a


def test_np_matrix_arguments_are_elementwise():
    m = _elementwise_module()
    a = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    b = np.matrix([[0.5, -1.0], [2.0, 0.25]])
    value, grad = m.value_and_grad(x=a, y=b)
    want_value, want_grad = _oracle(a, b)
    assert type(value) is np.ndarray and type(grad["x"]) is np.ndarray
    np.testing.assert_allclose(value, want_value, rtol=1e-15)
    np.testing.assert_allclose(grad["x"], want_grad, rtol=1e-15)
    np.testing.assert_allclose(m.forward(x=a, y=b), want_value, rtol=1e-15)


def test_masked_arrays_are_converted_to_their_data():
    m = _elementwise_module()
    a = np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    value, grad = m.value_and_grad(x=a, y=2.0)
    want_value, want_grad = _oracle(a.data, 2.0)
    assert not isinstance(value, np.ma.MaskedArray)
    np.testing.assert_allclose(value, want_value, rtol=1e-15)
    np.testing.assert_allclose(grad["x"], want_grad, rtol=1e-15)


def test_np_matrix_in_a_matrix_circuit_is_elementwise_where_the_circuit_says_so():
    A = sp.MatrixSymbol("A", 2, 2)
    B = sp.MatrixSymbol("B", 2, 2)
    m = circuitc.compile(nn.sum(sp.HadamardProduct(A, B) + A * B), wrt=[A], name="hm")
    a = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    b = np.matrix([[0.5, -1.0], [2.0, 0.25]])
    an, bn = np.asarray(a), np.asarray(b)
    value, grad = m.value_and_grad(A=a, B=b)
    assert value == pytest.approx(float(np.sum(an * bn + an @ bn)), rel=1e-15)
    np.testing.assert_allclose(grad["A"], bn + np.ones((2, 2)) @ bn.T, rtol=1e-15)


@settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    rows=st.integers(1, 4),
    cols=st.integers(1, 4),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_ndarray_subclasses_give_what_their_plain_arrays_give(rows, cols, dtype):
    m = _elementwise_module()
    rng = np.random.default_rng(rows * 10 + cols)
    a = rng.normal(size=(rows, cols)).astype(dtype)
    b = rng.normal(size=(rows, cols)).astype(dtype)
    plain = m.value_and_grad(x=a, y=b)
    for wrap in (np.matrix, np.ma.masked_array):
        got = m.value_and_grad(x=wrap(a), y=wrap(b))
        assert type(got[0]) is np.ndarray and type(got[1]["x"]) is np.ndarray
        assert got[0].dtype == plain[0].dtype
        np.testing.assert_array_equal(got[0], plain[0])
        np.testing.assert_array_equal(got[1]["x"], plain[1]["x"])


def test_other_array_types_keep_their_conversion():
    """A non-NumPy array (here a torch tensor) is still read as float64 NumPy data."""
    torch = pytest.importorskip("torch")
    m = _elementwise_module()
    a = torch.tensor([1.0, 2.0], dtype=torch.float64)
    value, grad = m.value_and_grad(x=a, y=torch.tensor([3.0, 4.0], dtype=torch.float64))
    np.testing.assert_allclose(value, [4.0, 12.0])
    np.testing.assert_allclose(grad["x"], [5.0, 8.0])


# -- problem 15: None and strings are refused, not converted --------------------------------------------


@pytest.mark.parametrize(
    "bad, what",
    [(None, "None"), ("1.5", "str"), ([1.0, None], "None"), (np.array(["1", "2"]), "str")],
)
def test_none_and_strings_are_type_errors_naming_the_argument(bad, what):
    m = circuitc.compile(x**2, wrt=[x], name="sq")
    with pytest.raises(TypeError, match=rf"argument 'x'.*{what}"):
        m.value_and_grad(x=bad)
    with pytest.raises(TypeError, match=r"argument 'x'"):
        m.forward(x=bad)


def test_numbers_in_every_usual_container_still_work():
    m = circuitc.compile(x**2, wrt=[x], name="sq")
    for value in (2, 2.0, np.float32(2.0), [2.0], (2.0,), np.array([2]), np.array([2.0])):
        assert float(np.sum(m.forward(x=value))) == 4.0


# -- problem 9: a constant applyfunc body keeps its matrix shape ----------------------------------------


def _const_body_cases():
    z, s = sp.symbols("z s")
    return {
        "constant": (sp.Integer(2), lambda A, s: np.full_like(A, 2.0), 0.0),
        "other symbol": (s, lambda A, s: np.full_like(A, s), 1.0),
        "expression": (2 * s + 1, lambda A, s: np.full_like(A, 2 * s + 1), 2.0),
    }


@pytest.mark.parametrize("case", sorted(_const_body_cases()))
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_applyfunc_with_a_constant_body_keeps_the_matrix_shape(case, reduce):
    z, s = sp.symbols("z s")
    body, values, ds_per_element = _const_body_cases()[case]
    A = sp.MatrixSymbol("A", 2, 3)
    B = A.applyfunc(sp.Lambda(z, body))
    red = getattr(nn, reduce)
    m = circuitc.compile(red(B) + red(A), wrt=[A, s], name="constbody")
    a = np.arange(6.0).reshape(2, 3)
    value, grad = m.value_and_grad(A=a, s=1.5)
    reduce_np = np.sum if reduce == "sum" else np.mean
    assert value == pytest.approx(float(reduce_np(values(a, 1.5)) + reduce_np(a)), rel=1e-14)
    per = 1.0 if reduce == "sum" else 1.0 / 6
    np.testing.assert_allclose(grad["A"], np.full((2, 3), per), rtol=1e-14)
    assert grad["s"] == pytest.approx(6 * per * ds_per_element, rel=1e-14)


def test_trace_of_a_constant_applyfunc_counts_the_diagonal():
    z, s = sp.symbols("z s")
    A = sp.MatrixSymbol("A", 3, 3)
    m = circuitc.compile(sp.Trace(A.applyfunc(sp.Lambda(z, s**2))), wrt=[s, A], name="tr")
    value, grad = m.value_and_grad(A=np.ones((3, 3)), s=2.0)
    assert value == pytest.approx(12.0) and grad["s"] == pytest.approx(12.0)
    np.testing.assert_array_equal(grad["A"], np.zeros((3, 3)))


@settings(max_examples=15, deadline=None, derandomize=True)
@given(rows=st.integers(1, 4), cols=st.integers(1, 4), c=st.floats(-3, 3, allow_nan=False))
def test_constant_applyfunc_agrees_with_central_differences(rows, cols, c):
    z, s = sp.symbols("z s")
    A = sp.MatrixSymbol("A", rows, cols)
    B = A.applyfunc(sp.Lambda(z, sp.sin(s)))
    m = circuitc.compile(nn.sum(B) + nn.sum(sp.HadamardProduct(A, B)), wrt=[A, s], name="cdiff")
    a = np.linspace(-1, 1, rows * cols).reshape(rows, cols)
    value, grad = m.value_and_grad(A=a, s=c)
    want = float((rows * cols + np.sum(a)) * np.sin(c))
    assert value == pytest.approx(want, rel=1e-12, abs=1e-12)
    h = 1e-6
    numeric = (m.forward(A=a, s=c + h) - m.forward(A=a, s=c - h)) / (2 * h)
    assert grad["s"] == pytest.approx(numeric, rel=1e-6, abs=1e-8)
    np.testing.assert_allclose(grad["A"], np.full((rows, cols), np.sin(c)), rtol=1e-14)


# -- problem 15: a step that reads its own symbol ----------------------------------------------------------


def test_a_step_that_reads_its_own_symbol_is_a_circuit_error():
    c = circuitc.Circuit("selfref", output=t, wrt=[x], steps=[(t, t + x)])
    with pytest.raises(circuitc.CircuitError, match=r"step 't' reads its own symbol"):
        circuitc.compile(c)
