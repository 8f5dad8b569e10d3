"""Units a reader can hold (issue 10 part 4, docs/design.md "House style"): no module of
``circuitc/`` over 400 lines and no function over 60 (from its ``def`` to its last line,
docstring included). The CLI's argument wiring (``build_parser``, ``add_*`` in ``circuitc/cli/``)
is exempt: a list of ``add_argument`` calls reads as a table, however long.

A unit that grows past its limit is split into steps with one job each, never listed here.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "circuitc"
MODULE_MAX = 400
FUNCTION_MAX = 60


def _argument_wiring(rel: str, name: str) -> bool:
    """The CLI's parser set-up: ``build_parser`` and the ``add_<command>`` functions."""
    return rel.startswith("cli/") and (
        name == "build_parser" or name.lstrip("_").startswith("add_")
    )


def unit_sizes(package: Path = PACKAGE) -> dict[str, int]:
    """Every module's line count and every function's (``path:name``; a method or nested
    function is named by its own name), measured from the AST."""
    sizes: dict[str, int] = {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        text = path.read_text(encoding="utf-8")
        sizes[rel] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            function = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            if function and not _argument_wiring(rel, node.name):
                key = f"{rel}:{node.name}"
                sizes[key] = max(sizes.get(key, 0), node.end_lineno - node.lineno + 1)
    return sizes


def _limit(key: str) -> int:
    return FUNCTION_MAX if ":" in key else MODULE_MAX


def test_no_unit_is_too_long():
    sizes = unit_sizes()
    too_long = {k: n for k, n in sizes.items() if n > _limit(k)}
    assert too_long == {}, (
        f"split these (at most {MODULE_MAX} lines a module, {FUNCTION_MAX} a function)"
    )


def test_the_measure_sees_a_long_function(tmp_path):
    (tmp_path / "cli").mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(FUNCTION_MAX))
    (tmp_path / "long.py").write_text(f"def f():\n{body}")
    (tmp_path / "cli" / "wiring.py").write_text(f"def add_train(p):\n{body}")
    sizes = unit_sizes(tmp_path)
    assert sizes["long.py:f"] == FUNCTION_MAX + 1
    assert "cli/wiring.py:add_train" not in sizes
