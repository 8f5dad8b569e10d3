"""The array-API backend (issue 14, part 1): one module for NumPy, array-api-strict, PyTorch, JAX.

``circuitc.compile(..., backend="array_api")`` emits the same straight-line code as the NumPy
module, written against ``array_api_compat.array_namespace`` of the arguments. The tests run it
on every library that is importable (each skips cleanly without its package) and compare with

* the NumPy module, to 1e-12 relative to the magnitude of the summed terms (float64);
* independent oracles: central differences (``oracles.vjp_check``), and each batch example's
  loss written by hand in PyTorch (``torch.autograd``) and in JAX (``jax.value_and_grad``);

and check what the backend promises besides: J is a 0-d array of the caller's library, every
gradient an array of that library shaped like its parameter, ``jax.jit`` traces the module,
``torch.compile(backend="aot_eager")`` runs it, and a registered op the standard lacks is a
``CircuitError`` naming it.
"""

from __future__ import annotations

import contextlib
import runpy
from pathlib import Path

import numpy as np
import oracles
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import circuitc
from circuitc.cli import load_circuits

compat = pytest.importorskip("array_api_compat")

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy at inf, on purpose

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

#: the array libraries the module must run on (CuPy and CUDA have their own skipping tests)
LIBS = ["numpy", "array_api_strict", "torch", "jax"]

#: the agreement the issue asks of the array-API module with the NumPy module (float64)
RTOL = 1e-12


# -- the libraries ---------------------------------------------------------------------------------
@contextlib.contextmanager
def _x64():
    """JAX with 64-bit floats for the duration (restored after: other tests may use JAX)."""
    import jax

    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)


@pytest.fixture(params=LIBS)
def lib(request):
    """The name of an importable array library (JAX with x64 enabled while the test runs)."""
    name = request.param
    pytest.importorskip(name)
    if name == "jax":
        with _x64():
            yield name
    else:
        yield name


def to_lib(lib: str, a, dtype="float64"):
    """A NumPy array (or float) as an array of ``lib`` (float64 unless asked otherwise)."""
    a = np.asarray(a, dtype=dtype)
    if lib == "numpy":
        return a
    if lib == "array_api_strict":
        import array_api_strict as xps

        return xps.asarray(a)
    if lib == "torch":
        import torch

        return torch.asarray(a)
    if lib == "jax":
        import jax.numpy as jnp

        return jnp.asarray(a)
    raise KeyError(lib)


def to_numpy(a) -> np.ndarray:
    """Any library's array as a NumPy array (via DLPack where NumPy cannot read it directly)."""
    if compat.is_torch_array(a):
        return a.detach().cpu().numpy()
    if compat.is_array_api_strict_namespace(compat.array_namespace(a)):
        return np.from_dlpack(a)
    return np.asarray(a)


def is_lib(lib: str, a) -> bool:
    """True when ``a`` is an array of ``lib`` (a NumPy scalar does not count as an array)."""
    checks = {
        "numpy": compat.is_numpy_array,
        "torch": compat.is_torch_array,
        "jax": compat.is_jax_array,
        "array_api_strict": lambda v: (
            compat.is_array_api_obj(v)
            and compat.is_array_api_strict_namespace(compat.array_namespace(v))
        ),
    }
    return checks[lib](a)


def agree(actual, expected, what: str = "") -> None:
    """Float64 agreement to RTOL relative to max(1, |expected|) (the summed terms' magnitude)."""
    a = np.asarray(to_numpy(actual), dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"
    scale = max(1.0, float(np.max(np.abs(e)))) if e.size else 1.0
    np.testing.assert_allclose(a, e, rtol=RTOL, atol=RTOL * scale, err_msg=what, equal_nan=True)


# -- the examples ----------------------------------------------------------------------------------
def _batch(example: str, **sizes):
    return runpy.run_path(str(EXAMPLES / f"{example}.py"))["make_circuit"](**sizes)


#: every example circuit, at sizes small enough to compile and check quickly
def example_circuits() -> dict:
    out = {}
    for file in ("small_example", "linear_regression", "logistic_regression", "two_layer_nn"):
        for c in load_circuits(str(EXAMPLES / f"{file}.py")):
            out[c.name] = c
    out["logistic_regression_batch"] = _batch("logistic_regression_batch", D=5)
    out["two_layer_nn_batch"] = _batch("two_layer_nn_batch", D=5, H=4)
    out["mlp_digits"] = _batch("mlp_digits", D=6, H=5, K=3)
    out["mlp"] = _batch("mlp", D=7, H=6, K=4)
    return out


EXAMPLES_BY_NAME = example_circuits()


@pytest.fixture(scope="module", params=sorted(EXAMPLES_BY_NAME))
def pair(request):
    """(array-API module, NumPy module, a random point as NumPy arrays) for one example."""
    c = EXAMPLES_BY_NAME[request.param]
    xp_module = circuitc.compile(c, backend="array_api")
    np_module = circuitc.compile(c)
    return xp_module, np_module, point_for(np_module, seed=3)


def point_for(module, seed: int = 0, n: int = 7) -> dict:
    """Arguments for every parameter and input: matrices at their shape (dimension = n rows),
    scalar symbols as vectors of n instances; one-hot rows for a softmax target."""
    rng = np.random.default_rng(seed)
    point = {}
    for name in (*module.WRT, *module.INPUTS):
        shape = tuple(n if isinstance(d, str) else d for d in module.SHAPES[name]) or (n,)
        point[name] = rng.normal(size=shape) * (0.5 if name in module.WRT else 1.0)
    target = getattr(module, "TARGET", None)
    if target is not None and len(module.SHAPES[target]) == 2 and module.SHAPES[target][1] > 1:
        k = module.SHAPES[target][1]
        point[target] = np.eye(k)[rng.integers(0, k, n)]
    elif target is not None:
        point[target] = rng.integers(0, 2, point[target].shape).astype(float)
    return point


def test_every_example_matches_the_numpy_module(pair, lib):
    xp_module, np_module, point = pair
    J_ref, g_ref = np_module.value_and_grad(**point)
    args = {k: to_lib(lib, v) for k, v in point.items()}
    J, g = xp_module.value_and_grad(**args)
    assert is_lib(lib, J) and J.ndim == np.ndim(J_ref), "J is an array of the caller's library"
    agree(J, J_ref, "J")
    assert sorted(g) == sorted(g_ref)
    for name in g_ref:
        assert is_lib(lib, g[name]), f"gradient {name} is not an array of {lib}"
        assert tuple(g[name].shape) == np.shape(point[name]), name
        agree(g[name], g_ref[name], f"dJ/d{name}")
    agree(xp_module.forward(**args), J_ref, "forward")
    grads_only = xp_module.grad(**args)
    for name in g_ref:
        agree(grads_only[name], g_ref[name], f"grad()[{name}]")
    if hasattr(np_module, "predict"):
        agree(xp_module.predict(**args), np_module.predict(**point), "predict")


def test_every_example_passes_central_differences(pair):
    """An oracle independent of circuitc's rules: directional central differences of sum(J)."""
    xp_module, _, point = pair
    J, g = xp_module.value_and_grad(**point)
    oracles.vjp_check(
        lambda **kw: to_numpy(xp_module.forward(**kw)),
        {k: to_numpy(v) for k, v in g.items()},
        point,
        list(xp_module.WRT),
        seed=1,
    )


# -- hand-written oracles for the batch examples (PyTorch autograd, JAX's own grad) ---------------
def _losses(xp, kind: str):
    """The batch examples' losses written by hand with the namespace ``xp`` (never circuitc's)."""

    def sigmoid(a):
        return 1 / (1 + xp.exp(-a))

    def softplus(a):
        return xp.maximum(a, 0 * a) + xp.log(1 + xp.exp(-xp.abs(a)))

    def logreg(theta, X, y):
        a = X @ theta
        return xp.sum(softplus(a) - y * a) / X.shape[0]

    def two_layer(alpha, beta, beta_0, X, y):
        y_hat = sigmoid(sigmoid(X @ alpha) @ beta + beta_0)
        return xp.sum((y_hat - y) ** 2) / 2 / X.shape[0]

    def mlp(W1, b1, W2, b2, X, Y):
        Z = xp.maximum(X @ W1 + b1, 0 * b1)
        A = Z @ W2 + b2
        m = xp.max(A, axis=1, keepdims=True)
        lse = m + xp.log(xp.sum(xp.exp(A - m), axis=1, keepdims=True))
        return -xp.sum(Y * (A - lse)) / X.shape[0]

    return {"logistic_regression_batch": logreg, "two_layer_nn_batch": two_layer, "mlp": mlp}[kind]


HAND = ["logistic_regression_batch", "two_layer_nn_batch", "mlp"]


def _order(module) -> list[str]:
    return [*module.WRT, *module.INPUTS]


@pytest.mark.parametrize("kind", HAND)
def test_batch_examples_match_torch_autograd(kind):
    torch = pytest.importorskip("torch")
    module = circuitc.compile(EXAMPLES_BY_NAME[kind], backend="array_api")
    point = point_for(module, seed=11, n=9)
    args = {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=k in module.WRT)
        for k, v in point.items()
    }
    xp = compat.array_namespace(torch.empty(0))  # torch with the standard's signatures
    loss = _losses(xp, kind)(*(args[k] for k in _order(module)))
    loss.backward()
    J, g = module.value_and_grad(**{k: v.detach() for k, v in args.items()})
    agree(J, loss.detach().numpy(), "J")
    for name in module.WRT:
        agree(g[name], args[name].grad.numpy(), f"dJ/d{name}")


@pytest.mark.parametrize("kind", HAND)
def test_jax_jit_traces_the_module_and_matches_jax_grad(kind):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    with _x64():
        module = circuitc.compile(EXAMPLES_BY_NAME[kind], backend="array_api")
        point = {k: jnp.asarray(v) for k, v in point_for(module, seed=12, n=9).items()}
        J, g = jax.jit(module.value_and_grad)(**point)
        assert is_lib("jax", J) and J.ndim == 0 and J.dtype == jnp.float64
        loss = _losses(jnp, kind)
        wrt = list(module.WRT)
        data = [point[k] for k in module.INPUTS]

        def of_params(*params):
            return loss(*params, *data)

        J_ref, g_ref = jax.value_and_grad(of_params, argnums=tuple(range(len(wrt))))(
            *(point[k] for k in wrt)
        )
        agree(J, np.asarray(J_ref), "J")
        for name, ref in zip(wrt, g_ref, strict=True):
            agree(g[name], np.asarray(ref), f"dJ/d{name}")
        # the same jitted function, called again with new values, is not stale
        moved = dict(point, **{wrt[0]: point[wrt[0]] * 0.5})
        J2, _ = jax.jit(module.value_and_grad)(**moved)
        agree(J2, np.asarray(loss(*(moved[k] for k in wrt), *data)), "J after a new call")
        # the forward pass and predict trace too
        agree(jax.jit(module.forward)(**point), np.asarray(J_ref), "jit(forward)")


def test_jax_jit_of_a_scalar_circuit():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    with _x64():
        module = circuitc.compile(EXAMPLES_BY_NAME["small_example"], backend="array_api")
        plain = circuitc.compile(EXAMPLES_BY_NAME["small_example"])
        xs = np.linspace(-2, 2, 11)
        J, g = jax.jit(module.value_and_grad)(x=jnp.asarray(xs))
        J_ref, g_ref = plain.value_and_grad(x=xs)
        agree(J, J_ref, "J")
        agree(g["x"], g_ref["x"], "dJ/dx")
        # and JAX's own derivative of the module's forward pass: the module is traceable
        dx = jax.grad(lambda v: jnp.sum(module.forward(x=v)))(jnp.asarray(xs))
        agree(dx, g_ref["x"], "jax.grad(forward)")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")  # dynamo on array_api_compat's lru_caches
def test_torch_compile_runs_the_module():
    torch = pytest.importorskip("torch")
    module = circuitc.compile(EXAMPLES_BY_NAME["mlp"], backend="array_api")
    plain = circuitc.compile(EXAMPLES_BY_NAME["mlp"])
    point = point_for(plain, seed=13, n=8)
    compiled = torch.compile(module.value_and_grad, backend="aot_eager")
    J, g = compiled(**{k: torch.asarray(v) for k, v in point.items()})
    J_ref, g_ref = plain.value_and_grad(**point)
    assert is_lib("torch", J) and J.ndim == 0
    agree(J, J_ref, "J")
    for name in g_ref:
        agree(g[name], g_ref[name], f"dJ/d{name}")


# -- what the module returns -----------------------------------------------------------------------
def test_float32_stays_float32(lib):
    c = EXAMPLES_BY_NAME["logistic_regression_batch"]
    module = circuitc.compile(c, backend="array_api")
    plain = circuitc.compile(c)
    point = point_for(plain, seed=4)
    args = {k: to_lib(lib, v, "float32") for k, v in point.items()}
    J, g = module.value_and_grad(**args)
    xp = compat.array_namespace(J)
    assert J.dtype == xp.float32 and all(v.dtype == xp.float32 for v in g.values())
    J_ref, g_ref = plain.value_and_grad(**point)
    np.testing.assert_allclose(to_numpy(J), J_ref, rtol=2e-5)
    np.testing.assert_allclose(to_numpy(g["theta"]), g_ref["theta"], rtol=2e-4, atol=1e-6)


def test_integer_data_is_taken_as_floats(lib):
    c = EXAMPLES_BY_NAME["logistic_regression_batch"]
    module = circuitc.compile(c, backend="array_api")
    plain = circuitc.compile(c)
    point = point_for(plain, seed=5)
    point["y"] = point["y"].astype(np.int64)
    args = {k: to_lib(lib, v, v.dtype) for k, v in point.items()}
    J, g = module.value_and_grad(**args)
    J_ref, g_ref = plain.value_and_grad(**point)
    agree(J, J_ref, "J")
    agree(g["theta"], g_ref["theta"], "dJ/dtheta")


def test_python_floats_give_numpy_zero_d_arrays():
    module = circuitc.compile(EXAMPLES_BY_NAME["small_example"], backend="array_api")
    plain = circuitc.compile(EXAMPLES_BY_NAME["small_example"])
    J, g = module.value_and_grad(x=0.5)
    assert isinstance(J, np.ndarray) and J.ndim == 0
    J_ref, g_ref = plain.value_and_grad(x=0.5)
    agree(J, J_ref, "J")
    agree(g["x"], g_ref["x"], "dJ/dx")


def test_scalar_parameters_broadcast_and_reduce(lib):
    """A scalar parameter given next to arrays gets a gradient summed over the broadcast."""
    x, w = sp.symbols("x w")
    expr = sp.tanh(w * x) + w**2 * sp.sin(x)
    module = circuitc.compile(expr, wrt=[w], name="bcast", backend="array_api")
    plain = circuitc.compile(expr, wrt=[w], name="bcast")
    xs = np.linspace(-1, 1, 6).reshape(2, 3)
    J, g = module.value_and_grad(w=to_lib(lib, 0.7), x=to_lib(lib, xs))
    J_ref, g_ref = plain.value_and_grad(w=0.7, x=xs)
    agree(J, J_ref, "J")
    assert tuple(g["w"].shape) == ()
    agree(g["w"], g_ref["w"], "dJ/dw")


def test_returned_arrays_are_fresh():
    """J = an argument is returned as a copy; writing into a gradient leaves the next call alone."""
    X = sp.MatrixSymbol("X", 2, 2)
    module = circuitc.compile(X, wrt=[X], name="ident", backend="array_api")
    a = np.arange(4.0).reshape(2, 2)
    J = module.forward(X=a)
    assert J is not a and not np.shares_memory(J, a)
    _, g = module.value_and_grad(X=a)
    g["X"][0, 0] = 99.0
    _, g2 = module.value_and_grad(X=a)
    assert g2["X"][0, 0] == 1.0


def test_the_module_imports_the_compat_layer_and_no_numpy():
    text = circuitc.source(EXAMPLES_BY_NAME["mlp"], backend="array_api")
    assert "import array_api_compat" in text
    assert "import numpy" not in text and "_np." not in text
    assert "array-api" in text.splitlines()[2] or "array_api" in text.splitlines()[2]
    # deterministic: the same circuit, the same bytes
    assert text == circuitc.source(EXAMPLES_BY_NAME["mlp"], backend="array_api")


def test_both_spellings_are_accepted():
    x = sp.Symbol("x")
    a = circuitc.source(sp.sin(x), wrt=[x], backend="array_api")
    b = circuitc.source(sp.sin(x), wrt=[x], backend="array-api")
    assert a == b


def test_call_time_errors_name_the_argument(lib):
    module = circuitc.compile(EXAMPLES_BY_NAME["logistic_regression_batch"], backend="array_api")
    point = {k: to_lib(lib, v) for k, v in point_for(module).items()}
    bad = dict(point, theta=to_lib(lib, np.zeros((4, 1))))
    with pytest.raises(ValueError, match="theta"):
        module.value_and_grad(**bad)
    with pytest.raises(TypeError, match="y"):
        module.value_and_grad(theta=point["theta"], X=point["X"])
    with pytest.raises(TypeError, match="bogus"):
        module.value_and_grad(**point, bogus=point["X"])


def test_complex_arguments_are_refused():
    x = sp.Symbol("x")
    module = circuitc.compile(sp.sin(x), wrt=[x], backend="array_api")
    with pytest.raises(TypeError, match="complex"):
        module.value_and_grad(x=np.array([1 + 2j]))


# -- ops -------------------------------------------------------------------------------------------
x, y = sp.symbols("x y")

#: elementwise circuits over every op the rule table knows, with points inside their domains
OP_CIRCUITS = {
    "trig": (sp.sin(x) * sp.cos(y) + sp.tan(x / 3) + sp.atan2(y, x + 3), (0.2, 1.4)),
    "inverse_trig": (sp.asin(x / 2) + sp.acos(y / 2) + sp.atan(x * y), (-0.9, 0.9)),
    "hyperbolic": (sp.sinh(x) + sp.cosh(y) * sp.tanh(x - y), (-2.0, 2.0)),
    "exp_log_pow": (sp.exp(x) * sp.log(y) + x**y + sp.sqrt(y) + y ** sp.Rational(3, 2), (0.3, 2.0)),
    "stable": (circuitc.softplus(x) - circuitc.sigmoid(y) * x, (-30.0, 30.0)),
    "kinks": (sp.Abs(x) + sp.sign(y) * x + sp.Max(x, y) + sp.Min(x, 2 * y), (-1.0, 1.0)),
    "heaviside": (sp.Heaviside(x) * y + sp.Heaviside(y - 0.1, 0.25) * x**2, (-1.0, 1.0)),
    "piecewise": (sp.Piecewise((sp.log(x), x > 0.5), (x**2, True)) * y, (-1.0, 2.0)),
    "logic": (
        sp.Piecewise((x, sp.And(x > 0, y < 0.5)), (y, sp.Or(x < -0.5, y > 0.8)), (x * y, True)),
        (-1.0, 1.0),
    ),
}


@pytest.mark.parametrize("name", sorted(OP_CIRCUITS))
def test_every_op_matches_the_numpy_module(name, lib):
    expr, (lo, hi) = OP_CIRCUITS[name]
    module = circuitc.compile(expr, wrt=[x, y], name=name, backend="array_api")
    plain = circuitc.compile(expr, wrt=[x, y], name=name)
    rng = np.random.default_rng(7)
    point = {"x": rng.uniform(lo, hi, 20), "y": rng.uniform(lo, hi, 20)}
    J, g = module.value_and_grad(**{k: to_lib(lib, v) for k, v in point.items()})
    J_ref, g_ref = plain.value_and_grad(**point)
    agree(J, J_ref, "J")
    for n in ("x", "y"):
        agree(g[n], g_ref[n], f"dJ/d{n}")


def test_stable_forms_give_no_inf_or_nan_at_large_logits(lib):
    """softplus, sigmoid and the log-sum-exp written with standard ops stay finite at ±1e4."""
    c = EXAMPLES_BY_NAME["mlp"]
    module = circuitc.compile(c, backend="array_api")
    point = point_for(module, seed=6)
    point["b2"] = np.array([[1e4, -1e4, 0.0, 5e3]])
    J, g = module.value_and_grad(**{k: to_lib(lib, v) for k, v in point.items()})
    assert np.isfinite(to_numpy(J)) and all(np.all(np.isfinite(to_numpy(v))) for v in g.values())
    a = sp.Symbol("a")
    m = circuitc.compile(circuitc.softplus(a) + circuitc.sigmoid(a), wrt=[a], backend="array_api")
    J, g = m.value_and_grad(a=to_lib(lib, [-1e4, -800.0, 0.0, 800.0, 1e4]))
    assert np.all(np.isfinite(to_numpy(J))) and np.all(np.isfinite(to_numpy(g["a"])))


def test_matrix_ops_match_the_numpy_module(lib):
    """Trace, element, an explicit matrix of scalars, eye: the rarer matrix ops."""
    A = sp.MatrixSymbol("A", 3, 3)
    s = sp.Symbol("s")
    explicit = sp.Matrix([[s, 2 * s], [s**2, 1]]) * sp.Matrix([[A[0, 0], A[0, 1]], [A[1, 0], s]])
    expr = sp.Trace(A * A.T) + A[0, 1] * s + sp.Trace(explicit) + sp.Trace(sp.Identity(3) * A * s)
    module = circuitc.compile(expr, wrt=[A, s], name="mats", backend="array_api")
    plain = circuitc.compile(expr, wrt=[A, s], name="mats")
    rng = np.random.default_rng(8)
    point = {"A": rng.normal(size=(3, 3)), "s": np.asarray(0.3)}
    J, g = module.value_and_grad(**{k: to_lib(lib, v) for k, v in point.items()})
    J_ref, g_ref = plain.value_and_grad(**point)
    agree(J, J_ref, "J")
    for n in ("A", "s"):
        agree(g[n], g_ref[n], f"dJ/d{n}")


def test_registered_op_in_the_standard_is_printed_from_the_namespace(lib):
    class expm1_(sp.Function):  # noqa: N801
        nargs = 1

    circuitc.register(
        expm1_, derivative=lambda g, ans, a: g * (ans + 1), numpy="expm1", name="expm1_aa"
    )
    module = circuitc.compile(expm1_(x) * y, wrt=[x, y], name="reg", backend="array_api")
    xs = np.linspace(-1, 1, 5)
    J, g = module.value_and_grad(x=to_lib(lib, xs), y=to_lib(lib, 2.0))
    agree(J, np.expm1(xs) * 2.0, "J")
    agree(g["x"], 2.0 * np.exp(xs), "dJ/dx")  # the closed form


def test_registered_op_outside_the_standard_is_a_circuit_error():
    class sinc_(sp.Function):  # noqa: N801
        nargs = 1

    circuitc.register(sinc_, derivative=lambda g, ans, a: g * 0, numpy="sinc", name="sinc_aa")
    with pytest.raises(circuitc.CircuitError, match="sinc_aa"):
        circuitc.compile(sinc_(x), wrt=[x], name="reg2", backend="array_api")
    circuitc.compile(sinc_(x), wrt=[x], name="reg2")  # the NumPy backend still takes it


# -- properties over sizes, widths and dtypes ------------------------------------------------------
@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    n=st.integers(1, 9),
    d=st.integers(1, 5),
    h=st.integers(1, 5),
    k=st.integers(2, 4),
    seed=st.integers(0, 2**16),
)
def test_mlp_any_size_on_the_strict_namespace(n, d, h, k, seed):
    """array-api-strict refuses anything outside the standard: the module must keep to it."""
    xps = pytest.importorskip("array_api_strict")
    c = _batch("mlp", D=d, H=h, K=k, name=f"mlp_{d}_{h}_{k}")
    module = _compiled(c, "array_api")
    plain = _compiled(c, "numpy")
    point = point_for(plain, seed=seed, n=n)
    J, g = module.value_and_grad(**{kk: xps.asarray(v) for kk, v in point.items()})
    J_ref, g_ref = plain.value_and_grad(**point)
    agree(J, J_ref, "J")
    for name in g_ref:
        agree(g[name], g_ref[name], f"dJ/d{name}")


_CACHE: dict = {}


def _compiled(c, backend: str):
    key = (c.name, backend)
    if key not in _CACHE:
        _CACHE[key] = circuitc.compile(c, backend=backend)
    return _CACHE[key]


# -- devices ---------------------------------------------------------------------------------------
def test_cuda_tensors_stay_on_the_gpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    module = circuitc.compile(EXAMPLES_BY_NAME["mlp"], backend="array_api")
    point = point_for(module, seed=9)
    J, g = module.value_and_grad(**{k: torch.asarray(v, device="cuda") for k, v in point.items()})
    assert J.device.type == "cuda" and all(v.device.type == "cuda" for v in g.values())


def test_cupy_arrays():
    cupy = pytest.importorskip("cupy")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - no driver, no device: the test does not apply
        pytest.skip("no CUDA device for CuPy")
    module = circuitc.compile(EXAMPLES_BY_NAME["mlp"], backend="array_api")
    plain = circuitc.compile(EXAMPLES_BY_NAME["mlp"])
    point = point_for(module, seed=10)
    J, g = module.value_and_grad(**{k: cupy.asarray(v) for k, v in point.items()})
    agree(cupy.asnumpy(J), plain.forward(**point), "J")


# -- the command line ------------------------------------------------------------------------------
def test_cli_compiles_with_backend_array_api(tmp_path, capsys):
    from circuitc import cli
    from circuitc.loader import import_file

    code = cli.main(
        ["compile", str(EXAMPLES / "mlp.py"), "--backend", "array-api", "-o", str(tmp_path)]
    )
    assert code == 0, capsys.readouterr().err
    module = import_file(tmp_path / "mlp.py")
    assert module.BACKEND == "array-api"
    plain = circuitc.compile(runpy.run_path(str(EXAMPLES / "mlp.py"))["circuit"])
    point = point_for(plain, seed=14, n=3)
    J, g = module.value_and_grad(**point)
    J_ref, g_ref = plain.value_and_grad(**point)
    agree(J, J_ref, "J")
    agree(g["W1"], g_ref["W1"], "dJ/dW1")


@pytest.mark.parametrize("name", sorted(EXAMPLES_BY_NAME))
def test_modules_keep_the_house_style(name, tmp_path):
    """Lines fit 100 columns, the layout is ruff's, at most two blank lines, and only math,
    array_api_compat (and its NumPy namespace, for a call with Python numbers only) imported."""
    import ast
    import importlib.util
    import re

    from test_emitted_style import _ruff_diff, _wide_lines

    text = circuitc.source(EXAMPLES_BY_NAME[name], backend="array_api")
    assert _wide_lines(text) == []
    assert not re.search(r"\n\n\n\n", text)
    tree = ast.parse(text)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"math", "array_api_compat", "array_api_compat.numpy", "__future__"}
    if importlib.util.find_spec("ruff") is not None:
        path = tmp_path / f"{name}.py"
        path.write_text(text)
        assert _ruff_diff([path]) == ""


def test_without_array_api_compat_compile_says_which_extra(monkeypatch):
    """source() writes the module anyway (for a machine that has the extra); compile() cannot
    import it and says which extra to install."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "array_api_compat" else real(name, *a),
    )
    x = sp.Symbol("x")
    assert "import array_api_compat" in circuitc.source(sp.sin(x), wrt=[x], backend="array-api")
    with pytest.raises(circuitc.CircuitError, match=r"circuitc\[backends\]"):
        circuitc.compile(sp.sin(x), wrt=[x], backend="array-api")
