"""Points to evaluate a circuit at: the arguments not given, drawn at random and seeded.

``circuitc check`` and ``circuitc table``/``graph`` with ``--at`` share this: dimension symbols
(N, D, ...) are bound from the arrays given, else to small sizes, and every argument not given
is drawn with entries of magnitude in [0.2, 1.2] (away from 0 and the usual kinks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import CircuitError

#: size bound to each matrix dimension symbol (N, D, …) that no argument fixes, in order
DIM_SIZES = (3, 4, 5, 6, 7)


def _shape_text(shape: tuple) -> str:
    return "scalar" if shape == () else "x".join(str(n) for n in shape)


def bind_dims(
    shapes: dict[str, tuple], given: dict[str, np.ndarray], what: str = "check"
) -> dict[str, tuple]:
    """Concrete shapes: dimension symbols bound from the given arrays, else small sizes."""
    bound: dict[str, int] = {}
    for name, shape in shapes.items():
        value = given.get(name)
        if value is None or value.ndim == 0 or shape == ():
            continue
        if len(value.shape) != len(shape):
            raise CircuitError(
                f"{what}: {name!r} has shape {_shape_text(tuple(shape))}, "
                f"got an array of shape {_shape_text(value.shape)}"
            )
        for dim, n in zip(shape, value.shape, strict=True):
            if isinstance(dim, str):
                bound.setdefault(dim, n)
    free = sorted({d for s in shapes.values() for d in s if isinstance(d, str)} - set(bound))
    for dim, size in zip(free, DIM_SIZES * (len(free) // len(DIM_SIZES) + 1), strict=False):
        bound[dim] = size
    out = {
        n: tuple(bound[d] if isinstance(d, str) else int(d) for d in s) for n, s in shapes.items()
    }
    for name, value in given.items():
        if out[name] == () and value.ndim > 0:
            out[name] = value.shape  # a scalar symbol given an array: checked entry by entry
    return out


def draw(rng, attempt: int, names, shapes, given) -> dict[str, float | np.ndarray]:
    """One candidate point: entries of magnitude in [0.2, 1.2], signs by the attempt."""
    point: dict[str, float | np.ndarray] = {}
    for name in names:
        shape = shapes[name]
        if name in given:
            value = given[name]
            point[name] = (
                float(value)
                if value.ndim == 0 and shape == ()
                else (np.broadcast_to(value, shape).astype(np.float64))
            )
            continue
        magnitude = rng.uniform(0.2, 1.2, size=shape)
        positive = 10 <= attempt < 20
        sign = 1.0 if positive else rng.choice([-1.0, 1.0], size=shape)
        value = magnitude * sign
        point[name] = float(value) if shape == () else np.asarray(value, dtype=np.float64)
    return point


def fill(shapes: dict[str, tuple], at: Mapping[str, Any], seed: int = 0) -> dict[str, Any]:
    """``at`` with every argument of ``shapes`` it does not give drawn at random (seeded); the
    values given are kept as they are. The order is that of ``shapes``."""
    missing = [n for n in shapes if n not in at]
    if not missing:
        return dict(at)
    given = {}
    for name, value in at.items():
        try:
            given[name] = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            continue  # the module's own check words the error
    concrete = bind_dims(shapes, {k: v for k, v in given.items() if k in shapes}, "at")
    drawn = draw(np.random.default_rng(seed), 0, missing, concrete, {})
    return {n: at[n] if n in at else drawn[n] for n in shapes} | {
        k: v for k, v in at.items() if k not in shapes
    }
