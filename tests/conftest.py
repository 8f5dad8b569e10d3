"""Shared fixtures: the session's deep expressions (built once) and the ``--update`` switch.

SymPy needs seconds to build the 1000-level DAG ``x ← sin(x)·x + cos(x)/(1+x²) + a`` (and it
cannot be pickled or compared without recursing), so it is built once per test session, with
its 500-level prefix kept on the way for the linear-size comparison.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sympy as sp

# the tests import their shared helpers as a plain module (``import oracles``)
sys.path.insert(0, str(Path(__file__).resolve().parent))

#: the levels of the deep DAG the tests use (the largest is built, the others kept on the way)
DEEP_LEVELS = (500, 1000)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update",
        action="store_true",
        default=False,
        help="regenerate golden files (generated/) instead of comparing with them",
    )


@pytest.fixture(scope="session")
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to regenerate the golden files (``pytest --update``)."""
    return bool(request.config.getoption("--update"))


@pytest.fixture(scope="session")
def deep_dag() -> dict:
    """``{"x": x, "a": a, 500: expr_500, 1000: expr_1000}``: the deep DAG at each level of DEEP_LEVELS."""
    x, a = sp.symbols("x a")
    out: dict = {"x": x, "a": a}
    e = x
    for level in range(1, max(DEEP_LEVELS) + 1):
        e = sp.sin(e) * e + sp.cos(e) / (1 + e**2) + a
        if level in DEEP_LEVELS:
            out[level] = e
    return out
