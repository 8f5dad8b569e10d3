"""Names are data: hostile symbol and circuit names are refused and never run; errors name what
went wrong (docs/design.md, Public contract: Arguments, Errors).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from oracles import assert_close

import circuitc
from circuitc import CircuitError

x, y = sp.symbols("x y")


def hostile_names(marker) -> list[str]:
    """Names that must never become code. ``marker`` is a file the payloads would create."""
    return [
        f"__import__('os').system('touch {marker}')",
        f"x); __import__('os').system('touch {marker}'",
        f"x=__import__('os').system('touch {marker}')",
        f"x\n__import__('os').system('touch {marker}')",
        f'x"; __import__("os").system("touch {marker}"); "',
        "x'",
        'x"',
        "a\nb",
        "a b",
        "x-y",
        "x.y",
        "1x",
        "",
        "lambda",
        "class",
        "None",
        "True",
        "_",
        "_x",
        "__class__",
        "\ufb01",  # 'ﬁ': Python would read it as 'fi'
    ]


PLACES = ["wrt", "input", "step", "wrt_only", "matrix"]


def build_with(name: str, place: str) -> circuitc.Circuit:
    s = sp.Symbol(name)
    if place == "wrt":
        return circuitc.Circuit("c", sp.sin(s) * x, [s, x])
    if place == "input":
        return circuitc.Circuit("c", sp.sin(s) * x, [x])
    if place == "step":
        return circuitc.Circuit("c", s + 1, [x], steps=[(s, x**2)])
    if place == "matrix":
        w = sp.MatrixSymbol(name, 2, 2)
        return circuitc.Circuit("c", (w * sp.ones(2, 1)).T * sp.ones(2, 1) * x, [x, w])
    return circuitc.Circuit("c", x**2, [x, s])  # a parameter the output does not use


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("index", range(len(hostile_names("m"))))
def test_hostile_symbol_names_are_refused_and_never_run(tmp_path, place, index):
    marker = tmp_path / "pwned"
    name = hostile_names(marker)[index]
    with pytest.raises(CircuitError) as info:
        circuit = build_with(name, place)
        circuitc.compile(circuit)
    assert repr(name) in str(info.value) or name in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("index", range(len(hostile_names("m"))))
def test_hostile_names_in_a_bare_expression(tmp_path, index):
    marker = tmp_path / "pwned"
    s = sp.Symbol(hostile_names(marker)[index])
    with pytest.raises(CircuitError):
        circuitc.source(sp.cos(s) + x, wrt=[x])
    with pytest.raises(CircuitError):
        circuitc.compile(s * x, wrt=[s])
    assert not marker.exists()


@pytest.mark.parametrize(
    "name",
    [
        "__import__('os').system('touch pwned')",
        "a b",
        "x\ny",
        "",
        "_hidden",
        "lambda",
        "class",
        "with-dash",
        None,
        3,
    ],
)
def test_hostile_circuit_names_are_refused(tmp_path, name):
    with pytest.raises(CircuitError):
        circuitc.Circuit(name, x**2, [x])
    with pytest.raises(CircuitError):
        circuitc.compile(x**2, wrt=[x], name=name, out=tmp_path / "out.py")
    assert list(tmp_path.iterdir()) == []


def test_duplicate_names_with_different_assumptions_are_refused():
    xp = sp.Symbol("x", positive=True)
    cases = [
        (x + xp, [x]),  # both in the expression
        (xp**2, [x]),  # wrt is the other x
        (x * y + xp, [y]),  # both data inputs
    ]
    for expr, wrt in cases:
        with pytest.raises(CircuitError, match="'x'"):
            circuitc.compile(expr, wrt=wrt)
    with pytest.raises(CircuitError, match="'x'"):
        circuitc.compile(circuitc.Circuit("c", y, [xp], steps=[(y, x**2)]))
    # one symbol with assumptions, used consistently, is fine
    m = circuitc.compile(sp.sqrt(xp) + xp, wrt=[xp])
    assert_close(m.grad(x=4.0)["x"], 0.25 + 1.0, "exact", "d/dx (sqrt(x) + x)")


def test_a_symbol_and_a_step_of_one_name_are_refused():
    t = sp.Symbol("t")
    with pytest.raises(CircuitError, match="'t'"):
        circuitc.compile(circuitc.Circuit("c", t, [x], steps=[(t, x**2), (t, x**3)]))
    with pytest.raises(CircuitError, match="'t'"):
        circuitc.compile(circuitc.Circuit("c", t * x, [x, t], steps=[(t, x**2)]))


# -- names that are fine, even those that look like the module's own ------------------------------
SHADOWING = [
    "grad",
    "value_and_grad",
    "forward",
    "predict",
    "WRT",
    "INPUTS",
    "NAME",
    "float",
    "isinstance",
    "dict",
    "np",
    "math",
    "sum",
    "type",
    "match",
    "θ",
]


@pytest.mark.parametrize("name", SHADOWING)
def test_names_that_shadow_python_or_module_names_work(name):
    s = sp.Symbol(name)
    m = circuitc.compile(s * y + sp.sin(s), wrt=[s], name="shadow")
    kw = {name: 2.0, "y": 3.0}
    value, grad = m.value_and_grad(**kw)
    assert_close(value, 6.0 + np.sin(2.0), "exact", "J")
    assert set(grad) == {name}
    assert_close(grad[name], 3.0 + np.cos(2.0), "exact", f"dJ/d{name}")
    assert m.grad(**kw) == grad
    assert m.forward(**kw) == value
    # the output is the argument itself, and the second parameter is unused
    m2 = circuitc.compile(s, wrt=[s, y], name="shadow2")
    value, grad = m2.value_and_grad(**kw)
    assert value == 2.0 and grad == {name: 1.0, "y": 0.0}
    assert type(grad["y"]) is float
    assert m2.grad(**kw) == grad
    assert (name,) == m.WRT and m.NAME == "shadow"


# -- errors name what is wrong --------------------------------------------------------------------
def test_unsupported_function_is_named_and_the_supported_ones_listed():
    with pytest.raises(CircuitError) as info:
        circuitc.compile(sp.gamma(x) + 1, wrt=[x])
    text = str(info.value)
    assert "gamma" in text
    for op in ("sin", "exp", "Piecewise", "sigmoid", "register"):
        assert op in text, op
    f = sp.Function("f")
    with pytest.raises(CircuitError, match="'f'") as info:
        circuitc.compile(f(x) * 2, wrt=[x])
    assert "sin" in str(info.value)


def test_compile_expression_without_wrt():
    with pytest.raises(CircuitError, match="wrt"):
        circuitc.compile(x**2)
    with pytest.raises(CircuitError, match="wrt"):
        circuitc.compile(x**2, wrt=[])


@pytest.mark.parametrize("bad", [x**2, sp.Integer(2), "x", 1.5, sp.sin(x)])
def test_non_symbol_in_wrt(bad):
    with pytest.raises(CircuitError):
        circuitc.compile(x**2, wrt=[bad])


def test_circuit_with_wrt_given_twice():
    c = circuitc.Circuit("c", x**2, [x])
    with pytest.raises(CircuitError, match="wrt"):
        circuitc.compile(c, wrt=[x])
    with pytest.raises(CircuitError, match="'x'"):
        circuitc.compile(x**2, wrt=[x, x])


def test_not_an_expression():
    with pytest.raises(CircuitError):
        circuitc.compile("x**2", wrt=[x])
    with pytest.raises(CircuitError):
        circuitc.compile([x], wrt=[x])


def test_call_errors_are_type_errors_naming_the_argument():
    m = circuitc.compile(x * y, wrt=[x])
    for fn in (m.forward, m.value_and_grad, m.grad):
        with pytest.raises(TypeError, match="'y'"):
            fn(x=1.0)
        with pytest.raises(TypeError, match="'x'"):
            fn(y=1.0)
        with pytest.raises(TypeError, match="'z'"):
            fn(x=1.0, y=2.0, z=3.0)
        with pytest.raises(TypeError):
            fn(1.0, 2.0)


def test_a_condition_as_the_output_is_refused():
    for cond in (x > 0, sp.And(x > 0, x < 1), sp.Eq(x, y)):
        with pytest.raises(CircuitError, match="condition"):
            circuitc.compile(cond, wrt=[x])
    # inside a Piecewise a condition is fine
    m = circuitc.compile(sp.Piecewise((x, sp.And(x > 0, x < 1)), (0, True)), wrt=[x])
    assert m.value_and_grad(x=0.5) == (0.5, {"x": 1.0})
    assert m.value_and_grad(x=1.5) == (0.0, {"x": 0.0})
