"""``circuitc cost``'s peak bytes for a module whose wide sums are stacked (``emit/lincomb.py``).

The NumPy module runs ``_rows_t = _stack_rows(x_0, …)`` (a D×N copy of the inputs) in place of
the D per-term products the plan shows; the figure must count what the module runs. The
oracle: tracemalloc's count of the bytes one ``value_and_grad`` call holds at once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from measure import peak
from test_memory import ARRAY, BIG

import circuitc
from circuitc.emit.lincomb import MIN_TERMS
from circuitc.views.cost import cost

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's benchmarks/
from benchmarks import circuits  # noqa: E402


def _measured_and_reported(D: int, seed: int) -> tuple[int, int, str]:
    """(tracemalloc's peak, cost's peak, the module's source) for ``logreg_scalars(D)`` over
    arrays of BIG instances."""
    J, wrt = circuits.logreg_scalars(D)
    module = circuitc.compile(J, wrt=wrt, name=f"logreg_scalars_{D}")
    rng = np.random.default_rng(seed)
    kw = {f"theta{j}": float(rng.normal()) for j in range(D)}
    kw |= {f"x{j}": rng.normal(size=BIG) for j in range(D)}
    kw["y"] = (rng.random(BIG) < 0.5) * 1.0
    measured = peak(lambda: module.value_and_grad(**kw))
    report = cost(J, naive=False, wrt=wrt, dims={"instances": BIG})
    return measured, report.peak_bytes, circuitc.source(J, wrt=wrt)


def _assert_close_to(measured: int, reported: int) -> None:
    # the count is of named values: NumPy's operator temporaries inside one line (at most one
    # array of BIG instances here) and the returned floats come on top
    assert measured - 1.1 * ARRAY <= reported <= measured


@pytest.mark.parametrize("D", [MIN_TERMS, 31])
def test_cost_counts_the_stacked_copy_the_module_holds(D):
    measured, reported, source = _measured_and_reported(D, seed=D)
    assert "_stack_rows(" in source and "_lincomb_grad(" in source  # the module is stacked
    assert reported >= (D + 2) * ARRAY  # the D x N copy, the sum and its adjoint
    _assert_close_to(measured, reported)


def test_cost_of_an_unstacked_sum_counts_its_terms():
    measured, reported, source = _measured_and_reported(MIN_TERMS - 4, seed=1)
    assert "_stack_rows(" not in source
    _assert_close_to(measured, reported)


@pytest.mark.slow
@settings(max_examples=5, deadline=None, derandomize=True)
@given(D=st.integers(1, 40))
def test_cost_peak_follows_tracemalloc_over_widths(D):
    measured, reported, _ = _measured_and_reported(D, seed=D)
    _assert_close_to(measured, reported)


def test_cost_cli_reports_bytes_at_a_number_of_instances(capsys):
    from circuitc.cli import main

    root = Path(__file__).resolve().parent.parent
    path = root / "examples" / "logistic_regression.py"
    assert main(["cost", str(path), "--no-naive", "--dims", "instances=1024"]) == 0
    assert "peak live bytes in value_and_grad at instances=1024" in capsys.readouterr().out
