"""Independent oracles the tests compare circuitc with, and the one table of tolerances.

* ``central_grad`` / ``central_diff``: central differences (seed eq. 7, divided by the step of
  a *coordinate* direction), with the step ε ≈ 1e-6 × the scale of the argument;
* ``mp_eval``: a SymPy expression evaluated by mpmath at 30 significant digits (the expression
  is the small per-op one, never a circuitc product);
* ``vjp_check``: a random-direction check of the whole gradient against one directional central
  difference (seeded; directions are projected away from 0 so the check cannot pass vacuously);
* ``TOL``: every tolerance the suite uses, in one place.

Nothing here imports circuitc's compiler: an oracle must not share code with what it checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import mpmath
import numpy as np
import sympy as sp

#: (rtol, atol) per comparison. atol is relative to the scale of the compared value
#: (``max(1, |expected|)`` for a scalar), so one row serves tiny and huge magnitudes.
TOL: dict[str, tuple[float, float]] = {
    # float64 result vs an mpmath value at 30 digits: a few ulp, conditioning allowing
    "mpmath": (1e-12, 1e-14),
    # float64 vs mpmath where the op is ill-conditioned (1 - x² near |x| = 1, tan near a pole)
    "mpmath_edge": (1e-8, 1e-10),
    # reverse mode vs central differences with ε = 1e-6·scale (truncation ~ε², rounding ~1e-10)
    "central": (1e-6, 1e-7),
    # float32 arithmetic vs the float64 result
    "float32": (2e-5, 1e-6),
    # two float64 evaluations that should agree up to rounding (batch vs scalar, dual numbers)
    "exact": (1e-13, 1e-15),
}

#: the digits mpmath works with
MP_DPS = 30

#: relative central-difference step (docs/design.md: "ε ≈ 1e-6 × scale")
EPS = 1e-6


def close(actual, expected, kind: str = "mpmath", scale: float | None = None) -> bool:
    """True when ``actual`` is within ``TOL[kind]`` of ``expected`` (elementwise, all of them).

    ``scale`` fixes the size the absolute tolerance is measured against; by default it is
    ``max(1, |expected|)`` per element.
    """
    rtol, atol = TOL[kind]
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape and a.size != 1 and e.size != 1:
        return False
    s = np.maximum(1.0, np.abs(e)) if scale is None else scale
    with np.errstate(invalid="ignore", over="ignore"):
        both_inf = np.isinf(a) & np.isinf(e) & (np.sign(a) == np.sign(e))
        ok = both_inf | (np.abs(a - e) <= rtol * np.abs(e) + atol * s)
    return bool(np.all(ok))


def assert_close(actual, expected, kind: str = "mpmath", what: str = "", scale=None) -> None:
    """``close`` with a message that shows both values and the tolerance used."""
    if not close(actual, expected, kind, scale):
        rtol, atol = TOL[kind]
        raise AssertionError(
            f"{what}: got {actual!r}, expected {expected!r} (tolerance {kind}: rtol={rtol}, atol={atol})"
        )


# -- central differences --------------------------------------------------------------------------
def step(x: float, scale: float | None = None) -> float:
    """The central-difference step for a coordinate of value ``x``: ε·max(1, |x|) (or ε·scale)."""
    return EPS * (max(1.0, abs(x)) if scale is None else scale)


def central_diff(f: Callable[[float], float], x: float, scale: float | None = None) -> float:
    """(f(x+h) − f(x−h)) / 2h for a scalar function of one float."""
    h = step(x, scale)
    # the step actually taken, after rounding x ± h to floats
    hi, lo = x + h, x - h
    return (f(hi) - f(lo)) / (hi - lo)


def total(value) -> float:
    """sum(J) as a float64 (the quantity every circuitc gradient is of)."""
    return float(np.sum(np.asarray(value, dtype=np.float64)))


def central_grad(
    forward: Callable[..., object], point: Mapping[str, object], name: str, scale=None
) -> np.ndarray | float:
    """d sum(J) / d point[name] by central differences, one coordinate at a time."""
    base = point[name]
    arr = np.array(base, dtype=np.float64)
    out = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        x0 = float(arr[idx])

        def f(v, idx=idx):
            moved = arr.copy()
            moved[idx] = v
            kw = dict(point)
            kw[name] = float(moved) if moved.ndim == 0 else moved
            return total(forward(**kw))

        out[idx] = central_diff(f, x0, scale)
    return float(out) if out.ndim == 0 else out


def vjp_check(
    forward: Callable[..., object],
    grads: Mapping[str, object],
    point: Mapping[str, object],
    wrt: list[str],
    seed: int = 0,
    directions: int = 3,
) -> None:
    """Compare ⟨∇ sum(J), v⟩ with a directional central difference for random directions v.

    Each direction is a seeded Gaussian; when the projection ⟨g, v⟩ is tiny compared with
    |g|·|v| it is redrawn, so that a zero gradient cannot pass for a non-zero one.
    """
    rng = np.random.default_rng(seed)
    flat_g = np.concatenate([np.ravel(np.asarray(grads[n], dtype=np.float64)) for n in wrt])
    for _ in range(directions):
        for _attempt in range(20):
            v = {n: rng.standard_normal(np.shape(point[n])) for n in wrt}
            flat_v = np.concatenate([np.ravel(v[n]) for n in wrt])
            proj = float(flat_g @ flat_v)
            if (
                abs(proj) > 0.1 * np.linalg.norm(flat_g) * np.linalg.norm(flat_v)
                or not flat_g.any()
            ):
                break
        scale = max(1.0, max(float(np.max(np.abs(point[n]))) for n in wrt))
        h = EPS * scale

        def moved(sign, v=v, h=h):
            kw = dict(point)
            for n in wrt:
                kw[n] = np.asarray(point[n], dtype=np.float64) + sign * h * v[n]
                if np.ndim(point[n]) == 0:
                    kw[n] = float(kw[n])
            return total(forward(**kw))

        fd = (moved(+1) - moved(-1)) / (2 * h)
        assert_close(proj, fd, "central", "directional derivative", scale=max(1.0, abs(fd)))


# -- mpmath ---------------------------------------------------------------------------------------
def _heaviside(x, h0=0.5):
    return mpmath.mpf(1) if x > 0 else (mpmath.mpf(0) if x < 0 else mpmath.mpf(h0))


def _sigmoid(a):
    return 1 / (1 + mpmath.exp(-a))


def _softplus(a):
    return mpmath.log(1 + mpmath.exp(a))


#: how mpmath evaluates the functions SymPy's mpmath printer does not know
MP_FUNCTIONS: dict[str, Callable] = {
    "Heaviside": _heaviside,
    # the derivative of a step function away from its jump (the kink itself is tested apart)
    "DiracDelta": lambda x, k=0: mpmath.mpf(0),
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "sign": mpmath.sign,
}


#: circuitc's own SymPy functions written out, so that ``sp.diff`` of an oracle expression uses
#: SymPy's calculus only (never the ``fdiff`` circuitc gives its functions)
TEXTBOOK: dict[str, Callable] = {
    "sigmoid": lambda a: 1 / (1 + sp.exp(-a)),
    "softplus": lambda a: sp.log(1 + sp.exp(a)),
}


def textbook(expr: sp.Basic) -> sp.Basic:
    """``expr`` with circuitc's ``sigmoid``/``softplus`` replaced by their formulas (small exprs only).

    Differentiate this, not ``expr``: ``sp.diff(sigmoid(x))`` would call circuitc's own
    ``sigmoid.fdiff``, and an oracle must not share code with what it checks.
    """
    return expr.replace(
        lambda e: isinstance(e, sp.Function) and type(e).__name__ in TEXTBOOK,
        lambda e: TEXTBOOK[type(e).__name__](*e.args),
    )


def mp_function(
    expr: sp.Basic, symbols: list[sp.Symbol], extra: Mapping[str, Callable] | None = None
) -> Callable[[Mapping[str, float]], float]:
    """A function of a point (name -> float) that evaluates ``expr`` with mpmath at ``MP_DPS`` digits.

    The floats are taken exactly (``mpf(x)``); only the result is rounded to float64.
    ``extra`` maps the names of user-defined SymPy functions to mpmath implementations.
    """
    modules = [dict(MP_FUNCTIONS, **(extra or {})), "mpmath"]
    f = sp.lambdify(symbols, expr, modules=modules)

    def at(point: Mapping[str, float]) -> float:
        with mpmath.workdps(MP_DPS):
            return float(f(*(mpmath.mpf(point[s.name]) for s in symbols)))

    return at


def mp_eval(
    expr: sp.Basic,
    point: Mapping[str, float],
    symbols: list[sp.Symbol],
    extra: Mapping[str, Callable] | None = None,
) -> float:
    """``expr`` at ``point`` (floats, taken exactly), evaluated by mpmath at ``MP_DPS`` digits."""
    return mp_function(expr, symbols, extra)(point)


def mp_derivative(
    f: Callable[..., object], point: Mapping[str, float], names: list[str], name: str
) -> float:
    """∂f/∂name at ``point`` by ``mpmath.diff`` at ``MP_DPS`` digits; ``f`` takes mpf arguments."""
    with mpmath.workdps(MP_DPS):
        args = [mpmath.mpf(point[n]) for n in names]
        i = names.index(name)

        def along(t):
            moved = list(args)
            moved[i] = t
            return f(*moved)

        return float(mpmath.diff(along, args[i]))


def finite(x) -> bool:
    """True when every element is finite (no inf, no nan)."""
    return bool(np.all(np.isfinite(np.asarray(x, dtype=np.float64))))


__all__ = [
    "EPS",
    "MP_DPS",
    "TOL",
    "assert_close",
    "central_diff",
    "central_grad",
    "close",
    "finite",
    "mp_derivative",
    "mp_eval",
    "mp_function",
    "step",
    "textbook",
    "total",
    "vjp_check",
]
