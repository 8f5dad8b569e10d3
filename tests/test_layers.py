"""The architecture as a test: the layers in ``circuitc/layers.toml`` hold in the code.

Every import of every module of ``circuitc/`` is read from its AST (imports inside functions
and under ``if TYPE_CHECKING:`` included), resolved to the circuitc module it names, and
checked: no cycle between modules, no import across layers that ``may_import`` does not
allow, and no module that belongs to no layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "circuitc"
LAYERS = tomllib.loads((PACKAGE / "layers.toml").read_text(encoding="utf-8"))["layers"]


def module_name(path: Path) -> str:
    """``circuitc/core/ir.py`` → ``circuitc.core.ir``; a package's ``__init__.py`` → the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The circuitc module an imported name refers to (a module, else its package), or None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    """The circuitc modules ``module`` imports, anywhere in its file."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # "from pkg import mod" imports the submodule mod; "from mod import name" the module
            names = [f"{prefix}.{a.name}" for a in node.names] + [prefix]
            if any(_resolve(n) == n for n in names[:-1]):
                names = names[:-1]
        else:
            continue
        for n in names:
            target = _resolve(n) if n.startswith("circuitc") else None
            if target is not None and target != module:
                found.add(target)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def layer_of(module: str) -> str | None:
    rel = MODULES[module].relative_to(ROOT).as_posix()
    for name, layer in LAYERS.items():
        for f in layer["files"]:
            if rel == f or (f.endswith("/") and rel.startswith(f)):
                return name
    return None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (a list of modules, first == last), or None. Iterative."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_every_module_belongs_to_a_layer():
    orphans = [m for m in MODULES if layer_of(m) is None]
    assert not orphans, f"modules in no layer of circuitc/layers.toml: {orphans}"


def test_every_listed_file_exists():
    for name, layer in LAYERS.items():
        for f in layer["files"]:
            assert (ROOT / f).exists(), f"layer {name} lists {f}, which does not exist"


def test_no_import_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_forbidden_import():
    bad = []
    for module, targets in GRAPH.items():
        mine = layer_of(module)
        for t in sorted(targets):
            theirs = layer_of(t)
            if theirs != mine and theirs not in LAYERS[mine]["may_import"]:
                bad.append(f"{module} ({mine}) imports {t} ({theirs})")
    assert not bad, "imports across layers that circuitc/layers.toml does not allow:\n" + "\n".join(
        bad
    )


def test_the_layer_description_has_no_cycle():
    graph = {name: set(layer["may_import"]) for name, layer in LAYERS.items()}
    assert find_cycle(graph) is None


def test_the_checker_sees_what_it_must():
    # the checker itself: a cycle, a lazy import, and a relative "from . import mod"
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert "circuitc.calculus.custom" in GRAPH["circuitc"]  # from .calculus.custom import register
    assert "circuitc.views.table" in GRAPH["circuitc.cli.compile"]  # imported inside a function
    assert "circuitc.core.ops" in GRAPH["circuitc.front.lower"]  # from ..core import ops


@pytest.mark.parametrize(
    ("low", "high"),
    [("emit", "calculus"), ("calculus", "emit"), ("calculus", "face"), ("core", "front")],
)
def test_the_rules_of_the_issue(low, high):
    # the emitter prints what it is given; calculus never imports the emitter or the CLI;
    # the IR imports nothing of the front end
    assert high not in LAYERS[low]["may_import"]


def test_reserved_op_names_cover_every_printed_op():
    from circuitc.core.ops import RESERVED_OPS
    from circuitc.emit.fastpath import MathPrinter
    from circuitc.emit.printer import Printer

    printed = {
        m[len("_print_") :]
        for cls in (Printer, MathPrinter)
        for m in dir(cls)
        if m.startswith("_print_")
    }
    assert printed <= RESERVED_OPS, sorted(printed - RESERVED_OPS)
