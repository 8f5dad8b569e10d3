"""Byte-identical output whatever ``PYTHONHASHSEED`` is (docs/design.md: the emitted module).

Each circuit is emitted in fresh interpreters with different hash seeds; set and dict orders
of strings change with the seed, so any order that leaks into the text shows up as a diff.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import circuitc

#: builds the circuits and prints {name: source} as JSON; run in fresh processes
SCRIPT = r"""
import json, sympy as sp, circuitc
from circuitc import Circuit, sigmoid

x, y, z, w, b = sp.symbols("x y z w b")
t, u1, u2, u, J = sp.symbols("t u1 u2 u J")
many = sp.symbols("a0:12")
circuits = {
    "small": (sp.cos(sp.sin(x**2) + 3 * x**2), [x]),
    "steps": Circuit("small_steps", J, [x], steps=[(t, x**2), (u1, sp.sin(t)), (u2, 3 * t), (u, u1 + u2), (J, sp.cos(u))]),
    "many": (sum(a * sp.exp(-a * x) for a in many) + sp.Mul(*many), [x, *many[::2]]),
    "kinks": (sp.Max(x, y, z) + sp.Min(y, x) + sp.Abs(x - y) + sp.Piecewise((sp.log(x), x > 0), (y, True)), [x, y, z]),
    "logistic": (-(y * sp.log(sigmoid(w * x + b)) + (1 - y) * sp.log(1 - sigmoid(w * x + b))), [w, b]),
}
out = {}
for key, spec in circuits.items():
    if isinstance(spec, Circuit):
        out[key] = circuitc.source(spec)
    else:
        out[key] = circuitc.source(spec[0], wrt=spec[1], name=key)
print(json.dumps(out))
"""


def start_fresh_process(seed: str) -> subprocess.Popen:
    """A new interpreter with PYTHONHASHSEED=seed that prints the sources as JSON."""
    env = dict(os.environ, PYTHONHASHSEED=seed)
    root = Path(circuitc.__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def emitted() -> dict[str, dict[str, str]]:
    procs = {seed: start_fresh_process(seed) for seed in ("0", "1")}  # run side by side
    out = {}
    for seed, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        out[seed] = json.loads(stdout)
    return out


def test_sources_are_byte_identical_across_hash_seeds(emitted):
    first, *others = emitted.values()
    assert set(first) == {"small", "steps", "many", "kinks", "logistic"}
    for other in others:
        for key, text in first.items():
            if other[key] != text:
                diff = "\n".join(
                    difflib.unified_diff(text.splitlines(), other[key].splitlines(), lineterm="")
                )
                pytest.fail(f"circuit {key!r} differs between hash seeds:\n{diff}")


def test_in_process_source_equals_the_fresh_process_source(emitted):
    import sympy as sp

    x = sp.Symbol("x")
    here = circuitc.source(sp.cos(sp.sin(x**2) + 3 * x**2), wrt=[x], name="small")
    assert here == emitted["0"]["small"]
    # compiling twice in one process gives the same text, too
    assert here == circuitc.source(sp.cos(sp.sin(x**2) + 3 * x**2), wrt=[x], name="small")


def test_emitted_module_computes_the_right_numbers(emitted):
    """The text from another process is a working module: checked against NumPy by hand."""
    import numpy as np
    from oracles import assert_close

    from circuitc.loader import load_source

    m = load_source(emitted["1"]["many"], "many")
    a = 0.1 * np.arange(1, 13)
    xv = 0.3
    point = {f"a{i}": float(a[i]) for i in range(12)} | {"x": xv}
    value, grad = m.value_and_grad(**point)
    e = np.exp(-a * xv)
    assert_close(value, np.sum(a * e) + np.prod(a), "exact", "J")
    assert_close(grad["x"], np.sum(-(a**2) * e), "exact", "dJ/dx")
    for i in range(0, 12, 2):
        expected = e[i] - a[i] * xv * e[i] + np.prod(np.delete(a, i))
        assert_close(grad[f"a{i}"], expected, "exact", f"dJ/da{i}")
    assert set(grad) == {"x"} | {f"a{i}" for i in range(0, 12, 2)}
