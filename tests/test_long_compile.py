"""Long circuits compile to modules whose size grows linearly, at a fixed cost a step, and give
the derivatives of their closed forms (issue 11.1: compile time and memory of long chains).

Sizes are counted (lines, statements, keyword arguments), never timed: ``benchmarks/wide.py``
reports seconds and peak memory. Oracles: the chain x → sin(x) → sin(sin(x)) … differentiated
by hand (f' = cos(f₋₁)·f'₋₁, f'' = −sin(f₋₁)·f'₋₁² + cos(f₋₁)·f''₋₁, run with ``math``) and
central differences of that hand-written forward.
"""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest
import sympy as sp
from measure import sin_chain

import circuitc
from circuitc import loader, pipeline
from circuitc.emit.render import KEYWORD_CALL_MAX


def hand_chain(x: float, n: int) -> tuple[float, float, float]:
    """f, f', f'' of the n-fold sine at x, by the chain rule written out (the oracle)."""
    f, d1, d2 = x, 1.0, 0.0
    for _ in range(n):
        f, d1, d2 = math.sin(f), math.cos(f) * d1, -math.sin(f) * d1 * d1 + math.cos(f) * d2
    return f, d1, d2


def statements(source: str) -> int:
    return sum(isinstance(node, ast.stmt) for node in ast.walk(ast.parse(source)))


#: above the "auto" limit: 2000 steps are 6000 IR nodes
LONG = 2000


@pytest.fixture(scope="module")
def long_chain():
    """The LONG-step chain compiled with the default options (once for the tests below)."""
    return circuitc.compile(sin_chain(LONG))


def test_a_long_chain_has_no_second_order_functions_by_default(long_chain):
    assert 3 * LONG > pipeline.SECOND_ORDER_NODES
    m = long_chain
    assert m.SECOND_ORDER is False
    with pytest.raises(NotImplementedError, match=r"IR has \d+ nodes, more than the 5000"):
        m.jvp({"x": 1.0}, x=0.5)


def test_emitted_size_is_linear_and_small_a_step():
    """Lines, statements and characters per step are bounded and do not grow with n; the
    module without jvp/hvp is at most a third of the one with them."""
    texts = {n: circuitc.source(sin_chain(n)) for n in (LONG, 2 * LONG)}
    for n, text in texts.items():
        # forward: the step and its del; value_and_grad: the step, the backward line, its
        # chain-rule comment and its del (and a few lines a module)
        assert text.count("\n") <= 6 * n + 300, (n, text.count("\n"))
        assert statements(text) <= 5 * n + 200, (n, statements(text))
    small, large = (len(texts[n]) for n in (LONG, 2 * LONG))
    assert large <= 2.1 * small, (small, large)
    full = circuitc.source(sin_chain(LONG), second_order=True)
    assert len(texts[LONG]) <= len(full) / 3, (len(texts[LONG]), len(full))


@pytest.mark.parametrize("x0", [0.3, -1.2, 2.5])
def test_long_chain_gradient_matches_the_closed_form(long_chain, x0):
    m = long_chain
    f, d1, _ = hand_chain(x0, LONG)
    J, g = m.value_and_grad(x=x0)
    assert math.isclose(J, f, rel_tol=1e-12)
    assert math.isclose(g["x"], d1, rel_tol=1e-9, abs_tol=1e-15)
    # the NumPy path on an array of points, and central differences of the hand forward
    xs = np.array([x0, x0 / 2])
    Jv, gv = m.value_and_grad(x=xs)
    h = 1e-6
    numeric = [(hand_chain(v + h, LONG)[0] - hand_chain(v - h, LONG)[0]) / (2 * h) for v in xs]
    np.testing.assert_allclose(gv["x"], [hand_chain(v, LONG)[1] for v in xs], rtol=1e-9)
    np.testing.assert_allclose(gv["x"], numeric, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(Jv, [hand_chain(v, LONG)[0] for v in xs], rtol=1e-12)


@pytest.mark.slow
def test_long_chain_with_second_order_asked_for():
    """second_order=True over the limit: jvp and hvp against f' and f'' of the closed form."""
    m = circuitc.compile(sin_chain(LONG), second_order=True)
    for x0 in (0.3, 1.1):
        f, d1, d2 = hand_chain(x0, LONG)
        J, dot = m.jvp({"x": 2.0}, x=x0)
        assert math.isclose(dot, 2.0 * d1, rel_tol=1e-9, abs_tol=1e-15)
        assert math.isclose(m.hvp({"x": 1.0}, x=x0)["x"], d2, rel_tol=1e-8, abs_tol=1e-15)


def test_many_arguments_never_make_a_long_keyword_call():
    """CPython compiles a call in time quadratic in its keywords: no emitted call has more
    than 255 of them (grad passes a dict), and grad is still right."""
    assert KEYWORD_CALL_MAX <= 255
    n = 300
    xs = list(sp.symbols(f"x0:{n}"))
    m = circuitc.compile(sp.Add(*(x**2 for x in xs)), wrt=xs, name="wide")
    calls = [v for v in ast.walk(ast.parse(m.__source__)) if isinstance(v, ast.Call)]
    assert max(len(c.keywords) for c in calls) <= 255
    point = {x.name: 0.5 * i for i, x in enumerate(xs)}
    assert m.grad(**point) == {k: 2.0 * v for k, v in point.items()}  # d(x²)/dx = 2x by hand


def test_a_long_module_is_compiled_in_parts(monkeypatch):
    """Above loader.CHUNKED characters the text is compiled a top-level definition at a time:
    same functions, same line numbers in tracebacks, annotations still postponed."""
    text = circuitc.source(sin_chain(50))
    whole = loader.load_source(text, "whole")
    monkeypatch.setattr(loader, "CHUNKED", 1000)
    assert len(loader._code_objects(text, "f")) > 10
    parts = loader.load_source(text, "parts")
    for x0 in (0.4, np.array([0.1, 0.2])):
        np.testing.assert_array_equal(parts.value_and_grad(x=x0)[1]["x"], whole.grad(x=x0)["x"])
    assert (
        parts.value_and_grad.__code__.co_firstlineno == whole.value_and_grad.__code__.co_firstlineno
    )
    assert parts.forward.__annotations__ == {"x": "_Arg", "return": "_Arg"}
    with pytest.raises(TypeError) as info:
        parts.forward(x="text")
    tb = info.traceback[-1]
    assert text.splitlines()[tb.lineno].strip() == str(tb.statement).strip()


def test_a_split_inside_a_string_falls_back_to_the_whole_text(monkeypatch):
    monkeypatch.setattr(loader, "CHUNKED", 10)
    text = 'A = """\n\ndef not_code():\n"""\n\n\ndef f():\n    return A\n'
    codes = loader._code_objects(text, "f")
    assert len(codes) == 1
    namespace: dict = {}
    exec(codes[0], namespace)  # noqa: S102 - the test's own text
    assert namespace["f"]() == "\n\ndef not_code():\n"


def test_a_thousand_parameters_match_the_hand_written_backward_pass():
    """t_k = sin(t_{k-1}) + w_k, J = t_{n-1}: dJ/dw_k = ∏_{j>k} cos(t_{j-1}), by hand."""
    n = 1000  # above the 255 keywords a call may take, and the "auto" size
    x = sp.Symbol("x")
    ws = list(sp.symbols(f"w0:{n}"))
    steps, prev = [], x
    for k, w in enumerate(ws):
        t = sp.Symbol(f"t{k}")
        steps.append((t, sp.sin(prev) + w))
        prev = t
    m = circuitc.compile(circuitc.Circuit("params", prev, [x, *ws], steps=steps))
    rng = np.random.default_rng(11)
    point = {"x": 0.4} | {
        w.name: float(v) for w, v in zip(ws, rng.uniform(-0.3, 0.3, n), strict=True)
    }
    ts = [point["x"]]
    for w in ws:
        ts.append(math.sin(ts[-1]) + point[w.name])
    expected, adjoint = {}, 1.0
    for k in reversed(range(n)):
        expected[ws[k].name] = adjoint
        adjoint *= math.cos(ts[k])  # d t_k / d t_{k-1}
    expected["x"] = adjoint
    J, g = m.value_and_grad(**point)
    assert math.isclose(J, ts[-1], rel_tol=1e-13)
    assert list(g) == ["x", *(w.name for w in ws)]
    for name, value in expected.items():
        assert math.isclose(g[name], value, rel_tol=1e-10, abs_tol=1e-300), name
    assert m.grad(**point) == g  # grad() passes its 1001 arguments on as one dict
