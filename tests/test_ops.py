"""Every op of the rule table, alone, against mpmath (30 digits) and central differences.

Each case is a small SymPy expression of one op. The value oracle is the expression itself
evaluated by mpmath; the gradient oracle is ``sympy.diff`` of that small expression evaluated
by mpmath, and, separately, central differences of the compiled forward pass. The point grids
hold the edge cases: 0, the kinks, ±large magnitudes and values near the ends of a domain.
At a kink the derivative is the documented convention (docs/design.md, Conventions), which the
test states by hand.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import assert_close, central_diff, finite, mp_function, textbook

import circuitc

x, y = sp.symbols("x y", real=True)
z = sp.Symbol("z", real=True)
SYMS = {"x": x, "y": y, "z": z}


@dataclass
class Case:
    """One op: its expression, the parameters, the grid, and where central differences stop.

    ``points``: dicts of argument values. ``edge``: points where the float64 computation is
    ill-conditioned (compared with the ``mpmath_edge`` row). ``kinks``: points where the op is
    not differentiable (skipped by the oracles here, tested against the convention below).
    ``walls``: per argument, values where the domain ends or a kink sits; the central-difference
    step stays well inside them. ``unit_step``: the step is ε·1 whatever |x| (periodic ops).
    """

    id: str
    expr: sp.Expr
    wrt: tuple[str, ...]
    points: list[dict]
    edge: list[dict] = field(default_factory=list)
    kinks: list[dict] = field(default_factory=list)
    walls: tuple[float, ...] = ()
    unit_step: bool = False


def grid(*values, name="x"):
    return [{name: float(v)} for v in values]


def grid2(*pairs):
    return [{"y": float(a), "x": float(b)} for a, b in pairs]


PI = math.pi
sigmoid, softplus = circuitc.sigmoid, circuitc.softplus

CASES = [
    # -- exponentials and logarithms ------------------------------------------------------------
    Case("exp", sp.exp(x), ("x",), grid(-700, -20, -1, 0, 1e-8, 0.5, 3, 20, 700)),
    Case(
        "log",
        sp.log(x),
        ("x",),
        grid(1e-300, 1e-8, 0.5, 1, 2, 1e8, 1e300),
        walls=(0.0,),
    ),
    Case("log_base_3", sp.log(x, 3), ("x",), grid(1e-8, 0.5, 3, 1e10), walls=(0.0,)),
    Case(
        "log_base_y",
        sp.log(x, y),
        ("x", "y"),
        [{"x": 5.0, "y": 2.0}, {"x": 0.3, "y": 10.0}, {"x": 7.0, "y": 0.5}],
        walls=(0.0, 1.0),
    ),
    Case("sqrt", sp.sqrt(x), ("x",), grid(1e-300, 1e-8, 0.25, 2, 1e10, 1e300), walls=(0.0,)),
    # -- trigonometry ---------------------------------------------------------------------------
    Case("sin", sp.sin(x), ("x",), grid(-1e6, -3, -PI / 2, 0, 1e-8, 1, PI, 100), unit_step=True),
    Case("cos", sp.cos(x), ("x",), grid(-1e6, -3, -PI / 2, 0, 1e-8, 1, PI, 100), unit_step=True),
    Case(
        "tan",
        sp.tan(x),
        ("x",),
        grid(-1.5, -1, 0, 1e-8, 0.5, 1.5, 100),
        edge=grid(1.5707963, -1.5707963),
        unit_step=True,
        walls=(PI / 2, -PI / 2),
    ),
    Case(
        "asin",
        sp.asin(x),
        ("x",),
        grid(-0.5, 0, 1e-8, 0.3, 0.9),
        edge=grid(-0.999999, 0.999999),
        walls=(-1.0, 1.0),
    ),
    Case(
        "acos",
        sp.acos(x),
        ("x",),
        grid(-0.5, 0, 1e-8, 0.3, 0.9),
        edge=grid(-0.999999, 0.999999),
        walls=(-1.0, 1.0),
    ),
    Case("atan", sp.atan(x), ("x",), grid(-1e8, -1, 0, 1e-8, 2, 1e8, 1e200)),
    Case(
        "atan2",
        sp.atan2(y, x),
        ("y", "x"),
        grid2((1, 1), (1, -1), (-1, -1), (-1, 1), (0.5, 1e-8), (1e6, 3), (3, -1e6)),
        # just above the branch cut (y = 0, x < 0): no central difference across it
        edge=grid2((1e-8, -2), (-1e-8, -2)),
    ),
    # -- hyperbolic -----------------------------------------------------------------------------
    Case("sinh", sp.sinh(x), ("x",), grid(-700, -5, 0, 1e-8, 2, 700)),
    Case("cosh", sp.cosh(x), ("x",), grid(-700, -5, 0, 1e-8, 2, 700)),
    Case("tanh", sp.tanh(x), ("x",), grid(-1e4, -20, -1, 0, 1e-8, 0.5, 20, 1e4)),
    Case("asinh", sp.asinh(x), ("x",), grid(-1e8, -3, -1e-8, 0, 1e-8, 0.5, 3, 1e8)),
    Case("acosh", sp.acosh(x), ("x",), grid(1.001, 1.5, 2, 10, 1e8), walls=(1.0,)),
    Case("atanh", sp.atanh(x), ("x",), grid(-0.999, -0.5, 0, 1e-8, 0.5, 0.999), walls=(-1.0, 1.0)),
    Case("erf", sp.erf(x), ("x",), grid(-30, -3, -1, -1e-8, 0, 1e-8, 0.5, 2, 6, 30)),
    # -- kinks ----------------------------------------------------------------------------------
    Case(
        "abs",
        sp.Abs(x),
        ("x",),
        grid(-1e300, -2, -1e-8, 1e-8, 3, 1e300),
        kinks=grid(0),
        walls=(0.0,),
    ),
    Case("sign", sp.sign(x), ("x",), grid(-5, -1e-300, 1e-8, 3), kinks=grid(0), walls=(0.0,)),
    Case("heaviside", sp.Heaviside(x), ("x",), grid(-5, -1e-8, 2), kinks=grid(0), walls=(0.0,)),
    Case(
        "heaviside_h0_0",
        sp.Heaviside(x, 0),
        ("x",),
        grid(-5, 2),
        kinks=grid(0),
        walls=(0.0,),
    ),
    Case(
        "heaviside_h0_1",
        sp.Heaviside(x, 1),
        ("x",),
        grid(-5, 2),
        kinks=grid(0),
        walls=(0.0,),
    ),
    Case(
        "max",
        sp.Max(x, y),
        ("x", "y"),
        [{"x": 1.0, "y": 2.0}, {"x": -3.0, "y": -4.0}, {"x": 1e300, "y": -1e300}],
    ),
    Case(
        "min",
        sp.Min(x, y),
        ("x", "y"),
        [{"x": 1.0, "y": 2.0}, {"x": -3.0, "y": -4.0}, {"x": 1e300, "y": -1e300}],
    ),
    Case(
        "max3",
        sp.Max(x, y, 2),
        ("x", "y"),
        [{"x": 1.0, "y": 3.0}, {"x": 5.0, "y": -4.0}, {"x": 0.0, "y": 1.0}],
    ),
    Case("relu", sp.Max(x, 0), ("x",), grid(-3, -1e-8, 1e-8, 2), kinks=grid(0), walls=(0.0,)),
    # -- Piecewise ------------------------------------------------------------------------------
    Case(
        "piecewise2",
        sp.Piecewise((x**2, x < 1), (2 * x - 1, True)),
        ("x",),
        grid(-3, 0, 0.5, 1.5, 10),
        walls=(1.0,),
    ),
    Case(
        "piecewise3",
        sp.Piecewise((sp.sin(x), x < 0), (x**3, x < 2), (sp.exp(x), True)),
        ("x",),
        grid(-3, -1e-8, 0.5, 1.9, 2.5, 30),
        walls=(0.0, 2.0),
    ),
    Case(
        "piecewise_two_symbols",
        sp.Piecewise((x * y, x > y), (x + y, True)),
        ("x", "y"),
        [{"x": 2.0, "y": 1.0}, {"x": -1.0, "y": 3.0}, {"x": 5.0, "y": -7.0}],
    ),
    # -- powers ---------------------------------------------------------------------------------
    Case("square", x**2, ("x",), grid(-1e100, -3, 0, 1e-8, 0.5, 1e100)),
    Case("cube", x**3, ("x",), grid(-1e50, -2, 0, 1e-8, 1.5, 1e50)),
    Case("reciprocal", x**-1, ("x",), grid(-4, -1e-8, 1e-200, 0.5, 1e100), walls=(0.0,)),
    Case("inverse_square", x**-2, ("x",), grid(-4, 1e-8, 0.5, 1e100), walls=(0.0,)),
    Case("cbrt", x ** sp.Rational(1, 3), ("x",), grid(1e-9, 0.5, 8, 1e30), walls=(0.0,)),
    Case("pow_minus_3_2", x ** sp.Rational(-3, 2), ("x",), grid(1e-6, 0.5, 4, 1e30), walls=(0.0,)),
    Case("pow_float", x ** sp.Float(2.5), ("x",), grid(1e-9, 0.5, 3, 1e20), walls=(0.0,)),
    Case("pow_float_negative", x ** sp.Float(-0.7), ("x",), grid(1e-9, 0.5, 3, 1e20), walls=(0.0,)),
    Case(
        "pow_symbolic",
        x**y,
        ("x", "y"),
        [{"x": 2.0, "y": 3.0}, {"x": 0.5, "y": -1.5}, {"x": 10.0, "y": 0.1}, {"x": 1e-3, "y": 2.0}],
        walls=(0.0,),
    ),
    Case("two_to_x", 2**x, ("x",), grid(-1000, -1, 0, 0.5, 1000)),
    Case("e_to_x", sp.E**x, ("x",), grid(-700, 0, 1.5, 700)),
    # -- constants ------------------------------------------------------------------------------
    Case(
        "constants",
        sp.pi * x + sp.E * x**2 + sp.Rational(2, 3) * x + sp.Float("0.1") * x + 7 + sp.log(2) * x,
        ("x",),
        grid(-3, 0, 0.5, 1e8),
    ),
    Case("constant_function", sp.sin(sp.pi / 7) * x + sp.Integer(-4), ("x",), grid(-2, 0, 3)),
    # -- circuitc's own functions ---------------------------------------------------------------
    Case("sigmoid", sigmoid(x), ("x",), grid(-1e4, -700, -30, -1, 0, 1e-8, 2, 30, 700, 1e4)),
    Case("softplus", softplus(x), ("x",), grid(-700, -30, -1, 0, 1e-8, 2, 30, 700)),
]

BY_ID = {c.id: c for c in CASES}


@functools.cache
def compiled(case_id: str):
    case = BY_ID[case_id]
    return circuitc.compile(case.expr, wrt=[SYMS[n] for n in case.wrt], name=f"op_{case_id}")


@functools.cache
def oracle(case_id: str, what: str):
    """mpmath functions of a point: the value (``what == ""``) or d/d``what`` via sympy.diff."""
    case = BY_ID[case_id]
    syms = [SYMS[n] for n in case.wrt]
    expr = case.expr if what == "" else sp.diff(textbook(case.expr), SYMS[what])
    return mp_function(expr, syms)


def _params(kind: str):
    out = []
    for case in CASES:
        points = case.points + (case.edge if kind != "central" else [])
        for i, p in enumerate(points):
            label = ",".join(f"{k}={v:g}" for k, v in p.items())
            out.append(pytest.param(case.id, i, id=f"{case.id}[{label}]"))
    return out


def _point(case: Case, i: int) -> dict:
    return (case.points + case.edge)[i]


@pytest.mark.parametrize(("case_id", "i"), _params("mpmath"))
def test_value_and_grad_against_mpmath(case_id, i):
    case = BY_ID[case_id]
    point = _point(case, i)
    kind = "mpmath_edge" if point in case.edge else "mpmath"
    m = compiled(case_id)
    value, grad = m.value_and_grad(**point)
    assert_close(value, oracle(case_id, "")(point), kind, f"{case_id} value at {point}")
    assert_close(m.forward(**point), value, "exact", f"{case_id}: forward == value_and_grad")
    for name in case.wrt:
        expected = oracle(case_id, name)(point)
        assert_close(grad[name], expected, kind, f"d{case_id}/d{name} at {point}")


def _fd_scale(case: Case, v: float) -> float:
    """The step's scale at v: |v| (≥ 1), 1 for periodic ops, shrunk near a domain wall or kink."""
    scale = 1.0 if case.unit_step else max(1.0, abs(v))
    for w in case.walls:
        d = abs(v - w)
        scale = min(scale, d / 1e4 / 1e-6)
    return scale


@pytest.mark.parametrize(("case_id", "i"), _params("central"))
def test_grad_against_central_differences(case_id, i):
    case = BY_ID[case_id]
    point = _point(case, i)
    m = compiled(case_id)
    grad = m.grad(**point)
    for name in case.wrt:
        if not math.isfinite(oracle(case_id, name)(point)):
            continue  # an infinite slope (1/x at 1e-200) is checked against mpmath only

        def f(v, name=name):
            return m.forward(**{**point, name: v})

        fd = central_diff(f, point[name], _fd_scale(case, point[name]))
        if not math.isfinite(fd):
            pytest.fail(f"central difference of {case_id} is not finite at {point}")
        assert_close(
            grad[name], fd, "central", f"d{case_id}/d{name} at {point}", scale=max(1.0, abs(fd))
        )


# -- kinks: the conventions of docs/design.md, stated by hand --------------------------------------------
@pytest.mark.parametrize(
    ("case_id", "value", "slope"),
    [
        ("abs", 0.0, 0.0),
        ("sign", 0.0, 0.0),
        ("heaviside", 0.5, 0.0),
        ("heaviside_h0_0", 0.0, 0.0),
        ("heaviside_h0_1", 1.0, 0.0),
        ("relu", 0.0, None),  # None: by SymPy's argument order, checked below
    ],
)
def test_kink_conventions(case_id, value, slope):
    m = compiled(case_id)
    j, g = m.value_and_grad(x=0.0)
    assert j == value
    if slope is None:
        # Max(x, 0).args is SymPy's canonical order; the first tied argument takes the gradient
        first = BY_ID[case_id].expr.args[0]
        slope = 1.0 if first == x else 0.0
    assert g["x"] == slope


@pytest.mark.parametrize("head", [sp.Max, sp.Min])
@pytest.mark.parametrize("order", [(x, y), (y, x)])
def test_max_min_tie_goes_to_first_argument_in_sympy_order(head, order):
    expr = head(*order)
    m = circuitc.compile(expr, wrt=[x, y])
    j, g = m.value_and_grad(x=1.5, y=1.5)
    assert j == 1.5
    first = expr.args[0]  # SymPy reorders the arguments: the canonical first one wins
    winner, loser = ("x", "y") if first == x else ("y", "x")
    assert (g[winner], g[loser]) == (1.0, 0.0)


def test_three_way_tie_and_batch_ties():
    expr = sp.Max(x, y, z)
    m = circuitc.compile(expr, wrt=[x, y, z])
    g = m.grad(x=2.0, y=2.0, z=2.0)
    first = expr.args[0].name
    assert g[first] == 1.0 and sum(g.values()) == 1.0
    # elementwise: ties in some rows only
    xs = np.array([1.0, 2.0, 3.0])
    g = m.grad(x=xs, y=np.array([1.0, 5.0, 3.0]), z=np.array([0.0, 0.0, 3.0]))
    total = g["x"] + g["y"] + g["z"]
    np.testing.assert_array_equal(total, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(
        g["y"], [1.0 if first == "y" else 0.0, 1.0, 1.0 if first == "y" else 0.0]
    )


# -- large magnitudes: nothing spurious ------------------------------------------------------------
@pytest.mark.parametrize("case_id", ["sigmoid", "softplus", "tanh", "exp", "atan"])
def test_large_arguments_stay_finite_where_the_math_is(case_id):
    m = compiled(case_id)
    for v in (-1e4, 1e4) if case_id != "exp" else (-1e4,):
        j, g = m.value_and_grad(x=v)
        assert finite(j) and finite(g["x"]), (case_id, v, j, g)


# -- random points (hypothesis, derandomized) -------------------------------------------------------
SMOOTH = {
    "exp": (-50.0, 50.0),
    "log": (1e-6, 1e6),
    "sqrt": (1e-6, 1e6),
    "sin": (-20.0, 20.0),
    "cos": (-20.0, 20.0),
    "tan": (-1.5, 1.5),
    "asin": (-0.99, 0.99),
    "acos": (-0.99, 0.99),
    "atan": (-1e3, 1e3),
    "sinh": (-50.0, 50.0),
    "cosh": (-50.0, 50.0),
    "tanh": (-30.0, 30.0),
    "erf": (-6.0, 6.0),
    "asinh": (-1e4, 1e4),
    "acosh": (1.01, 1e4),
    "atanh": (-0.99, 0.99),
    "sigmoid": (-50.0, 50.0),
    "softplus": (-50.0, 50.0),
    "cbrt": (1e-6, 1e6),
    "pow_float": (1e-6, 1e6),
}


@pytest.mark.parametrize("case_id", sorted(SMOOTH))
def test_random_points_against_mpmath(case_id):
    lo, hi = SMOOTH[case_id]
    m = compiled(case_id)
    value_of, slope_of = oracle(case_id, ""), oracle(case_id, "x")

    @settings(max_examples=25, derandomize=True, deadline=None, database=None)
    @given(st.floats(min_value=lo, max_value=hi, allow_nan=False))
    def check(v):
        j, g = m.value_and_grad(x=v)
        kind = "mpmath_edge" if case_id == "tan" else "mpmath"
        assert_close(j, value_of({"x": v}), kind, f"{case_id}({v})")
        assert_close(g["x"], slope_of({"x": v}), kind, f"{case_id}'({v})")

    check()


def test_every_rule_table_op_has_a_case():
    """A new row of the rule table needs a row here (an op without an oracle is untested)."""
    from circuitc.calculus import rules

    heads = {type(c.expr) for c in CASES} | {
        type(a) for c in CASES for a in sp.preorder_traversal(c.expr)
    }
    # SymPy's functions and circuitc's own (not the ones tests register)
    builtin = [
        op
        for op in rules.OPS.values()
        if op.head.__module__.startswith("sympy.") or op.head.__module__ == "circuitc.functions"
    ]
    # piecewise-constant ops (SymPy leaves their derivative unevaluated, so the oracle above
    # cannot serve), sinc (its derivative near 0 needs more than 30 digits) and the real parts
    # SymPy inserts for plain symbols have their own oracles in test_new_ops.py; floor_divide
    # is Mod's derivative in the divisor
    elsewhere = {"floor", "ceiling", "mod", "floor_divide", "sinc", "re", "im", "arg", "conjugate"}
    missing = [
        op.name
        for op in builtin
        if not any(issubclass(h, op.head) for h in heads) and op.name not in elsewhere
    ]
    assert not missing, f"rule-table ops without a test case: {missing}"


# -- stable forms: log(sigmoid(a)) and log(1 - sigmoid(a)) (docs/design.md, Conventions) ---------------
a_ = sp.Symbol("a", real=True)
STABLE = {
    # expression, its limit for a → +large, for a → -large (value, slope)
    "log_sigmoid": (sp.log(sigmoid(a_)), lambda v: (0.0, 0.0), lambda v: (v, 1.0)),
    "log_one_minus_sigmoid": (sp.log(1 - sigmoid(a_)), lambda v: (-v, -1.0), lambda v: (0.0, 0.0)),
}


@pytest.mark.parametrize("key", sorted(STABLE))
def test_stable_forms_at_huge_logits_equal_their_limits(key):
    expr, pos, neg = STABLE[key]
    m = circuitc.compile(expr, wrt=[a_], name=key)
    for v in (1e4, -1e4, 1e300, -1e300):
        value, grad = m.value_and_grad(a=v)
        assert finite(value) and finite(grad["a"]), (key, v, value, grad)
        want_value, want_slope = pos(v) if v > 0 else neg(v)
        assert value == want_value and grad["a"] == want_slope, (key, v, value, grad)
    # batches hold both ends at once
    vs = np.array([-1e4, -30.0, 0.0, 30.0, 1e4])
    value, grad = m.value_and_grad(a=vs)
    assert finite(value) and finite(grad["a"])


@pytest.mark.parametrize("key", sorted(STABLE))
def test_stable_forms_against_mpmath(key):
    expr = STABLE[key][0]
    m = circuitc.compile(expr, wrt=[a_], name=key)
    value_of = mp_function(expr, [a_])
    # simplified so that 30 digits suffice at a = ±700 (1 - σ(700) is not 0 in exp(a)/(1 + exp(a)))
    slope_of = mp_function(sp.simplify(sp.diff(textbook(expr), a_)), [a_])
    for v in (-700.0, -30.0, -1.0, 0.0, 1e-8, 2.0, 30.0, 700.0):
        value, grad = m.value_and_grad(a=v)
        assert_close(value, value_of({"a": v}), "mpmath", f"{key}({v})")
        assert_close(grad["a"], slope_of({"a": v}), "mpmath", f"{key}'({v})")


@pytest.mark.parametrize("key", sorted(STABLE))
def test_stable_forms_say_so_in_the_emitted_line(key):
    text = circuitc.source(STABLE[key][0], wrt=[a_], name=key)
    forward = text.split("def forward", 1)[1].split("\ndef ", 1)[0]
    lines = forward.splitlines()
    # the note stands on its own comment line just above the statement it explains
    marked = [
        lines[i + 1] for i, ln in enumerate(lines[:-1]) if ln.strip().startswith("# stable: ")
    ]
    # the line that computes softplus says so (the negation may be folded into a product)
    assert any("_softplus(" in ln for ln in marked), forward
    assert "_np.log(" not in forward


def test_cross_entropy_is_finite_for_huge_logits():
    w, b, xx, yy = sp.symbols("w b x y", real=True)
    s = sigmoid(w * xx + b)
    loss = -(yy * sp.log(s) + (1 - yy) * sp.log(1 - s))
    m = circuitc.compile(loss, wrt=[w, b], name="xent")
    for logit in (1e4, -1e4):
        for label in (0.0, 1.0):
            value, grad = m.value_and_grad(w=logit, b=0.0, x=1.0, y=label)
            # loss = softplus(logit) - y·logit; its slope in b is sigmoid(logit) - y
            expected = (max(logit, 0.0) - label * logit, (1.0 if logit > 0 else 0.0) - label)
            assert (value, grad["b"]) == expected, (logit, label, value, grad)
            assert grad["w"] == expected[1]


@pytest.mark.parametrize("logit", [1e4, -1e4, 0.3, -2.5])
@pytest.mark.parametrize("label", [0.0, 1.0])
def test_written_out_sigmoid_cross_entropy_is_stable(logit, label):
    # the notes' loss with sigma written out as 1/(1+exp(-a)) (no circuitc.sigmoid): finite at
    # logits of 1e4, equal to the closed form y*softplus(-a) + (1-y)*softplus(a), and its
    # gradient sigma(a) - y; the sigmoid(-a) spelling 1/(1+exp(a)) too
    w, y = sp.symbols("w y")
    s = 1 / (1 + sp.exp(-w))
    m = circuitc.compile(-(y * sp.log(s) + (1 - y) * sp.log(1 - s)), wrt=[w], name="xent")
    J, grad = m.value_and_grad(w=logit, y=label)
    want = label * np.logaddexp(0.0, -logit) + (1 - label) * np.logaddexp(0.0, logit)
    p = 0.5 * (1 + np.tanh(logit / 2))  # sigma(a), written another way
    assert math.isfinite(J) and abs(J - want) <= 1e-12 * max(1.0, abs(want))
    assert abs(grad["w"] - (p - label)) <= 1e-12
    other = circuitc.compile(1 / (1 + sp.exp(w)), wrt=[w], name="s_neg")
    assert abs(other.forward(w=logit) - 0.5 * (1 - np.tanh(logit / 2))) <= 1e-15
