"""``circuitc cost``'s op counts of the second-order functions, checked by hand and against the
emitted code: ``hvp`` counts the backward lines it runs (a parameter's own adjoint, which no
tangent reads, is skipped) and the tangent lines it needs; ``jacobian()`` of a matrix output is
counted in both modes (n tangent passes, or one forward and m backward passes).

The independent count: the arithmetic of the emitted ``hvp`` read off its syntax tree (one op
per ``*``, ``/``, ``@``, call, unary minus, in-place add, ``.T``; ``a - b`` is two, as the IR
writes ``a + (-1)·b``), on scalar circuits whose lines print each IR node once.
"""

from __future__ import annotations

import ast
import runpy
from pathlib import Path

import pytest
import sympy as sp

import circuitc
from circuitc import nn

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: the emitted module's own helpers: bookkeeping, not arithmetic
NOT_OPS = {
    "_ones_like", "_zeros_like", "_reduce", "_own", "_tangent", "_check_tangents", "_arg",
    "_dtype", "_value", "_tangent_out", "_bind", "_type",
}  # fmt: skip


def syntax_ops(source: str, function: str) -> int:
    """The arithmetic ops of ``function``'s body in ``source`` (its docstring and argument
    conversion left out), counted on the syntax tree."""
    tree = ast.parse(source)
    fn = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == function)
    count = 0
    for stmt in fn.body:
        if isinstance(stmt, (ast.If, ast.Expr)):
            continue
        for node in ast.walk(stmt):
            if isinstance(node, (ast.BinOp, ast.AugAssign)):
                count += 2 if isinstance(node.op, ast.Sub) else 1
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
                count += not isinstance(node.operand, ast.Constant)
            elif isinstance(node, ast.Call):
                count += not (isinstance(node.func, ast.Name) and node.func.id in NOT_OPS)
            elif isinstance(node, ast.Attribute) and node.attr == "T":
                count += 1
    return count


x, y, z = sp.symbols("x y z")
SCALAR = {
    "product": (x * y, [x, y]),
    "triple": (x * y * z, [x, y, z]),
    "sine": (sp.sin(x * y), [x, y]),
    "exp_cube": (sp.exp(x) * y + x**3, [x, y]),
    "log": (sp.log(1 + x**2) * y, [x, y]),
}


@pytest.mark.parametrize("case", sorted(SCALAR))
def test_the_hvp_count_is_the_arithmetic_the_emitted_hvp_does(case):
    expr, wrt = SCALAR[case]
    report = circuitc.cost(expr, wrt=wrt, naive=False)
    source = circuitc.source(expr, wrt=wrt)
    hvp = report.hvp_forward_ops + report.hvp_backward_ops + report.hvp_ops
    assert hvp == syntax_ops(source, "hvp"), case
    assert f"# backward and its tangents (ops: {report.hvp_backward_ops} + {report.hvp_ops})" in (
        source
    )


def test_the_hvp_of_x_times_y_by_hand():
    """J = x·y: forward 1; the backward updates go into the parameters' own adjoints, which no
    tangent reads (0); the tangents (dJ/dx)˙ = dJ/dJ · ẏ and (dJ/dy)˙ = dJ/dJ · ẋ (2)."""
    report = circuitc.cost(x * y, wrt=[x, y], naive=False)
    assert (report.hvp_forward_ops, report.hvp_backward_ops, report.hvp_ops) == (1, 0, 2)
    assert report.backward_ops == 2  # value_and_grad computes both adjoints
    assert "hvp (forward over reverse)                 3 ops (1 + 0 + 2)" in str(report)


def test_the_small_example_hvp_by_hand():
    """The notes' small example: the backward lines hvp runs are dJ/du = -sin(u) (2),
    dJ/dt = dJ/du2 · 3 (1), dJ/dt += dJ/du1 · cos(t) (3); dJ/dx = dJ/dt · 2x is skipped. The
    tangent lines: ṫ = 2xẋ (2), u̇1 = cos(t)ṫ (1), u̇2 = 3ṫ (1), u̇ (1), (dJ/du)˙ = -J·u̇ (2),
    (dJ/dt)˙ = 3·(dJ/du2)˙ (1), += cos(t)(dJ/du1)˙ + dJ/du1·(-u1·ṫ) (6), (dJ/dx)˙ = dJ/dt·2ẋ +
    2x·(dJ/dt)˙ (5): 19."""
    circuit = runpy.run_path(str(EXAMPLES / "small_example.py"))["circuit"]
    report = circuitc.cost(circuit, naive=False)
    assert (report.hvp_forward_ops, report.hvp_backward_ops, report.hvp_ops) == (5, 6, 19)
    assert report.backward_ops == 8  # value_and_grad's: dJ/dx = dJ/dt · 2x (2) too


@pytest.mark.parametrize("name", ["mlp", "mlp_digits", "logistic_regression_batch"])
def test_hvp_skips_the_parameters_own_adjoints(name):
    from circuitc.cli import load_circuits

    for circuit in load_circuits(str(EXAMPLES / f"{name}.py")):
        report = circuitc.cost(circuit, naive=False)
        assert report.hvp_backward_ops < report.backward_ops, circuit.name


# -- jacobian in both modes -----------------------------------------------------------------------------
def test_the_jacobian_counts_of_a_narrow_output_by_hand():
    """J = tanh(r @ w), r 1×40, w 40×2 (n = 80 entries, m = 2). Forward: r @ w, tanh (2), once
    in either mode.
    Forward mode's tangent: r @ ẇ (1), (1 - J²)·ṫ (4). Reverse mode's backward pass:
    dJ/dt = seed · (1 - J²) (4), dJ/dw = r.T @ dJ/dt (2)."""
    r, w = sp.MatrixSymbol("r", 1, 40), sp.MatrixSymbol("w", 40, 2)
    report = circuitc.cost(nn.tanh(r * w), wrt=[w], naive=False)
    j = report.jacobian
    assert (j.forward, j.tangent, j.reverse_forward, j.backward) == (2, 5, 2, 6)
    assert (j.entries, j.outputs, j.mode) == (80, 2, "reverse")
    assert (j.forward_mode, j.reverse_mode) == (2 + 80 * 5, 2 + 2 * 6)
    text = str(report)
    assert "2 + 80 tangent passes x 5 ops = 402" in text
    assert "2 + 2 backward passes x 6 ops = 14" in text
    assert "reverse mode emitted" in text
    source = circuitc.source(nn.tanh(r * w), wrt=[w])
    assert "# backward (ops: 6)" in source and "# forward (ops: 2)" in source


def test_the_jacobian_counts_of_a_batch_need_dims():
    """N rows: without sizes the pass counts are symbolic; --dims sizes them."""
    mlp = runpy.run_path(str(EXAMPLES / "mlp_digits.py"))["make_circuit"](D=4, H=3, K=3)
    report = circuitc.cost(mlp, naive=False)
    assert report.jacobian.outputs is None and report.jacobian.reverse_mode is None
    assert "m backward passes" in str(report)
    sized = circuitc.cost(mlp, naive=False, dims={"N": 5})
    j = sized.jacobian
    assert j.outputs == 15 and j.entries == 4 * 3 + 3 * 3 + 3
    assert j.reverse_mode == j.reverse_forward + 15 * j.backward
    assert j.forward_mode == j.forward + 24 * j.tangent


def test_a_scalar_circuit_has_no_jacobian_rows():
    report = circuitc.cost(x * y, wrt=[x, y], naive=False)
    assert report.jacobian is None and "jacobian" not in str(report)


def test_hvp_counts_no_forward_line_it_skips():
    """A mean loss is one number whatever the batch: hvp seeds with 1 and never computes J, so
    its forward count is below forward()'s (the values the backward pass reads only)."""
    circuit = runpy.run_path(str(EXAMPLES / "logistic_regression_batch.py"))["circuit"]
    report = circuitc.cost(circuit, naive=False)
    assert report.hvp_forward_ops < report.forward_ops
    source = circuitc.source(circuit)
    hvp = source[source.index("def hvp(") : source.index("def jacobian(")]
    assert f"# forward (ops: {report.hvp_forward_ops})" in hvp
