"""jvp and hvp of the array-API module (``backend="array_api"``) on NumPy, array-api-strict,
PyTorch and JAX.

Oracles: the NumPy module's jvp/hvp (to 1e-12 relative in float64, on every example circuit and
the matrix cases the standard can compute), and, independent of circuitc's tangent rules,
directional central differences of the array-API module's forward pass (for jvp) and of its
gradient (for hvp). ``jax.jit`` traces both functions with the tangent dict as a pytree.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest
from test_array_api import (
    EXAMPLES_BY_NAME,
    LIBS,
    _x64,
    agree,
    is_lib,
    point_for,
    to_lib,
    to_numpy,
)
from test_matrix import CASES as MATRIX_CASES
from test_matrix import _point as matrix_point
from test_second_order import directional_difference, gradient_difference, random_direction

import circuitc
from circuitc.errors import CircuitError

pytest.importorskip("array_api_compat")


def _pair(*args, **kwargs):
    """(array-API module, NumPy module) of a circuit; None when the standard lacks an op."""
    try:
        xp_module = circuitc.compile(*args, backend="array_api", **kwargs)
    except CircuitError:
        return None
    return xp_module, circuitc.compile(*args, **kwargs)


def _matrix_pairs() -> dict:
    out = {}
    for case, (expr, wrt, _) in sorted(MATRIX_CASES.items()):
        pair = _pair(expr, wrt=wrt, name=f"aso_{case}")
        if pair is not None:
            out[case] = (*pair, matrix_point(expr, wrt))
    return out


def _example_pairs() -> dict:
    return {name: (*_pair(c), None) for name, c in sorted(EXAMPLES_BY_NAME.items())}


PAIRS = {f"example:{k}": v for k, v in _example_pairs().items()}
PAIRS |= {f"matrix:{k}": v for k, v in _matrix_pairs().items()}


def _case(key: str):
    """(array-API module, NumPy module, point as NumPy values, a direction over every parameter)."""
    xp_module, np_module, point = PAIRS[key]
    if point is None:
        point = point_for(np_module, seed=5)
    return xp_module, np_module, point, random_direction(point, np_module.WRT, seed=11)


@pytest.fixture(params=LIBS)
def lib(request):
    name = request.param
    pytest.importorskip(name)
    if name == "jax":
        with _x64():
            yield name
    else:
        yield name


def _in(lib: str, values: dict) -> dict:
    return {k: to_lib(lib, v) for k, v in values.items()}


@pytest.mark.parametrize("key", sorted(PAIRS))
def test_jvp_and_hvp_match_the_numpy_module(key, lib):
    xp_module, np_module, point, direction = _case(key)
    args, tangents = _in(lib, point), _in(lib, direction)
    J_ref, dot_ref = np_module.jvp(direction, **point)
    J, dot = xp_module.jvp(tangents, **args)
    assert is_lib(lib, J) and is_lib(lib, dot), "J and J-dot are arrays of the caller's library"
    assert tuple(dot.shape) == np.shape(J_ref), "J-dot has J's shape (0-d for a scalar J)"
    agree(J, J_ref, "J")
    agree(dot, dot_ref, "J-dot")
    hv_ref = np_module.hvp(direction, **point)
    hv = xp_module.hvp(tangents, **args)
    assert sorted(hv) == sorted(hv_ref)
    for name, ref in hv_ref.items():
        assert is_lib(lib, hv[name]), f"hvp[{name}] is not an array of {lib}"
        assert tuple(hv[name].shape) == np.shape(point[name]), name
        agree(hv[name], ref, f"hvp[{name}]")


@pytest.mark.parametrize("key", sorted(PAIRS))
def test_jvp_and_hvp_against_central_differences(key):
    """Oracles independent of the tangent rules: differences of forward() and of grad()."""
    xp_module, _, point, direction = _case(key)
    _, dot = xp_module.jvp(direction, **point)
    expected = directional_difference(
        lambda **kw: to_numpy(xp_module.forward(**kw)), point, direction
    )
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(to_numpy(dot), expected, rtol=1e-6, atol=1e-6 * scale)
    hv = xp_module.hvp(direction, **point)
    expected = gradient_difference(xp_module.grad, point, direction)
    for name, ref in expected.items():
        scale = max(1.0, float(np.max(np.abs(ref))))
        np.testing.assert_allclose(to_numpy(hv[name]), ref, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("key", ["example:mlp", "example:small_example", "matrix:matmul"])
def test_jax_jit_traces_jvp_and_hvp(key):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    with _x64():
        xp_module, np_module, point, direction = _case(key)
        args = {k: jnp.asarray(v) for k, v in point.items()}
        tangents = {k: jnp.asarray(v) for k, v in direction.items()}
        J, dot = jax.jit(xp_module.jvp)(tangents, **args)
        J_ref, dot_ref = np_module.jvp(direction, **point)
        assert is_lib("jax", dot) and dot.dtype == jnp.float64
        agree(J, J_ref, "jit(jvp) J")
        agree(dot, dot_ref, "jit(jvp) J-dot")
        hv = jax.jit(xp_module.hvp)(tangents, **args)
        for name, ref in np_module.hvp(direction, **point).items():
            agree(hv[name], ref, f"jit(hvp)[{name}]")
        # a new tangent through the same jitted function is not stale
        doubled = {k: 2 * v for k, v in tangents.items()}
        agree(jax.jit(xp_module.jvp)(doubled, **args)[1], 2 * np.asarray(dot_ref), "2 J-dot")


def test_missing_key_is_zero_and_unknown_key_is_a_type_error():
    pytest.importorskip("array_api_strict")
    xp_module, np_module, point, direction = _case("example:mlp")
    args = _in("array_api_strict", point)
    first, *rest = np_module.WRT
    partial = {k: direction[k] for k in rest}
    zeroed = dict(partial, **{first: np.zeros_like(point[first])})
    _, dot = xp_module.jvp(_in("array_api_strict", partial), **args)
    agree(dot, np_module.jvp(zeroed, **point)[1], "J-dot with a key left out")
    hv = xp_module.hvp(_in("array_api_strict", partial), **args)
    for name, ref in np_module.hvp(zeroed, **point).items():
        agree(hv[name], ref, f"hvp[{name}] with a key left out")
    _, dot = xp_module.jvp({}, **args)
    agree(dot, 0.0, "J-dot along nothing")
    with pytest.raises(TypeError, match="'nope' is not a parameter"):
        xp_module.jvp({"nope": args[first]}, **args)
    with pytest.raises(TypeError, match="'nope' is not a parameter"):
        xp_module.hvp({"nope": args[first]}, **args)
    with pytest.raises(TypeError, match="must be a dict"):
        xp_module.hvp([args[first]], **args)
    with pytest.raises(ValueError, match=f"tangent of '{first}' has shape"):
        xp_module.jvp({first: args[first][:1, ...]}, **args)


def test_the_module_has_no_jacobian_and_no_in_place_updates():
    """jacobian() stays NumPy-only; no ``+=`` anywhere (JAX arrays are immutable)."""
    for key, (xp_module, _, _) in PAIRS.items():
        assert not hasattr(xp_module, "jacobian"), key
    for name in ("mlp", "two_layer_nn_batch", "logistic_regression_batch"):
        text = circuitc.source(EXAMPLES_BY_NAME[name], backend="array_api")
        tree = ast.parse(text)
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.AugAssign)], name
        assert "_np." not in text, name
