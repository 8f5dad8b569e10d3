"""``second_order`` (issue 11.1): jvp, hvp and jacobian are emitted for circuits up to a size,
or when asked; a module without them says so by name, and everything else is unchanged.

Oracles: closed forms (d/dx and d²/dx² of sin(x)·x written by hand) and central differences of
the module's own ``grad`` (an independent route to the Hessian-vector product).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
import sympy as sp

import circuitc
from circuitc import cli, pipeline

x, y = sp.symbols("x y")
EXPR = sp.sin(x) * y + x**2 * y  # d/dx = cos(x)·y + 2xy, d²/dx² = -sin(x)·y + 2y


def small(second_order="auto", backend="numpy"):
    return circuitc.compile(
        EXPR, wrt=[x, y], name="small", second_order=second_order, backend=backend
    )


@pytest.fixture
def tiny_limit(monkeypatch):
    """The "auto" limit lowered below the small circuit's size: it is a large circuit now."""
    monkeypatch.setattr(pipeline, "SECOND_ORDER_NODES", 5)


def test_auto_keeps_second_order_for_small_circuits():
    m = small()
    assert m.SECOND_ORDER is True
    J, dot = m.jvp({"x": 1.0}, x=0.3, y=2.0)
    assert math.isclose(dot, math.cos(0.3) * 2.0 + 2 * 0.3 * 2.0, rel_tol=1e-14)
    hv = m.hvp({"x": 1.0}, x=0.3, y=2.0)
    assert math.isclose(hv["x"], -math.sin(0.3) * 2.0 + 2 * 2.0, rel_tol=1e-14)


@pytest.mark.parametrize("backend", ["numpy", "array_api"])
def test_false_gives_functions_that_name_the_option(backend):
    if backend == "array_api":
        pytest.importorskip("array_api_compat")
    m = small(False, backend)
    assert m.SECOND_ORDER is False
    names = ("jvp", "hvp", "jacobian") if backend == "numpy" else ("jvp", "hvp")
    for name in names:
        with pytest.raises(NotImplementedError) as info:
            getattr(m, name)({"x": 1.0}, x=0.3, y=2.0)
        text = str(info.value)
        assert text.startswith(f"{name}() is not in the module of circuit 'small'")
        assert "compiled with second_order=False" in text
        assert "second_order=True" in text and "--second-order yes" in text
    # the first-order functions are the same module's
    J, g = m.value_and_grad(x=0.3, y=2.0)
    assert math.isclose(g["x"], math.cos(0.3) * 2.0 + 2 * 0.3 * 2.0, rel_tol=1e-14)


def test_auto_above_the_limit_says_how_large(tiny_limit):
    m = small()
    assert m.SECOND_ORDER is False
    with pytest.raises(NotImplementedError, match=r"its IR has \d+ nodes, more than the 5 up to"):
        m.hvp({"x": 1.0}, x=0.3, y=2.0)


def test_true_above_the_limit_emits_them(tiny_limit):
    """hvp against central differences of grad along v (another route to H·v)."""
    m = small(True)
    assert m.SECOND_ORDER is True
    point, v, h = {"x": 0.7, "y": -1.3}, {"x": 0.4, "y": 0.9}, 1e-6
    up = m.grad(**{k: point[k] + h * v[k] for k in point})
    down = m.grad(**{k: point[k] - h * v[k] for k in point})
    hv = m.hvp(v, **point)
    for k in point:
        assert math.isclose(hv[k], (up[k] - down[k]) / (2 * h), rel_tol=1e-7, abs_tol=1e-9)


def test_the_option_does_not_change_the_rest_of_the_module():
    """Same hash (parameter files fit both), same forward/backward text before jvp."""
    on, off = (circuitc.source(EXPR, [x, y], "s", second_order=s) for s in (True, False))
    on = on.split("\ndef forward(")[1].split("\ndef jvp(")[0]
    assert on == off.split("\ndef forward(")[1].split("\n_SECOND_ORDER_WHY = ")[0]
    assert small(True).CIRCUIT_HASH == small(False).CIRCUIT_HASH


@pytest.mark.parametrize("bad", ["yes", 1, None, "Auto"])
def test_a_bad_value_is_a_circuit_error(bad):
    with pytest.raises(circuitc.CircuitError, match=r"second_order=.*choose 'auto'.*True or False"):
        circuitc.source(EXPR, [x, y], second_order=bad)


def test_cli_flag(capsys, tmp_path):
    circuit_file = tmp_path / "circuit_file.py"
    circuit_file.write_text(
        "import sympy as sp\nimport circuitc\nx = sp.Symbol('x')\n"
        "circuit = circuitc.Circuit('c', sp.sin(x), [x])\n"
    )
    assert (
        cli.main(["compile", str(circuit_file), "-o", str(tmp_path), "--second-order", "no"]) == 0
    )
    module = circuitc.loader.import_file(tmp_path / "c.py")
    assert module.SECOND_ORDER is False
    assert cli.main(["show", str(circuit_file), "--second-order", "yes"]) == 0
    assert "SECOND_ORDER = True" in capsys.readouterr().out
    assert cli.main(["show", str(circuit_file), "--second-order", "maybe"]) == 2
    err = capsys.readouterr().err
    assert "--second-order: invalid choice: 'maybe'" in err and len(err.splitlines()) == 1
    capsys.readouterr()
    # the help states the limit the pipeline applies (written out: the CLI imports no SymPy)
    with contextlib.suppress(SystemExit):  # argparse's --help exits
        cli.main(["compile", "--help"])
    assert f"at most {pipeline.SECOND_ORDER_NODES} IR" in " ".join(capsys.readouterr().out.split())


def test_views_that_need_hvp(tiny_limit):
    """check skips the second-order rows of a module without them; hessian compiles a circuit
    with them (and refuses a module without); the Newton optimizers refuse such a module."""
    report = circuitc.check(small(), at={"x": 0.3, "y": 2.0})
    assert report.passed and report.second_order == []
    with pytest.raises(circuitc.CircuitError, match="second_order=True"):
        circuitc.hessian(small(), at={"x": 0.3, "y": 2.0})
    circuit = circuitc.Circuit("small", EXPR, [x, y])
    H = circuitc.hessian(circuit, at={"x": 0.3, "y": 2.0}).matrix
    expected = [[-math.sin(0.3) * 2 + 4, math.cos(0.3) + 0.6], [math.cos(0.3) + 0.6, 0.0]]
    np.testing.assert_allclose(H, expected, rtol=1e-13, atol=1e-13)
    pytest.importorskip("scipy")
    from circuitc.training import scipy_opt

    with pytest.raises(ValueError, match="second_order=True"):
        scipy_opt.minimize(small(), {"x": 0.3, "y": 2.0}, {}, method="newton-cg")
