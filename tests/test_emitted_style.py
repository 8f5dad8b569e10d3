"""The emitted modules keep the house style: every line fits 100 columns, the layout is ruff's
(``ruff format --check`` leaves them unchanged), blank lines as ruff lays them out, and every
module compiles and imports only math/numpy."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import circuitc

GENERATED = sorted((Path(__file__).resolve().parent.parent / "generated").glob("*.py"))
WIDTH = 100


def _wide_lines(text: str) -> list[str]:
    """Lines over 100 columns. The one exemption: a line that holds a single identifier or
    literal (with its trailing comma, or as a comment's only word), which no layout can break."""
    wide = []
    for line in text.splitlines():
        if len(line) <= WIDTH:
            continue
        body = line.strip().removeprefix("#").strip().rstrip(",")
        if " " in body:
            wide.append(line)
    return wide


def _ruff_diff(paths: list[Path]) -> str:
    """What ``ruff format`` would change in ``paths`` (the project's line length; no other
    configuration, since pyproject.toml excludes generated/ from ruff)."""
    command = [sys.executable, "-m", "ruff", "format", "--isolated", "--line-length", "100"]
    command += ["--target-version", "py310", "--diff", *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr)
    return done.stdout


needs_ruff = pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None, reason="ruff is not installed (the test extra)"
)


@pytest.mark.parametrize("path", GENERATED, ids=[p.stem for p in GENERATED])
def test_golden_modules_keep_the_house_style(path):
    text = path.read_text()
    assert _wide_lines(text) == []
    assert not re.search(r"\n\n\n\n", text), "more than two blank lines in a row"
    tree = ast.parse(text)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"math", "numpy", "__future__"}


@needs_ruff
def test_golden_modules_are_as_ruff_formats_them():
    assert _ruff_diff(GENERATED) == ""


def test_the_exemption_is_a_single_token_only():
    long_name = "x" * 120
    assert _wide_lines(f"    {long_name},\n    # {long_name}\n") == []
    assert _wide_lines(f"    y = {long_name}\n") == [f"    y = {long_name}"]
    assert _wide_lines("    # " + "word " * 30 + "\n") != []


def test_many_arguments_are_laid_out_one_a_line(tmp_path):
    names = [f"weight_number_{i}" for i in range(12)]
    symbols = sp.symbols(" ".join(names))
    text = circuitc.source(sp.Add(*(s**2 for s in symbols)), wrt=list(symbols), name="wide")
    assert _wide_lines(text) == []
    assert "def value_and_grad(\n    *,\n    weight_number_0: _Arg,\n" in text
    if importlib.util.find_spec("ruff") is not None:
        (tmp_path / "wide.py").write_text(text)
        assert _ruff_diff([tmp_path / "wide.py"]) == ""
    m = circuitc.compile(sp.Add(*(s**2 for s in symbols)), wrt=list(symbols), name="wide")
    point = {n: float(i) for i, n in enumerate(names)}
    # oracle: d/dw of sum(w_i**2) is 2*w_i, by hand
    assert m.grad(**point) == {n: 2.0 * v for n, v in point.items()}


def test_a_contribution_from_J_is_commented_as_its_local_partial():
    t, u1, u2, u = sp.symbols("t u1 u2 u")
    x = sp.Symbol("x")
    steps = [(t, x**2), (u1, sp.sin(t)), (u2, 3 * t), (u, u1 + u2)]
    circuit = circuitc.Circuit("small", sp.cos(u), wrt=[x], steps=steps)
    text = circuitc.source(circuit)
    # d cos(u)/du = -sin(u), by hand; the seed's factor dJ/dJ = 1 is not written out
    assert "_d_u = -_np.sin(u)  # dJ/du = -sin(u)\n" in text
    x, y, z = sp.symbols("x y z")
    for path in GENERATED:
        assert "dJ/dJ *" not in path.read_text(), path.name
    # J of several arguments keeps its seed line; J's contributions still name the partial only
    text = circuitc.source(x * y * z, wrt=[x, y, z], name="product")
    assert "# dJ/dJ = 1" in text and "dJ/dJ *" not in text
    assert "# dJ/dx = y*z\n" in text


# long names, so that the printed lines run past 100 columns and have to be laid out
LONG = sp.symbols("weight_alpha_one weight_beta_two gamma_three_long delta_four_longer eps_five")
UNARY = [
    sp.sin,
    sp.exp,
    sp.tanh,
    lambda u: u**2,
    lambda u: -u,
    lambda u: 1 / (1 + u**2),
    lambda u: sp.Max(u, 0),
    lambda u: sp.log(1 + u**2),
]
BINARY = [
    lambda a, b: a + b,
    lambda a, b: a * b,
    lambda a, b: a - b,
    lambda a, b: a / (2 + b**2),
    lambda a, b: sp.Piecewise((a, a > b), (b, True)),
]


@st.composite
def wide_circuits(draw):
    """A random expression over long names: a pool of shared sub-expressions, then a sum or
    product of several of them (n-ary nodes print as long lines)."""
    pool = list(LONG)
    for _ in range(draw(st.integers(2, 10))):
        if draw(st.booleans()):
            pool.append(draw(st.sampled_from(UNARY))(draw(st.sampled_from(pool))))
        else:
            a, b = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
            pool.append(draw(st.sampled_from(BINARY))(a, b))
    parts = [draw(st.sampled_from(pool)) for _ in range(draw(st.integers(2, 9)))]
    return sp.Add(*parts) if draw(st.booleans()) else sp.Mul(*parts)


@pytest.mark.slow
@needs_ruff
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(wide_circuits())
def test_emitted_modules_are_as_ruff_formats_them(tmp_path, expr):
    if not expr.free_symbols:
        return
    wrt = sorted(expr.free_symbols, key=lambda s: s.name)
    paths = []
    for backend in ("numpy", "numba"):
        try:
            text = circuitc.source(expr, wrt=wrt, name="wide", backend=backend)
        except circuitc.CircuitError:  # numba fuses only ops with a math equivalent
            continue
        assert _wide_lines(text) == [], backend
        paths.append(tmp_path / f"wide_{backend}.py")
        paths[-1].write_text(text)
    assert _ruff_diff(paths) == ""


@needs_ruff
def test_numba_modules_are_as_ruff_formats_them(tmp_path):
    names = [f"weight_number_{i}" for i in range(12)]
    symbols = sp.symbols(" ".join(names))
    wide = sp.Add(*(s**2 for s in symbols)) * sp.sin(sp.Add(*symbols))
    x, y = sp.symbols("x y")
    paths = []
    for name, expr in (("a_circuit_with_a_long_name", sp.sin(x) * y + sp.exp(x * y)), ("w", wide)):
        text = circuitc.source(
            expr, wrt=sorted(expr.free_symbols, key=str), name=name, backend="numba"
        )
        assert _wide_lines(text) == [], name
        paths.append(tmp_path / f"{name}.py")
        paths[-1].write_text(text)
    assert _ruff_diff(paths) == ""


@needs_ruff
def test_long_names_are_laid_out_as_ruff_does(tmp_path):
    """Names of 35-45 characters: the argument conversion, the dimension read, the _bind
    specs and the gradient dict break as ruff breaks them, every line within 100 columns."""
    n = "a_rather_long_parameter_name_number"
    a, b = sp.symbols(f"{n}_one {n}_two")
    N = sp.Symbol("N")
    X = sp.MatrixSymbol(f"{n}_matrix", N, 3)
    W = sp.MatrixSymbol(f"{n}_weights", 3, 1)
    B = sp.MatrixSymbol(f"{n}_bias", 1, 1)
    scalar = sp.sin(a) * sp.exp(b) + a * b
    matrix = circuitc.nn.mean(circuitc.nn.relu(circuitc.nn.add_bias(X * W, B)))
    paths = []
    for name, expr, wrt in (("scalar", scalar, [a, b]), ("matrix", matrix, [W, B])):
        text = circuitc.source(expr, wrt=wrt, name=name)
        assert _wide_lines(text) == [], name
        paths.append(tmp_path / f"{name}.py")
        paths[-1].write_text(text)
    assert _ruff_diff(paths) == ""
    # the numbers are unchanged by the layout: d/da of sin(a)e^b + ab is cos(a)e^b + b
    m = circuitc.compile(scalar, wrt=[a, b], name="long")
    g = m.grad(**{a.name: 0.3, b.name: -0.7})
    assert abs(g[a.name] - (np.cos(0.3) * np.exp(-0.7) - 0.7)) < 1e-12
