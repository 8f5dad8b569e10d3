"""Custom ops for any function (issue 12, part 6; problems 11 and 15's registered derivatives).

``circuitc.register`` takes a NumPy attribute name (as before), an explicit import path
``"module:attr"`` (``"scipy.special:erf"``), or the function written as an expression in
supported ops (``expr=lambda a: a / (1 + Abs(a))``). Anything else, and a derivative that
mentions another symbol or returns an array, is refused at ``register`` time with a
``CircuitError``. ``erf`` is a built-in op. Oracles: mpmath (values at 60 digits, derivatives
as closed forms written here) and central differences.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import mpmath
import numpy as np
import pytest
import sympy as sp
from oracles import assert_close, central_diff

import circuitc
from circuitc import CircuitError

x, y = sp.symbols("x y", real=True)
DPS = 60


def mp(f, v: float) -> float:
    with mpmath.workdps(DPS):
        return float(f(mpmath.mpf(v)))


def fresh(name: str, nargs: int = 1) -> type:
    """A new SymPy Function class (each test registers its own)."""
    return type(name, (sp.Function,), {"nargs": nargs})


# -- problem 11: numpy=None and other bad arguments, refused at register time -----------------------
def test_numpy_none_is_refused_at_register_time():
    cls = fresh("NoNumpy")
    with pytest.raises(CircuitError, match="numpy"):
        circuitc.register(cls, derivative=lambda g, ans, a: g, numpy=None)


@pytest.mark.parametrize(
    "bad",
    [
        42,
        b"sin",
        np.sin,  # an object: the import path is never derived from it
        ["sin"],
    ],
)
def test_numpy_that_is_not_a_string_is_refused(bad):
    with pytest.raises(CircuitError, match="numpy"):
        circuitc.register(fresh("NotAString"), derivative=lambda g, ans, a: g, numpy=bad)


@pytest.mark.parametrize(
    "path",
    [
        "scipy.special:",
        ":erf",
        "scipy..special:erf",
        ".scipy:erf",
        "scipy.special:erf:erf",
        "scipy.special:erf; import os",
        "scipy special:erf",
        "scipy.special:erf()",
        "scipy.special:_private",
        "scipy._lib:erf",
        "class.x:erf",
        "scipy.special:lambda",
        "scipy.special:erf\n",
        "scipy.spécial:erf",
        "circuitc_no_such_module_xyz:f",
        "scipy.special:no_such_function_xyz",
        "math:pi",  # an attribute, not a function
    ],
)
def test_bad_import_paths_are_refused_at_register_time(path):
    with pytest.raises(CircuitError, match="register"):
        circuitc.register(fresh("BadPath"), derivative=lambda g, ans, a: g, numpy=path)


# -- problem 15: a derivative that mentions another symbol or returns an array ----------------------
@pytest.mark.parametrize(
    ("derivative", "says"),
    [
        (lambda g, ans, a: g * y, "y"),
        (lambda g, ans, a: g * sp.Symbol("t"), "t"),
        (lambda g, ans, a: np.array([g, g]), "array"),
        (lambda g, ans, a: sp.Matrix([g]), "matrix"),
        (lambda g, ans, a: "g", "expression"),
        (lambda g, ans, a: (g, g), "2"),  # two contributions for one argument
        (lambda g, ans: g, "argument"),  # the wrong signature
        (lambda g, ans, a: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_bad_derivatives_are_refused_at_register_time(derivative, says):
    cls = fresh("BadDerivative")
    with pytest.raises(CircuitError, match=says):
        circuitc.register(cls, derivative=derivative, numpy="sin")


def test_bad_derivative_error_names_the_function():
    cls = fresh("Named")
    with pytest.raises(CircuitError, match="Named"):
        circuitc.register(cls, derivative=lambda g, ans, a: g * y, numpy="sin")


# -- an import path: "module:attr" ---------------------------------------------------------------
def test_an_import_path_computes_the_function():
    Erfc = fresh("ErfcPath")
    circuitc.register(
        Erfc,
        derivative=lambda g, ans, a: -2 * g * sp.exp(-(a**2)) / sp.sqrt(sp.pi),
        numpy="scipy.special:erfc",
        name="erfc_path",
    )
    m = circuitc.compile(Erfc(x) * 3, wrt=[x], name="reg_erfc")
    assert "import circuitc" not in m.__source__
    for v in (-6.0, -1.0, 0.0, 1e-8, 0.5, 3.0, 26.0):
        value, grad = m.value_and_grad(x=v)
        assert_close(value, 3 * mp(mpmath.erfc, v), "mpmath", f"erfc({v})")
        slope = mp(lambda a: -6 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-(a**2)), v)
        assert_close(grad["x"], slope, "mpmath", f"erfc'({v})")
        fd = central_diff(lambda t: m.forward(x=t), v)
        assert_close(grad["x"], fd, "central", f"erfc'({v}) vs central differences")


def test_the_module_is_imported_only_where_used():
    Gammaln = fresh("GammalnPath")
    circuitc.register(
        Gammaln,
        derivative=lambda g, ans, a: g * sp.polygamma(0, a),
        numpy="scipy.special:gammaln",
        name="gammaln_path",
    )
    # polygamma is not supported: the derivative's ops are checked when a gradient needs them
    plain = circuitc.source(sp.sin(x), wrt=[x], name="plain")
    assert "scipy" not in plain
    used = circuitc.source(Gammaln(y) + x, wrt=[x], name="uses_gammaln")
    assert "scipy.special" in used
    m = circuitc.compile(Gammaln(y) + x, wrt=[x], name="uses_gammaln")
    assert_close(m.forward(x=1.0, y=4.5), 1.0 + mp(mpmath.loggamma, 4.5), "mpmath", "gammaln")


def test_the_import_path_is_never_derived_from_the_object():
    """A callable is refused with a message that shows the explicit spelling."""
    import scipy.special

    with pytest.raises(CircuitError, match="scipy.special:erf"):
        circuitc.register(
            fresh("FromObject"), derivative=lambda g, ans, a: g, numpy=scipy.special.erf
        )


def test_an_emitted_module_names_the_missing_package(tmp_path):
    """Run without the package the import path names: one clear ImportError naming it."""
    Erfcx = fresh("ErfcxPath")
    circuitc.register(
        Erfcx,
        derivative=lambda g, ans, a: g * (2 * a * ans - 2 / sp.sqrt(sp.pi)),
        numpy="scipy.special:erfcx",
        name="erfcx_path",
    )
    out = tmp_path / "erfcx_mod.py"
    circuitc.compile(Erfcx(x), wrt=[x], name="erfcx_mod", out=str(out))
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["scipy"] = None  # as if SciPy were not installed
        sys.path.insert(0, {str(tmp_path)!r})
        try:
            import erfcx_mod
        except ImportError as e:
            print("ImportError:", e)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert "ImportError:" in run.stdout and "scipy" in run.stdout, run.stdout + run.stderr


# -- an expression in supported ops ---------------------------------------------------------------
def test_an_expression_defines_the_function_and_its_derivative():
    Softsign = fresh("Softsign")
    circuitc.register(Softsign, expr=lambda a: a / (1 + sp.Abs(a)))
    m = circuitc.compile(Softsign(x) ** 2 + Softsign(2 * x), wrt=[x], name="reg_softsign")

    def f(a):
        return (a / (1 + abs(a))) ** 2 + 2 * a / (1 + abs(2 * a))

    def slope(a):  # d/da a/(1+|a|) = 1/(1+|a|)², written by hand
        return 2 * (a / (1 + abs(a))) / (1 + abs(a)) ** 2 + 2 / (1 + abs(2 * a)) ** 2

    for v in (-1e8, -3.0, -0.2, 0.0, 1e-8, 0.7, 5.0, 1e300):
        value, grad = m.value_and_grad(x=v)
        assert_close(value, mp(f, v), "mpmath", f"softsign({v})")
        assert_close(grad["x"], mp(slope, v), "mpmath", f"softsign'({v})")


def test_an_expression_of_two_arguments_and_a_sympy_lambda():
    a, b = sp.symbols("a b")
    Smooth = fresh("SmoothMaxTest", nargs=2)
    circuitc.register(Smooth, expr=sp.Lambda((a, b), sp.log(sp.exp(a) + sp.exp(b))))
    m = circuitc.compile(Smooth(x, y), wrt=[x, y], name="reg_smooth")
    for p, q in ((0.0, 0.0), (1.5, -2.0), (-3.0, 0.25)):
        value, grad = m.value_and_grad(x=p, y=q)
        with mpmath.workdps(DPS):
            e1, e2 = mpmath.exp(p), mpmath.exp(q)
            assert_close(value, float(mpmath.log(e1 + e2)), "mpmath", "value")
            assert_close(grad["x"], float(e1 / (e1 + e2)), "mpmath", "d/dx")
            assert_close(grad["y"], float(e2 / (e1 + e2)), "mpmath", "d/dy")


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        (lambda a: a * y, "y"),  # another symbol
        (lambda a: sp.gamma(a), "gamma"),  # an unsupported function
        (lambda a: sp.Matrix([a]), "matrix"),
        (lambda a: np.sin(1.0) + a * np.ones(2), "array"),
        (lambda a, b: a + b, "argument"),  # the wrong number of arguments
        (lambda a: "a + 1", "expression"),
    ],
)
def test_bad_expressions_are_refused_at_register_time(expr, says):
    with pytest.raises(CircuitError, match=says):
        circuitc.register(fresh("BadExpr"), expr=expr)


def test_an_expression_that_uses_itself_is_refused():
    Loop = fresh("LoopExpr")
    with pytest.raises(CircuitError, match="LoopExpr"):
        circuitc.register(Loop, expr=lambda a: Loop(a) + 1)


def test_expression_and_numpy_together_are_refused():
    with pytest.raises(CircuitError, match="expr"):
        circuitc.register(fresh("Both"), expr=lambda a: a, numpy="sin")
    with pytest.raises(CircuitError, match="derivative"):
        circuitc.register(fresh("Both2"), expr=lambda a: a, derivative=lambda g, ans, a: g)


def test_a_numpy_name_needs_a_derivative():
    with pytest.raises(CircuitError, match="derivative"):
        circuitc.register(fresh("NoDerivative"), numpy="sin")


# -- erf is built in -------------------------------------------------------------------------------
ERF_GRID = [-30.0, -6.0, -1.0, -1e-8, -0.0, 0.0, 5e-324, 1e-8, 0.5, 2.0, 6.0, 30.0]


def test_erf_is_built_in():
    m = circuitc.compile(sp.erf(x) * x, wrt=[x], name="erf_builtin")
    for v in ERF_GRID:
        value, grad = m.value_and_grad(x=v)
        assert type(value) is float
        assert_close(value, mp(lambda a: mpmath.erf(a) * a, v), "mpmath", f"x·erf({v})")
        hand = mp(lambda a: mpmath.erf(a) + a * 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-(a**2)), v)
        assert_close(grad["x"], hand, "mpmath", f"(x·erf)'({v})")


def test_erf_without_scipy_is_a_clear_error(tmp_path):
    """The NumPy path needs SciPy's erf: without SciPy, compile says so in one sentence."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["scipy"] = None  # as if SciPy were not installed
        import sympy as sp, circuitc
        x = sp.Symbol("x")
        try:
            circuitc.compile(sp.erf(x), wrt=[x], name="e")
        except circuitc.CircuitError as e:
            print("CircuitError:", e)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert "CircuitError:" in run.stdout and "SciPy" in run.stdout, run.stdout + run.stderr
    assert "erf" in run.stdout


def test_erf_in_a_batch_and_float32():
    m = circuitc.compile(sp.erf(x), wrt=[x], name="erf_batch")
    xs = np.array(ERF_GRID)
    values, grads = m.value_and_grad(x=xs)
    for k, v in enumerate(ERF_GRID):
        assert values[k] == m.forward(x=v)
        assert_close(grads["x"][k], 2 / math.sqrt(math.pi) * math.exp(-v * v), "mpmath", str(v))
    v32, g32 = m.value_and_grad(x=xs.astype(np.float32))
    assert v32.dtype == np.float32 and g32["x"].dtype == np.float32
