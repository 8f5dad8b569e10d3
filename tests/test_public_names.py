"""Public names and module paths do not clash (issue 10 part 4).

Before the layers move, ``circuitc.cost`` and ``circuitc.graph`` were both submodules and the
functions the package exports, so ``import circuitc.cost`` gave the function. The views now
live in ``circuitc.views``: the module path gives the module, the package attribute the
function, whatever was imported first.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types

import pytest

import circuitc


@pytest.mark.parametrize("name", ["cost", "graph", "table", "check"])
def test_a_view_module_and_the_function_of_its_name_are_apart(name):
    function = getattr(circuitc, name)
    assert callable(function) and not isinstance(function, types.ModuleType)
    for path in (f"circuitc.views.{name}", "circuitc.views.gradcheck"):
        try:
            module = importlib.import_module(path)
        except ModuleNotFoundError:
            continue
        assert isinstance(module, types.ModuleType)
    assert getattr(circuitc, name) is function  # importing the module did not replace it


def test_import_statements_give_the_module_and_the_function():
    # a fresh interpreter: `import circuitc.views.cost` first, then the package attribute
    code = (
        "import types, circuitc.views.cost as m, circuitc.views.graph as g, circuitc\n"
        "assert isinstance(m, types.ModuleType) and hasattr(m, 'CostReport'), m\n"
        "assert isinstance(g, types.ModuleType) and hasattr(g, 'GraphView'), g\n"
        "assert not isinstance(circuitc.cost, types.ModuleType), circuitc.cost\n"
        "assert not isinstance(circuitc.graph, types.ModuleType), circuitc.graph\n"
        "from circuitc import cost, graph\n"
        "assert callable(cost) and callable(graph)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_no_package_attribute_shadows_a_submodule():
    """A name that is both a submodule of circuitc and a package attribute is that module
    (``circuitc.nn``), never a function or class standing in its place."""
    for info in pkgutil.iter_modules(circuitc.__path__):
        value = getattr(circuitc, info.name, None)
        if value is not None:
            assert isinstance(value, types.ModuleType), info.name
            assert value.__name__ == f"circuitc.{info.name}", info.name
