"""The emitted modules keep the house style: code lines fit 100 columns, blank lines as ruff
lays them out, and every module compiles and imports only math/numpy."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import sympy as sp

import circuitc

GENERATED = sorted((Path(__file__).resolve().parent.parent / "generated").glob("*.py"))


def _wide_code_lines(text: str) -> list[str]:
    """Lines over 100 columns that are not a trailing chain-rule comment (those may run long)."""
    return [line for line in text.splitlines() if len(line) > 100 and "  # " not in line]


@pytest.mark.parametrize("path", GENERATED, ids=[p.stem for p in GENERATED])
def test_golden_modules_keep_the_house_style(path):
    text = path.read_text()
    assert _wide_code_lines(text) == []
    assert not re.search(r"\n\n\n\n", text), "more than two blank lines in a row"
    tree = ast.parse(text)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"math", "numpy", "__future__"}


def test_many_arguments_are_laid_out_one_a_line():
    names = [f"weight_number_{i}" for i in range(12)]
    symbols = sp.symbols(" ".join(names))
    text = circuitc.source(sp.Add(*(s**2 for s in symbols)), wrt=list(symbols), name="wide")
    assert _wide_code_lines(text) == []
    assert "def value_and_grad(\n    *,\n    weight_number_0: _Arg,\n" in text
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
