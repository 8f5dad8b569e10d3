"""Random circuits (hypothesis, derandomized): values and gradients against mpmath.

Each circuit is built from a pool of sub-expressions, so sub-expressions are shared (fan-out,
``+=`` accumulation, aliasing of adjoints) the way real circuits share them. The oracle is
SymPy's own ``diff`` of the (small) expression, evaluated by mpmath at 30 digits; the
arguments are arrays for some symbols and scalars for others, so broadcasting and the
reduction of gradients are exercised too.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st
from oracles import assert_close, mp_function, textbook

import circuitc

x, y, z = sp.symbols("x y z", real=True)
SYMBOLS = (x, y, z)

# smooth ops, safe on the whole real line (domains are kept by construction)
UNARY = [
    sp.sin,
    sp.cos,
    sp.tanh,
    sp.atan,
    circuitc.sigmoid,
    circuitc.softplus,
    lambda u: sp.exp(sp.sin(u)),
    lambda u: sp.sqrt(1 + u**2),
    lambda u: sp.log(1 + u**2),
    lambda u: u**2,
    lambda u: u**3,
    lambda u: 1 / (2 + sp.cos(u)),
    lambda u: -u,
]
BINARY = [
    lambda a, b: a + b,
    lambda a, b: a * b,
    lambda a, b: a - 2 * b,
    lambda a, b: a / (1 + b**2),
    lambda a, b: sp.atan2(a, 2 + sp.cos(b)),
    lambda a, b: a * sp.exp(-(b**2)),
]


# kinks and pieces: the points are shifted apart (below) so that no tie or boundary is hit
KINK_UNARY = [
    sp.Abs,
    lambda u: sp.Max(u, 0),
    lambda u: sp.Piecewise((sp.log(u), u > 0.5), (u**2, True)),
    lambda u: sp.Piecewise((sp.sqrt(u - 1), u > 1.2), (sp.exp(u), u < -1), (u, True)),
]
KINK_BINARY = [
    sp.Max,
    lambda a, b: sp.Min(a, 2 * b),
    lambda a, b: sp.Piecewise((a, a > b), (b * a, True)),
    lambda a, b: sp.Piecewise((sp.acos(a) * b, sp.And(a > -1, a < 1, b > 0)), (b, True)),
    lambda a, b: sp.Piecewise((sp.log(a), sp.Or(a > 3, sp.And(a > 0.5, b > 1.5))), (a - b, True)),
]


@st.composite
def circuits(draw, kinks=False):
    pool = list(SYMBOLS)
    unary, binary = (UNARY + KINK_UNARY, BINARY + KINK_BINARY) if kinks else (UNARY, BINARY)
    for _ in range(draw(st.integers(2, 7))):
        if draw(st.booleans()):
            f = draw(st.sampled_from(unary))
            pool.append(f(draw(st.sampled_from(pool))))
        else:
            f = draw(st.sampled_from(binary))
            pool.append(f(draw(st.sampled_from(pool)), draw(st.sampled_from(pool))))
    # the output combines the last node with an earlier one, so values fan out
    out = pool[-1] + draw(st.sampled_from(pool)) * draw(st.sampled_from(pool[3:] or pool))
    wrt = draw(st.sets(st.sampled_from(SYMBOLS), min_size=1))
    shift = [0.1371, 0.2903, 0.4177] if kinks else [0.0, 0.0, 0.0]
    point = {
        s.name: draw(st.floats(-2, 2, allow_nan=False)) + d
        for s, d in zip(SYMBOLS, shift, strict=True)
    }
    return out, sorted(wrt, key=lambda s: s.name), point


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(circuits())
def test_random_circuit_against_mpmath(case):
    check(*case)


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(circuits(kinks=True))
def test_random_circuit_with_kinks_against_mpmath(case):
    check(*case)


def check(expr, wrt, full):
    derivatives = [sp.diff(textbook(expr), s) for s in wrt]
    # SymPy's own derivative must be printable for mpmath (no zoo from a log of a constant 0)
    assume(not any(d.has(sp.zoo, sp.nan) for d in derivatives))
    m = circuitc.compile(expr, wrt=wrt, name="random")
    # the module's arguments: the parameters and the symbols the expression uses
    point = {n: full[n] for n in (*m.WRT, *m.INPUTS)}
    value, grad = m.value_and_grad(**point)
    assert_close(value, mp_function(expr, list(SYMBOLS))(full), "mpmath", f"J = {expr}")
    slopes = {
        s.name: mp_function(d, list(SYMBOLS))(full) for s, d in zip(wrt, derivatives, strict=True)
    }
    for name, slope in slopes.items():
        assert_close(grad[name], slope, "mpmath", f"dJ/d{name} of {expr} at {point}")
    # a batch: one argument is an array of three points, the others stay scalars
    # (an argument J uses: J does not broadcast over an unused parameter)
    name_b = next((n for n in sorted(point) if expr.has(sp.Symbol(n, real=True))), None)
    if name_b is None:
        return  # J is a constant: nothing broadcasts
    vs = np.array([full[name_b], full[name_b] + 0.5, -full[name_b]])
    batch = dict(point, **{name_b: vs})
    value, grad = m.value_and_grad(**batch)
    np.testing.assert_array_equal(vs, [full[name_b], full[name_b] + 0.5, -full[name_b]])  # intact
    per = [dict(full, **{name_b: float(v)}) for v in vs]
    assert_close(value, [mp_function(expr, list(SYMBOLS))(p) for p in per], "mpmath", "J(batch)")
    for s in wrt:
        slope = mp_function(sp.diff(textbook(expr), s), list(SYMBOLS))
        expected = [slope(p) for p in per]
        if s.name != name_b:
            expected = sum(expected)  # a scalar parameter's gradient is the batch sum
        assert_close(grad[s.name], expected, "mpmath", f"dJ/d{s.name}(batch) of {expr}")
        assert np.shape(grad[s.name]) == np.shape(batch.get(s.name, 0.0))


@st.composite
def stepped_circuits(draw):
    """The same random circuits written as named steps (s0, s1, ...), some of them unused."""
    pool, full, steps = list(SYMBOLS), list(SYMBOLS), []
    unary, binary = UNARY + KINK_UNARY, BINARY + KINK_BINARY
    for k in range(draw(st.integers(2, 8))):
        i = draw(st.integers(0, len(pool) - 1))
        try:  # SymPy itself may fail to build a combination (a NaN comparison): draw again
            if draw(st.booleans()):
                f = draw(st.sampled_from(unary))
                step, flat = f(pool[i]), f(full[i])
            else:
                f = draw(st.sampled_from(binary))
                j = draw(st.integers(0, len(pool) - 1))
                step, flat = f(pool[i], pool[j]), f(full[i], full[j])
        except TypeError:
            reject()
        s = sp.Symbol(f"s{k}", real=True)
        steps.append((s, step))
        pool.append(s)
        full.append(flat)
    i = draw(st.integers(0, len(pool) - 1))
    wrt = sorted(draw(st.sets(st.sampled_from(SYMBOLS), min_size=1)), key=lambda s: s.name)
    shift = [0.1371, 0.2903, 0.4177]
    point = {
        s.name: draw(st.floats(-2, 2, allow_nan=False)) + d
        for s, d in zip(SYMBOLS, shift, strict=True)
    }
    return (
        circuitc.Circuit("stepped", pool[-1] * pool[i], wrt, steps=steps),
        full[-1] * full[i],
        point,
    )


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(stepped_circuits())
def test_random_step_circuits_against_mpmath(case):
    circuit, flat, full = case
    derivatives = [sp.diff(textbook(flat), s) for s in circuit.wrt]
    assume(not any(d.has(sp.zoo, sp.nan) for d in [flat, *derivatives]))
    m = circuitc.compile(circuit)
    point = {n: full[n] for n in (*m.WRT, *m.INPUTS)}
    with np.errstate(all="ignore"):  # a taken branch may be nan, as in SymPy
        value, grad = m.value_and_grad(**point)
    assert_close(value, mp_function(flat, list(SYMBOLS))(full), "mpmath", f"J = {flat}")
    for s, d in zip(circuit.wrt, derivatives, strict=True):
        slope = mp_function(d, list(SYMBOLS))(full)
        assert_close(grad[s.name], slope, "mpmath", f"dJ/d{s.name} of {flat}")
