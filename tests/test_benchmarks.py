"""The benchmark runner's own plumbing (cheap cases only; no timings are asserted)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's benchmarks/
from benchmarks import run  # noqa: E402


def test_small_scalar_methods_compute_the_same_numbers():
    hand = run.worker("small_scalar", "hand", budget=0.01)
    mine = run.worker("small_scalar", "circuitc", budget=0.01)
    # timings are reported, never bounded: only that a number came back
    assert all(math.isfinite(r["best"]) and r["best"] >= 0 for r in (hand, mine))
    assert run.agree(mine["check"], hand["check"], sgd=False)
    # and the hand-written reference is the notes' small example at x = 0.5
    assert hand["check"][0] == pytest.approx(math.cos(math.sin(0.25) + 0.75), rel=1e-15)


def test_agree_spots_a_wrong_gradient():
    assert not run.agree([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.1], sgd=False)
    assert run.agree([9.0, 2.0], [1.0, 2.0], sgd=True)  # an SGD step compares parameters only


def test_compile_case_reports_seconds():
    out = run.compile_case("logistic_map", "circuitc")
    assert "error" not in out, out
    assert math.isfinite(out["seconds"]) and out["seconds"] >= 0  # reported, never bounded
