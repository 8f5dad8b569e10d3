"""``hvp`` computes each backward value its tangent lines read once (``emit/hvp_shared.py``).

A tangent line may read a partial of the backward pass: the notes' small example reads
du1/dt = cos(t) in u̇1 = cos(t)·ṫ and in dJ/dt += dJ/du1 · cos(t); tanh reads 1 - J² in J̇ and
in dJ/d_t. Printed inline in both, hvp computed it twice. The independent count: the
arithmetic of the emitted ``hvp`` read off its syntax tree (``test_mode_counts.syntax_ops``),
against the IR's count (``core.program.hvp_op_counts``, which counts each node once).
The values: torch's ``hvp`` of the same function (float64, when importable) and central
differences of ``grad``. No expected value comes from circuitc itself.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from test_mode_counts import syntax_ops

import circuitc

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
x, y, z = sp.symbols("x y z")


def _torch_small(t, v):
    return t.cos(t.sin(v["x"] ** 2) + 3 * v["x"] ** 2)


#: circuits whose tangent lines read a backward partial: (expr or circuit, wrt, torch's form)
SHARED = {
    "small_example": ("small_example", None, _torch_small),
    "tanh": (sp.tanh(x * y + z), [x, y, z], lambda t, v: t.tanh(v["x"] * v["y"] + v["z"])),
    "sin_cos": (sp.sin(x) * sp.cos(x * y), [x, y], lambda t, v: t.sin(v["x"]) * t.cos(v["x"] * v["y"])),
    "sigmoid": (1 / (1 + sp.exp(-x * y)), [x, y], lambda t, v: t.sigmoid(v["x"] * v["y"])),
    "exp_log": (
        sp.exp(sp.sin(x * y)) + sp.log(1 + x**2),
        [x, y],
        lambda t, v: t.exp(t.sin(v["x"] * v["y"])) + t.log(1 + v["x"] ** 2),
    ),
}  # fmt: skip


def _circuit(key):
    expr, wrt, _ = SHARED[key]
    if expr == "small_example":
        return runpy.run_path(str(EXAMPLES / "small_example.py"))["circuit"], None
    return expr, wrt


def _names(key) -> list[str]:
    _, wrt = _circuit(key)
    return [str(s) for s in wrt] if wrt else ["x"]


@pytest.mark.parametrize("key", sorted(SHARED))
def test_the_emitted_hvp_computes_what_hvp_op_counts_counts(key):
    expr, wrt = _circuit(key)
    report = circuitc.cost(expr, wrt=wrt, naive=False)
    counted = report.hvp_forward_ops + report.hvp_backward_ops + report.hvp_ops
    assert syntax_ops(circuitc.source(expr, wrt=wrt), "hvp") == counted, key


def test_the_small_example_reads_cos_t_by_name():
    """du1/dt = cos(t): one line computes it, the tangent and the backward line read it."""
    expr, wrt = _circuit("small_example")
    source = circuitc.source(expr, wrt=wrt)
    hvp = source[source.index("def hvp(") : source.index("def jacobian(")]
    assert hvp.count("_np.cos(t)") == 1, hvp
    assert syntax_ops(source, "hvp") == 5 + 6 + 19  # test_mode_counts' count by hand


def _grad_difference(module, point, v, eps=1e-6):
    """(grad(p + εv) − grad(p − εv)) / 2ε: the Hessian times v, independent of hvp."""
    plus = module.grad(**{n: point[n] + eps * v[n] for n in point})
    minus = module.grad(**{n: point[n] - eps * v[n] for n in point})
    return {n: (plus[n] - minus[n]) / (2 * eps) for n in point}


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    key=st.sampled_from(sorted(SHARED)),
    seed=st.integers(0, 2**16),
    size=st.sampled_from([None, 1, 5]),
)
def test_hvp_against_central_differences_of_grad(key, seed, size):
    """Over scalars (Python floats) and arrays of a few sizes."""
    module = circuitc.compile(*_circuit(key))
    rng = np.random.default_rng(seed)

    def draw():
        return float(rng.uniform(-1.5, 1.5)) if size is None else rng.uniform(-1.5, 1.5, size)

    point = {n: draw() for n in _names(key)}
    v = {n: draw() for n in _names(key)}
    hv = module.hvp(v, **point)
    for name, ref in _grad_difference(module, point, v).items():
        scale = max(1.0, float(np.max(np.abs(ref))))
        np.testing.assert_allclose(hv[name], ref, rtol=1e-5, atol=1e-6 * scale, err_msg=key)


@pytest.mark.parametrize("key", sorted(SHARED))
def test_hvp_against_torch(key):
    torch = pytest.importorskip("torch")
    module = circuitc.compile(*_circuit(key))
    rng = np.random.default_rng(7)
    names = _names(key)
    point = {n: rng.uniform(-1.5, 1.5, 6) for n in names}
    v = {n: rng.uniform(-1.5, 1.5, 6) for n in names}

    def f(*args):
        return SHARED[key][2](torch, dict(zip(names, args, strict=True))).sum()

    primal = tuple(torch.tensor(point[n], dtype=torch.float64) for n in names)
    tangent = tuple(torch.tensor(v[n], dtype=torch.float64) for n in names)
    _, expected = torch.autograd.functional.hvp(f, primal, tangent)
    hv = module.hvp(v, **point)
    for name, ref in zip(names, expected, strict=True):
        np.testing.assert_allclose(hv[name], ref.numpy(), rtol=1e-12, atol=1e-12, err_msg=key)
