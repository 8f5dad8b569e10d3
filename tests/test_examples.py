"""The scalar examples of the lecture notes: sizes, names, documentation and gradients."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import oracles
import pytest

import circuitc
from circuitc.cli import load_circuits

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

#: file -> (notes section, circuit names, number of parameters, data inputs)
SCALAR_EXAMPLES = {
    "small_example.py": ("1.3", ["small_example"], 1, []),
    "linear_regression.py": (
        "section 3",
        ["linear_regression"],
        5,
        ["x_1", "x_2", "x_3", "x_4", "y_star"],
    ),
    "logistic_regression.py": (
        "2.2",
        ["logistic_regression", "logistic_regression_cross_entropy"],
        5,
        ["x_1", "x_2", "x_3", "x_4", "y_star"],
    ),
    "two_layer_nn.py": ("2.3", ["two_layer_nn"], 4 * 4 + 5, ["x_1", "x_2", "x_3", "y_star"]),
}


def circuits_of(file: str):
    return load_circuits(str(EXAMPLES / file))


@pytest.mark.parametrize("file", sorted(SCALAR_EXAMPLES))
def test_sizes_and_names(file):
    _, names, n_params, inputs = SCALAR_EXAMPLES[file]
    circuits = circuits_of(file)
    assert [c.name for c in circuits] == names
    for c in circuits:
        module = circuitc.compile(c)
        assert len(module.WRT) == n_params
        assert list(module.INPUTS) == inputs
        if inputs:  # the data inputs are named as features and target, and predict() exists
            assert [f.name for f in c.features] + [c.target.name] == inputs
            assert callable(module.predict)


@pytest.mark.parametrize("file", sorted(SCALAR_EXAMPLES))
def test_docstring_cites_the_notes_and_the_differences(file):
    section = SCALAR_EXAMPLES[file][0]
    doc = ast.get_docstring(ast.parse((EXAMPLES / file).read_text(encoding="utf-8")))
    assert doc and "lecture notes" in doc and section in doc
    assert "differs from the notes" in doc


@pytest.mark.parametrize("file", sorted(SCALAR_EXAMPLES))
@pytest.mark.parametrize("seed", [0, 1])
def test_gradient_check_passes(file, seed):
    for c in circuits_of(file):
        report = circuitc.check(c, seed=seed)
        assert report.passed, str(report)


def test_small_example_names_are_the_notes_steps():
    (c,) = circuits_of("small_example.py")
    assert [s.name for s, _ in c.steps] == ["t", "u1", "u2", "u", "J"]
    text = circuitc.source(c)
    # t fans out into u1 and u2: the backward pass shows both contributions, as the notes do
    assert "# dJ/dt += dJ/du2 * du2/dt,  du2/dt = 3" in text
    assert "# dJ/dt += dJ/du1 * du1/dt,  du1/dt = cos(t)" in text


def test_bias_is_x0_equal_to_one():
    (c,) = circuits_of("linear_regression.py")
    module = circuitc.compile(c)
    point = {f"theta_{j}": 0.0 for j in range(5)} | {f"x_{j}": 0.0 for j in range(1, 5)}
    point |= {"theta_0": 2.5, "y_star": 0.0}
    # with every feature 0 only the bias θ_0·x_0 = θ_0 remains
    assert module.predict(**point) == 2.5
    assert module.grad(**point)["theta_0"] == 2.5


def test_notes_logistic_model_is_sigmoid_of_minus_a():
    """The notes' h(a) = 1/(1+exp(a)) with θ is the example's sigmoid with -θ."""
    squared, _ = circuits_of("logistic_regression.py")
    module = circuitc.compile(squared)
    rng = np.random.default_rng(2)
    theta = rng.normal(size=5)
    x = rng.normal(size=4)
    a = theta[0] + theta[1:] @ x
    notes_y = 1 / (1 + np.exp(a))
    point = {f"theta_{j}": -theta[j] for j in range(5)} | {f"x_{j + 1}": x[j] for j in range(4)}
    point["y_star"] = 0.3
    oracles.assert_close(module.predict(**point), notes_y, "exact", "sigmoid(-a)")


def test_cross_entropy_is_emitted_in_the_stable_form():
    _, xent = circuits_of("logistic_regression.py")
    text = circuitc.source(xent)
    forward = text[text.index("def forward") : text.index("def value_and_grad")]
    assert "_softplus(" in forward
    assert "_np.log(" not in forward and "_math.log(" not in forward  # no log(sigmoid) left
    # the rewrite says so on a comment line just above the line it produced
    assert "# stable: log(1 - sigmoid(a)) = -softplus(a)\n    _t8 = _softplus(a)" in forward


def test_cross_entropy_gradient_is_prediction_minus_target():
    _, xent = circuits_of("logistic_regression.py")
    module = circuitc.compile(xent)
    rng = np.random.default_rng(4)
    for _ in range(5):
        point = {f"theta_{j}": float(rng.normal()) for j in range(5)}
        point |= {f"x_{j}": float(rng.normal()) for j in range(1, 5)}
        point["y_star"] = float(rng.integers(0, 2))
        g = module.grad(**point)
        residual = module.predict(**point) - point["y_star"]
        oracles.assert_close(g["theta_0"], residual, "exact", "dJ/dtheta_0 = y - y*")
        for j in range(1, 5):
            oracles.assert_close(g[f"theta_{j}"], residual * point[f"x_{j}"], "exact", "x_j")
