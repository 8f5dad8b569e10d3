"""``circuitc check``'s probes of forward mode and the Hessian-vector product (issue 13):
``jvp`` against directional central differences of ``forward``, ``hvp`` against central
differences of ``grad`` along the same direction (the comparison itself is gradcheck's)."""

from __future__ import annotations

import numpy as np


def has_second_order(module) -> bool:
    """Whether ``module`` has working ``jvp`` and ``hvp``: not a module compiled without them
    (``SECOND_ORDER = False``, whose functions only raise), nor one that has none (numba)."""
    return bool(getattr(module, "SECOND_ORDER", True)) and all(
        hasattr(module, f) for f in ("jvp", "hvp")
    )


def second_order_probes(module, point, rng, eps: float, samples: int) -> list[tuple]:
    """Forward mode and the Hessian-vector product along one seeded random direction v:
    ``jvp``'s J-dot against the directional central difference of ``forward`` (entry by
    entry), and each parameter's ``hvp`` against the central difference of ``grad`` along v.
    Returns ``(row name, shape, [(numeric, analytic, scale)], size of the value)`` per row."""
    params = list(module.WRT)
    v = {}
    for n in params:
        d = rng.standard_normal(np.shape(point[n]))
        v[n] = float(d) if np.ndim(point[n]) == 0 else d
    scale = max([1.0] + [float(np.max(np.abs(point[n]))) for n in params])
    h = _step(module, point, params, v, eps * scale, eps)

    def moved(sign: float) -> dict:
        return _moved(point, params, v, sign * h)

    up, down = moved(1.0), moved(-1.0)
    J, dot = module.jvp(v, **point)
    numeric = (np.asarray(module.forward(**up)) - np.asarray(module.forward(**down))) / (2 * h)
    value = max(1.0, float(np.max(np.abs(J))))
    rows = [("J-dot (jvp)", np.shape(dot), _pairs(numeric, dot, scale, rng, samples), value)]
    hv = module.hvp(v, **point)
    g_up, g_down = module.grad(**up), module.grad(**down)
    for n in params:
        numeric = (np.asarray(g_up[n]) - np.asarray(g_down[n])) / (2 * h)
        size = max(1.0, float(np.max(np.abs(g_up[n]))))
        pairs = _pairs(numeric, hv[n], scale, rng, samples)
        rows.append((f"H.v: {n} (hvp)", np.shape(hv[n]), pairs, size))
    return rows


#: how many times a step that leaves the domain is halved (as gradcheck's coordinate probes)
SHRINK_TRIES = 40


def _moved(point, params, v, step: float) -> dict:
    """The point moved by ``step · v`` (Python floats stay floats)."""
    out = dict(point)
    for n in params:
        p = np.asarray(point[n], dtype=np.float64) + step * np.asarray(v[n])
        out[n] = float(p) if np.ndim(point[n]) == 0 else p
    return out


def _step(module, point, params, v, h: float, eps: float) -> float:
    """``eps · scale``, or, where a probe at ±h leaves the domain (log near 0), ``eps`` times
    the smallest non-zero entry, halved until both probes and their gradients are finite."""

    def finite(step: float) -> bool:
        for sign in (1.0, -1.0):
            at = _moved(point, params, v, sign * step)
            g = module.grad(**at)
            if not (
                np.all(np.isfinite(module.forward(**at)))
                and all(np.all(np.isfinite(g[n])) for n in params)
            ):
                return False
        return True

    if finite(h):
        return h
    sizes = [np.abs(np.asarray(point[n], dtype=np.float64)) for n in params]
    smallest = min((float(np.min(a[a > 0])) for a in sizes if np.any(a > 0)), default=1.0)
    h = min(h, eps * smallest)
    for _ in range(SHRINK_TRIES):
        if finite(h):
            break
        h /= 2
    return h


def _pairs(numeric, analytic, scale, rng, samples) -> list[tuple[float, float, float]]:
    """``(numeric, analytic, scale)`` per entry, at most ``samples`` entries (seeded choice)."""
    numeric = np.ravel(np.asarray(numeric, dtype=np.float64))
    analytic = np.ravel(np.asarray(analytic, dtype=np.float64))
    index = np.arange(numeric.size)
    if numeric.size > samples:
        index = np.sort(rng.choice(numeric.size, samples, replace=False))
    return [(float(numeric[i]), float(analytic[i]), scale) for i in index]
