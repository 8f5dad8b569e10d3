"""``circuitc.check``: the gradient check catches wrong derivatives and passes right ones.

The derivatives being checked here are deliberately wrong ones (registered ops whose rule is
off), so a check that passed everything, or failed everything, would fail these tests.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import circuitc
from circuitc.views import gradcheck


class off_sin(sp.Function):  # noqa: N801 - named like SymPy's functions
    """sin, with a derivative off by a relative 1e-3 (cos(x)·1.001)."""

    nargs = 1


class kinked_sin(sp.Function):  # noqa: N801
    """sin, with a derivative that is wrong only where x > 0.9 (cos(x) + 1 there)."""

    nargs = 1


circuitc.register(
    off_sin, derivative=lambda g, ans, x: g * sp.cos(x) * sp.Float(1.001), numpy="sin"
)
circuitc.register(
    kinked_sin,
    derivative=lambda g, ans, x: g * (sp.cos(x) + sp.Heaviside(x - sp.Rational(9, 10), 0)),
    numpy="sin",
)

x, y, z = sp.symbols("x y z")


def test_a_right_gradient_passes_with_small_errors():
    report = circuitc.check(sp.cos(sp.sin(x**2) + 3 * x**2) * y, wrt=[x, y], at={"x": 0.5})
    assert report.passed
    assert [r.name for r in report.rows] == ["x", "y"]
    assert all(r.passed and r.probes == 1 and r.max_rel_error < 1e-7 for r in report.rows)
    assert report.point["x"] == 0.5 and isinstance(report.point["y"], float)
    assert np.isclose(report.value, np.cos(np.sin(0.25) + 0.75) * report.point["y"])


def test_a_relative_error_of_1e_3_is_caught():
    report = circuitc.check(off_sin(x) + y**2, wrt=[x, y], at={"x": 0.3, "y": 2.0})
    assert not report.passed
    bad, good = report.rows
    assert not bad.passed and good.passed
    # the numbers are the error of the wrong rule: |0.001·cos(0.3)| absolute, 1e-3 relative
    assert bad.max_abs_error == pytest.approx(1e-3 * np.cos(0.3), rel=1e-4)
    assert bad.max_rel_error == pytest.approx(1e-3 / 1.001, rel=1e-4)


def test_a_random_direction_covers_entries_the_samples_miss():
    # 60 entries: one random direction + 20 sampled coordinates; only entry 7 is wrong
    values = np.linspace(-0.5, 0.5, 60)
    values[7] = 1.5
    found_by_direction = 0
    for seed in range(6):
        report = circuitc.check(kinked_sin(x) * y, wrt=[x], at={"x": values, "y": 1.0}, seed=seed)
        (row,) = report.rows
        assert row.shape == (60,) and row.probes == 21
        assert not row.passed
        found_by_direction += row.max_abs_error < 0.99  # the coordinate 7 itself has error 1
    # for some seeds entry 7 is not sampled, and the direction alone fails the check
    assert found_by_direction > 0


def test_small_arrays_are_checked_entry_by_entry():
    report = circuitc.check(sp.exp(x) * y, wrt=[x, y], at={"x": np.linspace(0, 1, 7)})
    assert report.passed
    assert [(r.name, r.shape, r.probes) for r in report.rows] == [("x", (7,), 7), ("y", (), 1)]
    assert report.value == pytest.approx(np.sum(np.exp(np.linspace(0, 1, 7))) * report.point["y"])


def test_epsilon_scales_with_the_argument():
    # at x = 1e6 an absolute step of 1e-6 drowns in rounding (|x³| = 1e18, ulp ≈ 128)
    report = circuitc.check(x**3, wrt=[x], at={"x": 1e6})
    assert report.passed and report.rows[0].max_rel_error < 1e-8
    naive = ((1e6 + 1e-6) ** 3 - (1e6 - 1e-6) ** 3) / 2e-6
    assert abs(naive - 3e12) / 3e12 > 1e-5  # what eq. 7 with ε near machine epsilon would give


def test_the_random_point_is_inside_the_domain():
    report = circuitc.check(sp.log(x) + sp.sqrt(y) + sp.asin(z), wrt=[x, y, z])
    assert report.passed
    assert report.point["x"] > 0 and report.point["y"] > 0 and abs(report.point["z"]) < 1


def test_no_point_in_the_domain_is_an_error():
    with pytest.raises(circuitc.CircuitError, match="found no point"):
        circuitc.check(sp.log(-(x**2) - 1), wrt=[x])


def test_a_given_point_outside_the_domain_fails_the_check():
    report = circuitc.check(sp.sin(sp.log(x)) * 2, wrt=[x], at={"x": -1.0})
    assert not report.passed
    assert report.rows[0].max_abs_error == float("inf")
    # the report points at the first node that went non-finite
    assert "log(x)" in report.nonfinite and report.nonfinite in str(report)
    assert circuitc.check(sp.log(x), wrt=[x], at={"x": 2.0}).nonfinite == ""


def test_the_seed_fixes_the_point():
    a = circuitc.check(sp.sin(x) * y, wrt=[x, y], seed=1)
    b = circuitc.check(sp.sin(x) * y, wrt=[x, y], seed=1)
    c = circuitc.check(sp.sin(x) * y, wrt=[x, y], seed=2)
    assert a.point == b.point and str(a) == str(b)
    assert a.point != c.point


def test_unknown_at_name_is_refused():
    with pytest.raises(circuitc.CircuitError, match="'w' is not an argument"):
        circuitc.check(sp.sin(x), wrt=[x], at={"w": 1.0})


def test_a_parameter_the_output_ignores_has_zero_error():
    report = circuitc.check(sp.sin(x), wrt=[x, y])
    assert report.passed and report.rows[1].max_abs_error == 0.0


def test_modules_are_checked_too(tmp_path):
    module = circuitc.compile(off_sin(x) * y, wrt=[x], name="off")
    assert not circuitc.check(module, at={"x": 0.2, "y": 1.0}).passed
    path = tmp_path / "good.py"
    circuitc.compile(sp.tanh(x) * y, wrt=[x, y], name="good", out=path)
    imported = circuitc.loader.import_file(path)  # a generated file: no circuit attached
    report = circuitc.check(imported, seed=4)
    assert report.passed and report.name == "good"


def test_report_formats():
    report = circuitc.check(sp.sin(x) * y, wrt=[x], at={"x": 0.5, "y": 2.0})
    text = str(report)
    assert text == report.format("text")
    assert text.splitlines()[0] == "gradient check of 'circuit': passed"
    assert "x=0.5, y=2" in text
    md = report.format("markdown")
    assert "| parameter | shape | probes | max abs error | max rel error | result |" in md
    assert "| x | scalar | 1 |" in md
    with pytest.raises(ValueError, match="unknown report format"):
        report.format("html")


def test_matrix_dimensions_are_bound_from_given_arrays_or_small_sizes():
    shapes = {"W": (3, "H"), "X": ("N", 3), "b": ()}
    given = {"X": np.zeros((8, 3))}
    bound = gradcheck._bind_dims(shapes, given)
    assert bound == {"W": (3, 3), "X": (8, 3), "b": ()}
    with pytest.raises(circuitc.CircuitError, match="has shape"):
        gradcheck._bind_dims(shapes, {"X": np.zeros(3)})


def test_matrix_circuits_bind_dimensions_and_probe_large_weights():
    from circuitc import nn

    n = sp.Symbol("N")
    X = sp.MatrixSymbol("X", n, 6)
    W = sp.MatrixSymbol("W", 6, 5)
    good = circuitc.Circuit("mat", nn.sum(nn.tanh(X * W)), [W])
    report = circuitc.check(good, seed=3)
    assert report.passed, str(report)
    (row,) = report.rows
    assert row.shape == (6, 5) and row.probes == 21  # 30 entries: a direction + 20 samples
    assert report.point["X"].shape == (3, 6)  # N drawn as a small size
    report = circuitc.check(good, at={"X": np.ones((9, 6))})
    assert report.point["X"].shape == (9, 6) and report.passed
    bad = circuitc.Circuit("bad", nn.sum((X * W).applyfunc(off_sin)), [W])
    assert not circuitc.check(bad, seed=3).passed


def test_generated_files_are_checked_by_their_shapes(tmp_path):
    from circuitc import nn

    W = sp.MatrixSymbol("W", 2, 3)
    X = sp.MatrixSymbol("X", 4, 2)
    path = tmp_path / "matfile.py"
    circuitc.compile(circuitc.Circuit("matfile", nn.sum(nn.tanh(X * W)), [W]), out=path)
    module = circuitc.loader.import_file(path)
    assert circuitc.check(module).passed  # its SHAPES say what to draw
    del module.SHAPES  # as a file generated before modules stated their shapes
    with pytest.raises(circuitc.CircuitError, match="carries no shapes"):
        circuitc.check(module)
    rng = np.random.default_rng(0)
    report = circuitc.check(module, at={"W": rng.normal(size=(2, 3)), "X": rng.normal(size=(4, 2))})
    assert report.passed and report.rows[0].shape == (2, 3) and report.rows[0].probes == 6
