"""Issue 12, part 7: the crashes and unclear errors a new user met (problems 10, 12-15).

* 10: ``circuitc.table``/``circuitc.graph`` with arrays on a batch circuit raised an internal
  ``NameError`` (the dimension ``N`` was not bound where single nodes are evaluated);
* 12: the non-finite pointer named internal temporaries and gave no hint toward the stable
  forms; it now shows the user's step and its SymPy expression first, then the op;
* 13: ``circuitc graph`` handed any graph to Graphviz (60 steps reading ``x`` ran past its
  timeout, an uncaught ``TimeoutExpired``); a graph too large is refused before Graphviz runs,
  naming its size, and Graphviz runs under a time and a memory bound;
* 14 (this helper's share): ``table --at`` needed every argument, a diverged loss printed a
  165-digit number, ``.npz`` files were 0600, ``check()`` had no notebook view,
  ``from circuitc.nn import *`` shadowed ``sum``, ``--version`` imported SymPy;
* 15 (this helper's share): bad input that crashed (exit 3) or was accepted silently.

CLI runs go through ``circuitc.cli.main`` in this process unless a real process is the point
(signals, imports); oracles are hand-written NumPy and central differences.
"""

from __future__ import annotations

import importlib
import io
import math
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import circuitc
from circuitc import cli, nn

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SMALL = EXAMPLES / "small_example.py"

TINY = """\
import sympy as sp
from circuitc import Circuit, nn

N = sp.Symbol("N")
X = sp.MatrixSymbol("X", N, 3)
y = sp.MatrixSymbol("y", N, 1)
w = sp.MatrixSymbol("w", 3, 1)
a = sp.MatrixSymbol("a", N, 1)
J = sp.Symbol("J")
circuit = Circuit(
    "tiny",
    output=J,
    wrt=[w],
    steps=[(a, X * w), (J, nn.binary_cross_entropy_with_logits(a, y))],
    features=X,
    target=y,
    prediction=nn.sigmoid(a),
)
"""


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("circuitc: error: "), err
    return lines[0]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    (tmp_path / "tiny.py").write_text(TINY, encoding="utf-8")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 3))
    np.savez(tmp_path / "d.npz", X=X, y=(X @ [1.0, -2.0, 0.5] > 0).astype(float))
    return tmp_path / "tiny.py"


def _batch_point(D=3, H=2, n=4, seed=0):
    sys.path.insert(0, str(EXAMPLES))
    try:
        from two_layer_nn_batch import make_circuit
    finally:
        sys.path.remove(str(EXAMPLES))
    rng = np.random.default_rng(seed)
    at = {
        "X": rng.normal(size=(n, D)),
        "y": rng.uniform(size=(n, 1)),
        "alpha": rng.normal(size=(D, H)),
        "beta": rng.normal(size=(H, 1)),
        "beta_0": rng.normal(size=(1, 1)),
    }
    return make_circuit(D=D, H=H), at


def _two_layer_numpy(at):
    """The 2-layer net's J and dJ/dalpha by hand (mean over rows of ½(ŷ − y)²)."""
    X, y, al, be, b0 = (at[k] for k in ("X", "y", "alpha", "beta", "beta_0"))
    Z = 1 / (1 + np.exp(-(X @ al)))
    yh = 1 / (1 + np.exp(-(Z @ be + b0)))
    n = X.shape[0]
    J = float(np.sum((yh - y) ** 2) / 2 / n)
    d_b = (yh - y) / n * yh * (1 - yh)
    d_A = (d_b @ be.T) * Z * (1 - Z)
    return J, X.T @ d_A


# -- 10: table and graph at arrays on a batch circuit ----------------------------------------------


def test_table_at_arrays_on_a_batch_circuit():
    circuit, at = _batch_point()
    report = circuitc.table(circuit, at=at)
    J, d_alpha = _two_layer_numpy(at)
    assert report.value == pytest.approx(J, rel=1e-12)
    np.testing.assert_allclose(report.gradient["alpha"], d_alpha, rtol=1e-10)
    assert report.first_nonfinite is None
    assert "all values finite" in str(report)


def test_graph_at_arrays_on_a_batch_circuit():
    circuit, at = _batch_point()
    view = circuitc.graph(circuit, at=at, backward=True)
    J, _ = _two_layer_numpy(at)
    assert f"value {float(f'{J:.6g}'):.6g}" in view.dot


# -- 12: the non-finite pointer speaks of the user's steps ---------------------------------------------

# a sigmoid spelled exp(a)/(1 + exp(a)): at a = -900, p = 0 and log(p) = -inf (the spelling
# 1/(1 + exp(-a)) is lowered as the stable sigmoid and stays finite)
_LOGREG_BY_HAND = textwrap.dedent(
    """\
    import sympy as sp
    from circuitc import Circuit
    x, y, a, p, J = sp.symbols("x y a p J")
    circuit = Circuit(
        "by_hand",
        output=J,
        wrt=[x],
        steps=[(a, 3 * x), (p, sp.exp(a) / (1 + sp.exp(a))), (J, -(y * sp.log(p) + (1 - y) * sp.log(1 - p)))],
    )
    """
)


def test_the_pointer_names_the_step_and_its_expression_before_the_op(capsys, tmp_path):
    path = tmp_path / "by_hand.py"
    path.write_text(_LOGREG_BY_HAND, encoding="utf-8")
    code, out, _ = run(capsys, "check", path, "--at", "x=-300", "--at", "y=1")
    assert code == 1
    line = next(t for t in out.splitlines() if t.startswith("first non-finite"))
    # the step J and what the user wrote come first, then the op and its operands
    expr = "-y*log(p) - (1 - y)*log(1 - p)"
    assert line.startswith(f"first non-finite: in step J = {expr}: "), line
    assert line.index(expr) < line.index("op log")
    assert "_t" not in line.split(" (op ")[0]  # no internal temporary before the op
    # and a hint toward the stable forms
    assert "hint:" in line and "circuitc.sigmoid" in line
    assert "binary_cross_entropy_with_logits" in line


def test_the_pointer_in_the_python_api_has_the_step_fields():
    x, y, a, p, J = sp.symbols("x y a p J")
    circuit = circuitc.Circuit(
        "by_hand",
        output=J,
        wrt=[x],
        steps=[
            (a, 3 * x),
            (p, sp.exp(a) / (1 + sp.exp(a))),
            (J, -(y * sp.log(p) + (1 - y) * sp.log(1 - p))),
        ],
    )
    bad = circuitc.table(circuit, at={"x": -300.0, "y": 1.0}).first_nonfinite
    assert bad.step == "J"
    assert bad.step_expr == "-y*log(p) - (1 - y)*log(1 - p)"
    assert bad.op == "log" and "circuitc.sigmoid" in bad.hint


def test_a_step_that_is_itself_non_finite_is_named_once():
    x, y, d, L, J = sp.symbols("x y d L J")
    circuit = circuitc.Circuit(
        "logdiff", J, [x, y], steps=[(d, x - y), (L, sp.log(d)), (J, L * y + x)]
    )
    bad = circuitc.table(circuit, at={"x": 2.0, "y": 2.0}).first_nonfinite
    assert str(bad).startswith("first non-finite: in step L = log(d): L = -inf (op log")
    assert bad.hint == ""  # log(d) of a difference: no stable form to suggest


def test_exp_overflow_hints_at_softplus():
    x = sp.Symbol("x")
    bad = circuitc.table(sp.log(1 + sp.exp(x)), at={"x": 1000.0}, wrt=[x]).first_nonfinite
    assert bad.op == "exp" and "circuitc.softplus" in bad.hint


# -- 13: graphs too large for Graphviz, and Graphviz under bounds ----------------------------------------


def _fanout_file(tmp_path: Path, steps: int) -> Path:
    path = tmp_path / "fanout.py"
    path.write_text(
        textwrap.dedent(
            f"""\
            import sympy as sp
            from circuitc import Circuit
            x = sp.Symbol("x")
            s = sp.symbols("s0:{steps}")
            steps = [(s[0], sp.sin(x))]
            for i in range(1, {steps}):
                steps.append((s[i], sp.sin(s[i - 1]) * x + x**2))
            circuit = Circuit("fanout", output=s[-1], wrt=[x], steps=steps)
            """
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def fake_dot(tmp_path, monkeypatch):
    """A ``dot`` program of our own first on the PATH; ``fake_dot(body)`` writes its Python."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    log = tmp_path / "dot-ran"

    def make(body: str) -> Path:
        exe = folder / "dot"
        exe.write_text(
            f"#!{sys.executable}\nimport sys\nopen({str(log)!r}, 'a').write('ran\\n')\n{body}\n",
            encoding="utf-8",
        )
        exe.chmod(0o755)
        return log

    return make


def test_a_graph_too_large_is_refused_before_graphviz_runs(capsys, tmp_path, fake_dot):
    log = fake_dot("sys.stdout.write('<svg/>')")
    path = _fanout_file(tmp_path, 60)
    code, _, err = run(capsys, "graph", path, "-o", tmp_path / "g.svg")
    line = one_line_error(code, err)
    assert "nodes" in line and "edges" in line and "--format dot" in line
    assert not log.exists()  # Graphviz never started
    assert not (tmp_path / "g.svg").exists()
    # the DOT text itself is always available
    code, out, err = run(capsys, "graph", path)
    assert code == 0 and out.startswith('digraph "fanout"')
    # and the limit can be raised on purpose
    code, _, err = run(capsys, "graph", path, "-o", tmp_path / "g.svg", "--max-size", 100000)
    assert (code, err) == (0, "") and log.exists()


def test_the_python_api_refuses_the_same_graph(tmp_path, fake_dot):
    log = fake_dot("sys.stdout.write('<svg/>')")
    x = sp.Symbol("x")
    s = sp.symbols("s0:60")
    steps = [(s[0], sp.sin(x))] + [(s[i], sp.sin(s[i - 1]) * x + x**2) for i in range(1, 60)]
    view = circuitc.graph(circuitc.Circuit("fanout", s[-1], [x], steps=steps))
    with pytest.raises(circuitc.CircuitError, match=r"\d+ nodes and \d+ edges"):
        view.svg()
    assert not log.exists()
    assert view.dot.startswith('digraph "fanout"')  # DOT text is never refused


def test_graphviz_that_runs_too_long_is_stopped_with_a_clear_error(
    capsys, tmp_path, fake_dot, monkeypatch
):
    graph_module = importlib.import_module("circuitc.views.graph")

    fake_dot("import time\ntime.sleep(4)\nsys.stdout.write('<svg/>')")
    monkeypatch.setattr(graph_module, "DOT_TIMEOUT", 0.5, raising=False)
    code, _, err = run(capsys, "graph", SMALL, "-o", tmp_path / "s.svg")
    line = one_line_error(code, err)
    assert "Graphviz" in line and "0.5 s" in line
    assert not (tmp_path / "s.svg").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="resource limits are POSIX")
def test_graphviz_runs_under_a_memory_bound(tmp_path, fake_dot):
    graph_module = importlib.import_module("circuitc.views.graph")

    fake_dot(
        "import resource\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_AS)\n"
        "sys.stdout.write(f'<svg>{soft}</svg>')"
    )
    x = sp.Symbol("x")
    text = circuitc.graph(sp.sin(x), wrt=[x]).svg()
    limit = int(text[len("<svg>") : -len("</svg>")])
    assert 0 < limit <= graph_module.DOT_MEMORY


# -- 14: table --at, diverged loss, npz mode, check view, nn import *, --version ------------------------


def test_table_at_fills_the_other_arguments_like_check(capsys):
    logreg = EXAMPLES / "logistic_regression.py"
    code, out, err = run(
        capsys, "table", logreg, "--circuit", "logistic_regression", "--at", "x_1=0.5"
    )
    assert (code, err) == (0, "")
    header = out.splitlines()[0]
    assert "x_1 = 0.5" in header and "theta_0 = " in header and "y_star = " in header
    # the same seed gives the same point, and --seed changes it
    assert (
        run(capsys, "table", logreg, "--circuit", "logistic_regression", "--at", "x_1=0.5")[1]
        == out
    )
    code, other, _ = run(
        capsys, "table", logreg, "--circuit", "logistic_regression", "--at", "x_1=0.5", "--seed", 1
    )
    assert code == 0 and other != out


def test_table_api_fills_the_missing_arguments_and_the_numbers_are_right():
    x, y = sp.symbols("x y")
    report = circuitc.table(x * sp.sin(y), at={"x": 2.0}, wrt=[x])
    yv = report.at["y"]
    assert report.at["x"] == 2.0 and 0.2 <= abs(yv) <= 1.2
    assert report.value == pytest.approx(2.0 * math.sin(yv), rel=1e-15)
    assert report.gradient["x"] == pytest.approx(math.sin(yv), rel=1e-15)


def test_a_huge_loss_prints_in_scientific_notation(capsys, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 4))
    np.savez(tmp_path / "huge.npz", X=X, y=np.full(12, 1e80))
    code, out, err = run(
        capsys, "train", EXAMPLES / "linear_regression.py", "--data", tmp_path / "huge.npz",
        "--epochs", 1, "--lr", 1e-200, "--out", tmp_path / "m.npz",
    )  # fmt: skip
    assert code == 0, err
    epoch = next(line for line in out.splitlines() if line.startswith("epoch"))
    assert max(len(word) for word in epoch.split()) <= 12, epoch
    assert "e+159" in epoch


def test_parameter_files_get_the_mode_every_other_file_gets(capsys, tiny):
    old = os.umask(0o022)
    try:
        out = tiny.parent / "m.npz"
        code, _, err = run(
            capsys, "train", tiny, "--data", tiny.parent / "d.npz", "--epochs", 1, "--quiet",
            "--out", out,
        )  # fmt: skip
        assert (code, err) == (0, "")
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        code, _, _ = run(capsys, "compile", SMALL, "-o", tiny.parent)
        assert stat.S_IMODE((tiny.parent / "small_example.py").stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_check_report_has_a_notebook_view():
    x = sp.Symbol("x")
    report = circuitc.check(sp.sin(x), wrt=[x], at={"x": 0.5})
    assert report._repr_markdown_() == report.format("markdown")


def test_star_import_of_nn_does_not_shadow_builtins():
    namespace: dict = {}
    exec("from circuitc.nn import *", namespace)  # noqa: S102 - the test's own text
    import builtins

    shadowed = sorted(n for n in namespace if n != "__builtins__" and hasattr(builtins, n))
    assert shadowed == []
    assert nn.sum is not None  # still there as circuitc.nn.sum


def test_version_does_not_import_sympy():
    code = textwrap.dedent(
        """\
        import runpy, sys
        sys.argv = ["circuitc", "--version"]
        try:
            runpy.run_module("circuitc", run_name="__main__")
        except SystemExit as e:
            assert e.code in (0, None), e.code
        print(sorted(m for m in ("sympy", "numpy", "jinja2") if m in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    version, loaded = done.stdout.strip().splitlines()
    assert version == f"circuitc {circuitc.__version__}"
    assert loaded == "[]"


def test_lazy_package_still_exports_everything():
    done = subprocess.run(
        [sys.executable, "-c", "import circuitc; print(all(hasattr(circuitc, n) for n in circuitc.__all__))"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.strip() == "True", done.stderr


# -- 15: bad input is a clear error, never a crash or a silent acceptance -------------------------------


def test_predict_with_a_missing_data_file(capsys, tiny):
    folder = tiny.parent
    assert run(capsys, "train", tiny, "--data", folder / "d.npz", "--epochs", 1, "--quiet",
               "--out", folder / "m.npz")[0] == 0  # fmt: skip
    code, _, err = run(
        capsys, "predict", tiny, "--params", folder / "m.npz", "--data", folder / "missing.csv"
    )
    assert "missing.csv" in one_line_error(code, err)


@pytest.mark.parametrize("command", ["predict", "resume"])
def test_a_corrupt_parameter_file_is_bad_input(capsys, tiny, command):
    folder = tiny.parent
    good = folder / "m.npz"
    assert run(capsys, "train", tiny, "--data", folder / "d.npz", "--epochs", 1, "--quiet",
               "--out", good)[0] == 0  # fmt: skip
    data = bytearray(good.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = b"\0" * 64  # a member's bytes no longer match its CRC
    bad = folder / "bad.npz"
    bad.write_bytes(bytes(data))
    if command == "predict":
        code, _, err = run(capsys, "predict", tiny, "--params", bad, "--data", folder / "d.npz")
    else:
        code, _, err = run(capsys, "train", tiny, "--data", folder / "d.npz", "--epochs", 2,
                           "--resume", bad, "--quiet")  # fmt: skip
    assert "bad.npz" in one_line_error(code, err)


@pytest.mark.parametrize(
    "argv, word",
    [
        (["train", "{tiny}", "--seed", "-1"], "--seed"),
        (["train", "{tiny}", "--momentum", "nan"], "--momentum"),
        (["train", "{tiny}", "--momentum", "-0.5"], "--momentum"),
        (["check", str(SMALL), "--rtol", "-1"], "--rtol"),
        (["check", str(SMALL), "--atol", "nan"], "--atol"),
        (["check", str(SMALL), "--seed", "-1"], "--seed"),
    ],
)
def test_bad_numbers_on_the_command_line_are_refused(capsys, tiny, argv, word):
    argv = [a.format(tiny=tiny) for a in argv]
    if argv[0] == "train":
        argv += [
            "--data",
            str(tiny.parent / "d.npz"),
            "--epochs",
            "1",
            "--out",
            str(tiny.parent / "m.npz"),
        ]
    code, _, err = run(capsys, *argv)
    assert word in one_line_error(code, err)
    assert not (tiny.parent / "m.npz").exists()


def test_a_closed_stdout_does_not_stop_training(capsys, tiny, monkeypatch):
    """``circuitc train … | head -1``: the reader goes away, training finishes and writes."""

    class ClosedAfterOneLine(io.StringIO):
        def write(self, text):
            if self.getvalue().count("\n") >= 1:
                raise BrokenPipeError(32, "Broken pipe")
            return super().write(text)

    stdout = ClosedAfterOneLine()
    monkeypatch.setattr(sys, "stdout", stdout)
    out = tiny.parent / "m.npz"
    code = cli.main(["train", str(tiny), "--data", str(tiny.parent / "d.npz"), "--epochs", "3",
                     "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0 and "Broken pipe" not in err, err
    assert int(np.load(out)["_epoch"]) == 3


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_during_compile_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "gen"
    code = textwrap.dedent(
        f"""\
        import os, signal, time
        real = os.replace

        def slow_replace(src, dst):
            os.kill(os.getpid(), signal.SIGTERM)  # the signal arrives mid-write
            time.sleep(10)
            real(src, dst)

        os.replace = slow_replace
        from circuitc import cli
        raise SystemExit(cli.main(["compile", {str(SMALL)!r}, "-o", {str(out)!r}]))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 128 + signal.SIGTERM, (done.returncode, done.stderr)
    assert list(out.iterdir()) == []  # neither the module nor a hidden temporary file
    assert "Traceback" not in done.stderr


def test_check_steps_inside_the_domain_near_a_singularity():
    x = sp.Symbol("x")
    for at in (1e-7, 1e-9, 3e-12):
        report = circuitc.check(sp.log(x), wrt=[x], at={"x": at})
        assert report.passed, str(report)
    # and the step is still the usual one away from the singularity
    assert circuitc.check(sp.log(x), wrt=[x], at={"x": 2.0}).passed


def test_check_still_fails_a_wrong_gradient_near_a_singularity():
    x = sp.Symbol("x")

    class BadLog(sp.Function):
        pass

    circuitc.register(BadLog, derivative=lambda g, ans, a: 2 * g / a, numpy="log")
    assert not circuitc.check(BadLog(x), wrt=[x], at={"x": 1e-7}).passed


def test_compile_out_a_folder_is_a_circuit_error(tmp_path):
    x = sp.Symbol("x")
    with pytest.raises(circuitc.CircuitError, match=r"is a folder"):
        circuitc.compile(x**2, wrt=[x], name="sq", out=tmp_path)
    assert list(tmp_path.iterdir()) == []
