"""Golden files: ``generated/`` is what circuitc emits for ``examples/``, byte for byte.

When the emitted code changes on purpose, regenerate the goldens and review the diff:

    pytest tests/test_golden.py --update      # rewrites generated/<circuit name>.py
    git diff generated/

(``circuitc compile examples/<file>.py -o generated/`` writes the same files.) The committed
modules are also imported as files and their numbers checked against hand-written NumPy and
central differences, so a golden cannot silently encode a wrong gradient.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import oracles
import pytest

import circuitc
from circuitc.cli import load_circuits
from circuitc.loader import import_file, write_atomic

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GENERATED = ROOT / "generated"
EXAMPLE_FILES = sorted(p.name for p in EXAMPLES.glob("*.py"))


def _diff(expected: str, actual: str, path: Path) -> str:
    lines = list(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"{path.relative_to(ROOT)} (committed)",
            tofile=f"{path.relative_to(ROOT)} (regenerated)",
        )
    )
    shown = "".join(lines[:200]) + (
        f"... ({len(lines) - 200} more lines)\n" if len(lines) > 200 else ""
    )
    return shown


@pytest.mark.parametrize("example", EXAMPLE_FILES)
def test_generated_matches_the_example(example, update_goldens):
    for circuit in load_circuits(str(EXAMPLES / example)):
        path = GENERATED / f"{circuit.name}.py"
        text = circuitc.source(circuit)
        if update_goldens:
            write_atomic(path, text)
            continue
        if not path.exists():
            pytest.fail(
                f"{path.relative_to(ROOT)} is missing: run 'pytest tests/test_golden.py --update'"
            )
        committed = path.read_text(encoding="utf-8")
        if committed != text:
            pytest.fail(
                f"{path.relative_to(ROOT)} differs from what circuitc emits for examples/{example} "
                "(if the change is intended: pytest tests/test_golden.py --update)\n"
                + _diff(committed, text, path),
                pytrace=False,
            )


def test_every_golden_has_an_example():
    names = {c.name for f in EXAMPLE_FILES for c in load_circuits(str(EXAMPLES / f))}
    stale = sorted(p.name for p in GENERATED.glob("*.py") if p.stem not in names)
    assert stale == [], f"generated/ files no example produces: {stale} (delete them)"


def test_goldens_import_only_math_and_numpy():
    for path in sorted(GENERATED.glob("*.py")):
        imports = [
            line.split()[1]
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.startswith(("import ", "from ")) and "__future__" not in line
        ]
        assert set(imports) <= {"math", "numpy", "numba"}, (path.name, imports)


# -- the golden modules' numbers, against oracles that do not use circuitc ----------------


def golden(name: str):
    return import_file(GENERATED / f"{name}.py")


def sigmoid(a):
    """1 / (1 + exp(-a)), without overflow for large |a|."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(a, dtype=float)))


def regression_point(rng, n=None):
    """θ_0..θ_4 scalars; x_1..x_4 and y* scalars, or arrays of n rows (a batch)."""
    shape = () if n is None else (n,)
    point = {f"theta_{j}": float(rng.normal()) for j in range(5)}
    for j in range(1, 5):
        v = rng.normal(size=shape)
        point[f"x_{j}"] = float(v) if n is None else v
    t = rng.uniform(0, 1, size=shape)
    point["y_star"] = float(t) if n is None else t
    return point


def design(point):
    """The rows [1, x_1, …, x_4] (x_0 = 1), and θ as a vector."""
    cols = [np.ones_like(np.asarray(point["x_1"], dtype=float))]
    cols += [np.asarray(point[f"x_{j}"], dtype=float) for j in range(1, 5)]
    theta = np.array([point[f"theta_{j}"] for j in range(5)])
    return np.stack(cols, axis=-1), theta


def hand_regression(kind: str, point):
    """J summed over the batch and dJ/dθ, written out by hand for each of the three models."""
    X, theta = design(point)
    t = np.asarray(point["y_star"], dtype=float)
    a = X @ theta
    if kind == "linear":
        y = a
        J = 0.5 * (y - t) ** 2
        dJ_da = y - t
    elif kind == "squared":
        y = sigmoid(a)
        J = 0.5 * (y - t) ** 2
        dJ_da = (y - t) * y * (1 - y)
    else:  # cross-entropy, written in the textbook (unstable) form: fine for moderate a
        y = sigmoid(a)
        J = -(t * np.log(y) + (1 - t) * np.log(1 - y))
        dJ_da = y - t
    grad = np.sum(dJ_da[..., None] * X, axis=tuple(range(X.ndim - 1)))
    return float(np.sum(J)), grad, y


REGRESSIONS = {
    "linear_regression": "linear",
    "logistic_regression": "squared",
    "logistic_regression_cross_entropy": "cross_entropy",
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
@pytest.mark.parametrize("batch", [None, 7])
def test_regression_goldens_match_hand_written_numpy(name, batch):
    module = golden(name)
    rng = np.random.default_rng(11)
    for _ in range(3):
        point = regression_point(rng, batch)
        J, g = module.value_and_grad(**point)
        J_hand, g_hand, y_hand = hand_regression(REGRESSIONS[name], point)
        oracles.assert_close(np.sum(J), J_hand, "exact", f"{name}: J", scale=max(1, abs(J_hand)))
        got = np.array([g[f"theta_{j}"] for j in range(5)])
        oracles.assert_close(got, g_hand, "exact", f"{name}: dJ/dtheta", scale=1.0)
        oracles.assert_close(module.predict(**point), y_hand, "exact", f"{name}: predict")
        for j in range(5):
            fd = oracles.central_grad(module.forward, point, f"theta_{j}")
            oracles.assert_close(g[f"theta_{j}"], fd, "central", f"{name}: theta_{j} vs central")


@pytest.mark.parametrize("a", [1e4, -1e4, 700.0, -745.0])
@pytest.mark.parametrize("target", [0.0, 1.0])
def test_cross_entropy_golden_is_stable_for_huge_logits(a, target):
    module = golden("logistic_regression_cross_entropy")
    point = {f"theta_{j}": 0.0 for j in range(1, 5)} | {f"x_{j}": 1.0 for j in range(1, 5)}
    point |= {"theta_0": a, "y_star": target}
    J, g = module.value_and_grad(**point)
    # -(t log σ(a) + (1-t) log(1-σ(a))) = t·softplus(-a) + (1-t)·softplus(a), exactly
    expected = target * np.logaddexp(0, -a) + (1 - target) * np.logaddexp(0, a)
    assert np.isfinite(J)
    assert abs(J - expected) <= 1e-15 * expected
    assert all(np.isfinite(v) for v in g.values())
    assert g["theta_0"] == pytest.approx(float(sigmoid(a)) - target, abs=1e-15)


def test_small_example_golden_matches_hand_derivative():
    module = golden("small_example")
    for x in (-1.3, -0.2, 0.0, 0.5, 2.0):
        u = np.sin(x**2) + 3 * x**2
        J, g = module.value_and_grad(x=x)
        oracles.assert_close(J, np.cos(u), "exact", "J")
        oracles.assert_close(g["x"], -np.sin(u) * (2 * x * np.cos(x**2) + 6 * x), "exact", "dJ/dx")
        oracles.assert_close(g["x"], oracles.central_grad(module.forward, {"x": x}, "x"), "central")


def two_layer_point(rng, n=None):
    shape = () if n is None else (n,)

    def draw(v):
        return float(v) if n is None else v

    point = {f"alpha_{j}_{i}": float(rng.normal()) for j in range(1, 5) for i in range(4)}
    point |= {f"beta_{j}": float(rng.normal()) for j in range(5)}
    point |= {f"x_{i}": draw(rng.normal(size=shape)) for i in range(1, 4)}
    point["y_star"] = draw(rng.uniform(0, 1, size=shape))
    return point


def hand_two_layer(point):
    """Forward and backward of the notes' 2-layer network, by hand (vectorised over a batch)."""
    x = np.stack(
        [np.ones_like(np.asarray(point["x_1"], dtype=float))]
        + [np.asarray(point[f"x_{i}"], dtype=float) for i in range(1, 4)],
        axis=-1,
    )  # (..., 4) with x_0 = 1
    alpha = np.array([[point[f"alpha_{j}_{i}"] for i in range(4)] for j in range(1, 5)])  # (4, 4)
    beta = np.array([point[f"beta_{j}"] for j in range(5)])
    t = np.asarray(point["y_star"], dtype=float)
    a = x @ alpha.T  # a_j = Σ_i α_ji x_i
    z = np.concatenate([np.ones_like(a[..., :1]), sigmoid(a)], axis=-1)  # z_0 = 1
    b = z @ beta
    y = sigmoid(b)
    J = 0.5 * (y - t) ** 2
    dJ_db = (y - t) * y * (1 - y)
    batch_axes = tuple(range(x.ndim - 1))
    d_beta = np.sum(dJ_db[..., None] * z, axis=batch_axes)
    dJ_da = dJ_db[..., None] * beta[1:] * z[..., 1:] * (1 - z[..., 1:])  # da_j/dx_i = α_ji
    d_alpha = np.sum(dJ_da[..., :, None] * x[..., None, :], axis=batch_axes)
    grads = {f"beta_{j}": d_beta[j] for j in range(5)}
    grads |= {f"alpha_{j}_{i}": d_alpha[j - 1, i] for j in range(1, 5) for i in range(4)}
    return float(np.sum(J)), grads, y


@pytest.mark.parametrize("batch", [None, 5])
def test_two_layer_golden_matches_hand_backprop(batch):
    module = golden("two_layer_nn")
    rng = np.random.default_rng(5)
    point = two_layer_point(rng, batch)
    J, g = module.value_and_grad(**point)
    J_hand, g_hand, y_hand = hand_two_layer(point)
    oracles.assert_close(np.sum(J), J_hand, "exact", "J")
    assert sorted(g) == sorted(g_hand)
    for name, value in g_hand.items():
        oracles.assert_close(g[name], value, "exact", name, scale=max(1e-3, abs(value)))
        oracles.assert_close(g[name], oracles.central_grad(module.forward, point, name), "central")
    oracles.assert_close(module.predict(**point), y_hand, "exact", "predict")


def test_two_layer_golden_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    module = golden("two_layer_nn")
    point = two_layer_point(np.random.default_rng(8), 6)
    t = {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=k.startswith(("alpha", "beta")))
        for k, v in point.items()
    }
    y = []
    for row in range(6):
        z = [
            torch.sigmoid(
                t[f"alpha_{j}_0"] + sum(t[f"alpha_{j}_{i}"] * t[f"x_{i}"][row] for i in range(1, 4))
            )
            for j in range(1, 5)
        ]
        y.append(torch.sigmoid(t["beta_0"] + sum(t[f"beta_{j}"] * z[j - 1] for j in range(1, 5))))
    y = torch.stack(y)
    J = (0.5 * (y - t["y_star"]) ** 2).sum()
    J.backward()
    _, g = module.value_and_grad(**point)
    for name in module.WRT:
        oracles.assert_close(g[name], t[name].grad.item(), "exact", name, scale=1.0)
