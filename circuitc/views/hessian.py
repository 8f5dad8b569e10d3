"""The full Hessian of sum(J), built column by column from the module's Hessian-vector products.

``hvp`` gives (∇² ΣJ)·v for one v at a small constant times the cost of a gradient (forward
over reverse), so the n columns ``H e_k`` cost n such passes: fine for the small parameter
counts a full Hessian is wanted for (a Newton step, a curvature check, a student's table),
and refused above ``MAX_PARAMETERS`` (use ``hvp`` directly there, as Newton-CG does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import CircuitError
from .gradcheck import _bind_dims, _draw, _module_and_shapes
from .second_check import has_second_order

#: above this many parameter entries ``hessian`` refuses (n HVPs and an n×n matrix)
MAX_PARAMETERS = 4096


@dataclass
class HessianReport:
    """The Hessian of sum(J) at one point.

    Attributes:
        name: the circuit's name.
        wrt: the parameters, in the module's ``WRT`` order.
        shapes: each parameter's shape at this point.
        matrix: the n×n Hessian, parameters in ``WRT`` order, each flattened in C order.
        blocks: ``blocks[(p, q)]`` is d²ΣJ/dp dq, of shape ``shapes[p] + shapes[q]``.
        point: the arguments it was computed at.
    """

    name: str
    wrt: list[str]
    shapes: dict[str, tuple]
    matrix: np.ndarray
    blocks: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    point: dict = field(default_factory=dict)

    @property
    def asymmetry(self) -> float:
        """max |H − Hᵀ| (rounding only: the columns come from separate passes)."""
        return float(np.max(np.abs(self.matrix - self.matrix.T))) if self.matrix.size else 0.0

    def __str__(self) -> str:
        n = self.matrix.shape[0]
        lines = [f"Hessian of sum(J) for '{self.name}': {n}×{n}, parameters {', '.join(self.wrt)}"]
        if n <= 12:
            with np.printoptions(precision=6, suppress=True, linewidth=100):
                lines.append(str(self.matrix))
        if n:
            eig = np.linalg.eigvalsh((self.matrix + self.matrix.T) / 2)
            lines.append(f"eigenvalues: min {eig[0]:.6g}, max {eig[-1]:.6g}")
        lines.append(f"max |H - H.T| = {self.asymmetry:.3g}")
        return "\n".join(lines)


def _with_hvp(circuit_or_module, wrt):
    """The module (a circuit compiled with ``second_order=True``) and its arguments' shapes;
    a module without a working ``hvp`` is a CircuitError."""
    module, shapes, _ = _module_and_shapes(circuit_or_module, wrt, second_order=True)
    if not has_second_order(module):
        raise CircuitError(
            f"hessian: module '{module.NAME}' has no hvp(); compile it again with second_order=True"
        )
    return module, shapes


def hessian(
    circuit_or_module, at: Mapping[str, object] | None = None, seed: int = 0, *, wrt=None
) -> HessianReport:
    """The full Hessian of sum(J) with respect to every parameter, from n HVPs.

    Args:
        circuit_or_module: a ``Circuit``, a SymPy expression (with ``wrt=``) or a module compiled
            by circuitc.
        at: values for the arguments (floats or arrays); the others are drawn at random as
            ``circuitc.check`` draws them, seeded by ``seed``.
        wrt: the parameters, for a bare expression.

    Raises:
        CircuitError: ``at`` names an unknown argument, the module has no ``hvp`` (generated
            by an older circuitc or another backend, or compiled with ``second_order`` False
            or above "auto"'s size; a circuit is compiled with ``second_order=True``), or it has more than ``MAX_PARAMETERS``
            parameter entries.
    """
    module, shapes = _with_hvp(circuit_or_module, wrt)
    params = list(module.WRT)
    names = params + list(module.INPUTS)
    at = dict(at or {})
    unknown = sorted(set(at) - set(names))
    if unknown:
        raise CircuitError(
            f"hessian: {unknown[0]!r} is not an argument of '{module.NAME}' "
            f"(it takes {', '.join(names)})"
        )
    given = {k: np.asarray(v) for k, v in at.items()}
    point = _draw(np.random.default_rng(seed), 0, names, _bind_dims(shapes, given), given)
    for k, v in at.items():
        point[k] = v  # the caller's own values, dtype and all
    sizes = [int(np.size(point[p])) for p in params]
    n = sum(sizes)
    if n > MAX_PARAMETERS:
        raise CircuitError(
            f"hessian: '{module.NAME}' has {n} parameter entries (more than {MAX_PARAMETERS}); "
            "use the module's hvp() instead of the full matrix"
        )
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    matrix = np.zeros((n, n))
    for i, p in enumerate(params):
        shape = np.shape(point[p])
        for k in range(sizes[i]):
            e = np.zeros(shape)
            e.flat[k] = 1.0
            column = module.hvp({p: e if shape else 1.0}, **point)
            matrix[:, offsets[i] + k] = np.concatenate(
                [np.ravel(np.asarray(column[q], dtype=np.float64)) for q in params]
            )
    shape_of = {p: tuple(np.shape(point[p])) for p in params}
    blocks = {
        (p, q): matrix[offsets[i] : offsets[i + 1], offsets[j] : offsets[j + 1]].reshape(
            shape_of[p] + shape_of[q]
        )
        for i, p in enumerate(params)
        for j, q in enumerate(params)
    }
    return HessianReport(module.NAME, params, shape_of, matrix, blocks, point)
