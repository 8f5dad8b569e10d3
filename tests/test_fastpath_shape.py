"""The ``math`` fast path's code-shape passes, one by one: factoring (``emit/factor.py``), the
exact strength reductions (``emit/strength.py``), values written into the ``return``.

The values these passes give are checked against mpmath and the NumPy path in
``test_fastpath_bound.py``; here: the rewrites that claim to be exact give the same floats bit
for bit (random operands, ``inf``, ``nan`` and signed zeros included), factoring gives the
shape it promises and refuses to move a term past a line that changes its operands.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import circuitc
from circuitc.emit.factor import factor_sums
from circuitc.emit.plan import Line
from circuitc.emit.strength import reduce_lines

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def run(lines: list[Line], env: dict) -> dict:
    """Execute plan lines on Python floats (``_math`` is the math module)."""
    env = dict(env, _math=math)
    for line in lines:
        value = eval(line.rhs, {}, env)  # noqa: S307 - lines printed by the test itself
        if line.op == "+=":
            value = env[line.lhs] + value
        elif line.op == "-=":
            value = env[line.lhs] - value
        env[line.lhs] = value
    return env


def same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def test_shared_factor_is_factored_once():
    lines = [
        Line("_d_u", "-_math.sin(u)"),
        Line("_d_t", "_d_u * 3"),
        Line("_d_t", "_d_u * _math.cos(t)", "+="),
        Line("_d_x", "_d_t * 2 * x"),
    ]
    out = factor_sums(lines)
    assert [line.text for line in out] == [
        "_d_u = -_math.sin(u)",
        "_d_t = _d_u * (3 + _math.cos(t))",
        "_d_x = _d_t * 2 * x",
    ]


def test_groups_keep_signs_divisors_and_the_other_terms():
    lines = [
        Line("a", "g * x"),
        Line("a", "-g * y * h", "+="),
        Line("a", "h * x", "-="),
        Line("a", "a + q * g / z"),
    ]
    (out,) = factor_sums(lines)
    assert out.text == "a = g * (x - y * h + q / z) - h * x"


def test_a_term_is_not_moved_past_a_line_that_changes_its_operands():
    lines = [
        Line("a", "g * x"),
        Line("x", "x * 2", "+="),  # x changes: g * x must be computed before this line
        Line("a", "g * y", "+="),
    ]
    assert factor_sums(lines) == lines


def test_a_sum_read_before_it_is_complete_is_left_alone():
    lines = [Line("a", "g * x"), Line("b", "a * 2"), Line("a", "g * y", "+=")]
    assert factor_sums(lines) == lines


def test_terms_without_a_shared_factor_or_that_would_be_empty_are_left_alone():
    assert factor_sums(lines := [Line("a", "g * x"), Line("a", "h * y", "+=")]) == lines
    assert factor_sums(lines := [Line("a", "g"), Line("a", "g * y", "+=")]) == lines


FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 5e-324, 1e308, math.inf, -math.inf]),
)

#: right-hand sides the strength reductions rewrite (bit for bit the same value) and how
REDUCIBLE = {
    "-a * 2 * b": "a * -2.0 * b",
    "-_math.sin(a) * (3 + _math.cos(b)) * 2 * a": "_math.sin(a) * (3.0 + _math.cos(b)) * -2.0 * a",
    "1.0 * a * b": "a * b",
    "a * 1 / b": "a / b",
    "3 * a + 1 / b - 2": "3.0 * a + 1.0 / b - 2.0",
    "-(a * b) * 0.5": "a * b * -0.5",
    "-a / 2 * b": "a / -2.0 * b",
    "1 * -a": "-a",
    "1.0 / 2 * 2 * a": "a",
    "1 / 3 * a * 3": "0.3333333333333333 * a * 3.0",
    "b * -(a * 2)": "b * (a * -2.0)",
    "a - -(b + a)": "a + (b + a)",
    "_math.sin(1.0 * a) + (1.0 * b)": "_math.sin(a) + b",
    "-(1.0 * a**2)": "-(a**2)",
    "a + -b * a": "a - b * a",
    "a - -b / a + b": "a + b / a + b",
    "2 * (1.0 * b + -(1.0 * 2 * a) * (b * b) * a)": "2.0 * (b - 2.0 * a * (b * b) * a)",
    "a**3 * b": "a**3 * b",  # exponents stay integers
}


@settings(max_examples=300, derandomize=True, deadline=None)
@given(FLOATS, FLOATS)
def test_strength_reductions_are_exact(a, b):
    for rhs in REDUCIBLE:
        (new,) = reduce_lines([Line("r", rhs)])
        try:
            before = run([Line("r", rhs)], {"a": a, "b": b})["r"]
        except (ZeroDivisionError, OverflowError, ValueError):
            with pytest.raises((ZeroDivisionError, OverflowError, ValueError)):
                run([new], {"a": a, "b": b})
            continue
        after = run([new], {"a": a, "b": b})["r"]
        assert same(before, after), (rhs, new.rhs, a, b, before, after)


def test_strength_reductions_rewrite_what_they_say():
    for rhs, expected in REDUCIBLE.items():
        assert reduce_lines([Line("r", rhs)])[0].rhs == expected, rhs


def test_small_example_fast_path_is_the_experts_shape():
    """As many multiplications as the expert's hand code (benchmarks/expert.py), J and the
    gradient written into the return."""
    from examples.small_example import circuit

    src = circuitc.source(circuit)
    start = src.index("def value_and_grad")
    fast = src[src.index("try:", start) : src.index("except _MathError", start)]
    expert = (Path(__file__).resolve().parent.parent / "benchmarks" / "expert.py").read_text()
    hand = expert[expert.index("def small_scalar") : expert.index("def small_vector")]
    hand = hand[hand.index('"""', hand.index('"""') + 3) :]  # the body, after the docstring
    assert fast.count(" * ") <= hand.count(" * ")
    assert "_d_" not in fast  # every adjoint folded into the gradient's expression
    assert "(3.0 + _math_cos(t))" in fast  # dJ/du·3 + dJ/du·cos(t), factored


def test_fast_path_matches_hand_derivative_on_many_points():
    """The factored small example against its derivative written by hand (float64 NumPy)."""
    from examples.small_example import circuit

    module = circuitc.compile(circuit)
    xs = np.random.default_rng(4).uniform(-4, 4, 500)
    t = xs * xs
    u = np.sin(t) + 3 * t
    slope = -np.sin(u) * (np.cos(t) + 3) * 2 * xs
    got = np.array([module.value_and_grad(x=float(v))[1]["x"] for v in xs])
    assert np.allclose(got, slope, rtol=1e-13, atol=1e-13)
