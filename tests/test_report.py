"""``circuitc table``: the notes' Forward | Backward table, its numbers, NaN hunting, formats.

Oracles: the notes' section 1.3 (rows and chain-rule lines written out by hand here), the
intermediate values and adjoints computed by hand in NumPy, the module's own forward values and
gradients, and central differences of J with respect to each intermediate.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import circuitc
from circuitc import cli
from circuitc.errors import CircuitError
from circuitc.views.formats import latex_escape
from circuitc.views.table import NonFinite, first_nonfinite, table

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "examples" / "small_example.py"


def small_circuit() -> circuitc.Circuit:
    x = sp.Symbol("x")
    t, u1, u2, u, J = sp.symbols("t u1 u2 u J")
    steps = [(t, x**2), (u1, sp.sin(t)), (u2, 3 * t), (u, u1 + u2), (J, sp.cos(u))]
    return circuitc.Circuit("small_example", J, [x], steps=steps)


def squash(text: str) -> str:
    return text.replace(" ", "")


def central(f, v: float) -> float:
    h = 1e-6 * max(1.0, abs(v))
    return (f(v + h) - f(v - h)) / ((v + h) - (v - h))


# -- the table without numbers: the notes' section 1.3 ----------------------------------------
def test_small_example_rows_are_the_notes_section_1_3():
    report = table(small_circuit())
    # the notes' forward column, output first as the notes print it (backward order)
    forward = {squash(r.forward) for r in report.rows}
    assert forward == {"J=cos(u)", "u=u1+u2", "u1=sin(t)", "u2=3*t", "t=x**2"}
    nodes = [r.node for r in report.rows]
    assert nodes[0] == "J" and nodes[-1] == "t"
    assert nodes.index("u") < min(nodes.index("u1"), nodes.index("u2"))
    by_node = {r.node: r for r in report.rows}
    # the notes' backward column: each node's contributions, in the notes' notation
    lines = {n: [squash(c.text) for c in r.backward] for n, r in by_node.items()}
    assert any(line.endswith("dJ/du=-sin(u)") for line in lines["J"])
    assert sorted(lines["u"]) == sorted(
        ["dJ/du1+=dJ/du*du/du1,du/du1=1", "dJ/du2+=dJ/du*du/du2,du/du2=1"]
    )
    assert lines["u1"] == ["dJ/dt+=dJ/du1*du1/dt,du1/dt=cos(t)"]
    assert lines["u2"] == ["dJ/dt+=dJ/du2*du2/dt,du2/dt=3"]
    assert lines["t"] == ["dJ/dx+=dJ/dt*dt/dx,dt/dx=2*x"]
    # t fans out: both contributions to dJ/dt are in the table, one from each consumer
    into_t = [c for r in report.rows for c in r.backward if c.target == "t"]
    assert len(into_t) == 2
    assert report.at is None and report.first_nonfinite is None


def test_text_is_the_cli_output_and_lists_every_line(capsys):
    report = table(small_circuit())
    text = str(report)
    assert text == report.format("text")
    for needle in ("J = cos(u)", "u1 = sin(t)", "du1/dt = cos(t)", "du2/dt = 3", "dt/dx = 2*x"):
        assert needle in text
    assert cli.main(["table", str(SMALL)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out == text


# -- numbers --------------------------------------------------------------------------------
@pytest.mark.parametrize("x", [0.5, -1.3, 2.0])
def test_numbers_equal_hand_values_the_module_and_central_differences(x):
    circuit = small_circuit()
    report = table(circuit, at={"x": x})
    by_node = {r.node: r for r in report.rows}
    # forward values by hand
    t = x**2
    u1, u2 = math.sin(t), 3 * t
    u = u1 + u2
    J = math.cos(u)
    for name, expected in {"t": t, "u1": u1, "u2": u2, "u": u, "J": J}.items():
        assert by_node[name].value == pytest.approx(expected, rel=1e-14, abs=1e-15)
    # the module's own forward value and gradient, exactly
    module = circuitc.compile(circuit)
    J_mod, g_mod = module.value_and_grad(x=x)
    assert by_node["J"].value == J_mod == report.value
    assert report.gradient == g_mod
    (to_x,) = by_node["t"].backward
    # the table is the NumPy path, line for line: its accumulated dJ/dx is that path's gradient
    # exactly; a Python float takes the math fast path, which factors dJ/dt (design.md,
    # Conventions: within 2ε·M; here the terms do not cancel, so within a few ulps)
    _, g_numpy = module.value_and_grad(x=np.float64(x))
    assert to_x.accumulated == g_numpy["x"]
    assert to_x.accumulated == pytest.approx(g_mod["x"], rel=4 * 2.0**-52, abs=0)
    # adjoints by hand, and by central differences of J as a function of each intermediate
    dJ_du = -math.sin(u)
    dJ_dt = dJ_du * (math.cos(t) + 3)
    dJ_dx = dJ_dt * 2 * x
    of_u = lambda v: math.cos(v)  # noqa: E731
    of_u1 = lambda v: math.cos(v + u2)  # noqa: E731
    of_t = lambda v: math.cos(math.sin(v) + 3 * v)  # noqa: E731
    of_x = lambda v: math.cos(math.sin(v * v) + 3 * v * v)  # noqa: E731
    (from_J,) = by_node["J"].backward
    assert from_J.partial == pytest.approx(dJ_du, rel=1e-13)
    assert from_J.incoming == 1
    assert from_J.accumulated == pytest.approx(central(of_u, u), rel=1e-6, abs=1e-8)
    for c in by_node["u"].backward:
        assert c.partial == 1
        assert c.incoming == pytest.approx(dJ_du, rel=1e-13)
        assert c.accumulated == pytest.approx(central(of_u1, u1), rel=1e-6, abs=1e-8)
    (c_u1,) = by_node["u1"].backward
    (c_u2,) = by_node["u2"].backward
    assert c_u1.partial == pytest.approx(math.cos(t), rel=1e-13)
    assert c_u2.partial == 3
    # the two contributions accumulate: whichever runs second holds the whole dJ/dt
    first, second = sorted([c_u1, c_u2], key=lambda c: abs(c.accumulated - dJ_dt))
    assert second.accumulated != pytest.approx(dJ_dt)
    assert first.accumulated == pytest.approx(dJ_dt, rel=1e-13)
    assert first.accumulated == pytest.approx(central(of_t, t), rel=1e-6, abs=1e-8)
    assert to_x.incoming == pytest.approx(dJ_dt, rel=1e-13)
    assert to_x.partial == pytest.approx(2 * x, rel=1e-14)
    assert to_x.accumulated == pytest.approx(dJ_dx, rel=1e-13)
    assert to_x.accumulated == pytest.approx(central(of_x, x), rel=1e-6, abs=1e-8)
    assert report.first_nonfinite is None


def test_cli_table_at_prints_the_numbers(capsys):
    assert cli.main(["table", str(SMALL), "--at", "x=0.5"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 7 and cells[0]:
            rows[cells[0]] = cells
    assert float(rows["t"][2]) == pytest.approx(0.25, rel=1e-5)
    assert float(rows["u2"][2]) == pytest.approx(0.75, rel=1e-5)
    dJ_dx = -math.sin(math.sin(0.25) + 0.75) * (math.cos(0.25) + 3) * 2 * 0.5
    assert float(rows["t"][6]) == pytest.approx(dJ_dx, rel=1e-5)
    assert "all values finite" in out


def test_arrays_broadcast_and_the_gradient_is_the_module_s():
    x, a = sp.symbols("x a")
    xs = np.array([0.1, -0.7, 2.0])
    report = table(sp.sin(a * x) * a, {"a": 1.5, "x": xs}, wrt=[a])
    by_node = {r.node: r for r in report.rows}
    np.testing.assert_allclose(by_node["J"].value, np.sin(1.5 * xs) * 1.5, rtol=1e-14)
    # d/da sum(a sin(a x)) = sum(sin(a x) + a x cos(a x))
    expected = np.sum(np.sin(1.5 * xs) + 1.5 * xs * np.cos(1.5 * xs))
    assert report.gradient["a"] == pytest.approx(expected, rel=1e-13)
    final = [c for r in report.rows for c in r.backward if c.target == "a"]
    # the last contribution to dJ/da holds the unreduced adjoint; its sum is the gradient
    assert float(np.sum(final[-1].accumulated)) == pytest.approx(expected, rel=1e-13)


# -- NaN hunting ------------------------------------------------------------------------------
def test_log_of_x_minus_y_at_x_equal_y_marks_the_log():
    x, y, d, L, J = sp.symbols("x y d L J")
    circuit = circuitc.Circuit(
        "logdiff", J, [x, y], steps=[(d, x - y), (L, sp.log(d)), (J, L * y + x)]
    )
    report = table(circuit, at={"x": 2.0, "y": 2.0})
    bad = report.first_nonfinite
    assert isinstance(bad, NonFinite)
    # d = 0 is finite; log(0) = -inf is the first non-finite value, before J
    assert (bad.kind, bad.node, bad.op) == ("value", "L", "log")
    assert bad.value == -math.inf
    assert [name for name, _ in bad.operands] == ["d"]
    assert bad.operands[0][1] == 0.0
    assert "L = log(d)" in str(bad) and "op log" in str(bad)
    marked = [line for line in str(report).splitlines() if "first non-finite" in line]
    assert marked[0].startswith("L ")
    assert first_nonfinite(circuit, {"x": 2.0, "y": 2.0}).node == "L"
    # away from x = y everything is finite
    assert first_nonfinite(circuit, {"x": 3.0, "y": 2.0}) is None


def test_plain_expression_log_of_x_minus_y():
    x, y = sp.symbols("x y")
    bad = first_nonfinite(circuitc.compile(sp.log(x - y), wrt=[x, y]), {"x": 1.0, "y": 1.0})
    assert bad.kind == "value" and bad.op == "log"
    assert [v for _, v in bad.operands] == [0.0]


def test_a_finite_forward_with_an_infinite_adjoint_marks_the_adjoint():
    x = sp.Symbol("x")
    # sqrt(0) = 0 is finite, its derivative 1/(2 sqrt(0)) is not
    report = table(sp.sqrt(x) + x, {"x": 0.0}, wrt=[x])
    bad = report.first_nonfinite
    assert bad.kind == "adjoint" and bad.node == "x"
    assert bad.op == "pow"  # sqrt is x**(1/2) in the IR
    assert bad.incoming == 1.0 and bad.partial == math.inf
    assert "adjoint dJ/dx" in str(bad)
    assert report.gradient["x"] == math.inf
    marked = [line for line in str(report).splitlines() if "<- first non-finite" in line]
    assert len(marked) == 1 and "sqrt(x)" in marked[0] and marked[0].endswith("adjoint")
    assert report.rows[bad.row].backward[bad.entry].accumulated == math.inf


def test_a_non_finite_input_is_reported_as_the_input():
    x = sp.Symbol("x")
    bad = table(sp.sin(x), {"x": math.nan}, wrt=[x]).first_nonfinite
    assert (bad.kind, bad.node) == ("input", "x")


# -- formats ----------------------------------------------------------------------------------
def test_latex_escape_replaces_every_special_character():
    assert latex_escape(r"a_b&c%d$e#f{g}h~i^j\k") == (
        r"a\_b\&c\%d\$e\#f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}k"
    )


def _latex_rows(text: str) -> list[str]:
    body = text.split("\\begin{tabular}")[1].split("\\end{tabular}")[0]
    return [ln for ln in body.splitlines() if ln.endswith("\\\\")]


def _unescaped(text: str, ch: str) -> int:
    return len(re.findall(rf"(?<!\\){re.escape(ch)}", text))


def test_latex_table_structure_and_escaping():
    theta_0, x_1, a_1 = sp.symbols("theta_0 x_1 a_1")
    J = sp.Symbol("J_loss")
    circuit = circuitc.Circuit(
        "lat_ex", J, [theta_0], steps=[(a_1, theta_0 * x_1), (J, sp.exp(a_1) / 2)]
    )
    plain = table(circuit).format("latex")
    assert "\\begin{tabular}{l l l}" in plain
    rows = _latex_rows(plain)
    n_backward = sum(max(1, len(r.backward)) for r in table(circuit).rows)
    assert len(rows) == 1 + n_backward  # the header, then one line per backward line
    assert all(_unescaped(row, "&") == 2 for row in rows)
    assert rows[0].startswith("Node & Forward & Backward")
    # every underscore of the names is escaped, and the names are all there
    assert _unescaped(plain, "_") == 0
    for name in ("theta\\_0", "x\\_1", "a\\_1", "J\\_loss"):
        assert name in plain
    assert _unescaped(plain, "^") == 0 and _unescaped(plain, "%") == 1  # the comment line
    numbered = table(circuit, at={"theta_0": 0.3, "x_1": 2.0}).format("latex")
    assert "\\begin{tabular}{l l l l l l l}" in numbered
    rows = _latex_rows(numbered)
    assert len(rows) == 1 + n_backward
    assert all(_unescaped(row, "&") == 6 for row in rows)
    assert _unescaped(numbered.split("\\end{tabular}")[0], "_") == 0
    assert numbered.count("\\begin{tabular}") == 1 and numbered.count("\\hline") == 3


def test_markdown_has_one_cell_per_column_and_escapes_pipes():
    report = table(small_circuit(), {"x": 0.5})
    md = report.format("markdown")
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert lines[1] == "|---|---|---|---|---|---|---|"
    for ln in lines:
        assert _unescaped(ln, "|") == 8
    assert "`u1 = sin(t)`" in md
    assert report._repr_markdown_() == md


def test_html_escapes_and_marks_the_first_non_finite():
    x, y = sp.symbols("x y")
    text = table(sp.log(x - y), {"x": 1.0, "y": 1.0}, wrt=[x]).format("html")
    assert text.count("<tr") == text.count("</tr>") == 1 + 2  # header, log row, x - y row
    assert text.count('style="background:#fdd"') == 1
    piecewise = sp.Piecewise((x, x < 0), (x**2, True))
    text = table(piecewise, wrt=[x]).format("html")
    assert "&lt;" in text and "x < 0" not in text


def test_unknown_format_and_bad_points_raise_circuit_error():
    circuit = small_circuit()
    with pytest.raises(CircuitError, match="format"):
        table(circuit).format("rtf")
    with pytest.raises(CircuitError, match="'z'"):
        table(circuit, at={"x": 1.0, "z": 2.0})
    x, y = sp.symbols("x y")
    # an argument at= leaves out is drawn at random (issue 12.14), not an error
    filled = table(x * y, at={"x": 1.0}, wrt=[x])
    assert filled.at["x"] == 1.0 and filled.value == filled.at["y"]


def test_cli_table_latex_and_bad_input(capsys):
    assert cli.main(["table", str(SMALL), "--format", "latex"]) == 0
    out, _ = capsys.readouterr()
    assert out == table(small_circuit()).format("latex")
    assert cli.main(["table", str(SMALL), "--at", "z=1"]) == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


# -- notebook views ---------------------------------------------------------------------------
def test_notebook_views_show_the_table_and_the_code():
    circuit = small_circuit()
    md = circuit._repr_markdown_()
    assert "`u1 = sin(t)`" in md and "```python" in md and "def value_and_grad" in md
    module = circuitc.compile(circuit)
    mmd = module._repr_markdown_()
    assert "`dJ/dt += dJ/du1 * du1/dt,  du1/dt = cos(t)`" in mmd
    assert module.__source__ in mmd
    html = module._repr_html_()
    assert "<table>" in html and "u1 = sin(t)" in html and "def value_and_grad" in html
    # the views live on the module object, never in the emitted source
    assert "_repr_markdown_" not in module.__source__


def test_check_points_to_the_first_non_finite_node(tmp_path, capsys):
    x, y, d, L, J = sp.symbols("x y d L J")
    circuit = circuitc.Circuit(
        "logdiff", J, [x, y], steps=[(d, x - y), (L, sp.log(d)), (J, L * y + x)]
    )
    report = circuitc.check(circuit, at={"x": 2.0, "y": 2.0})
    assert not report.passed
    assert "first non-finite" in report.nonfinite and "L = log(d)" in report.nonfinite
    assert report.nonfinite in str(report)
    # where everything is finite, check says nothing of the kind
    assert circuitc.check(circuit, at={"x": 3.0, "y": 2.0}).nonfinite == ""
    path = tmp_path / "logdiff.py"
    path.write_text(
        "import sympy as sp\n"
        "from circuitc import Circuit\n"
        "x, y, d, L, J = sp.symbols('x y d L J')\n"
        "circuit = Circuit('logdiff', J, [x, y], steps=[(d, x - y), (L, sp.log(d)), (J, L * y + x)])\n",
        encoding="utf-8",
    )
    assert cli.main(["check", str(path), "--at", "x=2", "--at", "y=2"]) == 1
    out, _ = capsys.readouterr()
    # the step and its SymPy expression first, then the op (issue 12.12)
    assert "first non-finite: in step L = log(d): L = -inf (op log; operands: d = 0)" in out


def test_local_partials_of_a_long_product_are_the_other_factors():
    """A product of 200 factors is a tree of products of at most 8 (docs/design.md, Any
    width): each factor's line shows the product of the other factors of its group times the
    incoming adjoint of the group, which together are the product of all the other factors."""
    n = 200
    xs = sp.symbols(f"x0:{n}")
    values = 1.0 + np.arange(n) / n
    report = table(sp.Mul(*xs), {x.name: v for x, v in zip(xs, values, strict=True)}, wrt=list(xs))
    lines = {c.target: c for r in report.rows for c in r.backward}
    for i in (0, 1, n // 2, n - 1):
        expected = np.prod(np.delete(values, i))
        line = lines[f"x{i}"]
        assert line.partial * line.incoming == pytest.approx(expected, rel=1e-12)
        assert line.partial != pytest.approx(expected, rel=1e-3)  # a group's, not all 199


def test_matrix_arguments_from_numbers_and_arrays():
    X = sp.MatrixSymbol("X", 2, 3)
    W = sp.MatrixSymbol("W", 3, 1)
    J = circuitc.nn.sum(X * W)
    # a number fills a matrix of fixed shape, as circuitc check does: sum(X W) = 2·3·0.5·0.25
    assert table(J, {"X": 0.5, "W": 0.25}, wrt=[W]).value == pytest.approx(0.75, rel=1e-14)
    with pytest.raises(CircuitError, match="shape"):
        table(J, {"X": np.ones((3, 3)), "W": 0.25}, wrt=[W])
    N = sp.Symbol("N")
    Xn = sp.MatrixSymbol("X", N, 3)
    with pytest.raises(CircuitError, match="array"):
        table(circuitc.nn.sum(Xn * W), {"X": 0.5, "W": 0.25}, wrt=[W])
