"""The CLI's views of every example, compared with committed snapshots (the refactoring guard).

For each ``examples/*.py``: ``circuitc show``, ``circuitc table --format markdown`` (scalar
circuits also ``--at`` every argument), ``circuitc cost --no-naive`` and ``circuitc check``.
The snapshots live in ``tests/snapshots/``; wall-clock figures are masked. ``pytest
tests/test_snapshots.py --update`` regenerates them (review the diff).
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from circuitc.cli import main

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

#: scalar examples evaluated with ``table --at``: the value each argument gets
_REGRESSION = [f"theta_{i}=0.{i + 1}" for i in range(5)] + [
    "x_1=0.5",
    "x_2=-1.5",
    "x_3=2.0",
    "x_4=0.25",
    "y_star=1",
]
AT = {
    "small_example": ["x=0.5"],
    "linear_regression": _REGRESSION,
    "logistic_regression": _REGRESSION,
    "two_layer_nn": [f"alpha_{i}_{j}=0.{i}{j + 1}" for i in range(1, 5) for j in range(4)]
    + [f"beta_{j}=-0.{j + 1}" for j in range(5)]
    + ["x_1=0.5", "x_2=-1.5", "x_3=2.0", "y_star=1"],
}

#: a figure followed by a time unit, as the views print wall-clock measurements
_CLOCK = re.compile(r"\d+(\.\d+)?(e[-+]?\d+)?\s?(ns|µs|us|ms|s)\b")


def _run(argv: list[str]) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code
    text = f"$ circuitc {' '.join(argv)}\nexit {code}\n{out.getvalue()}{err.getvalue()}"
    return _CLOCK.sub("<time>", text.replace(str(ROOT) + "/", ""))


def _views(example: Path) -> dict[str, list[str]]:
    rel = str(example.relative_to(ROOT))
    views = {
        "show": ["show", rel],
        "table": ["table", rel, "--format", "markdown"],
        "cost": ["cost", rel, "--no-naive"],
        "check": ["check", rel],
    }
    at = AT.get(example.stem)
    if at:
        views["table_at"] = ["table", rel, "--format", "markdown"] + [
            part for value in at for part in ("--at", value)
        ]
    return views


CASES = [(ex, view, argv) for ex in EXAMPLES for view, argv in _views(ex).items()]


@pytest.mark.parametrize(
    ("example", "view", "argv"), CASES, ids=[f"{e.stem}-{v}" for e, v, _ in CASES]
)
def test_snapshot(example, view, argv, update_goldens, monkeypatch):
    monkeypatch.chdir(ROOT)
    text = _run(argv)
    path = SNAPSHOTS / f"{example.stem}.{view}.txt"
    if update_goldens or not path.exists():
        path.write_text(text, encoding="utf-8")
        if not update_goldens:
            pytest.fail(f"snapshot {path.name} was missing: written, review and commit it")
        return
    assert text == path.read_text(encoding="utf-8"), f"{path.name} changed (--update rewrites)"
