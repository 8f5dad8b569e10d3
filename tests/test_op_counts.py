"""One op count: the emitted ``# forward (ops: N)`` / ``# backward (ops: N)`` headers and
``circuitc cost`` print the same numbers, and those numbers are the arithmetic a reader counts
by hand (an n-ary sum or product is n - 1 binary operations; one addition per accumulation)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sympy as sp

import circuitc
from circuitc.cli import load_circuits

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.py"))


def header_counts(text: str) -> tuple[int, int]:
    """The (forward, backward) op counts value_and_grad's comments announce (forward's and
    jvp's forward headers agree; hvp's counts only the forward values it reads)."""
    start = text.index("\ndef value_and_grad(")
    body = text[start : text.index("\ndef ", start + 1)]
    forward = re.findall(r"# forward \(ops: (\d+)\)", body)
    backward = re.findall(r"# backward \(ops: (\d+)\)", body)
    plain = text[text.index("\ndef forward(") : text.index("\ndef value_and_grad(")]
    forward += re.findall(r"# forward \(ops: (\d+)\)", plain)
    assert len(set(forward)) == 1 and len(backward) == 1, (forward, backward)
    return int(forward[0]), int(backward[0])


def test_hand_count_of_a_fan_in_product():
    x, y, z = sp.symbols("x y z")
    J = sp.sin(x + y + z) * x * y * z
    text = circuitc.source(J, wrt=[x, y, z], name="fan_in")
    # forward: x + y + z is 2 additions, sin 1, the product of 4 factors 3 multiplications;
    # backward: J's 4 contributions (the seed times the other 3 factors: 3 multiplications
    # each), dJ/dt = dJ/ds * cos(t) (2), and x, y, z each accumulate dJ/dt (3 additions)
    assert header_counts(text) == (6, 4 * 3 + 2 + 3)
    report = circuitc.cost(J, wrt=[x, y, z], naive=False)
    assert (report.forward_ops, report.backward_ops) == (6, 17)


def test_hand_count_of_the_small_example():
    (circuit,) = load_circuits(str(Path(EXAMPLES[0]).parent / "small_example.py"))
    # forward: x**2, sin, 3*t, u1 + u2, cos: 5; backward: -sin(u) (2), 3 * dJ/du2 (1),
    # dJ/du1 * cos(t) (2) plus its accumulation (1), dJ/dt * 2 * x (2): 8
    assert header_counts(circuitc.source(circuit)) == (5, 8)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_the_module_header_and_cost_agree(path):
    for circuit in load_circuits(str(path)):
        report = circuitc.cost(circuit, naive=False)
        assert header_counts(circuitc.source(circuit)) == (
            report.forward_ops,
            report.backward_ops,
        )
