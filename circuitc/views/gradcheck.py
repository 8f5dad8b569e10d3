"""The gradient check: the backward pass against central differences (notes 2.4, eq. 7).

Eq. 7 of the notes, done right:

* **central differences** ``(E(θ + εd) − E(θ − εd)) / 2ε`` estimate the *directional*
  derivative ``∇E·d``; the notes divide by ``d_i``, which gives ``∂E/∂θ_i`` only when ``d``
  is the coordinate direction ``e_i``. So a coordinate probe compares with ``∂E/∂θ_i`` and a
  random-direction probe compares with ``∇E·d``.
* **ε is not "close to machine epsilon"**: the truncation error of a central difference is
  O(ε²) and its rounding error O(u/ε), so the best ε is near ``u^(1/3)`` ≈ 6e-6 times the
  scale of the argument. circuitc uses ``ε = 1e-6 · max(1, |θ_i|)`` per coordinate (and the
  step actually taken, ``(θ+ε) − (θ−ε)`` in floating point, as the divisor). Where that
  step would leave the function's domain (``log`` at θ = 1e-7), it shrinks to ``ε · |θ|``
  and halves until both probes are finite.
* an argument with more than ``samples`` (20) entries is probed along one random unit
  direction (which touches every entry) plus ``samples`` randomly chosen coordinates; a
  smaller one is probed along every coordinate.

A probe passes when ``|numeric − analytic| <= rtol·max(|numeric|, |analytic|) + atol_k``,
where ``atol_k = atol · max(1, |E|) / max(1, |θ_k|)`` is the rounding noise floor of the
central difference (it grows with the size of ``E`` and shrinks with ε).

The point is ``at`` where given, and elsewhere a seeded random draw: each entry of magnitude
in [0.2, 1.2] (away from 0 and the usual kinks), first with random signs, then all positive,
then mixed again; the first draw where J, its gradient and every probe are finite is used.
"""

from __future__ import annotations

import math
import textwrap
import types
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..emit.render import render
from ..errors import CircuitError
from ..front.circuit import as_circuit
from ..loader import load_source
from ..pipeline import build
from .points import DIM_SIZES  # noqa: F401 - re-exported: the sizes check binds
from .points import bind_dims as _bind_dims
from .points import draw as _draw
from .second_check import has_second_order, second_order_probes
from .table import first_nonfinite

#: entries probed one by one before an argument is probed by a random direction + samples
SAMPLES = 20
#: default tolerances (see the module docstring)
RTOL = 1e-5
ATOL = 1e-7
#: the relative step: ε = EPS · max(1, |θ|)
EPS = 1e-6
#: halvings of a step that left the domain before the probe is given up as non-finite
SHRINK_TRIES = 30
#: random draws tried before giving up on finding a point inside the domain
TRIES = 60


@dataclass(frozen=True)
class CheckRow:
    """The comparison for one parameter.

    Attributes:
        name: the parameter.
        shape: its shape (``()`` for a scalar).
        probes: how many comparisons were made (coordinates, plus a random direction for an
            argument with more than 20 entries).
        max_abs_error: the largest ``|numeric − analytic|`` over the probes.
        max_rel_error: the largest ``|numeric − analytic| / max(|numeric|, |analytic|)``
            (0 where both are 0).
        passed: every probe within tolerance.
    """

    name: str
    shape: tuple
    probes: int
    max_abs_error: float
    max_rel_error: float
    passed: bool


@dataclass
class CheckReport:
    """The result of ``circuitc.check``.

    Attributes:
        name: the circuit's name.
        rows: one ``CheckRow`` per parameter, in ``WRT`` order.
        point: every argument's value at the point checked (floats or arrays).
        value: ``sum(J)`` at that point.
        seed: the seed of the random point, directions and samples.
        rtol, atol: the tolerances used.
        nonfinite: where J or a gradient first turns inf/nan (the node ``circuitc table``'s
            NaN hunting finds), or "" when everything is finite or the circuit is not at hand.
        second_order: ``jvp`` against the directional central difference of ``forward`` and
            each parameter's ``hvp`` against central differences of ``grad`` (one random
            direction; empty for a module without them, as one compiled with
            ``second_order=False`` or above "auto"'s size), printed under the gradient rows.
        passed: every row passed, the second-order ones too.

    ``str(report)`` is the text ``circuitc check`` prints; ``report.format("markdown")``
    gives a Markdown table.
    """

    name: str
    rows: list[CheckRow]
    point: dict[str, float | np.ndarray]
    value: float
    seed: int
    rtol: float = RTOL
    atol: float = ATOL
    nonfinite: str = ""  # where a non-finite value or gradient starts (report.first_nonfinite)
    # jvp against directional differences, each parameter's hvp against differences of grad
    second_order: list[CheckRow] = field(default_factory=list)
    passed: bool = field(init=False)

    def __post_init__(self) -> None:
        self.passed = all(row.passed for row in self.rows + self.second_order)

    def __str__(self) -> str:
        return self.format("text")

    def _repr_markdown_(self) -> str:
        """The notebook view: the report as a Markdown table."""
        return self.format("markdown")

    def format(self, fmt: str = "text") -> str:
        """The report as ``"text"`` (what the CLI prints) or ``"markdown"``."""
        if fmt not in ("text", "markdown"):
            raise ValueError(f"unknown report format {fmt!r} (choose text or markdown)")
        header = ["parameter", "shape", "probes", "max abs error", "max rel error", "result"]
        body = [
            [
                r.name,
                _shape_text(r.shape),
                str(r.probes),
                f"{r.max_abs_error:.2e}",
                f"{r.max_rel_error:.2e}",
                "ok" if r.passed else "FAILED",
            ]
            for r in self.rows + self.second_order
        ]
        verdict = "passed" if self.passed else "FAILED"
        title = f"gradient check of '{self.name}': {verdict}"
        point = "point: " + ", ".join(f"{k}={_value_text(v)}" for k, v in self.point.items())
        info = (
            f"J = {self.value:.6g}; seed {self.seed}; a probe passes when "
            f"|error| <= {self.rtol:g}*|dJ| + {self.atol:g}*max(1,|J|)/max(1,|arg|)"
        )
        if fmt == "markdown":
            lines = [f"**{title}**", "", point, "", info, ""]
            lines += [self.nonfinite, ""] if self.nonfinite else []
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "|".join("---" for _ in header) + "|")
            lines += ["| " + " | ".join(row) + " |" for row in body]
            return "\n".join(lines) + "\n"
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        point = textwrap.fill(point, width=100, subsequent_indent="    ", break_long_words=False)
        lines = [title, point, info] + ([self.nonfinite] if self.nonfinite else []) + [""]
        for row in [header, *body]:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        return "\n".join(line.rstrip() for line in lines) + "\n"


def _shape_text(shape: tuple) -> str:
    return "scalar" if shape == () else "x".join(str(n) for n in shape)


def _value_text(value) -> str:
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return f"<array {_shape_text(value.shape)}>"
    return f"{float(value):.6g}"


# -- the check ------------------------------------------------------------------------------


def check(
    circuit_or_module,
    at: Mapping[str, object] | None = None,
    seed: int = 0,
    *,
    wrt=None,
    rtol: float = RTOL,
    atol: float = ATOL,
    eps: float = EPS,
    samples: int = SAMPLES,
) -> CheckReport:
    """Check a circuit's backward pass against central differences.

    Args:
        circuit_or_module: a ``Circuit``, a SymPy expression (with ``wrt=``), or a module
            compiled by circuitc (from ``circuitc.compile`` or a generated file).
        at: values for some or all arguments (floats or arrays; a float given for a matrix
            argument fills it). The others are drawn at random, seeded by ``seed``.
        seed: the seed of the random point, directions and sampled coordinates.
        wrt: the parameters, for a bare expression.
        rtol, atol, eps, samples: see the module docstring.

    Returns:
        A ``CheckReport``; ``report.passed`` says whether every parameter passed.

    Raises:
        CircuitError: the circuit does not compile, ``at`` names an unknown argument, or no
            random point with a finite J and gradient was found.
    """
    module, shapes, known_shapes = _module_and_shapes(circuit_or_module, wrt)
    params = list(module.WRT)
    given = _given(module, at)
    shapes = _bind_dims(shapes, given)
    rng = np.random.default_rng(seed)
    point, value, probes = _probed_point(module, shapes, given, rng, (eps, samples), known_shapes)
    rows = [_row(name, shapes[name], probes[name], value, rtol, atol) for name in params]
    second: list[CheckRow] = []
    if has_second_order(module) and params:
        with np.errstate(all="ignore"):
            for name, shape, pairs, size in second_order_probes(module, point, rng, eps, samples):
                second.append(_row(name, shape, pairs, size, rtol, atol))
    nonfinite = ""
    if not math.isfinite(value) or any(not math.isfinite(r.max_abs_error) for r in rows):
        nonfinite = _nonfinite_pointer(circuit_or_module, wrt, point)
    return CheckReport(module.NAME, rows, point, value, seed, rtol, atol, nonfinite, second)


def _given(module, at: Mapping[str, object] | None) -> dict[str, np.ndarray]:
    """The values ``at`` gives, as float64 arrays; a name the module does not take is refused."""
    names = list(module.WRT) + list(module.INPUTS)
    at = dict(at or {})
    unknown = sorted(set(at) - set(names))
    if unknown:
        raise CircuitError(
            f"check: {unknown[0]!r} is not an argument of '{module.NAME}' "
            f"(it takes {', '.join(names)})"
        )
    return {k: np.asarray(v, dtype=np.float64) for k, v in at.items()}


def _probed_point(module, shapes, given, rng, probing: tuple[float, int], known_shapes: bool):
    """The point of the check (``given`` completed at random) with J's value there and every
    parameter's probes: the first of ``TRIES`` random draws where all of them are finite (or
    the one point ``given`` when it names every argument)."""
    names = list(module.WRT) + list(module.INPUTS)
    all_given = len(given) == len(names)
    problem = ""
    for attempt in range(1 if all_given else TRIES):
        point = _draw(rng, attempt, names, shapes, given)
        try:
            value, probes = _probe(module, point, rng, probing)
        except ValueError as exc:
            # the module refused an argument (a shape): another random draw will not help
            hint = "" if known_shapes else "; this module carries no shapes: give arrays with at="
            raise CircuitError(f"check: {exc}{hint}") from exc
        except ArithmeticError as exc:
            if all_given:
                raise CircuitError(f"check: {exc}") from exc
            problem = f" (last: {exc})"
            continue
        finite = math.isfinite(value) and all(
            math.isfinite(num) and math.isfinite(ana)
            for plist in probes.values()
            for num, ana, _ in plist
        )
        if finite or all_given:
            return point, value, probes
    raise CircuitError(
        f"check: found no point where '{module.NAME}' and its gradient are finite "
        f"in {TRIES} random draws{problem}; give one with at= (--at NAME=VALUE)"
    )


def _probe(module, point, rng, probing: tuple[float, int]):
    """sum(J) at ``point`` and, for each parameter, its probes against central differences."""
    eps, samples = probing

    def total(at) -> float:
        return float(np.sum(module.forward(**at)))

    with np.errstate(all="ignore"):
        value, grads = module.value_and_grad(**point)
        value = float(np.sum(value))
        probes = {
            name: _probes(total, point, name, grads[name], rng, eps, samples) for name in module.WRT
        }
    return value, probes


def _nonfinite_pointer(obj, wrt, point) -> str:
    """The first non-finite node (``circuitc table``'s NaN hunting), or "" when unknown."""
    try:
        found = first_nonfinite(obj, point, wrt=wrt)
    except CircuitError:  # e.g. a generated file, whose circuit is not at hand
        return ""
    return str(found) if found is not None else ""


def _module_and_shapes(
    obj, wrt, second_order: bool | str = "auto"
) -> tuple[types.ModuleType, dict[str, tuple], bool]:
    """The compiled module (a circuit is compiled with ``second_order``), every argument's
    shape (dimension symbols as strings), and whether those shapes are known (a generated
    file without metadata: all scalars)."""
    if isinstance(obj, types.ModuleType):
        if not all(hasattr(obj, a) for a in ("WRT", "INPUTS", "forward", "value_and_grad")):
            raise CircuitError(f"check: module {obj.__name__!r} was not generated by circuitc")
        shapes = getattr(obj, "SHAPES", None)
        if shapes is None and getattr(obj, "__circuit__", None) is not None:
            shapes = build(obj.__circuit__).shapes
        known = shapes is not None
        if shapes is None:
            shapes = {}  # a generated file without shape metadata: scalars unless at= says
        return obj, {n: tuple(shapes.get(n, ())) for n in (*obj.WRT, *obj.INPUTS)}, known
    circuit = as_circuit(obj, wrt, "circuit")  # a Circuit keeps its own name
    compiled = build(circuit, second_order=second_order)
    module = load_source(render(compiled), circuit.name)
    return module, dict(compiled.shapes), True


def _probes(total, point, name, grad, rng, eps, samples) -> list[tuple[float, float, float]]:
    """``(numeric, analytic, |θ| scale)`` for each probe of one parameter."""
    x = point[name]
    grad = np.asarray(grad, dtype=np.float64)
    if np.ndim(x) == 0:
        return [_coordinate(total, point, name, None, float(grad), eps)]
    out = []
    size = x.size
    if size > samples:
        # one random direction touching every entry (eq. 7 compares with ∇E·d, not ∂E/∂θ_i)
        d = rng.standard_normal(x.shape)
        d /= np.linalg.norm(d)
        scale = max(1.0, float(np.max(np.abs(x))))
        h = eps * scale
        plus, minus = x + h * d, x - h * d
        numeric = (total({**point, name: plus}) - total({**point, name: minus})) / (2 * h)
        out.append((numeric, float(np.sum(grad * d)), scale))
        flat = rng.choice(size, size=samples, replace=False)
    else:
        flat = range(size)
    for k in flat:
        index = np.unravel_index(int(k), x.shape)
        out.append(_coordinate(total, point, name, index, float(grad[index]), eps))
    return out


def _coordinate(total, point, name, index, analytic: float, eps: float):
    """A central difference along one coordinate, divided by the step actually taken.

    The step is ``eps · max(1, |θ|)``. Where that step leaves the function's domain (log at
    θ = 1e-7 would be probed at -9e-7) while θ itself is inside it, the step shrinks to
    ``eps · |θ|`` and then halves until both probes are finite: a correct gradient near a
    singularity is not reported as FAILED.
    """
    x = point[name]
    v = float(x) if index is None else float(x[index])
    scale = max(1.0, abs(v))

    def at(value: float) -> float:
        if index is None:
            return total({**point, name: value})
        moved = x.copy()
        moved[index] = value
        return total({**point, name: moved})

    h = eps * scale
    up, down = v + h, v - h
    f_up, f_down = at(up), at(down)
    if not (math.isfinite(f_up) and math.isfinite(f_down)) and v != 0 and math.isfinite(at(v)):
        h = min(h, eps * abs(v))
        for _ in range(SHRINK_TRIES):
            up, down = v + h, v - h
            f_up, f_down = at(up), at(down)
            if math.isfinite(f_up) and math.isfinite(f_down):
                break
            h /= 2
    return ((f_up - f_down) / (up - down), analytic, scale)


def _row(name, shape, probes, value, rtol, atol) -> CheckRow:
    max_abs = max_rel = 0.0
    passed = True
    for numeric, analytic, scale in probes:
        err = abs(numeric - analytic)
        big = max(abs(numeric), abs(analytic))
        if not math.isfinite(err):
            err, rel, ok = math.inf, math.inf, False
        else:
            rel = err / big if big > 0 else 0.0
            ok = err <= rtol * big + atol * max(1.0, abs(value)) / scale
        max_abs, max_rel = max(max_abs, err), max(max_rel, rel)
        passed = passed and ok
    return CheckRow(name, tuple(shape), len(probes), max_abs, max_rel, passed)
