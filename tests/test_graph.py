"""``circuitc graph``: the DAG as DOT (one node per distinct sub-expression), SVG/PNG via ``dot``.

The DOT text is parsed here with two regular expressions (nodes and edges); the expected
structure is the small example's, written out by hand: t = x² feeds u1 = sin(t) and u2 = 3t.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest
import sympy as sp

import circuitc
from circuitc import cli
from circuitc.errors import CircuitError
from circuitc.views.graph import GraphView
from circuitc.views.graph import graph as draw

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "examples" / "small_example.py"
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot program is not installed")

NODE = re.compile(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$', re.M)
EDGE = re.compile(r"^\s*(n\d+) -> (n\d+)(?: \[(.*)\])?;$", re.M)


def parse(dot: str):
    """(labels by node id, forward edges, backward edges) of circuitc's DOT text."""
    labels = {nid: label.split("\\n") for nid, label, _ in NODE.findall(dot)}
    forward, backward = [], []
    for a, b, attrs in EDGE.findall(dot):
        (backward if "dashed" in attrs else forward).append((a, b))
    return labels, forward, backward


def small_circuit() -> circuitc.Circuit:
    x = sp.Symbol("x")
    t, u1, u2, u, J = sp.symbols("t u1 u2 u J")
    steps = [(t, x**2), (u1, sp.sin(t)), (u2, 3 * t), (u, u1 + u2), (J, sp.cos(u))]
    return circuitc.Circuit("small_example", J, [x], steps=steps)


def node_named(labels, name: str) -> list[str]:
    return [nid for nid, lines in labels.items() if lines[0].split(" = ")[0] == name]


def test_small_example_has_one_t_with_two_consumers():
    labels, forward, backward = parse(draw(small_circuit()).dot)
    assert backward == []
    (t,) = node_named(labels, "t")
    consumers = sorted(labels[b][0].replace(" ", "") for a, b in forward if a == t)
    assert consumers == ["u1=sin(t)", "u2=3*t"]
    # the whole DAG: x, t, u1, u2, u, J and the edges of the notes' circuit
    names = sorted(lines[0].split(" = ")[0] for lines in labels.values())
    assert names == sorted(["x", "t", "u1", "u2", "u", "J"])
    assert len(forward) == 6  # x→t, t→u1, t→u2, u1→u, u2→u, u→J
    assert "op sin" in labels[node_named(labels, "u1")[0]]


def test_a_plain_expression_is_a_dag_not_a_tree():
    x = sp.Symbol("x")
    # x**2 appears twice in the expression: once in the graph, with two consumers
    labels, forward, _ = parse(draw(sp.cos(sp.sin(x**2) + 3 * x**2), wrt=[x]).dot)
    squares = [nid for nid, lines in labels.items() if lines[0].endswith("= x**2")]
    assert len(squares) == 1
    assert sum(1 for a, _ in forward if a == squares[0]) == 2
    assert sum(1 for lines in labels.values() if lines[0] == "x") == 1


def test_backward_edges_and_values_at_a_point():
    x0 = 0.5
    labels, forward, backward = parse(draw(small_circuit(), at={"x": x0}, backward=True).dot)
    # one adjoint edge per backward line, from consumer to argument: the reverse of a forward edge
    assert sorted(backward) == sorted((b, a) for a, b in forward)
    dot = draw(small_circuit(), backward=True).dot
    assert all("color=" in line for line in dot.splitlines() if "dashed" in line)
    assert not any(
        "color=" in line for line in dot.splitlines() if "->" in line and "dashed" not in line
    )
    (t,) = node_named(labels, "t")
    numbers = dict(line.split(" ", 1) for line in labels[t][2:] if line.startswith("value"))
    assert float(numbers["value"]) == pytest.approx(x0**2, rel=1e-6)
    (adj,) = [line for line in labels[t] if line.startswith("dJ/dt = ")]
    u = math.sin(x0**2) + 3 * x0**2
    assert float(adj.split(" = ")[1]) == pytest.approx(
        -math.sin(u) * (math.cos(x0**2) + 3), rel=1e-5
    )


def test_matrix_nodes_show_their_shapes():
    X = sp.MatrixSymbol("X", 4, 3)
    W = sp.MatrixSymbol("W", 3, 2)
    labels, _, _ = parse(draw(circuitc.nn.sum(circuitc.nn.sigmoid(X * W)), wrt=[W]).dot)
    shapes = {
        lines[0].split(" = ")[0]: [ln for ln in lines if ln.startswith("shape")]
        for lines in labels.values()
    }
    assert shapes["X"] == ["shape 4x3"] and shapes["W"] == ["shape 3x2"]
    products = [lines for lines in labels.values() if "op matmul" in lines]
    assert len(products) == 1 and "shape 4x2" in products[0]


@needs_dot
def test_svg_and_png_with_dot(tmp_path):
    view = draw(small_circuit(), backward=True)
    svg = view.svg()
    assert "<svg" in svg and "u1 = sin(t)" in svg
    assert view._repr_svg_() == svg
    assert view._repr_mimebundle_()["image/svg+xml"] == svg
    png = view.save(tmp_path / "g.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_dot_dot_text_still_works_and_svg_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no dot program
    view = circuitc.graph(small_circuit())
    assert isinstance(view, GraphView)
    assert str(view).startswith('digraph "small_example"')
    assert view._repr_svg_() is None
    assert set(view._repr_mimebundle_()) == {"text/plain"}
    with pytest.raises(CircuitError, match="graphviz"):
        view.svg()


def test_cli_graph(capsys, tmp_path, monkeypatch):
    assert cli.main(["graph", str(SMALL)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out == draw(small_circuit()).dot
    assert cli.main(["graph", str(SMALL), "-o", str(tmp_path / "g.dot"), "--backward"]) == 0
    capsys.readouterr()
    assert (tmp_path / "g.dot").read_text() == draw(small_circuit(), backward=True).dot
    if HAS_DOT:
        assert cli.main(["graph", str(SMALL), "-o", str(tmp_path / "g.svg"), "--at", "x=0.5"]) == 0
        capsys.readouterr()
        assert "<svg" in (tmp_path / "g.svg").read_text()
    # bad input: one line, exit 2
    monkeypatch.setenv("PATH", str(tmp_path))
    for argv in (
        ["graph", str(SMALL), "-o", str(tmp_path / "h.svg")],  # no dot program
        ["graph", str(SMALL), "--format", "png"],  # png needs -o
        ["graph", str(SMALL), "--at", "y=1"],
        ["graph", str(ROOT / "examples" / "logistic_regression.py"), "-o", str(tmp_path / "l.dot")],
        ["graph", str(SMALL), "-o", str(tmp_path / "g.pdf")],  # no format for .pdf
        ["graph", str(SMALL), "-o", str(tmp_path / "g.dot" / "x.dot")],  # g.dot is a file
    ):
        assert cli.main(argv) == 2, argv
        _, err = capsys.readouterr()
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "g.dot is a file, not a folder" in err
    assert not (tmp_path / "h.svg").exists() and not (tmp_path / "g.pdf").exists()


def test_the_readme_svg_is_the_small_example_at_half():
    """docs/small_example.svg (regenerate: ``circuitc graph examples/small_example.py --backward
    --at x=0.5 -o docs/small_example.svg``) shows every label of today's graph."""
    import html

    svg = html.unescape((ROOT / "docs" / "small_example.svg").read_text(encoding="utf-8"))
    labels, _, backward = parse(draw(small_circuit(), at={"x": 0.5}, backward=True).dot)
    assert len(backward) == 6
    for lines in labels.values():
        for line in lines:
            assert f">{line}</text>" in svg, line
