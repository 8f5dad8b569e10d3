"""The notes' small example (1.3): J = cos(sin(x²) + 3x²), against the hand derivative.

dJ/dx = −sin(u)·(2x·cos(x²) + 6x) with u = sin(x²) + 3x², written here by hand from the
chain rule (not from circuitc or SymPy), and checked again against central differences.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from oracles import assert_close, central_grad

import circuitc

x = sp.Symbol("x")
t, u1, u2, u, J = sp.symbols("t u1 u2 u J")

POINTS = [0.0, 0.5, -0.5, 1.0, 1.7, -2.3, 3.0, 10.0, -25.0, 1e-8]


def hand_value(v: float) -> float:
    return math.cos(math.sin(v * v) + 3 * v * v)


def hand_grad(v: float) -> float:
    uu = math.sin(v * v) + 3 * v * v
    return -math.sin(uu) * (2 * v * math.cos(v * v) + 6 * v)


def small_circuit() -> circuitc.Circuit:
    return circuitc.Circuit(
        "small_example",
        J,
        [x],
        steps=[(t, x**2), (u1, sp.sin(t)), (u2, 3 * t), (u, u1 + u2), (J, sp.cos(u))],
    )


@pytest.fixture(scope="module", params=["expression", "circuit"])
def module(request):
    if request.param == "expression":
        return circuitc.compile(sp.cos(sp.sin(x**2) + 3 * x**2), wrt=[x], name="small_example")
    return circuitc.compile(small_circuit())


@pytest.mark.parametrize("v", POINTS)
def test_value_and_grad_match_hand_derivative(module, v):
    value, grad = module.value_and_grad(x=v)
    assert isinstance(value, float) and isinstance(grad["x"], float)
    assert_close(value, hand_value(v), "exact", f"J({v})")
    # the hand formula and the emitted code group the terms differently: a few ulp of u
    # times |dJ/du| ~ |6x|, so the tolerance is the mpmath row, scaled by x
    assert_close(grad["x"], hand_grad(v), "mpmath", f"dJ/dx({v})", scale=max(1.0, 36 * v * v))
    assert module.forward(x=v) == value
    assert module.grad(x=v) == grad


@pytest.mark.parametrize("v", [0.5, -1.3, 2.0])
def test_grad_matches_central_differences(module, v):
    g = module.grad(x=v)["x"]
    assert_close(g, central_grad(module.forward, {"x": v}, "x"), "central", f"dJ/dx({v})")


def test_batch_of_points_is_elementwise(module):
    xs = np.array(POINTS)
    value, grad = module.value_and_grad(x=xs)
    assert value.shape == xs.shape and grad["x"].shape == xs.shape
    assert_close(value, [hand_value(v) for v in POINTS], "exact", "J(batch)")
    scale = np.maximum(1.0, 36 * xs * xs)
    assert_close(grad["x"], [hand_grad(v) for v in POINTS], "mpmath", "dJ/dx(batch)", scale=scale)


def test_emitted_code_accumulates_both_contributions_to_t():
    text = circuitc.source(small_circuit())
    backward = text.split("# backward", 1)[1].split("grad = {", 1)[0]
    lines = [ln.strip() for ln in backward.splitlines() if ln.strip()]
    firsts = [ln for ln in lines if ln.startswith("_d_t = ")]
    adds = [ln for ln in lines if ln.startswith("_d_t += ")]
    assert len(firsts) == 1 and len(adds) == 1, backward
    # one contribution through u1 = sin(t), the other through u2 = 3t, in that order of lines
    assert lines.index(firsts[0]) < lines.index(adds[0])
    both = firsts[0] + adds[0]
    assert "_d_u1" in both and "_d_u2" in both
    assert "cos(t)" in both
    # the circuit's own names appear as the forward lines of the NumPy path (the notes' table;
    # the math fast path for floats is rewritten freely and may write u1, u2 inline)
    forward = text.split("def forward", 1)[1].split("# forward", 1)[1].split("return", 1)[0]
    for name in ("t", "u1", "u2", "u", "J"):
        assert f"    {name} = " in forward, name
    # one chain-rule comment per backward line, in the notes' notation
    assert "# dJ/dt += dJ/du1 * du1/dt,  du1/dt = cos(t)" in text


def test_metadata():
    m = circuitc.compile(small_circuit())
    assert m.WRT == ("x",)
    assert m.INPUTS == ()
    assert m.NAME == "small_example"
    assert isinstance(m.CIRCUIT_HASH, str) and len(m.CIRCUIT_HASH) >= 8
    assert "import circuitc" not in m.__source__


def test_header_shows_the_steps_and_no_tautology():
    text = circuitc.source(small_circuit())
    header = text.split('"""', 1)[0]
    assert "# J = J\n" not in header
    for line in (
        "#   t = x**2",
        "#   u1 = sin(t)",
        "#   u2 = 3*t",
        "#   u = u1 + u2",
        "#   J = cos(u)",
    ):
        assert line in header, line
    plain = circuitc.source(sp.cos(sp.sin(x**2) + 3 * x**2), wrt=[x], name="small")
    assert "# J = cos(3*x**2 + sin(x**2))" in plain
